"""The search page's own script, run in Node where it is installed: how the header names the model."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

APP_JS = Path(__file__).resolve().parents[2] / "src" / "simclip" / "serve" / "static" / "app.js"
NODE = shutil.which("node")


def run_function(name: str, calls: list) -> list:
    source = APP_JS.read_text(encoding="utf-8")
    match = re.search(rf"^function {name}\(.*?^}}$", source, flags=re.S | re.M)
    assert match, f"{name} not found in app.js"
    script = f"{match.group(0)}\nconsole.log(JSON.stringify({json.dumps(calls)}.map((a) => {name}(a))));"
    done = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_header_never_says_model_model():
    identities = [{"model": "model", "checkpoint": "model.safetensors"},  # a run's final weights
                  {"model": "ViT-B-32", "checkpoint": None},
                  {"model": "small-cnn-32", "checkpoint": "c"},
                  {"model": "model", "checkpoint": None}]
    labels = run_function("modelLabel", identities)
    assert labels == ["model.safetensors", "model ViT-B-32", "model small-cnn-32", "model"]
    assert not any("model model" in label for label in labels)
