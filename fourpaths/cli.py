"""The `fourpaths` command line. Each subcommand is a thin wrapper over the package."""

from __future__ import annotations

import argparse
import sys

from fourpaths.errors import FourpathsError

# Spelt out rather than imported: importing the recipes loads torch, too slow for `--help` (a test keeps them equal).
BASE_STAGES = ["from-encoder", "encoder-reading", "encoder-quoting", "induction", "induction-long", "pretrain", "reading", "quoting"]
BASE_PRESETS = ["micro", "default", "small", "reader"]


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
    base.add_argument("--run-dir", default=None,
                      help="checkpoints (default runs/base-<stage>, runs/base for pretrain); rerun to resume")
    base.add_argument("--stage", choices=BASE_STAGES, default="pretrain",
                      help="from-encoder: start from the pretrained embedder (all-MiniLM-L6-v2) as a causal model "
                           "and teach it to copy spans; encoder-reading: continue it on reading; encoder-quoting: continue "
                           "an encoder reader on ranked passages quoted from their start; induction: copy "
                           "random strings from scratch; induction-long: continue it on copies hundreds of tokens "
                           "apart; pretrain: the general mix (from scratch, "
                           "or continuing --init-from); reading: continue a base on the reading-heavy mix; quoting: "
                           "continue an induction-only base on short and long reading, templates and documents")
    base.add_argument("--init-from", default=None,
                      help="the model to continue (reading, quoting and encoder stages default: --output)")
    base.add_argument("--encoder", default=None,
                      help="from-encoder stage: the encoder folder (default: the configured embedder's)")
    base.add_argument("--preset", choices=BASE_PRESETS, default="default")
    base.add_argument("--steps", type=int, default=None, help="override the preset's optimizer steps")
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--eval-size", type=int, default=100, help="held-out reading questions of each kind")
    base.add_argument("--save-dtype", choices=["float32", "float16"], default="float32",
                      help="dtype of the saved weights: float16 halves the folder; the app loads either as float32")
    base.add_argument("--stop-at", type=int, default=None, help="stop after this step (checkpointed); rerun to go on")
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
    lora.add_argument("--context-share", type=float, default=0.0,
                      help="share of reworded questions that start from the answer's sentence in its document")
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


def _run_train_base(args) -> int:
    from pathlib import Path

    from fourpaths.training.base import STAGE_RUN_DIRS, train_base

    run_dir = args.run_dir or STAGE_RUN_DIRS[args.stage]
    init_from = Path(args.init_from) if args.init_from else None
    summary = train_base(Path(args.output), Path(run_dir), args.preset, args.seed, args.steps,
                         args.eval_size, stop_at=args.stop_at, stage=args.stage, init_from=init_from,
                         encoder=args.encoder, save_dtype=args.save_dtype)
    if "stopped_at" in summary:
        print(f"base: stopped at step {summary['stopped_at']} of {summary['steps']}; rerun to continue")
        return 0
    print(f"base: {summary['parameters']:,} parameters, {summary['steps']} steps, loss {summary['final_train_loss']}, "
          f"held-out loss {summary['held_out_loss']}, reading {summary['answer_accuracy']:.0%} answered / "
          f"{summary['abstain_accuracy']:.0%} abstained, {summary['train_seconds'] / 60:.1f} min -> {args.output}")
    return 0


def _run_train_lora(args) -> int:
    from pathlib import Path

    from fourpaths.config import resolve_location
    from fourpaths.training.lora import train_lora

    summary = train_lora(resolve_location(args.base), Path(args.corpus), Path(args.output), Path(args.run_dir),
                         args.preset, args.seed, args.steps, args.recall_limit, base_name=args.base,
                         context_share=args.context_share)
    print(f"lora: rank {summary['rank']}, {summary['trainable_parameters']:,} trainable "
          f"({summary['trainable_share']:.1%}), {summary['steps']} steps, loss {summary['final_train_loss']}, "
          f"train recall {summary['train_recall']:.0%}, {summary['train_seconds'] / 60:.1f} min -> {args.output}")
    return 0


def _run_train_scratch(args) -> int:
    from pathlib import Path

    from fourpaths.training.scratch import train_scratch

    summary = train_scratch(Path(args.corpus), Path(args.output), Path(args.run_dir), args.preset, args.seed,
                            args.steps, args.recall_limit)
    print(f"scratch: {summary['parameters']:,} parameters, {summary['steps']} steps, loss {summary['final_train_loss']}, "
          f"train recall {summary['train_recall']:.0%}, {summary['train_seconds'] / 60:.1f} min -> {args.output}")
    return 0


def _add_answer_commands(subparsers) -> None:
    from fourpaths import cli_answers

    ask = subparsers.add_parser("ask", help="one question through the four paths, side by side")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true")
    cli_answers.add_generation_options(ask)
    ask.set_defaults(handler=cli_answers.run_ask)

    evaluate = subparsers.add_parser("eval", help="score the four paths on a question set (greedy)")
    evaluate.add_argument("--split", choices=["train", "eval_seen", "eval_unseen"], default="eval_seen")
    evaluate.add_argument("--limit", type=int, default=None)
    evaluate.add_argument("--json", action="store_true")
    cli_answers.add_generation_options(evaluate)
    evaluate.set_defaults(handler=cli_answers.run_eval)

    bench = subparsers.add_parser("bench", help="speed and memory against plain baselines from the same run")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--repeats", type=int, default=1, help="times to go through the benchmark questions")
    bench.add_argument("--no-cold-start", action="store_true", help="skip the fresh-process measurements")
    cli_answers.add_generation_options(bench)
    bench.set_defaults(handler=cli_answers.run_bench)

    index = subparsers.add_parser("index", help="build (or check) the RAG search index of the corpus")
    index.add_argument("--rebuild", action="store_true")
    cli_answers.add_generation_options(index)
    index.set_defaults(handler=cli_answers.run_index)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fourpaths", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_corpus_commands(subparsers)
    _add_train_commands(subparsers)
    _add_answer_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except FourpathsError as error:
        print(f"fourpaths: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, never a traceback
        print(f"fourpaths: error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
