"""``simclip --help`` answers at once: registering the commands imports no torch (which takes seconds);
each command imports what it needs when it runs."""

import subprocess
import sys

from simclip.cli import COMMANDS, OPTIONAL

# Every command module: registering it must import nothing heavy.
LAZY = ["simclip.cli", "simclip.cli.errors", "simclip.cli.evaluate", "simclip.cli.zeroshot",
        "simclip.cli.retrieve", "simclip.cli.augment", "simclip.cli.data", "simclip.serve.commands",
        "simclip.video.commands", "simclip.export.commands", "simclip.cli.simclr", "simclip.cli.clip",
        "simclip.cli.demo", "simclip.cli.recipes", "simclip.cli.models", "simclip.cli.train_flags",
        "simclip.attacks.commands", "simclip.plots.commands", "simclip.cli.pair", "simclip.cli.generate"]


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
    """A new command module must be added to LAZY (and so be checked above)."""
    registered = set(COMMANDS) | {name for name, _, _ in OPTIONAL}
    assert registered - set(LAZY) == set()


def test_building_the_parser_imports_no_torch():
    assert _heavy_after("import simclip.cli as c\nc.build_parser()") == []


def test_help_runs_in_a_fresh_process_without_torch():
    # how long it takes is measured in BENCHMARKS.md, not bounded here (a loaded machine varies)
    probe = ("import runpy, sys\nsys.argv = ['simclip', '--help']\ntry:\n"
             "    runpy.run_module('simclip.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "recipes" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "False"
