"""Amortization and approximation gaps (Cremer, Li & Duvenaud 2018).

For each record the encoder's q(z|x) is the starting point of per-record gradient ascent on that
record's own ELBO (the decoder fixed). Then

    amortization gap   = ELBO(refined q) − ELBO(amortized q)   (≥ 0 up to Monte-Carlo noise)
    approximation gap  = log p(x) − ELBO(refined q)            (the price of a diagonal Gaussian)

with log p(x) estimated by IWAE-K using the refined q as proposal. All three estimates take the
same standard normals ε (z = μ + σ ε; common random numbers), so the noise they share cancels
in the gaps: with no refinement steps the amortization gap is 0 (to rounding).

Stochastic gradient ascent ends near the optimum, not on it: the gradient's Monte-Carlo noise
scatters the last iterate, which can be worse than where it started. An encoder that already
gives the best q read a gap of −0.0032 ± 0.0004 nats (PPCA with the exact posterior, 500
steps). The refined q is therefore the mean of the last half's iterates (a quarter of the
last iterate's shortfall there), and per record the better of it and the encoder's q, judged
on draws of their own (not the estimates', which would then be selected on): a search keeps
its starting point. What remains is about −0.0004 nats on that example.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.distributions import Independent, Normal

from biovae.diagnostics._arguments import check_count, check_latent_model
from biovae.diagnostics._stats import mean_se
from biovae.objectives import (
    Batch,
    LatentModel,
    iwae_streamed,
    log_weight_chunks,
    mean_log_px,
    rate_terms,
)
from biovae.record_noise import RecordNoise
from biovae.training import evaluating


@dataclass(frozen=True)
class GapReport:
    """Per-record ELBOs and IWAE log p(x) and the two gaps, in nats per record (a whole
    record, summed over its features). ``to_dict()`` gives ``n``, ``iwae_k`` and the mean over
    records and its standard error (``<name>_se``) of ``amortized_elbo``, ``refined_elbo``,
    ``log_px``, ``amortization_gap`` (≥ 0 up to Monte-Carlo noise) and ``approximation_gap``."""

    amortized_n: np.ndarray
    refined_n: np.ndarray
    log_px_n: np.ndarray
    log_px_mc_se_n: np.ndarray
    k: int

    def to_dict(self) -> dict[str, float]:
        out: dict[str, float] = {"n": len(self.amortized_n), "iwae_k": self.k}
        for name, v in (
            ("amortized_elbo", self.amortized_n),
            ("refined_elbo", self.refined_n),
            ("log_px", self.log_px_n),
            ("amortization_gap", self.refined_n - self.amortized_n),
            ("approximation_gap", self.log_px_n - self.refined_n),
        ):
            out[name], out[name + "_se"] = mean_se(v)
        return out


def elbo_of(model: LatentModel, batch: Batch, qz: Independent, n_samples: int) -> torch.Tensor:
    """Monte-Carlo ELBO per record for a given q(z|x): mean_s log p(x|z_s) − the model's rate
    (KL(q||p); :func:`biovae.objectives.rate_terms`)."""
    kl_nk, rest_n = rate_terms(model, batch.x, batch.c, qz)
    return mean_log_px(model, batch, qz, n_samples) - kl_nk.sum(-1) - rest_n


def _q(loc: torch.Tensor, log_scale: torch.Tensor) -> Independent:
    # log-scale parametrisation: Adam then moves tiny and large scales equally fast
    return Independent(
        Normal(loc, torch.exp(log_scale), validate_args=False), 1, validate_args=False
    )


def refine(
    model: LatentModel, batch: Batch, steps: int = 500, lr: float = 0.1, n_samples: int = 8
) -> Independent:
    """Per-record q(z|x) after gradient ascent on each record's ELBO from the encoder's output:
    the average of the iterates of the last half of the ``steps`` (Polyak–Ruppert), which the
    gradient's Monte-Carlo noise scatters around the optimum; the encoder's q for 0 steps."""
    with torch.no_grad():
        q0 = model.encode(batch.x, batch.c).base_dist
        loc = q0.loc.clone().requires_grad_()
        raw = torch.log(q0.scale).requires_grad_()
    opt = torch.optim.Adam([loc, raw], lr=lr)
    # linear decay to zero damps the scatter; the average removes most of what is left
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - t / max(steps, 1))
    mean_loc, mean_raw = loc.detach().clone(), raw.detach().clone()
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        # records are independent, so the summed ELBO gives each record its own gradient
        (-elbo_of(model, batch, _q(loc, raw), n_samples).sum()).backward()
        opt.step()
        sched.step()
        if t >= steps // 2:  # running mean: weight 1 / (iterates averaged so far)
            weight = 1.0 / (t - steps // 2 + 1)
            mean_loc.lerp_(loc.detach(), weight)
            mean_raw.lerp_(raw.detach(), weight)
    return _q(mean_loc, mean_raw)


def amortization_gap(
    model: LatentModel,
    batches: Iterable[Batch],
    steps: int = 500,
    lr: float = 0.1,
    eval_samples: int = 200,
    k: int = 1000,
) -> GapReport:
    """Amortized vs refined ELBO and IWAE-K log p(x) for every record of ``batches`` (the
    model in eval mode and its parameters frozen meanwhile; both restored afterwards).

    ``model`` is a fitted VAE's network, ``est.model_``, and ``batches`` ``est.batches(data)``
    (not the estimator and data: :func:`biovae.diagnose.diagnose` takes those). ``steps`` >= 0
    of Adam at rate ``lr`` refine each record's q (0: no refinement, a gap of exactly 0);
    ``eval_samples`` >= 1 draws estimate each ELBO and ``k`` >= 1 IWAE samples log p(x).
    Unkeyed batches draw from torch's generator: run under :func:`biovae.training.seeded`
    to repeat a number. Returns a :class:`GapReport` (nats per record)."""
    check_latent_model(model, "amortization_gap")
    for name, value, low in (("steps", steps, 0), ("eval_samples", eval_samples, 1), ("k", k, 1)):
        check_count(f"amortization_gap's {name}", value, low)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        with evaluating(model):
            parts = [_gap_batch(model, b, steps, lr, eval_samples, k) for b in batches]
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    cols = [np.concatenate(c) for c in zip(*parts)]
    return GapReport(cols[0], cols[1], cols[2], cols[3], k)


def _gap_batch(model, batch, steps, lr, eval_samples, k):
    qa = model.encode(batch.x, batch.c)
    qr = refine(model, batch, steps, lr)
    # every estimate from the same standard normals ε (z = μ + σ ε, drawn after refinement's
    # and the choice's): the gaps are then free of the Monte-Carlo noise their two sides
    # share, and the amortization gap is exactly 0 where refinement leaves q as it was
    common = _common_noise(batch).fork()
    with torch.no_grad():
        qr = _no_worse(model, batch, qa, qr, common, eval_samples)
        amortized = elbo_of(model, replace(batch, noise=common.fork()), qa, eval_samples)
        refined = elbo_of(model, replace(batch, noise=common.fork()), qr, eval_samples)
        bound, se = iwae_streamed(
            log_weight_chunks(model, replace(batch, noise=common.fork()), qr, k)
        )
    return amortized.double().numpy(), refined.double().numpy(), bound.numpy(), se.numpy()


def _no_worse(
    model: LatentModel,
    batch: Batch,
    qa: Independent,
    qr: Independent,
    noise: RecordNoise,
    n_samples: int,
) -> Independent:
    """Per record, ``qr`` unless the encoder's ``qa`` has the higher ELBO on ``n_samples``
    draws common to both (taken from ``noise``, which moves past them)."""
    a_n = elbo_of(model, replace(batch, noise=noise.fork()), qa, n_samples)
    r_n = elbo_of(model, replace(batch, noise=noise), qr, n_samples)
    keep_r = (r_n >= a_n)[:, None]
    a, r = qa.base_dist, qr.base_dist
    return _q(torch.where(keep_r, r.loc, a.loc), torch.log(torch.where(keep_r, r.scale, a.scale)))


def _common_noise(batch: Batch) -> RecordNoise:
    """The batch's record-keyed noise where it stands, or, for a batch without keys, keys drawn
    from torch's generator (so the caller's seed still fixes the draws)."""
    if batch.noise is not None:
        return batch.noise
    keys = torch.randint(-(2**63), 2**63 - 1, (len(batch),), dtype=torch.int64)
    return RecordNoise(keys.numpy().view(np.uint64))
