"""Out-of-range settings, from flags or a ``--config`` file, end in one error line that names the
setting, before any work: no run folder is created and no training step runs."""

import pytest

from simclip.cli import main

FLAGS = [  # (flags, what the error must name)
    (["--temperature", "-1"], "temperature"),
    (["--temperature", "nan"], "temperature"),
    (["--batch-size", "1"], "batch_size"),
    (["--batch-size", "100000"], "fewer than one batch"),
    (["--encoder", "resnet9"], "resnet9"),
    (["--lr", "nan"], "optim.lr"),
    (["--lr", "-0.1"], "optim.lr"),
    (["--epochs", "0"], "epochs"),
    (["--checkpoint-every", "0"], "checkpoint_every"),
    (["--keep-checkpoints", "0"], "keep_checkpoints"),
    (["--micro-batch", "0"], "micro_batch"),
    (["--warmup", "1.5"], "warmup_fraction"),
    (["--time-budget", "-5"], "time_budget"),
    (["--weight-decay", "-1"], "weight_decay"),
    (["--clip-grad", "0"], "clip_grad_norm"),
    (["--eval-every", "-1"], "eval_every"),
    (["--views", "1"], "n_views"),
    (["--proj-layers", "0"], "layer"),
    (["--policy", "sepia"], "sepia"),
    (["--data", "nosuch:xyz"], "nosuch:xyz"),
    (["--data", "digits?size=0"], "size"),
    (["--device", "cuda:7"], "cuda:7"),
    (["--device", "toaster"], "toaster"),
    (["--seed", "-1"], "seed"),
    (["--temperature", "inf"], "temperature"),
    (["--eval", "svm"], "svm"),
    (["--proj-dim", "0"], "proj_dim"),
    (["--view-size", "0"], "view_size"),
]

CONFIG_FILES = [  # (file content, what the error must name)
    ("{not json", "cannot read config"),
    ("", "cannot read config"),
    ('{"batch_size": 1}', "batch_size"),
    ('{"objective": {"temperature": -0.5}}', "temperature"),
    ('{"model": {"encoder": "resnet9"}}', "resnet9"),
    ('{"epochs": 3, "colour": "blue"}', "colour"),
    ('{"optim": {"learning_rate": 0.1}}', "learning_rate"),
    ('{"model": {"encoderr": "small-cnn"}}', "encoderr"),
    ('{"objective": {"temp": 0.1}}', "temp"),
    ('{"objective": {"view_size": 20.5}}', "view_size"),
    ('{"method": "clip"}', "clip"),
    ('{"precision": "fp16"}', "precision"),
    ('{"max_bad_steps": 0}', "max_bad_steps"),
    ('{"optim": {"warmup_fraction": -0.1}}', "optim.warmup_fraction"),
    ('{"batch_size": "64"}', "batch_size"),
    ("[1, 2]", "config"),
    ('{"optim": null, "objective": {"temperature": "hot"}}', "temperature"),
]


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("simclip: error:") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("flags, needle", FLAGS)
def test_bad_flags_fail_before_any_work(tmp_path, capsys, flags, needle):
    run = tmp_path / "run"
    # small settings, so that a check that comes too late costs a short run, not a long one
    argv = ["simclr", "train", "--data", "digits?size=12", "--batch-size", "256", "--epochs", "1",
            "--no-progress", "--out", str(run)]
    err = _error(capsys, argv + flags)
    assert needle in err and not run.exists(), err


@pytest.mark.parametrize("content, needle", CONFIG_FILES)
def test_bad_config_files_fail_before_any_work(tmp_path, capsys, content, needle):
    run, config = tmp_path / "run", tmp_path / "config.json"
    config.write_text(content, encoding="utf-8")
    err = _error(capsys, ["simclr", "train", "--config", str(config), "--no-progress", "--out", str(run)])
    assert needle in err and not run.exists(), err
