"""Training objectives as pure functions of a model and a batch.

Notation: q = q(z|x), p(z) = N(0, I), p(x|z) the likelihood, n records, k latent dimensions.

* ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) || p(z)); the loss is −E_q log p(x|z) + β_t Σ_k KL̃_k with
  KL̃_k = max(λ, mean over the batch of KL_k) (free bits, Kingma et al. 2016) and
  β_t = β · min(1, (epoch + 1) / warm-up) (KL warm-up, Bowman et al. 2016).
* IWAE-k(x) = log (1/K) Σ_i p(x, z_i) / q(z_i|x), z_i ~ q  (Burda et al. 2016); IWAE-1 = ELBO
  and the bound rises with K toward log p(x).
* De-confounding (optional, ``mmd_batch`` λ > 0): the loss gains λ · mean_l MMD²_u(m | level l,
  m | other levels), m = E_q[z|x], over the levels l of the categorical covariates present in
  the batch (:func:`mmd_levels`; the MMD penalty of trVAE, Lotfollahi et al. 2020, and of
  scVI's ``use_mmd``). It is not part of the ELBO, so ``elbo_n`` does not contain it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Protocol

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from biovae.config import ObjectiveConfig
from biovae.record_noise import RecordNoise


@dataclass(frozen=True)
class Batch:
    """Records ``x`` with covariates ``c`` (n, d), weights ``w`` (n,), label codes ``y`` (n,)
    (int64, −1 = unlabelled) and level indicators ``g`` (n, L) (1 where record i has level l of
    a categorical covariate; used by the MMD de-confounding penalty), all optional. ``noise``
    keys the reparameterisation noise to the records (scoring; see :func:`draw`)."""

    x: Tensor
    c: Tensor | None = None
    w: Tensor | None = None
    y: Tensor | None = None
    g: Tensor | None = None
    noise: RecordNoise | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device) -> Batch:
        """The same records with every tensor on ``device`` (itself when already there)."""
        if self.x.device == device:
            return self
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{k: v.to(device) for k, v in moved.items() if v is not None})


@dataclass(frozen=True)
class LossOutput:
    """What one objective evaluation reports; the only thing training and logging consume.

    ``recon_n`` is the distortion −E_q log p(x|z) per record (nats), ``kl_n`` the rate
    KL(q||p) per record, ``kl_nk`` its split over latent dimensions, ``elbo_n`` the ELBO at β=1.
    """

    loss: Tensor
    recon_n: Tensor
    kl_n: Tensor
    kl_nk: Tensor | None
    elbo_n: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class LatentModel(Protocol):
    """What an objective needs from a model."""

    def encode(self, x: Tensor, c: Tensor | None) -> Distribution: ...

    def decode(self, z: Tensor, c: Tensor | None, context: dict[str, Tensor]) -> Distribution: ...

    def prior(self) -> Distribution: ...

    def context(self, x: Tensor) -> dict[str, Tensor]: ...


def beta_at(config: ObjectiveConfig, epoch: int) -> float:
    """β_t of the linear KL warm-up schedule at (0-based) ``epoch``."""
    if config.kl_warmup_epochs <= 0:
        return config.beta
    return config.beta * min(1.0, (epoch + 1) / config.kl_warmup_epochs)


def kl_per_dimension(qz: Distribution, pz: Distribution) -> Tensor:
    """KL(q||p) split over latent dimensions, shape (n, k): analytic for diagonal Gaussians."""
    q, p = _base_normal(qz), _base_normal(pz)
    return kl_divergence(q, p)


def rate_terms(
    model: LatentModel, x: Tensor, c: Tensor | None, qz: Distribution
) -> tuple[Tensor, Tensor]:
    """The rate of ``model``'s bound for records ``x`` as KL per latent dimension (n, k) plus
    a remainder (n,): a model's own ``rate_terms`` when it has one (the semi-supervised VAE:
    the label's KL), else KL(q(z|x) || p(z)) per dimension and zeros."""
    own = getattr(model, "rate_terms", None)
    if own is not None:
        return own(x, c, qz)
    kl_nk = kl_per_dimension(qz, model.prior())
    return kl_nk, kl_nk.new_zeros(kl_nk.shape[0])


def _base_normal(d: Distribution) -> Normal:
    base = d.base_dist if isinstance(d, Independent) else d
    if not isinstance(base, Normal):
        raise TypeError("analytic KL needs diagonal Gaussian q(z|x) and p(z)")
    return base


