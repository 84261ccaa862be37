"""``load`` reads a training run (its folder or any of its weights files) with the run's architecture
and vocabulary; ``get_tokenizer`` gives rows the model's text tower reads."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import simclip.clip as sc
from simclip.clip import create_model, get_tokenizer, load, save
from simclip.text import train_bpe_tokenizer
from simclip.train.checkpoint import save_checkpoint
from simclip.train.config import OptimConfig, TrainConfig


def make_run(run_dir, model_entry, model, steps=(1, 2), method="clip"):
    """A run folder as ``simclip clip train`` writes it: config.json and step checkpoints, the
    weights of step s being ``model``'s plus s."""
    cfg = TrainConfig(method=method, out=str(run_dir), data="shapes", model=model_entry, optim=OptimConfig())
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.json")
    for step in steps:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0 if step > steps[0] else 0.0)
        save_checkpoint(run_dir, step, model, {"step": step}, keep=len(steps))
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("small-cnn-32")
    run_dir = make_run(tmp_path_factory.mktemp("r") / "c", {"name": "small-cnn-32"}, model)
    return run_dir, {k: v.clone() for k, v in model.state_dict().items()}


def test_run_folder_and_each_checkpoint_load_without_warnings(run):
    run_dir, newest = run
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no QuickGELU guess: the run says GELU
        from_folder, preprocess = load(run_dir)
        older, _ = load(run_dir / "checkpoints" / "step-00000001.safetensors")
        newer, _ = load(str(run_dir / "checkpoints" / "step-00000002.safetensors"))
    assert from_folder.config == sc.get_model_config("small-cnn-32") == older.config
    assert preprocess.cfg == from_folder.preprocess_cfg
    for k, v in newest.items():  # the folder means its newest checkpoint
        assert torch.equal(from_folder.state_dict()[k], v) and torch.equal(newer.state_dict()[k], v)
    param = next(k for k, v in newest.items() if v.is_floating_point() and "num_batches" not in k)
    assert torch.equal(older.state_dict()[param], newest[param] - 1.0)


def test_get_tokenizer_matches_the_context_length(run):
    model, _ = load(run[0])
    tokens = get_tokenizer(model)(["an orange triangle at the bottom", "a red circle"])
    assert tokens.shape == (2, 16) and tokens.dtype == torch.long
    assert get_tokenizer("small-cnn-32")(["x"]).shape == (1, 16)
    assert get_tokenizer(sc.get_model_config("tiny-vit"))(["x"]).shape[1] == \
        sc.get_model_config("tiny-vit").text.context_length
    with torch.no_grad():  # the README's use: tokens straight into encode_text
        assert model.encode_text(tokens, normalize=True).shape == (2, model.embed_dim)


def test_a_run_that_learned_its_vocabulary(tmp_path):
    captions = [f"a {c} {s} on the {w}" for c in ("red", "blue", "orange") for s in ("circle", "star")
                for w in ("left", "right")] * 3
    (tmp_path / "c").mkdir()
    learned = train_bpe_tokenizer(captions, 300, tmp_path / "c" / "tokenizer.json")
    torch.manual_seed(1)
    entry = {"name": "small-cnn-32", "text": {"vocab_size": learned.vocab_size}, "lock_image": False}
    model = create_model("small-cnn-32", text={"vocab_size": learned.vocab_size})
    run_dir = make_run(tmp_path / "c", entry, model)
    for source in (run_dir, run_dir / "checkpoints" / "step-00000002.safetensors"):
        model, _ = load(source)
        assert model.config.text.vocab_size == learned.vocab_size
        tokenize = get_tokenizer(model)
        tokens = tokenize(["a blue star on the left"])
        assert tokens.shape == (1, 16) and int(tokens.max()) == learned.vocab_size - 1  # its end token
        assert torch.equal(tokens, learned(["a blue star on the left"], context_length=16))
        assert tokenize.decode(tokens[0]) == "a blue star on the left"


def test_clip_vocabulary_refused_for_a_smaller_text_tower():
    model = create_model("small-cnn-32", text={"vocab_size": 300})
    with pytest.raises(ValueError, match="tokenizer.json"):
        get_tokenizer(model)


def test_folders_that_are_not_clip_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a simclip run folder"):
        load(tmp_path)
    simclr = make_run(tmp_path / "s", {"name": "small-cnn-32"}, create_model("small-cnn-32"), steps=(1,),
                      method="simclr")
    with pytest.raises(ValueError, match="'simclr' run, not a CLIP run"):
        load(simclr)


def test_a_file_beside_another_config_json_is_a_plain_checkpoint(tmp_path):
    """A Hugging Face download has its own config.json: not a run, the file speaks for itself."""
    torch.manual_seed(2)
    model = create_model("small-cnn-32")
    path = save(model, tmp_path / "weights.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["CLIPModel"]}))
    loaded, _ = load(path)
    assert loaded.config == model.config


def test_a_run_without_weights_yet(tmp_path):
    run_dir = make_run(tmp_path / "c", {"name": "small-cnn-32"}, create_model("small-cnn-32"), steps=())
    with pytest.raises(FileNotFoundError, match="without weights yet"):
        load(run_dir)
