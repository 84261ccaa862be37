"""SimCLR through the command line, on the built-in digits: training, resume, evaluation, errors."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from simclip.cli import main
from simclip.train.checkpoint import list_checkpoints

TRAIN = ["simclr", "train", "--data", "digits", "--encoder", "small-cnn", "--batch-size", "64",
         "--precision", "fp32", "--no-progress", "--seed", "3"]


def _final_weights(run):
    step = list_checkpoints(run)[-1]
    return step, load_file(str(run / "checkpoints" / f"step-{step:08d}.safetensors"))


def test_twenty_steps_write_a_complete_run(tmp_path, capsys):
    run = tmp_path / "a"
    # digits train split: 1,437 images -> 22 batches of 64 per epoch; one epoch >= 20 steps
    assert main(TRAIN + ["--epochs", "1", "--out", str(run), "--view-size", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 22 and result["skipped_steps"] == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["encoder"] == "small-cnn" and cfg["objective"]["policy"] == "simclr-gray"
    assert cfg["objective"]["view_size"] == 20
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(r["loss"] > 0 for r in rows)
    assert (run / "curves.png").stat().st_size > 1000
    assert list((run / "tensorboard").glob("events.*"))
    assert list_checkpoints(run)[-1] == 22


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    # 20x20 views: the resumed run must rebuild its augmentation from config.json as it was
    args = TRAIN + ["--epochs", "2", "--checkpoint-every", "7", "--keep-checkpoints", "20", "--view-size", "20"]
    assert main(args + ["--out", str(full)]) == 0
    # The same run, stopped after step 14: keep only its checkpoints up to there.
    shutil.copytree(full, part)
    cfg = json.loads((part / "config.json").read_text())
    cfg["out"] = str(part)
    (part / "config.json").write_text(json.dumps(cfg))
    for step in list_checkpoints(part):
        if step > 14:
            for f in (part / "checkpoints").glob(f"step-{step:08d}.*"):
                f.unlink()
    assert list_checkpoints(part)[-1] == 14
    assert main(["simclr", "train", "--resume", str(part), "--no-progress"]) == 0
    step_full, w_full = _final_weights(full)
    step_part, w_part = _final_weights(part)
    assert step_full == step_part == 44
    for key in w_full:
        torch.testing.assert_close(w_part[key], w_full[key], rtol=0, atol=0, msg=key)


def test_eval_prints_table_and_json(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(TRAIN + ["--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--protocol", "knn", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 10.0 < metrics["knn_top1"] <= 100.0 and metrics["knn_top5"] >= metrics["knn_top1"]
    assert main(["eval", "--run", str(run), "--protocol", "linear,knn"]) == 0
    table = capsys.readouterr().out
    assert "linear_top1" in table and "knn_top1" in table
    # one protocol without kNN (whose --knn-* options then have nothing to set)
    assert main(["eval", "--run", str(run), "--protocol", "linear", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert "linear_top1" in metrics and "knn_top1" not in metrics


@pytest.mark.parametrize("argv,needle", [
    (["simclr", "train", "--data", "nosuch:xyz", "--epochs", "1"], "nosuch:xyz"),
    (["simclr", "train", "--data", "mnist:/does/not/exist"], "/does/not/exist"),
    (["simclr", "train", "--encoder", "resnet9"], "resnet9"),
    (["simclr", "train", "--batch-size", "1"], "batch_size"),
    (["simclr", "train", "--temperature", "-1"], "temperature"),
    (["eval", "--run", "/no/such/run"], "/no/such/run"),
    (["eval", "--run", ".", "--protocol", "svm"], "svm"),
    (["simclr", "train", "--resume", "/no/run"], "/no/run"),
    (["simclr", "train", "--resume", "/no/run", "--overwrite"], "--overwrite"),
])
def test_bad_input_is_one_clear_line(argv, needle, tmp_path, capsys):
    if argv[0] == "simclr" and "--resume" not in argv:
        argv = argv + ["--out", str(tmp_path / "x"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert err.startswith("simclip: error:")


def test_same_seed_same_run(tmp_path):
    runs = [tmp_path / "s1", tmp_path / "s2"]
    for run in runs:
        assert main(TRAIN + ["--epochs", "1", "--out", str(run)]) == 0
    (_, w1), (_, w2) = (_final_weights(r) for r in runs)
    for key in w1:
        torch.testing.assert_close(w1[key], w2[key], rtol=0, atol=0, msg=key)


def test_a_new_run_never_silently_replaces_an_earlier_one(tmp_path, capsys):
    run = tmp_path / "r"
    args = TRAIN + ["--epochs", "1", "--out", str(run)]
    assert main(args) == 0
    first_step, first = _final_weights(run)
    capsys.readouterr()
    assert main(args + ["--seed", "4"]) == 2  # same folder, no --resume: refused, nothing touched
    err = capsys.readouterr().err
    assert str(run) in err and "--resume" in err and "--overwrite" in err and "Traceback" not in err
    step, kept = _final_weights(run)
    assert step == first_step and all(torch.equal(kept[k], first[k]) for k in first)
    rows_before = (run / "metrics.jsonl").read_text().count("\n")
    assert main(args + ["--seed", "4", "--overwrite"]) == 0  # replaced: fresh metrics, new weights
    assert (run / "metrics.jsonl").read_text().count("\n") == rows_before
    _, replaced = _final_weights(run)
    assert any(not torch.equal(replaced[k], first[k]) for k in first)


def test_recipe_and_set_land_in_config_json_and_resume_keeps_them(tmp_path, capsys):
    run = tmp_path / "r"
    argv = ["simclr", "train", "--data", "digits", "--recipe", "handwriting", "--set", "objective.temperature=0.3",
            "--set", "objective.policy_options.rotation_p=0", "--batch-size", "64", "--epochs", "1",
            "--precision", "fp32", "--no-progress", "--out", str(run)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("recipe handwriting: 1,437 images of 1x28x28") and "objective.temperature" in out
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["recipe"] == "handwriting" and cfg["objective"]["temperature"] == 0.3
    assert cfg["objective"]["policy_options"]["rotation_p"] == 0 and cfg["objective"]["view_size"] == 18
    assert cfg["batch_size"] == 64 and cfg["optim"]["name"] == "adamw"
    assert main(["simclr", "train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    resumed = json.loads((run / "config.json").read_text())
    assert resumed["recipe"] == "handwriting" and resumed["objective"] == cfg["objective"]
    assert list_checkpoints(run)[-1] == 44
    capsys.readouterr()
    assert main(["simclr", "train", "--resume", str(run), "--set", "batch_size=8"]) == 2
    assert "--set" in capsys.readouterr().err


def test_defaults_resolve_the_auto_recipe(tmp_path, capsys):
    run = tmp_path / "auto"
    assert main(["simclr", "train", "--data", "digits?size=16", "--epochs", "1", "--no-progress", "--json",
                 "--out", str(run)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["steps"] == 1437 // 64  # auto: batch 64 when 128 gives < 1000 steps
    assert "recipe auto" in captured.err  # with --json the recipe goes to stderr
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["recipe"] == "auto" and cfg["objective"]["view_size"] == 10 and cfg["optim"]["lr"] == 2e-3


@pytest.mark.parametrize("argv, needle", [
    (["--set", "objective.temprature=0.2"], "temprature"),
    (["--set", "optim.lr=fast"], "optim.lr"),
    (["--set", "temperature"], "KEY=VALUE"),
    (["--set", "nonsense.x=1"], "nonsense"),
    (["--recipe", "fastest"], "fastest"),
    (["--view-size", "100"], "view_size"),
])
def test_bad_recipe_values_name_the_field(argv, needle, tmp_path, capsys):
    argv = ["simclr", "train", "--data", "digits", "--epochs", "1", "--no-progress",
            "--out", str(tmp_path / "x")] + argv
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_recipes_and_models_commands_list_what_flags_accept(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "simclr train --recipe NAME" in out and "handwriting" in out and "clip train --recipe NAME" in out
    assert main(["recipes", "--show", "auto", "--data", "digits", "--time-budget", "60"]) == 0
    assert "epochs" in capsys.readouterr().out
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "small-cnn" in out and "resnet18" in out and "ViT-B-32" in out


def test_resuming_a_run_of_the_other_method_says_which_it_is(tmp_path, capsys):
    run = tmp_path / "c"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"method": "clip", "out": str(run)}))
    assert main(["simclr", "train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is a CLIP run" in err and "simclip clip train --resume" in err


def test_only_rank_0_prints_the_recipe_and_the_result(tmp_path, monkeypatch, capsys):
    small = ["simclr", "train", "--data", "digits?size=16", "--encoder", "small-cnn", "--batch-size", "32",
             "--epochs", "1", "--time-budget", "0.5", "--precision", "fp32", "--no-progress", "--logger", ""]
    monkeypatch.setenv("RANK", "1")  # torchrun's other ranks train the same run: they stay quiet
    assert main(small + ["--out", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    assert main(small + ["--out", str(tmp_path / "loud")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("recipe ") and "\ndone: " in out
