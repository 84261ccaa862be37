"""CLIP through the command line on the built-in shapes: train, resume, zero-shot, retrieval, errors."""

import json

import numpy as np
import pytest
from PIL import Image

from simclip.cli import main
from simclip.data import load_caption_dataset

DATA = "shapes?n=256"
TRAIN = ["clip", "train", "--data", DATA, "--model", "small-cnn-32", "--batch-size", "64",
         "--precision", "fp32", "--no-progress", "--seed", "1", "--lr", "0.002"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip") / "run"
    assert main(TRAIN + ["--epochs", "2", "--out", str(out), "--eval", "zeroshot,retrieval"]) == 0
    return out


def test_training_writes_a_run_with_a_loadable_model(run):
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["method"] == "clip" and cfg["model"] == {"name": "small-cnn-32"}
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/zeroshot_top1" in r]
    assert evals and 0.0 <= evals[-1]["eval/zeroshot_top1"] <= 100.0
    assert "eval/text_to_image_R@10" in evals[-1]
    assert all(0 < r["logit_scale"] <= 100.0 + 1e-4 for r in rows if "logit_scale" in r)
    assert (run / "model.safetensors").exists() and (run / "curves.png").exists()


def test_zeroshot_one_image_prints_top5_and_rank(run, tmp_path, capsys):
    data = load_caption_dataset(DATA, split="test")
    img = tmp_path / "x.png"
    Image.fromarray(np.ascontiguousarray(data.images[0].permute(1, 2, 0).numpy())).save(img)
    classes = "circle,square,triangle,star,cross,ring"
    assert main(["zeroshot", "--run", str(run), "--image", str(img), "--classes", classes,
                 "--true", "square"]) == 0
    out = capsys.readouterr().out
    assert "ranked" in out and "out of 6 labels" in out
    assert main(["zeroshot", "--checkpoint", str(run / "model.safetensors"), "--image", str(img),
                 "--classes", classes, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    probs = [r["probability"] for r in res["top5"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6


def test_zeroshot_and_retrieval_on_a_dataset(run, capsys):
    assert main(["zeroshot", "--run", str(run), "--data", DATA, "--json"]) == 0
    z = json.loads(capsys.readouterr().out)
    assert {"zeroshot_top1", "zeroshot_top5", "zeroshot_mean_per_class_recall"} <= set(z)
    assert main(["retrieve", "--run", str(run), "--data", DATA, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["image_to_text_R@10"] >= r["image_to_text_R@1"]
    assert main(["retrieve", "--run", str(run), "--data", DATA, "--query", "a red circle", "--top", "3",
                 "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert len(hits) == 3 and hits[0]["score"] >= hits[-1]["score"]


def test_resume_continues_a_clip_run(run, tmp_path, capsys):
    assert main(["clip", "train", "--resume", str(run), "--epochs", "3", "--no-progress", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["epochs"] == 3 and res["steps"] == 12


@pytest.mark.parametrize("argv,needle", [
    (["clip", "train", "--model", "ViT-Q-99", "--data", DATA], "ViT-Q-99"),
    (["zeroshot", "--checkpoint", "/no/file.pt", "--image", "x.png", "--classes", "a,b"], "/no/file.pt"),
    (["zeroshot", "--run", "/no/run", "--data", DATA], "/no/run"),
    (["retrieve", "--checkpoint", "/no/file.pt", "--data", DATA], "/no/file.pt"),
])
def test_bad_input_is_one_clear_line(argv, needle, tmp_path, capsys):
    if argv[:2] == ["clip", "train"]:
        argv = argv + ["--out", str(tmp_path / "x"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_a_run_folder_serves_as_the_index_model(run, tmp_path, capsys):
    data = load_caption_dataset(DATA, split="test")
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.ascontiguousarray(data.images[i].permute(1, 2, 0).numpy())).save(folder / f"{i}.png")
    assert main(["index", "build", "--run", str(run), "--images", str(folder), "--out", str(tmp_path / "idx"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["index", "info", "--index", str(tmp_path / "idx")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 6 and info["identity"]["embed_dim"] == 64


def test_linear_probe_and_knn_on_clip_image_features(run, capsys):
    assert main(["eval", "--run", str(run), "--data", DATA, "--protocol", "linear,knn", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0.0 <= metrics["knn_top1"] <= 100.0 and metrics["linear_top5"] >= metrics["linear_top1"]


def test_a_bpe_vocabulary_learned_from_the_captions_travels_with_the_run(tmp_path, capsys):
    out = tmp_path / "bpe"
    assert main(TRAIN + ["--epochs", "1", "--out", str(out), "--tokenizer", "bpe:400"]) == 0
    assert (out / "tokenizer.json").exists()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["objective"]["tokenizer"] == "bpe:400" and cfg["model"]["text"]["vocab_size"] <= 400
    capsys.readouterr()
    assert main(["retrieve", "--run", str(out), "--data", DATA, "--json"]) == 0
    assert "text_to_image_R@1" in json.loads(capsys.readouterr().out)
    assert main(["clip", "train", "--resume", str(out), "--epochs", "2", "--no-progress"]) == 0
