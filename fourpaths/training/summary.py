"""The facts a recipe records beside the model it made (training_summary.json): data, steps, time, loss."""

from __future__ import annotations

import json
from pathlib import Path


def read_training_summary(location: str, with_losses: bool = False) -> dict[str, object]:
    """The recorded facts of a local model folder; {} for a hub id or a folder without them."""
    path = Path(location) / "training_summary.json"
    if not path.is_file():
        return {}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not with_losses:
        summary.pop("losses", None)
    return summary
