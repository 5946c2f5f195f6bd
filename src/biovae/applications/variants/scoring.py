"""Variant-effect scores: Δ ELBO (mutant − wild type) with a Monte-Carlo standard error.

score(m) = (1/S) Σ_s [ELBO_s(x_m) − ELBO_s(x_wt)], with ELBO_s(x) = log p(x | z_s, θ_s) −
KL(q(z|x) || p(z)) and z_s = μ(x) + σ(x) ε_s. For a model with variational decoder weights θ_s
is a draw from q(θ) (``sampled_weights``, the default, as DeepSequence scores: the expected
ELBO under the weight posterior), otherwise the point estimate or the posterior means. The same
(ε_s, θ_s), s = 1..S, drawn from the seed, are used for every sequence (common random numbers),
so the noise of the difference is small; SE = sd_s / √S (NaN for S = 1: no spread to estimate
it from). The weight KL is the same for every sequence and cancels. A mutant identical to the
focus (synonymous, e.g. A42A) scores exactly 0 with SE 0. Ensembles average member scores;
SE = √(Σ SE²) / M.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from biovae.applications.variants.model import FamilyVAE
from biovae.objectives import kl_per_dimension

#: bytes of the logits of one chunk (draws × records × positions × letters, float32): below the
#: allocator's mmap threshold (``biovae.training.allocator``), so the chunk's buffers are
#: reused from the heap instead of mapped and faulted in anew (a BLAT_ECOLX scan: 25 % faster)
LOGITS_BYTES = 32 << 20


@torch.no_grad()
def elbo_draws(model: FamilyVAE, x: torch.Tensor, eps_sk: torch.Tensor) -> torch.Tensor:
    """ELBO estimates (S, m) of records ``x`` (m, L) for the standard-normal draws ``eps_sk``
    (with the decoder weights in use: :meth:`FamilyVAE.drawn` sets a draw)."""
    loc, scale, kl = _encoded(model, x)
    return model.decode(loc + scale * eps_sk[:, None, :]).log_prob(x) - kl


@torch.no_grad()
def delta_elbo(
    model: FamilyVAE,
    focus: np.ndarray,
    codes: np.ndarray,
    n_samples: int = 100,
    seed: int = 0,
    chunk: int = 64,
    sampled_weights: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of ELBO(mutant) − ELBO(focus) for each row of ``codes``.

    ``sampled_weights`` only matters for a model with variational decoder weights: draw θ_s
    from q(θ) for every sample s (else score with the posterior means)."""
    device = next(model.parameters()).device  # ε from a CPU generator: the same everywhere
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(n_samples, model.config.n_latent, generator=gen).to(device)
    x = torch.from_numpy(np.asarray(codes, dtype=np.int64))
    wt = torch.from_numpy(np.asarray(focus, dtype=np.int64))[None]
    if model.bayesian and sampled_weights:
        d = _sampled_differences(model, wt, x, eps, gen)
        mean, sd = d.mean(0), d.std(0) if n_samples > 1 else torch.zeros(len(x))
    else:
        mean, sd = _point_differences(model, wt.to(device), x, eps, chunk)
    se = (sd / n_samples**0.5).cpu().numpy()
    if n_samples == 1:  # one difference has no spread to estimate its error from: unknown, not 0
        se = np.full(len(se), np.nan)
    mean = mean.cpu().numpy()
    same = (np.asarray(codes) == np.asarray(focus)[None]).all(1)
    mean[same], se[same] = 0.0, 0.0
    return mean, se


def _point_differences(model, wt, x, eps, chunk):
    """Mean and sd over samples of the differences, one decoder, at most ``chunk`` records at
    a time (fewer when their logits would exceed :data:`LOGITS_BYTES`)."""
    per_record = len(eps) * wt.shape[-1] * model.decoder.shape[-1] * 4
    chunk = max(1, min(chunk, LOGITS_BYTES // per_record))
    device = wt.device
    wt_s = elbo_draws(model, wt, eps)[:, 0].double()
    mean, sd = torch.zeros(len(x), dtype=torch.float64), torch.zeros(len(x), dtype=torch.float64)
    for start in range(0, len(x), chunk):
        d = elbo_draws(model, x[start : start + chunk].to(device), eps).double() - wt_s[:, None]
        mean[start : start + chunk] = d.mean(0).cpu()
        if len(eps) > 1:
            sd[start : start + chunk] = d.std(0).cpu()
    return mean, sd


def _sampled_differences(model, wt, x, eps, gen, chunk: int = 1024) -> torch.Tensor:
    """Differences (S, m): sample s decodes the focus and every record with weights θ_s.
    q(z|x) does not depend on θ, so every record is encoded once."""
    device = eps.device
    rows = torch.cat([wt, x])
    parts = [_encoded(model, rows[i : i + chunk].to(device)) for i in range(0, len(rows), chunk)]
    loc, scale, kl = (torch.cat(t) for t in zip(*parts, strict=True))
    out = torch.empty(len(eps), len(rows), dtype=torch.float64)
    for s in range(len(eps)):
        with model.drawn(model.draw_decoder(1.0, generator=gen)[0]):
            for i in range(0, len(rows), chunk):
                z = loc[i : i + chunk] + scale[i : i + chunk] * eps[s]
                log_px = model.decode(z).log_prob(rows[i : i + chunk].to(device))
                out[s, i : i + chunk] = (log_px - kl[i : i + chunk]).cpu()
    return out[:, 1:] - out[:, :1]


def _encoded(model: FamilyVAE, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Mean, standard deviation and KL(q(z|x) || p(z)) of every record of ``x``."""
    qz = model.encode(x)
    return qz.mean, qz.stddev, kl_per_dimension(qz, model.prior()).sum(-1)


def ensemble_delta(
    models: Sequence[FamilyVAE],
    focus: np.ndarray,
    codes: np.ndarray,
    n_samples: int,
    seed: int,
    sampled_weights: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average of member scores, its Monte-Carlo standard error, and the members' spread.

    The standard error covers the Monte-Carlo noise of the members' estimates only; how much
    the members disagree (model uncertainty, not shrunk by more samples) is the standard
    deviation of their scores (NaN for a single model)."""
    runs = [
        delta_elbo(m, focus, codes, n_samples, seed, sampled_weights=sampled_weights)
        for m in models
    ]
    means = np.asarray([r[0] for r in runs])
    se = np.sqrt(np.sum([r[1] ** 2 for r in runs], axis=0)) / len(models)
    spread = means.std(axis=0, ddof=1) if len(models) > 1 else np.full(means.shape[1:], np.nan)
    return means.mean(axis=0), se, spread


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
