"""Model cards: the facts a reader needs to trust and reproduce a shipped model, written as Markdown."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def machine_description() -> str:
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


def write_card(folder: Path, title: str, purpose: str, facts: dict[str, str], command: str, notes: str = "") -> None:
    lines = [f"# {title}", "", purpose, "", "## Facts", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += ["", "## Reproduce", "", "```bash", command, "```", ""]
    if notes:
        lines += ["## Notes", "", notes, ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