def _weighted_mean(v_n: Tensor, w: Tensor | None) -> Tensor:
    """(Weighted) mean over records, the first dimension; 0 for a batch whose weights are all 0
    (records of weight 0 carry no information, and 0/0 would make the loss NaN)."""
    if w is None:
        return v_n.mean(0)
    w_n = w.reshape(-1, *([1] * (v_n.dim() - 1)))
    total = w.sum()
    return (v_n * w_n).sum(0) / torch.where(total > 0, total, 1.0)


#: Squared bandwidths of the RBF kernels, in latent units (the prior N(0, I) fixes the scale).
MMD_BANDWIDTHS = (0.25, 1.0, 4.0, 16.0)


def mmd_levels(z_nk: Tensor, g_nl: Tensor) -> Tensor:
    """Mean over levels l of the unbiased MMD² (U-statistic, Gretton et al. 2012) between
    A = {z_i : g_il = 1} and B = the other records.

    k(a, b) = (1/S) Σ_s exp(−‖a − b‖² / (2 s)), s ∈ :data:`MMD_BANDWIDTHS` (a multi-scale RBF
    kernel as in trVAE; fixed bandwidths, because the KL term to N(0, I) already fixes the scale of
    z). MMD²_u = Σ_{i≠j∈A} k / (n_A(n_A−1)) + Σ_{i≠j∈B} k / (n_B(n_B−1)) − 2 Σ_{A×B} k / (n_A n_B).
    The unbiased form matters: the biased V-statistic contains (1/n_A + 1/n_B)(1 − mean k), which
    an encoder lowers by collapsing the whole map. Levels with fewer than two records on either
    side are left out; returns 0 when none is left. E[MMD²_u] = 0 iff the two laws are equal.
    """
    n = z_nk.shape[0]
    g_nl = g_nl.to(z_nk.dtype)
    n_a = g_nl.sum(0)
    keep = (n_a >= 2) & (n - n_a >= 2)
    if not keep.any():
        return z_nk.new_zeros(())
    a_nl, n_a = (g_nl, n_a) if keep.all() else (g_nl[:, keep], n_a[keep])
    n_b = n - n_a
    # sums of the kernel over A×A, B×B and A×B from one product with the indicators of A and
    # of B, the diagonal (k(z, z) = 1) taken out by count: few, large operations (this runs
    # every step). B×B as all×all − 2 A×all + A×A cancelled sums of ≈ n² to a few: in float32
    # with 3 of 1,024 records in B the penalty was 0.09 off, 5 off with 3 of 4,096
    b_nl = 1.0 - a_nl
    ka_nl, kb_nl = (_rbf(z_nk) @ torch.cat([a_nl, b_nl], 1)).chunk(2, 1)
    aa, bb, ab = (a_nl * ka_nl).sum(0), (b_nl * kb_nl).sum(0), (a_nl * kb_nl).sum(0)
    within_a = (aa - n_a) / (n_a * (n_a - 1))
    within_b = (bb - n_b) / (n_b * (n_b - 1))
    across = ab / (n_a * n_b)
    return (within_a + within_b - 2 * across).mean()


def _rbf(z_nk: Tensor) -> Tensor:
    """The multi-scale kernel matrix of :func:`mmd_levels`, squared distances from one product."""
    sq_n = (z_nk * z_nk).sum(1)
    d2_nn = torch.addmm(sq_n[:, None] + sq_n[None, :], z_nk, z_nk.t(), alpha=-2.0).clamp_min(0.0)
    return _KernelOfSquaredDistance.apply(d2_nn.fill_diagonal_(0.0))  # exact: k(z, z) = 1


class _KernelOfSquaredDistance(torch.autograd.Function):
    """k(d²) = mean_s exp(−d²/(2s)) over :data:`MMD_BANDWIDTHS`, with its derivative
    k'(d²) = mean_s −exp(−d²/(2s))/(2s) formed in the forward pass (one product backward)."""

    @staticmethod
    def forward(ctx, d2: Tensor) -> Tensor:
        k, dk = torch.zeros_like(d2), torch.zeros_like(d2)
        for s in MMD_BANDWIDTHS:
            e = torch.exp(d2 * (-0.5 / s))
            k.add_(e)
            dk.add_(e, alpha=-0.5 / s)
        scale = 1.0 / len(MMD_BANDWIDTHS)
        ctx.save_for_backward(dk.mul_(scale))
        return k.mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (dk,) = ctx.saved_tensors
        return grad * dk


