"""``--init-from``: a new run starts from another run's weights (identical at step 0, then trains,
with a fresh step count), keeps the source's architecture, records the source, refuses model flags
that contradict it, and works with the CLIP tower locks."""

from __future__ import annotations

import json

import pytest
import torch

import simclip.recipes.clip as clip_recipe
import simclip.recipes.simclr as simclr_recipe
from simclip.cli import main
from simclip.train.checkpoint import load_checkpoint

SIMCLR = ["simclr", "train", "--data", "digits", "--encoder", "small-cnn", "--batch-size", "128",
          "--precision", "fp32", "--no-progress", "--epochs", "1", "--view-size", "20"]
CLIP = ["clip", "train", "--data", "shapes?n=128", "--batch-size", "64", "--precision", "fp32",
        "--no-progress", "--epochs", "1"]


def _capture_start(monkeypatch, module) -> dict:
    """Record the model's weights as the training loop receives them (step 0)."""
    seen: dict = {}
    original = module.train

    def train(cfg, model, *args, **kwargs):
        seen["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        seen["resume"] = kwargs.get("resume")
        return original(cfg, model, *args, **kwargs)
    monkeypatch.setattr(module, "train", train)
    return seen


@pytest.fixture(scope="module")
def simclr_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("simclr") / "a"
    assert main(SIMCLR + ["--seed", "1", "--out", str(out)]) == 0
    return out


def test_simclr_run_starts_from_the_checkpoint_and_trains(simclr_run, tmp_path, monkeypatch, capsys):
    seen = _capture_start(monkeypatch, simclr_recipe)
    out = tmp_path / "b"
    assert main(SIMCLR + ["--seed", "2", "--init-from", str(simclr_run), "--out", str(out), "--json"]) == 0
    source, _, source_step = load_checkpoint(simclr_run)
    assert set(seen["state"]) == set(source)
    assert all(torch.equal(seen["state"][k], source[k]) for k in source)
    assert not seen["resume"]
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == source_step  # a fresh count: the same length as the source's run
    after, _, _ = load_checkpoint(out)
    assert any(not torch.equal(after[k], source[k]) for k in source if k.startswith("encoder."))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["init_from"] == str(simclr_run)
    assert cfg["model"] == json.loads((simclr_run / "config.json").read_text())["model"]


@pytest.mark.parametrize("extra, needle", [
    (["--encoder", "resnet18"], "model.encoder='resnet18' does not match --init-from"),
    (["--proj-dim", "7"], "model.proj_dim=7 does not match --init-from"),
    (["--resume", "RUN"], "--init-from starts a new run"),
])
def test_simclr_flags_that_contradict_the_source_are_one_line(simclr_run, tmp_path, extra, needle, capsys):
    argv = [a for a in SIMCLR if a not in ("--encoder", "small-cnn")] if extra[0] == "--encoder" else SIMCLR
    extra = [str(simclr_run) if a == "RUN" else a for a in extra]
    code = main(argv + ["--init-from", str(simclr_run), "--out", str(tmp_path / "c"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_clip_run_starts_from_a_run_with_the_image_tower_locked(tmp_path, monkeypatch, capsys):
    source_run = tmp_path / "c"
    assert main(CLIP + ["--model", "small-cnn-32", "--seed", "1", "--out", str(source_run)]) == 0
    seen = _capture_start(monkeypatch, clip_recipe)
    out = tmp_path / "d"
    assert main(CLIP + ["--seed", "5", "--init-from", str(source_run), "--lock-image", "--out", str(out)]) == 0
    source, _, _ = load_checkpoint(source_run)
    assert all(torch.equal(seen["state"][k], source[k]) for k in source) and set(seen["state"]) == set(source)
    after, _, _ = load_checkpoint(out)
    assert all(torch.equal(after[k], source[k]) for k in source if k.startswith("visual."))  # locked
    assert any(not torch.equal(after[k], source[k]) for k in source if k.startswith("text."))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["init_from"] == str(source_run)
    assert cfg["model"] == {"name": "small-cnn-32", "lock_image": True}
    capsys.readouterr()
    assert main(CLIP + ["--init-from", str(source_run), "--model", "tiny-vit", "--out", str(tmp_path / "e")]) == 2
    assert "model.name='tiny-vit' does not match --init-from" in capsys.readouterr().err
    # a weights file, not a checkpoint: the architecture comes from the config inside it
    seen.clear()
    assert main(CLIP + ["--init-from", str(source_run / "model.safetensors"), "--out", str(tmp_path / "f")]) == 0
    final = clip_recipe.load_clip_run(source_run)[0].state_dict()
    assert all(torch.equal(seen["state"][k], final[k]) for k in final)
    assert "config" in json.loads((tmp_path / "f" / "config.json").read_text())["model"]


def test_clip_train_from_released_weights_by_name_and_tag(tmp_path, monkeypatch, capsys):
    import hashlib

    from simclip.clip import create_model, save
    from simclip.clip import pretrained as releases

    monkeypatch.setenv("SIMCLIP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SIMCLIP_OFFLINE", "1")
    (tmp_path / "cache" / "openai").mkdir(parents=True)
    torch.manual_seed(3)
    released = create_model("small-cnn-32")
    path = save(released, tmp_path / "cache" / "openai" / "small-cnn-32.pt")
    monkeypatch.setitem(releases._OPENAI_SHA256, "small-cnn-32", hashlib.sha256(path.read_bytes()).hexdigest())
    seen = _capture_start(monkeypatch, clip_recipe)
    out = tmp_path / "g"
    assert main(CLIP + ["--model", "small-cnn-32", "--pretrained", "openai", "--out", str(out)]) == 0
    assert all(torch.equal(seen["state"][k], v) for k, v in released.state_dict().items())
    assert json.loads((out / "config.json").read_text())["init_from"] == str(path)
    capsys.readouterr()
    assert main(CLIP + ["--model", "small-cnn-32", "--pretrained", "laion2b", "--out", str(tmp_path / "h")]) == 2
    assert "has no pretrained tag 'laion2b'" in capsys.readouterr().err
