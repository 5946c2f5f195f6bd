"""Posterior predictive checks: does the likelihood reproduce the data's own statistics?

For R replicates, every record is redrawn from its posterior predictive distribution:
z ~ q(z|x, c), x̃ ~ p(x|z, c) with the record's own context (e.g. library size). Per feature,
the statistics T — mean, standard deviation and (for data with zeros) the fraction of zeros —
of the observed records are compared with their distribution over the replicated data sets
(Gelman, Meng & Stern 1996; scvi-tools' criticism module does the same for single-cell models).
A feature is *outside* when its observed T falls outside the central 95 % of the replicates'.
A well-specified model leaves few features outside; many features with more zeros (or a larger
spread) than any replicate say the likelihood cannot produce them — e.g. zero-inflated or
overdispersed counts fitted with a Poisson.

The check reuses the records for the posterior, so it is optimistic on training data: run it
on held-out records (``biovae diagnose MODEL HELD_OUT``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

STATISTICS = ("mean", "sd", "zero_fraction")
#: Share of features outside the replicates' central 95 % above which a statistic is flagged.
FLAG = 0.25


@dataclass(frozen=True)
class StatisticCheck:
    """One statistic per feature: observed value and the replicates' mean and 2.5/97.5 %."""

    observed: np.ndarray
    replicated: np.ndarray  # (R, f)

    @property
    def outside(self) -> np.ndarray:
        lo, hi = np.quantile(self.replicated, [0.025, 0.975], axis=0)
        return (self.observed < lo) | (self.observed > hi)

    @property
    def above(self) -> np.ndarray:
        """Features whose observed value exceeds every replicate's."""
        return self.observed > self.replicated.max(axis=0)

    @property
    def below(self) -> np.ndarray:
        """Features whose observed value is below every replicate's."""
        return self.observed < self.replicated.min(axis=0)

    @property
    def relative_difference(self) -> float:
        """Median over features of observed / replicated mean − 1 (features where both are
        positive): how large the misfit is, beside how many features show it."""
        rep = self.replicated.mean(axis=0)
        ok = (rep > 0) & (self.observed > 0)
        return float(np.median(self.observed[ok] / rep[ok] - 1)) if ok.any() else 0.0

    def to_dict(self) -> dict:
        return {
            "share_outside": float(self.outside.mean()),
            "median_relative_difference": self.relative_difference,
            "share_above_all": float(self.above.mean()),
            "share_below_all": float(self.below.mean()),
            "observed": self.observed.tolist(),
            "replicated_mean": self.replicated.mean(axis=0).tolist(),
            "outside": self.outside.tolist(),
        }


@dataclass(frozen=True)
class PredictiveCheck:
    checks: dict[str, StatisticCheck]
    n_replicates: int

    def verdict(self) -> str:
        """One sentence naming the statistics the model fails to reproduce, if any."""
        bad = {k: c for k, c in self.checks.items() if c.outside.mean() > FLAG}
        if not bad:
            return (
                "The posterior predictive distribution reproduces each feature's "
                + ", ".join(s.replace("_", " ") for s in self.checks)
                + f" (at most {FLAG:.0%} of features outside the replicates' central 95 %)."
            )
        parts = [f"{k.replace('_', ' ')} ({c.outside.mean():.0%} outside)" for k, c in bad.items()]
        advice = ""
        if any(k in bad and bad[k].above.mean() > FLAG for k in ("zero_fraction", "sd")):
            advice = (
                " The data have more zeros or spread than the model can produce: consider an "
                "overdispersed (nb) or zero-inflated (zinb) likelihood."
            )
        elif "sd" in bad and bad["sd"].below.mean() > FLAG:
            advice = " The data vary less than the model predicts for them."
        elif "mean" in bad:
            advice = " The means are off: the model may be undertrained or misspecified."
        return "The model does not reproduce " + ", ".join(parts) + "." + advice

    def to_dict(self) -> dict:
        return {
            "n_replicates": self.n_replicates,
            "statistics": {k: c.to_dict() for k, c in self.checks.items()},
            "verdict": self.verdict(),
        }


def _moments(x: torch.Tensor) -> torch.Tensor:
    """Per-feature Σx, Σx² and number of zeros of a batch, shape (3, f), float64."""
    x = x.reshape(x.shape[0], -1).double()
    return torch.stack([x.sum(0), x.square().sum(0), (x == 0).sum(0).double()])


def _statistics(sums: torch.Tensor, n: int, zeros: bool) -> dict[str, np.ndarray]:
    mean = sums[0] / n
    var = (sums[1] - n * mean.square()).clamp_min(0.0) / max(n - 1, 1)
    out = {"mean": mean.numpy(), "sd": var.sqrt().numpy()}
    if zeros:
        out["zero_fraction"] = (sums[2] / n).numpy()
    return out


@torch.no_grad()
def posterior_predictive(
    model: torch.nn.Module, batches: Iterable, n_replicates: int = 30
) -> PredictiveCheck:
    """Posterior predictive check of ``model`` on ``batches`` (module docstring); the caller
    seeds torch's generator (``biovae.training.seeded``)."""
    n = sum(len(b) for b in batches)
    observed = sum(_moments(model.likelihood.as_modelled(b.x)) for b in batches)
    zeros = bool(observed[2].sum() > 0)
    replicated = []
    for _ in range(n_replicates):
        sums = 0
        for b in batches:
            z = model.encode(b.x, b.c).sample()
            sums = sums + _moments(model.decode(z, b.c, model.context(b.x)).sample())
        replicated.append(_statistics(sums, n, zeros))
    obs = _statistics(observed, n, zeros)
    checks = {
        k: StatisticCheck(obs[k], np.stack([r[k] for r in replicated]))
        for k in STATISTICS
        if k in obs
    }
    return PredictiveCheck(checks, n_replicates)
