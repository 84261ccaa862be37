"""``simclip --help`` answers at once: registering the commands imports no torch (which takes seconds);
each command imports what it needs when it runs."""

import subprocess
import sys

import pytest

from simclip.cli import COMMANDS, OPTIONAL

# Command modules whose registration is lazy already. simclip.cli.{simclr,clip,demo} follow in their
# rework; simclip.attacks.commands and simclip.plots.commands import their package, whose
# __init__ imports torch.
LAZY = ["simclip.cli", "simclip.cli.errors", "simclip.cli.evaluate", "simclip.cli.zeroshot",
        "simclip.cli.retrieve", "simclip.cli.augment", "simclip.cli.data", "simclip.serve.commands",
        "simclip.video.commands", "simclip.export.commands"]


def _heavy_after(code: str) -> list[str]:
    """The heavy modules loaded after running ``code`` in a fresh interpreter."""
    probe = (f"import sys\n{code}\n"
             "print(sorted(m for m in ('torch', 'faiss', 'fastapi', 'av', 'onnx', 'matplotlib') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])  # a list literal printed above


def test_lazy_command_modules_import_nothing_heavy():
    assert _heavy_after("\n".join(f"import {name}" for name in LAZY)) == []


def test_every_command_module_is_listed():
    """A new command module is either lazy (listed in LAZY) or named in the xfail reason below."""
    pending = {"simclip.cli.simclr", "simclip.cli.clip", "simclip.cli.demo", "simclip.attacks.commands",
               "simclip.plots.commands"}
    registered = set(COMMANDS) | {name for name, _, _ in OPTIONAL}
    assert registered - set(LAZY) - pending == set()


@pytest.mark.xfail(strict=False, reason="simclip.cli.simclr, clip and demo (being reworked) and "
                                        "simclip.attacks/__init__.py and simclip.plots.commands still "
                                        "import torch when the parser is built")
def test_building_the_parser_imports_no_torch():
    assert _heavy_after("import simclip.cli as c\nc.build_parser()") == []