def batch_mmd(qz: Distribution, batch: Batch, weight: float) -> Tensor | None:
    """λ · :func:`mmd_levels` of the posterior means, or None when off (λ = 0 or no levels)."""
    if weight <= 0 or batch.g is None:
        return None
    return weight * mmd_levels(qz.mean, batch.g)


def draw(qz: Distribution, batch: Batch, n_draws: int | None = None) -> Tensor:
    """Reparameterised draws of z ~ ``qz`` for ``batch``'s records: shape (n, k), or
    (n_draws, n, k). From torch's random stream, or, when the batch carries :class:`RecordNoise`,
    z = μ + σ ε with ε keyed to each record (a diagonal Gaussian q, as every encoder gives)."""
    if batch.noise is None:
        return qz.rsample(() if n_draws is None else (n_draws,))
    if not isinstance(qz.base_dist if isinstance(qz, Independent) else qz, Normal):
        raise TypeError(f"record-keyed draws need a diagonal Gaussian q, got {qz}")
    loc, scale = qz.mean, qz.stddev
    eps = batch.noise.standard_normal(n_draws or 1, loc.shape[-1], loc.dtype, loc.device)
    z = loc + scale * eps
    return z[0] if n_draws is None else z


def elbo(
    model: LatentModel, batch: Batch, beta: float, free_bits: float = 0.0, mmd_batch: float = 0.0
) -> LossOutput:
    """Negative ELBO with β and free bits, one reparameterised sample of z per record, plus the
    optional MMD de-confounding penalty (weight ``mmd_batch``)."""
    qz = model.encode(batch.x, batch.c)
    z = draw(qz, batch)
    px = model.decode(z, batch.c, model.context(batch.x))
    recon_n = -px.log_prob(batch.x)
    kl_nk = kl_per_dimension(qz, model.prior())
    kl_n = kl_nk.sum(-1)
    if free_bits > 0:
        rate = _weighted_mean(kl_nk, batch.w).clamp_min(free_bits).sum()
    else:
        rate = _weighted_mean(kl_n, batch.w)
    loss = _weighted_mean(recon_n, batch.w) + beta * rate
    extras = {}
    penalty = batch_mmd(qz, batch, mmd_batch)
    if penalty is not None:
        loss = loss + penalty
        extras["mmd"] = penalty.detach()
    return LossOutput(
        loss, recon_n.detach(), kl_n.detach(), kl_nk.detach(), -(recon_n + kl_n).detach(), extras
    )


#: decoded records per decoder call when K samples are drawn: K × n at once can take gigabytes
#: (100 draws of 1,024 protein sequences of 253 positions are 2.2 GB of logits)
DECODE_ROWS = 2048


def decoded_samples(
    model: LatentModel, z: Tensor, c: Tensor | None, ctx: dict[str, Tensor]
) -> Tensor:
    """x ~ p(x | z) for each row of ``z`` (covariates ``c``, likelihood context ``ctx``),
    decoded at most :data:`DECODE_ROWS` rows at a time: 100,000 protein samples at once would
    be GBs of logits."""
    parts = []
    for i in range(0, len(z), DECODE_ROWS):
        rows = slice(i, i + DECODE_ROWS)
        part = {k: v[rows] for k, v in ctx.items()}
        parts.append(model.decode(z[rows], None if c is None else c[rows], part).sample())
    return torch.cat(parts)


def iwae_log_weights(model: LatentModel, batch: Batch, k: int) -> Tensor:
    """log p(x, z_i) − log q(z_i|x) for K samples per record, shape (K, n)."""
    return torch.cat(list(iwae_chunks(model, batch, k)))


def iwae_chunks(model: LatentModel, batch: Batch, k: int) -> Iterator[Tensor]:
    """The rows of :func:`iwae_log_weights`, a chunk of draws at a time (for
    :func:`iwae_streamed`)."""
    return log_weight_chunks(model, batch, model.encode(batch.x, batch.c), k)


def log_weights(model: LatentModel, batch: Batch, qz: Distribution, k: int) -> Tensor:
    """log p(x, z_i) − log q(z_i|x) for K draws z_i ~ ``qz`` (any q, e.g. a refined one),
    shape (K, n); decoded a few draws at a time (at most :data:`DECODE_ROWS` records per
    call)."""
    return torch.cat(list(log_weight_chunks(model, batch, qz, k)))


