"""Model cards: the facts a reader needs to trust and reproduce a shipped model, written as Markdown."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def machine_description() -> str:
    from fourpaths.training.loop import training_device

    if training_device().type == "cuda":
        return f"{torch.cuda.get_device_name()} GPU, torch {torch.__version__}"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def generation_run_facts(summary: dict, settings) -> dict[str, str]:
    """The card facts every generative recipe shares: steps, wall time, final loss and closed-book recall."""
    return {
        "Steps": f"{summary['steps']} x {settings.batch_size} rows x {settings.seq_len} tokens, "
                 f"lr {settings.learning_rate}",
        "Wall time": f"{summary['train_seconds'] / 60:.1f} min on {machine_description()}",
        "Final training loss": str(summary["final_train_loss"]),
        "Closed-book recall on train.jsonl": f"{summary['train_recall']:.0%} of {summary['recall_n']} answers contain "
                                             "the reference answer (greedy)",
    }


def front_matter(metadata: dict[str, object]) -> list[str]:
    """The Hugging Face card metadata block (YAML): scalars, and lists as indented items."""
    lines = ["---"]
    for key, value in metadata.items():
        if isinstance(value, (list, tuple)):
            lines += [f"{key}:", *(f"  - {item}" for item in value)]
        elif value is not None:
            lines.append(f"{key}: {value}")
    return lines + ["---", ""]


def write_card(folder: Path, title: str, purpose: str, facts: dict[str, str], command: str, notes: str = "",
               metadata: dict[str, object] | None = None) -> None:
    lines = front_matter(metadata) if metadata else []
    lines += [f"# {title}", "", purpose, "", "## Facts", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += ["", "## Reproduce", "", "```bash", command, "```", ""]
    if notes:
        lines += ["## Notes", "", notes, ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")


def recipe_command(recipe: str, options: dict[str, object], defaults: dict[str, object]) -> str:
    """The exact command that reproduces a run: the recipe plus every option that differs from its default."""
    parts = [f"fourpaths train {recipe}"]
    for name, value in options.items():
        if value is not None and str(value) != str(defaults.get(name)):
            parts.append(f"--{name.replace('_', '-')} {value}")
    return " ".join(parts)
