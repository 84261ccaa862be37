import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def one_thread():
    """The runs here are tiny: on a loaded machine, intra-op threads cost far more than they
    give (a 44-step run takes 40 s with two threads against others' jobs, 3 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
