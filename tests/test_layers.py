"""Layers point down only: every ``import`` in ``src/simclip`` (top level, inside functions and under
``TYPE_CHECKING`` alike, read with ``ast``) goes from a subpackage to one in the same or a lower
layer, and no two subpackages import each other, directly or through others.

The layers, bottom to top, as the code has them:

0. ``simclip`` itself (``__version__``), ``errors`` (the base of user errors), ``lazy`` (names
   loaded on first use), ``imageio`` (the one image decoder), ``progress`` (progress reporting),
   ``heap`` (malloc settings for training steps and loader workers): nothing but the standard
   library, numpy, PIL and tqdm.
1. ``text`` (tokenizers), ``losses``, ``augment``, ``data``: each needs only layer 0.
2. ``models`` (encoders, heads).
3. ``clip`` (the dual encoder, built from ``models`` and ``text``).
4. ``train`` (the loop and objectives, over ``data`` and ``losses``).
5. ``eval`` (evaluators take callables and tensors, not models; fine-tuning borrows the trainer's
   schedule).
6. ``recipes`` (a run assembled from its config: data, augmentations, models, CLIP, evaluators,
   the trainer); ``pairs`` (towers per modality, the paired model, its runs and evaluation).
7. ``plots``, ``serve``, ``export``, ``generate`` (a generator steered by a CLIP model): uses of
   trained models.
8. ``attacks`` (draws with ``plots``), ``video`` (indexes with ``serve``).
9. ``cli`` and ``__main__`` (``python -m simclip``). The argparse front-ends that live beside their
   package (``<package>.commands``) are part of this layer: the command line registers them and
   they share its model flags.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = [
    {"", "errors", "heap", "imageio", "lazy", "progress"},
    {"text", "losses", "augment", "data"},
    {"models"},
    {"clip"},
    {"train"},
    {"eval"},
    {"recipes", "pairs"},
    {"plots", "serve", "export", "generate"},
    {"attacks", "video"},
    {"cli", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Upward imports tolerated, each with the reason it is still there: (module, layer it imports). None.
ALLOWED: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The ``simclip`` modules ``path`` imports, relative imports resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # "from simclip import imageio" imports the module simclip.imageio
            found |= {f"{target}.{alias.name}" for alias in node.names
                      if (SRC / Path(*f"{target}.{alias.name}".split("."))).with_suffix(".py").exists()}
    return {name for name in found if name == "simclip" or name.startswith("simclip.")}


def layer_of(module: str) -> str:
    """The layer name of a module: its subpackage, or ``cli`` for a ``<package>.commands`` module."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[2] == "commands":
        return "cli"
    return parts[1] if len(parts) > 1 else ""


def graph() -> dict[str, set[str]]:
    edges = {}
    for path in sorted((SRC / "simclip").rglob("*.py")):
        edges[module_name(path)] = imports(path)
    return edges


def test_every_subpackage_has_a_layer():
    names = {path.parent.name for path in (SRC / "simclip").glob("*/__init__.py")}
    names |= {path.stem for path in (SRC / "simclip").glob("*.py") if path.stem != "__init__"}
    assert names - set(RANK) == set(), "add new subpackages to LAYERS (and the docstring)"


def test_imports_point_down_only():
    upward = []
    for module, targets in graph().items():
        source = layer_of(module)
        for target in targets:
            dest = layer_of(target)
            if RANK[dest] > RANK[source] and (module, dest) not in ALLOWED:
                upward.append(f"{module} ({source}, layer {RANK[source]}) imports {target} "
                              f"({dest}, layer {RANK[dest]})")
    assert upward == []


def test_no_cycles_between_subpackages():
    between = defaultdict(set)
    for module, targets in graph().items():
        for target in targets:
            if layer_of(module) != layer_of(target) and (module, layer_of(target)) not in ALLOWED:
                between[layer_of(module)].add(layer_of(target))
    assert _cycle(between) is None


# Module imports left out of the cycle check, each with its reason: (importer, imported).
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()


def test_no_import_cycles_between_modules():
    """Also inside a subpackage: ``a`` importing ``b`` while ``b`` imports ``a`` (even inside a
    function) is the cycle ``data/loader.py`` and the shard stream had. A package's ``__init__``
    importing its own modules is not counted."""
    edges = {m: {t for t in ts if not m.startswith(t + ".") and t != m and (m, t) not in ALLOWED_CYCLE_EDGES}
             for m, ts in graph().items()}
    edges = {m: {t for t in ts if t in edges} for m, ts in edges.items()}
    assert _cycle(edges) is None


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` as a list of nodes, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("edges, cyclic", [({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
                                           ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False)])
def test_the_cycle_finder_finds_cycles(edges, cyclic):
    assert (_cycle(edges) is not None) == cyclic
