"""Summary statistics shared by every measurement."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linearly interpolated as numpy does by default; None for no values."""
    if len(values) == 0:
        return None
    return round(float(np.percentile(values, q)), 1)
