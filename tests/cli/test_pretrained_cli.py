"""OpenCLIP naming on the command line (``--model NAME --pretrained TAG``), released weights found in
the local cache only, one-line errors for names, tags and weights that are not there, and
CLIP_benchmark's result files from ``zeroshot`` and ``retrieve --output``."""

from __future__ import annotations

import argparse
import hashlib
import json

import pytest
import torch
from PIL import Image

from simclip.cli import main
from simclip.clip import create_model, resolve_pretrained, save
from simclip.clip import pretrained as releases

DATA = "shapes?n=64"
MODEL = "small-cnn-32"


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A local cache holding released weights for (small-cnn-32, openai) and (small-cnn-32,
    tiny-hub) in the Hugging Face layout; downloads switched off."""
    root = tmp_path / "cache"
    torch.manual_seed(0)
    model = create_model(MODEL)
    weights = save(model, root / "openai" / f"{MODEL}.pt")  # parents made below
    return root, weights, model


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    (root / "openai").mkdir(parents=True)
    monkeypatch.setenv("SIMCLIP_CACHE", str(root))
    monkeypatch.setenv("SIMCLIP_OFFLINE", "1")
    return root


def _register_openai(monkeypatch, path):
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(releases._OPENAI_SHA256, MODEL, sha)


def _register_hub(monkeypatch, root, model):
    repo = "tiny-org/tiny-clip"
    snapshot = root / "hf" / "models--tiny-org--tiny-clip" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (root / "hf" / "models--tiny-org--tiny-clip" / "refs").mkdir()
    (root / "hf" / "models--tiny-org--tiny-clip" / "refs" / "main").write_text("0" * 40)
    save(model, snapshot / "open_clip_model.safetensors")
    monkeypatch.setitem(releases._HF_HUB, (MODEL, "tiny-hub"), repo)
    return snapshot / "open_clip_model.safetensors"


def test_cached_weights_resolve_by_name_and_tag(cache, monkeypatch):
    root, weights, model = cache
    _register_openai(monkeypatch, weights)
    assert resolve_pretrained(MODEL, "openai") == weights
    hub = _register_hub(monkeypatch, root, model)
    assert resolve_pretrained(MODEL, "tiny-hub").samefile(hub)
    assert resolve_pretrained("anything", str(weights)) == weights  # a file as the tag
    monkeypatch.setitem(releases._OPENAI_SHA256, MODEL, "0" * 64)  # damaged file: not used
    with pytest.raises(FileNotFoundError, match="SHA-256 is not the published one"):
        resolve_pretrained(MODEL, "openai")


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_zeroshot_and_retrieve_write_clip_benchmark_json(cache, monkeypatch, tmp_path, capsys):
    _register_openai(monkeypatch, cache[1])
    named = ["--model", MODEL, "--pretrained", "openai"]
    code, out, _ = _run(["zeroshot", *named, "--data", DATA, "--json", "--output", str(tmp_path / "z.json")],
                        capsys)
    assert code == 0
    printed, result = json.loads(out), json.loads((tmp_path / "z.json").read_text())
    assert set(result) >= {"dataset", "model", "pretrained", "task", "metrics"}
    assert (result["dataset"], result["model"], result["pretrained"], result["task"]) == \
        (DATA, MODEL, "openai", "zeroshot_classification")
    assert set(result["metrics"]) == {"acc1", "acc5", "mean_per_class_recall"}
    for ours, theirs in (("zeroshot_top1", "acc1"), ("zeroshot_top5", "acc5"),
                         ("zeroshot_mean_per_class_recall", "mean_per_class_recall")):
        assert result["metrics"][theirs] == pytest.approx(printed[ours] / 100, abs=1e-12)
    code, out, _ = _run(["retrieve", *named, "--data", DATA, "--json", "--output", str(tmp_path / "r.json")],
                        capsys)
    assert code == 0
    printed, result = json.loads(out), json.loads((tmp_path / "r.json").read_text())
    assert result["task"] == "zeroshot_retrieval" and result["model"] == MODEL
    assert result["metrics"]["image_retrieval_recall@5"] == pytest.approx(printed["text_to_image_R@5"] / 100)
    assert result["metrics"]["text_retrieval_recall@5"] == pytest.approx(printed["image_to_text_R@5"] / 100)
    assert len(result["metrics"]) == sum(k.endswith(("R@1", "R@5", "R@10")) for k in printed)


def test_the_same_weights_by_checkpoint_give_the_same_numbers(cache, monkeypatch, capsys):
    _register_openai(monkeypatch, cache[1])
    _, by_name, _ = _run(["zeroshot", "--model", MODEL, "--pretrained", "openai", "--data", DATA, "--json"],
                         capsys)
    _, by_file, _ = _run(["zeroshot", "--checkpoint", str(cache[1]), "--data", DATA, "--json"], capsys)
    assert json.loads(by_name) == json.loads(by_file)


@pytest.mark.parametrize("argv, needles", [
    (["--model", "ViT-B-23", "--pretrained", "openai"], ["no released weights for model 'ViT-B-23'",
                                                         "close matches: ViT-B-32"]),
    (["--model", "ViT-B-32", "--pretrained", "opnai"], ["no pretrained tag 'opnai'", "close matches: openai"]),
    (["--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k"],
     ["not available offline: looked for", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "--pretrained PATH"]),
    (["--model", "ViT-B-32", "--pretrained", "openai"], ["not available offline", "ViT-B-32.pt"]),
    (["--model", "ViT-B-32"], ["--model ViT-B-32 needs --pretrained TAG"]),
])
def test_names_tags_and_missing_weights_are_one_line(argv, needles, capsys):
    code, _, err = _run(["zeroshot", *argv, "--data", DATA], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    for needle in needles:
        assert needle in err


def test_models_pretrained_lists_pairs_and_marks_cached(cache, monkeypatch, capsys):
    _register_openai(monkeypatch, cache[1])
    code, out, _ = _run(["models", "--pretrained"], capsys)
    assert code == 0
    rows = [line.split() for line in out.splitlines()[1:]]
    assert ["ViT-B-32", "openai"] in rows and ["ViT-B-16", "laion2b_s34b_b88k"] in rows
    assert [MODEL, "openai", "(cached)"] in rows


def test_index_build_by_name_and_tag(cache, monkeypatch, tmp_path, capsys):
    pytest.importorskip("faiss")
    _register_openai(monkeypatch, cache[1])
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (32, 32), (80 * i, 40, 200 - 60 * i)).save(folder / f"{i}.png")
    code, out, _ = _run(["index", "build", "--model", MODEL, "--pretrained", "openai", "--images", str(folder),
                         "--out", str(tmp_path / "idx"), "--no-progress"], capsys)
    assert code == 0 and "indexed 3 images" in out
    _, info, _ = _run(["index", "info", "--index", str(tmp_path / "idx")], capsys)
    assert json.loads(info)["identity"]["checkpoint"] == str(cache[1].resolve())


def test_eval_takes_a_released_model_with_data(cache, monkeypatch, capsys):
    _register_openai(monkeypatch, cache[1])
    named = ["eval", "--model", MODEL, "--pretrained", "openai"]
    code, out, _ = _run([*named, "--data", DATA, "--protocol", "knn", "--knn-k", "5", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["run"] is None and any(k.startswith("knn") for k in result)
    code, _, err = _run(named, capsys)
    assert code == 2 and "needs --data" in err


def _leaf_commands(parser, path=()):
    """``(command words, parser)`` of every command that takes no further sub-command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _leaf_commands(sub, (*path, name))


