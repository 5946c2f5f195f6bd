"""Small statistics shared by the diagnostics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations from it (``m2``) of each column of values seen
    so far, merged batch by batch (Chan, Golub & LeVeque 1979): the summary of many records in
    the memory of one row, without the loss of precision of running sums of squares. For
    batches a, b with n = n_a + n_b and δ = mean_b − mean_a,

        mean = mean_a + δ n_b / n,   m2 = m2_a + m2_b + δ² n_a n_b / n.
    """

    n: int
    mean: np.ndarray
    m2: np.ndarray

    @staticmethod
    def of(values: np.ndarray) -> Moments:
        """The moments of the columns of ``values`` (records, columns), float64 (of no
        records: a NaN mean)."""
        v = np.asarray(values, dtype=np.float64)
        if not len(v):
            return Moments(0, np.full(v.shape[1:], np.nan), np.zeros(v.shape[1:]))
        mean = v.mean(axis=0)
        return Moments(len(v), mean, ((v - mean) ** 2).sum(axis=0))

    def __add__(self, other: Moments) -> Moments:
        if not other.n or not self.n:
            return other if not self.n else self
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        return Moments(n, mean, self.m2 + other.m2 + delta**2 * (self.n * other.n / n))

    def variance(self) -> np.ndarray:
        """Variance over records (ddof 0) of each column."""
        return self.m2 / self.n

    def standard_error(self) -> np.ndarray:
        """Standard error of each column's mean (ddof 1; NaN for fewer than two records)."""
        if self.n < 2:
            return np.full(np.shape(self.mean), np.nan)
        return np.sqrt(self.m2 / (self.n - 1)) / math.sqrt(self.n)


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error over records (NaN error for fewer than two records)."""
    m = Moments.of(np.asarray(values, dtype=np.float64).reshape(-1))
    return float(m.mean), float(m.standard_error())
