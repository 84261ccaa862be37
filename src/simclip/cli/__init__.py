"""``simclip`` command line: ``main(argv) -> exit code``. Each sub-command lives in a module with
``register(subparsers)``; user mistakes end in one clear line on stderr and exit code 2.

Commands whose dependencies are optional extras (the service, video, export) are still listed when
the extra is missing; running one then says which extra to install.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from simclip import __version__
from simclip.cli import augment, clip, data, demo, evaluate, retrieve, simclr, zeroshot
from simclip.cli.errors import USER_ERRORS, format_error

COMMANDS = (simclr, clip, evaluate, zeroshot, retrieve, augment, data, demo)
# (module, extra that provides its dependencies, command names it registers)
OPTIONAL = (("simclip.serve.commands", "serve", ("index", "serve")),
            ("simclip.attacks.commands", "all", ("attack",)),
            ("simclip.video.commands", "video", ("video",)),
            ("simclip.export.commands", "export", ("export",)),
            ("simclip.plots.commands", "all", ("plot",)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simclip",
        description="Contrastive representation learning: train SimCLR and CLIP, evaluate with "
                    "linear probes, kNN, zero-shot and retrieval, search and serve embeddings.",
        epilog="Datasets are named by a spec string: digits | mnist:PATH | cifar10:PATH | "
               "cifar100:PATH | folder:PATH | shapes | captions:FILE | wds:SHARDS. "
               "Run 'simclip COMMAND --help' for details.")
    parser.add_argument("--version", action="version", version=f"simclip {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    for name, extra, commands in OPTIONAL:
        try:
            importlib.import_module(name).register(sub)
        except ImportError as err:
            for command in commands:
                p = sub.add_parser(command, help=f"(needs: pip install 'simclip[{extra}]')")
                p.set_defaults(func=_missing(extra, err))
    return parser


def _missing(extra: str, err: ImportError):
    def run(args: argparse.Namespace) -> int:
        raise ModuleNotFoundError(f"'simclip {args.command}' needs the '{extra}' extra ({err.name or err} "
                                  f"is not installed): pip install 'simclip[{extra}]'")
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``); returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("simclip: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        print(f"simclip: error: {format_error(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
