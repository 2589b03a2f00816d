"""`fourpaths train <recipe>`: which recipe makes which model, and where it may write."""

from __future__ import annotations

import os
from pathlib import Path

from fourpaths.errors import FourpathsError


def run_recipe(args) -> str:
    """`fourpaths train <recipe>`: the model trained (or a stopped run resumable), in one line."""
    from fourpaths.config import resolve_location

    common = {"preset": args.preset, "seed": args.seed, "steps": args.steps}
    name = "lora-generative" if getattr(args, "generative", False) else args.recipe
    output, run_dir = Path(args.output or f"models/{name}"), Path(args.run_dir or f"runs/{name}")
    for folder, what in ((output, "the model"), (run_dir, "the checkpoints")):
        _check_writable(folder, what)
    if args.recipe == "reader" and args.recalibrate:
        from fourpaths.training.reader_report import recalibrate

        figures = recalibrate(output)
        dev = figures["dev_at_threshold"]
        return (f"reader: threshold {figures['threshold']} on dev ({dev['n']} questions): docs {dev['docs']:.2f}, "
                f"updates {dev['updates']:.2f} right, unanswerable declined {dev['none']:.2f} -> {output}")
    if args.recipe == "reader":
        from fourpaths.training.reader import train_reader

        summary = train_reader(output, run_dir, **common, start_from=args.start_from)
    elif args.recipe == "lora" and not args.generative:
        from fourpaths.training.answer_head import train_answer_head

        summary = train_answer_head(Path(args.corpus), output, run_dir, **common)
    elif args.recipe == "lora":
        from fourpaths.training.generative_adapter import train_lora

        summary = train_lora(resolve_location(args.base), Path(args.corpus), output, run_dir, **common,
                             base_name=args.base)
    elif args.recipe == "scratch":
        from fourpaths.training.scratch import train_scratch

        summary = train_scratch(Path(args.corpus), output, run_dir, **common)
    else:
        from fourpaths.training.base import train_base

        summary = train_base(output, run_dir, **common, stop_at=args.stop_at)
    if "stopped_at" in summary:
        return f"{args.recipe}: stopped at step {summary['stopped_at']}; rerun the same command to go on"
    minutes = summary.get("train_seconds", 0) / 60
    return f"{args.recipe}: {summary.get('steps', '?')} steps, {minutes:.1f} min -> {output}"


def _check_writable(folder: Path, what: str) -> None:
    """Refuse a place the recipe could not write to now, not after it has trained for minutes."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FourpathsError(f"cannot write {what} to {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK):
        raise FourpathsError(f"cannot write {what} to {folder}: {existing} is not writable")
