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


def _add_train_commands(subparsers) -> None:
    train = subparsers.add_parser("train", help="recipes that make the models in models/")
    recipes = train.add_subparsers(dest="recipe", required=True)
    base = recipes.add_parser("base", help="pretrain the small base model on generated fictional worlds")
    base.add_argument("--output", default="models/base")
    base.add_argument("--run-dir", default="runs/base", help="checkpoints; rerun the same command to resume")
    base.add_argument("--preset", choices=["micro", "default"], default="default")
    base.add_argument("--steps", type=int, default=None, help="override the preset's optimizer steps")
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--eval-size", type=int, default=100, help="held-out reading questions of each kind")
    base.set_defaults(handler=_run_train_base)

    lora = recipes.add_parser("lora", help="train the LoRA adapter on corpus/docs and corpus/qa/train.jsonl")
    lora.add_argument("--base", default="models/base", help="base model folder or hub id")
    lora.add_argument("--corpus", default="corpus")
    lora.add_argument("--output", default="models/lora")
    lora.add_argument("--run-dir", default="runs/lora", help="checkpoints; rerun the same command to resume")
    lora.add_argument("--preset", choices=["micro", "default"], default="default")
    lora.add_argument("--steps", type=int, default=None)
    lora.add_argument("--seed", type=int, default=0)
    lora.add_argument("--recall-limit", type=int, default=None, help="measure recall on the first N questions")
    lora.set_defaults(handler=_run_train_lora)

    scratch = recipes.add_parser("scratch", help="train the tiny model from random weights on the team's data")
    scratch.add_argument("--corpus", default="corpus")
    scratch.add_argument("--output", default="models/scratch")
    scratch.add_argument("--run-dir", default="runs/scratch", help="checkpoints; rerun the same command to resume")
    scratch.add_argument("--preset", choices=["micro", "default"], default="default")
    scratch.add_argument("--steps", type=int, default=None)
    scratch.add_argument("--seed", type=int, default=0)
    scratch.add_argument("--recall-limit", type=int, default=None)
    scratch.set_defaults(handler=_run_train_scratch)


def _command_line() -> str:
    return "fourpaths " + " ".join(sys.argv[1:])


def _run_train_base(args) -> int:
    from pathlib import Path

    from fourpaths.training.base import train_base

    summary = train_base(Path(args.output), Path(args.run_dir), args.preset, args.seed, args.steps,
                         args.eval_size, command=_command_line())
    print(f"base: {summary['parameters']:,} parameters, {summary['steps']} steps, loss {summary['final_train_loss']}, "
          f"held-out loss {summary['held_out_loss']}, reading {summary['answer_accuracy']:.0%} answered / "
          f"{summary['abstain_accuracy']:.0%} abstained, {summary['train_seconds'] / 60:.1f} min -> {args.output}")
    return 0


def _run_train_lora(args) -> int:
    from pathlib import Path

    from fourpaths.config import resolve_location
    from fourpaths.training.lora import train_lora

    summary = train_lora(resolve_location(args.base), Path(args.corpus), Path(args.output), Path(args.run_dir),
                         args.preset, args.seed, args.steps, args.recall_limit, command=_command_line(),
                         base_name=args.base)
    print(f"lora: rank {summary['rank']}, {summary['trainable_parameters']:,} trainable "
          f"({summary['trainable_share']:.1%}), {summary['steps']} steps, loss {summary['final_train_loss']}, "
          f"train recall {summary['train_recall']:.0%}, {summary['train_seconds'] / 60:.1f} min -> {args.output}")
    return 0


def _run_train_scratch(args) -> int:
    from pathlib import Path

    from fourpaths.training.scratch import train_scratch

    summary = train_scratch(Path(args.corpus), Path(args.output), Path(args.run_dir), args.preset, args.seed,
                            args.steps, args.recall_limit, command=_command_line())
    print(f"scratch: {summary['parameters']:,} parameters, {summary['steps']} steps, loss {summary['final_train_loss']}, "
          f"train recall {summary['train_recall']:.0%}, {summary['train_seconds'] / 60:.1f} min -> {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fourpaths", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_corpus_commands(subparsers)
    _add_train_commands(subparsers)
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
