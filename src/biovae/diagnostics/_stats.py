"""Small statistics shared by the diagnostics."""

from __future__ import annotations

import math

import numpy as np


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error over records (NaN error for fewer than two records)."""
    v = np.asarray(values, dtype=np.float64)
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return float(v.mean()), se