def test_every_command_that_takes_a_clip_model_takes_its_name_and_tag():
    from simclip.cli import build_parser

    takes_model = []
    for path, parser in _leaf_commands(build_parser()):
        flags = {flag for action in parser._actions for flag in action.option_strings}
        if "--checkpoint" in flags or ("--run" in flags and path[0] != "pair"):  # pair runs are not CLIP
            takes_model.append(" ".join(path))
            assert {"--model", "--pretrained"} <= flags, f"simclip {' '.join(path)} lacks --model/--pretrained"
    assert {"attack", "plot topk", "plot similarity", "plot embeddings", "export embeddings", "export onnx",
            "video index", "video search", "zeroshot", "retrieve", "eval", "index build", "serve"} <= set(takes_model)


@pytest.mark.parametrize("argv", [
    ["plot", "topk", "--image", "IMAGE", "--classes", "circle,square,star", "--out", "OUT.png"],
    ["export", "embeddings", "--data", DATA, "--limit", "8", "--out", "OUT.npy"],
    ["attack", "--data", DATA, "--limit", "8", "--json"],
], ids=["plot-topk", "export-embeddings", "attack"])
def test_plot_export_and_attack_take_a_released_model(argv, cache, monkeypatch, tmp_path, capsys):
    _register_openai(monkeypatch, cache[1])
    image = tmp_path / "image.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(image)
    results = {}
    for how, source in (("name", ["--model", MODEL, "--pretrained", "openai"]),
                        ("file", ["--checkpoint", str(cache[1])])):
        out = tmp_path / how
        out.mkdir()
        filled = [str(image) if a == "IMAGE" else str(out / a) if a.startswith("OUT.") else a for a in argv]
        code, printed, err = _run([*filled, *source], capsys)
        assert code == 0, err
        written = sorted(p for p in out.iterdir() if p.is_file())
        results[how] = (printed.replace(str(out), "OUT"), [(p.name, p.read_bytes()) for p in written])
    assert results["name"] == results["file"]  # the same weights, the same output


def test_a_missing_tag_is_one_line_on_the_new_commands(capsys):
    for argv in (["attack", "--model", MODEL, "--data", DATA],
                 ["export", "onnx", "--model", "ViT-B-32", "--pretrained", "opnai", "--out", "x"]):
        code, _, err = _run(argv, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert "needs --pretrained TAG" in err or "close matches: openai" in err
