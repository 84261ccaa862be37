"""``simclip`` command line: ``main(argv) -> exit code``. Each sub-command lives in a module with
``register(subparsers)``; user mistakes end in one clear line on stderr and exit code 2, bugs in a
traceback and exit code 1 (``cli/errors.py``).

Registering a command imports no torch and none of its heavy dependencies: they are imported by
the function that runs it, so ``simclip --help`` and ``simclip --version`` answer at once.
Commands whose dependencies are optional extras (the service, video, export) are still listed when
the extra is missing; running one then says which extra to install.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from simclip import __version__
from simclip.cli.errors import clean_warnings, report_error
from simclip.errors import MissingDependencyError

COMMANDS = ("simclip.cli.simclr", "simclip.cli.clip", "simclip.cli.recipes", "simclip.cli.models",
            "simclip.cli.evaluate", "simclip.cli.zeroshot", "simclip.cli.retrieve", "simclip.cli.augment",
            "simclip.cli.data", "simclip.cli.demo", "simclip.cli.pair", "simclip.cli.generate")
# (module, extra that provides its dependencies, command names it registers)
OPTIONAL = (("simclip.serve.commands", "serve", ("index", "serve")),
            ("simclip.attacks.commands", "all", ("attack",)),
            ("simclip.video.commands", "video", ("video",)),
            ("simclip.export.commands", "export", ("export",)),
            ("simclip.plots.commands", "all", ("plot",)))
DEBUG_FLAG = "--debug"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simclip",
        description="Contrastive representation learning: train SimCLR and CLIP, evaluate with "
                    "linear probes, kNN, zero-shot and retrieval, search and serve embeddings.",
        epilog="Datasets are named by a spec string: digits | mnist:PATH | cifar10:PATH | "
               "cifar100:PATH | folder:PATH | shapes | captions:FILE | pairs:FILE | wds:SHARDS. "
               "Run 'simclip COMMAND --help' for details.")
    parser.add_argument("--version", action="version", version=f"simclip {__version__}")
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="show the traceback of every error, and warnings with their source "
                             "line (allowed anywhere on the command line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
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
        raise MissingDependencyError(f"'simclip {args.command}' needs the '{extra}' extra ({err.name or err} "
                                     f"is not installed): pip install 'simclip[{extra}]'")
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``); returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]  # accepted after the command too
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    with clean_warnings(debug):
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("simclip: interrupted", file=sys.stderr)
            return 130
        except Exception as err:
            return report_error(err, debug)


if __name__ == "__main__":
    sys.exit(main())
