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


def write_card(folder: Path, title: str, purpose: str, facts: dict[str, str], command: str, notes: str = "") -> None:
    lines = [f"# {title}", "", purpose, "", "## Facts", ""]
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
