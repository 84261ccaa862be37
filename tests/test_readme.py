"""The README's Python snippets run as written, on a model trained with the README's own CLIP command.

Each ```python block of README.md is executed after a tiny version of the README's ``simclip clip
train`` command (a few steps on a small ``shapes`` set) has run in a temporary folder, with a small
PIL image as ``pil_image``. A released checkpoint the snippet names (``ViT-B-32.pt``) is replaced by
that run's folder, which ``simclip.clip.load`` reads the same way.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch
from PIL import Image

from simclip.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
# 2 steps, no evaluation (not what the snippets use)
TINY = {"--data": "shapes?n=64", "--epochs": "1", "--batch-size": "32", "--eval": ""}
DROPPED = ("--eval-every",)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def clip_train_args(text: str) -> list[str]:
    """The README's ``simclip clip train`` command whose run the snippets load, shrunk to a few steps."""
    loaded = re.search(r'load\("(runs/[^"/]+)"\)', "\n".join(python_blocks(text)))
    assert loaded, "no README Python snippet loads a run folder"
    out = re.compile(rf"--out {re.escape(loaded.group(1))}(\s|$)")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("simclip clip train")
                and out.search(ln.split("#")[0]))
    words = shlex.split(line.split("#")[0])[3:]
    args, i = [], 0
    while i < len(words):
        flag = words[i]
        takes_value = i + 1 < len(words) and not words[i + 1].startswith("--")
        if flag in TINY or flag in DROPPED:
            i += 2 if takes_value else 1
            continue
        args += words[i:i + 2] if takes_value else [flag]
        i += 2 if takes_value else 1
    return ["clip", "train", *args, *[x for kv in TINY.items() for x in kv], "--no-progress"]


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    text = README.read_text(encoding="utf-8")
    args = clip_train_args(text)
    out = args[args.index("--out") + 1] if "--out" in args else "runs/clip"
    work = tmp_path_factory.mktemp("readme")
    args = [str(work / out) if a == out else a for a in args]
    assert main(args) == 0
    return text, work, work / out


def test_readme_has_python_snippets():
    assert python_blocks(README.read_text(encoding="utf-8"))


def test_readme_python_snippets_run(readme_run, monkeypatch):
    text, work, run_dir = readme_run
    monkeypatch.chdir(work)  # relative paths such as runs/c resolve to the trained run
    for i, block in enumerate(python_blocks(text)):
        code = block.replace("ViT-B-32.pt", str(run_dir))
        scope = {"pil_image": Image.new("RGB", (48, 40), (230, 120, 20)), "__name__": f"readme_{i}"}
        exec(compile(code, f"README.md python block {i + 1}", "exec"), scope)  # noqa: S102
        model, tokens, probs = (scope.get(k) for k in ("model", "tokens", "probs"))
        if model is not None and tokens is not None:
            assert tokens.shape[1] == model.config.text.context_length
        if probs is not None:
            assert probs.ndim == 2 and probs.shape[1] == tokens.shape[0]
            assert torch.allclose(probs.sum(-1), torch.ones(probs.shape[0]), atol=1e-5)
