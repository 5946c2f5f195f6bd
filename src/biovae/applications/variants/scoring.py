"""Variant-effect scores: Δ ELBO (mutant − wild type) with a Monte-Carlo standard error.

score(m) = (1/S) Σ_s [ELBO_s(x_m) − ELBO_s(x_wt)], with ELBO_s(x) = log p(x | z_s) − KL(q(z|x) ||
p(z)) and z_s = μ(x) + σ(x) ε_s. The same ε_s (s = 1..S, drawn from the seed) are used for every
sequence (common random numbers), so the noise of the difference is small; SE = sd_s / √S.
A mutant identical to the focus (synonymous, e.g. A42A) scores exactly 0 with SE 0. Ensembles
average member scores; SE = √(Σ SE²) / M.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from biovae.applications.variants.model import FamilyVAE
from biovae.objectives import kl_per_dimension


@torch.no_grad()
def elbo_draws(model: FamilyVAE, x: torch.Tensor, eps_sk: torch.Tensor) -> torch.Tensor:
    """ELBO estimates (S, m) of records ``x`` (m, L) for the standard-normal draws ``eps_sk``."""
    qz = model.encode(x)
    z = qz.mean + qz.stddev * eps_sk[:, None, :]
    log_px = model.decode(z).log_prob(x)
    return log_px - kl_per_dimension(qz, model.prior()).sum(-1)


@torch.no_grad()
def delta_elbo(
    model: FamilyVAE,
    focus: np.ndarray,
    codes: np.ndarray,
    n_samples: int = 100,
    seed: int = 0,
    chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of ELBO(mutant) − ELBO(focus) for each row of ``codes``."""
    device = next(model.parameters()).device  # ε from a CPU generator: the same everywhere
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(n_samples, model.config.n_latent, generator=gen).to(device)
    wt = torch.from_numpy(np.asarray(focus, dtype=np.int64))[None].to(device)
    wt_s = elbo_draws(model, wt, eps)[:, 0].double()
    x = torch.from_numpy(np.asarray(codes, dtype=np.int64))
    mean = np.zeros(len(x))
    se = np.zeros(len(x))
    for start in range(0, len(x), chunk):
        d = elbo_draws(model, x[start : start + chunk].to(device), eps).double() - wt_s[:, None]
        mean[start : start + chunk] = d.mean(0).cpu().numpy()
        if n_samples > 1:
            se[start : start + chunk] = (d.std(0) / n_samples**0.5).cpu().numpy()
    same = (np.asarray(codes) == np.asarray(focus)[None]).all(1)
    mean[same], se[same] = 0.0, 0.0
    return mean, se


def ensemble_delta(
    models: Sequence[FamilyVAE], focus: np.ndarray, codes: np.ndarray, n_samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Average of member scores and the combined standard error."""
    runs = [delta_elbo(m, focus, codes, n_samples, seed) for m in models]
    mean = np.mean([r[0] for r in runs], axis=0)
    se = np.sqrt(np.sum([r[1] ** 2 for r in runs], axis=0)) / len(models)
    return mean, se


def site_log_frequencies(
    codes: np.ndarray, weights: np.ndarray, n_letters: int, pseudocount: float = 1.0
) -> np.ndarray:
    """log f_{l a} (L, A) of the independent-site model: weighted counts + a pseudocount."""
    counts = np.zeros((codes.shape[1], n_letters))
    for a in range(n_letters):
        counts[:, a] = (codes == a).T.astype(np.float64) @ weights
    counts += pseudocount
    return np.log(counts / counts.sum(1, keepdims=True))


def independent_delta(log_f: np.ndarray, focus: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Σ_l log f_l(x_l) − log f_l(wt_l) over mutated positions (0 for the focus itself)."""
    cols = np.arange(codes.shape[1])
    return (log_f[cols, codes] - log_f[cols, np.asarray(focus)][None]).sum(1)
