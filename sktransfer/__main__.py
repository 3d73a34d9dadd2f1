"""The ``sktransfer`` command line: ``sktransfer <command> [options]``.

Commands
--------
benchmark
    Compare classical baselines with transfer learning on a dataset; see
    ``sktransfer benchmark --help`` and docs/benchmarking.md.
"""

from __future__ import annotations

import argparse
import sys


def build_parser():
    from . import __version__
    from .benchmark.__main__ import DESCRIPTION, EPILOG, add_arguments

    parser = argparse.ArgumentParser(
        prog="sktransfer", description="Transfer learning as ordinary scikit-learn estimators."
    )
    parser.add_argument("--version", action="version", version=f"sktransfer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    bench = commands.add_parser(
        "benchmark", help="compare classical baselines with transfer learning on a dataset",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(bench)
    return parser, {"benchmark": bench}


def main(argv=None):
    """Entry point of the ``sktransfer`` console script and ``python -m sktransfer``."""
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "benchmark":
        from .benchmark.__main__ import run_from_args

        return run_from_args(args, commands["benchmark"])
    parser.error(f"unknown command {args.command!r}")  # unreachable: argparse checks choices


if __name__ == "__main__":
    sys.exit(main())
