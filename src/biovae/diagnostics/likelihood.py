"""Importance-weighted estimates of log p(x) with standard errors.

IWAE-K(x) = log (1/K) Σ_i w_i, w_i = p(x, z_i) / q(z_i|x), z_i ~ q(z|x). Its Monte-Carlo
standard error per record follows from the delta method on log of a mean:
Var[log w̄] ≈ Var[w] / (K · E[w]²), estimated by the sample variance (K − 1 in the denominator)
of the normalised weights ŵ = w / mean(w) over K: (mean(ŵ²) − 1) / (K − 1), from normalised
weights so it never overflows. The bound is biased low by O(1/K).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from biovae.diagnostics._arguments import check_count, check_latent_model
from biovae.diagnostics._stats import mean_se
from biovae.objectives import Batch, LatentModel, iwae_log_weights, iwae_streamed
from biovae.training import evaluating


@dataclass(frozen=True)
class LogLikelihoodEstimate:
    """Per-record IWAE-K estimates and their summaries, in nats per record (log p of a whole
    record, summed over its features); the summaries are means over the records."""

    k: int
    log_px_n: np.ndarray
    mc_se_n: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.log_px_n.mean())

    @property
    def se_records(self) -> float:
        """Standard error of the mean over records (sampling of the data)."""
        return mean_se(self.log_px_n)[1]

    @property
    def se_monte_carlo(self) -> float:
        """Monte-Carlo standard error of the mean estimate (randomness of the K samples)."""
        return float(np.sqrt((self.mc_se_n**2).sum()) / len(self.mc_se_n))

    def to_dict(self) -> dict[str, float]:
        return {
            "k": self.k,
            "mean": self.mean,
            "se_records": self.se_records,
            "se_monte_carlo": None if self.k < 2 else self.se_monte_carlo,  # none for K = 1
            "n": len(self.log_px_n),
        }


def iwae_monte_carlo_se(log_w_kn: torch.Tensor) -> torch.Tensor:
    """Delta-method standard error of IWAE-K per record from log weights (K, n): the sample
    variance of the normalised weights over K (NaN for K = 1, where it is undefined).

    It is a lower bound in practice: heavy-tailed weights seldom show their tail in K draws,
    and the estimate cannot exceed about 1 nat per record. On CellBench (K = 1,000) the
    standard error of the mean came out at about half the spread of 12 reseeded estimates
    (0.031 against 0.056 nats; ``benchmarks/RESULTS.md``, diagnostics)."""
    return iwae_streamed([log_w_kn])[1].to(log_w_kn.dtype)


@torch.no_grad()
def log_likelihood(
    model: LatentModel, batches: Iterable[Batch], k: int = 1000, chunk: int = 100
) -> LogLikelihoodEstimate:
    """IWAE-K estimate of log p(x) for every record, drawing the K samples in chunks (the
    model in eval mode: :func:`biovae.training.evaluating`).

    Parameters
    ----------
    model
        A fitted VAE's network, ``est.model_`` (not the estimator; an autoencoder is refused).
    batches
        ``est.batches(data)``. Batches keyed to record ids (as :func:`biovae.diagnose.diagnose`
        and ``VAE.score_samples(X, iwae=K, seed=)`` key them) fix the draws; unkeyed ones draw
        from torch's generator, so run under :func:`biovae.training.seeded` to repeat a number.
    k
        Samples per record, >= 1 (K = 1 is the ELBO). The bound rises towards log p(x) with K.

    Returns
    -------
    LogLikelihoodEstimate
        ``log_px_n``: nats per record (log p of the whole record, summed over its features,
        not per feature); ``mean``, ``se_records``, ``se_monte_carlo`` and ``to_dict()`` (keys
        ``k``, ``mean``, ``se_records``, ``se_monte_carlo``, ``n``) average over the records.
    """
    check_latent_model(model, "log_likelihood")
    check_count("log_likelihood's k (IWAE samples per record)", k, 1)
    check_count("log_likelihood's chunk", chunk, 1)
    values, ses = [], []
    with evaluating(model):
        for batch in batches:
            value, se = iwae_streamed(
                iwae_log_weights(model, batch, min(chunk, k - s)) for s in range(0, k, chunk)
            )
            values.append(value)
            ses.append(se)
    return LogLikelihoodEstimate(k, torch.cat(values).numpy(), torch.cat(ses).numpy())
