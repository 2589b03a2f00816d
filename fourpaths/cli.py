"""The `fourpaths` command line. Each subcommand is a thin wrapper over the package."""

from __future__ import annotations

import argparse
import sys

from fourpaths.errors import FourpathsError


def _add_corpus_commands(subparsers) -> None:
    corpus = subparsers.add_parser("corpus", help="check the knowledge base and its question sets")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True)
    check = corpus_sub.add_parser("check", help="validate corpus/ against every rule; non-zero exit on failure")
    check.add_argument("--root", default="corpus", help="corpus folder (default: corpus)")
    check.set_defaults(handler=_run_corpus_check)


def _run_corpus_check(args) -> int:
    from fourpaths.corpus_check import run_check

    return run_check(args.root)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fourpaths", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_corpus_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except FourpathsError as error:
        print(f"fourpaths: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