def log_weight_chunks(
    model: LatentModel, batch: Batch, qz: Distribution, k: int
) -> Iterator[Tensor]:
    """The rows of :func:`log_weights`, a chunk of draws (k_i, n) at a time."""
    context = model.context(batch.x)
    for z in _draws(qz, k, batch):
        px = model.decode(z, batch.c, context)
        yield px.log_prob(batch.x) + model.prior().log_prob(z) - qz.log_prob(z)


def iwae_streamed(chunks: Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """IWAE-K per record and its delta-method Monte-Carlo standard error (NaN for K = 1), in
    float64, from log weights given as chunks of draws (k_i, n), K = Σ k_i.

    Only running log Σ_i w_i and log Σ_i w_i² are kept, so memory does not grow with K (the
    (K, n) log weights of 10⁶ draws of 1,024 records would be 4 GB). The standard error is
    sqrt((mean_i ŵ_i² − 1) / (K − 1)) with ŵ = w / mean(w), the sample variance of the
    normalised weights (see :func:`biovae.diagnostics.likelihood.iwae_monte_carlo_se`)."""
    k, lse, lse2 = 0, None, None
    for chunk in chunks:
        lw = chunk.double()
        a, b = torch.logsumexp(lw, 0), torch.logsumexp(2 * lw, 0)
        lse, lse2 = (a, b) if lse is None else (torch.logaddexp(lse, a), torch.logaddexp(lse2, b))
        k += lw.shape[0]
    if lse is None:
        raise ValueError("an IWAE bound needs at least one draw (K >= 1)")
    if k < 2:
        return lse, torch.full_like(lse, float("nan"))
    mean_sq = torch.exp(math.log(k) + lse2 - 2 * lse)  # mean of (w / mean w)²
    return lse - math.log(k), torch.sqrt((mean_sq - 1.0).clamp_min(0) / (k - 1))


def mean_log_px(model: LatentModel, batch: Batch, qz: Distribution, k: int) -> Tensor:
    """(1/K) Σ_i log p(x | z_i), z_i ~ ``qz`` reparameterised, per record (n,); decoded a few
    draws at a time like :func:`log_weights`."""
    context = model.context(batch.x)
    total = sum(
        model.decode(z, batch.c, context).log_prob(batch.x).sum(0) for z in _draws(qz, k, batch)
    )
    return total / k


def _draws(qz: Distribution, k: int, batch: Batch) -> Iterator[Tensor]:
    """K reparameterised draws of ``qz`` in chunks of at most DECODE_ROWS // n draws."""
    step = max(1, DECODE_ROWS // max(len(batch), 1))
    for start in range(0, k, step):
        yield draw(qz, batch, min(step, k - start))


def iwae_bound(log_w_kn: Tensor) -> Tensor:
    """IWAE-K per record from log weights (K, n): logsumexp − log K."""
    return torch.logsumexp(log_w_kn, dim=0) - math.log(log_w_kn.shape[0])


def iwae(model: LatentModel, batch: Batch, k: int) -> LossOutput:
    """Negative IWAE-k bound as a training objective (β = 1 by definition)."""
    bound_n = iwae_bound(iwae_log_weights(model, batch, k))
    zeros = torch.zeros_like(bound_n)
    return LossOutput(
        -_weighted_mean(bound_n, batch.w), -bound_n.detach(), zeros, None, bound_n.detach()
    )


def reconstruction(model: LatentModel, batch: Batch) -> LossOutput:
    """Plain autoencoder objective: −log p(x | z = f(x)), no rate term."""
    z = model.encode(batch.x, batch.c).mean
    px = model.decode(z, batch.c, model.context(batch.x))
    recon_n = -px.log_prob(batch.x)
    zeros = torch.zeros_like(recon_n)
    return LossOutput(
        _weighted_mean(recon_n, batch.w), recon_n.detach(), zeros, None, -recon_n.detach()
    )


def objective(model: LatentModel, batch: Batch, config: ObjectiveConfig, epoch: int) -> LossOutput:
    """The training loss chosen by ``config`` at ``epoch`` (for stochastic-encoder models)."""
    if config.iwae_samples > 1:
        return iwae(model, batch, config.iwae_samples)
    return elbo(model, batch, beta_at(config, epoch), config.free_bits, config.mmd_batch)
