"""The NB log-density with a hand-written gradient, and ψ (digamma) in vectorised torch ops.

``torch.digamma`` runs element by element through scalar library code on CPU: on a 128 × 2,000
batch of NB counts it took 4.7 ms on one core, four times ``torch.lgamma`` and a quarter of a
training step. :func:`digamma` computes the same function with about 30 vectorised passes and
one ``log``:

    ψ(z) = ψ(z + 6) − Σ_{k<6} 1/(z+k)                          (recurrence, for every z)
    ψ(w) ≈ log w − 1/(2w) − 1/(12w²) + 1/(120w⁴) − 1/(252w⁶)   (asymptotic series, w = z + 6)

The first omitted term of the series is 1/(240w⁸) < 3e-9 at w ≥ 6, and the recurrence sum is
p'(z)/p(z) for p(z) = z(z+1)⋯(z+5) = u(u+4)(u+6) with u = z(z+5), so the whole is a rational
function plus one logarithm; float32 results agree with float64 ``torch.digamma`` to about 1e-6
relative. There are no masks or branches (comparisons and ``torch.where`` are slow on CPU
here).

:func:`nb_logits_log_prob` (NB and ZINB, μ from the decoder's logits) and :func:`nb_log_prob`
(μ given) use it in their backward. Only float32 on CPU takes the fast path; every other dtype
or device goes to ``torch.digamma``, so float64 ground-truth tests see no approximation.
Arguments must be positive.

:func:`log_factorial` reads log x! of integer counts from a table (a gather instead of
``torch.lgamma``, which is scalar code on CPU too); non-integer or large values fall back to
``lgamma(x + 1)``.

In long fits the NB kernels run compiled (:mod:`biovae.likelihoods.fused`) with
:func:`lgamma_series` and :func:`digamma_series` in place of ``torch.lgamma``, the table and
:func:`digamma`: the same formulas, written so the compiler can vectorise them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from biovae.likelihoods import fused


def _fast(z: Tensor) -> bool:
    return z.dtype == torch.float32 and z.device.type == "cpu"


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

#: log k! for k < 2¹⁶, computed in float64 once (a constant, 256 KiB in float32)
_LOG_FACTORIAL = torch.lgamma(torch.arange(1 << 16, dtype=torch.float64) + 1.0).float()


def log_factorial(x: Tensor) -> Tensor:
    """log Γ(x + 1); for float32 counts on CPU that are all integers in [0, 2¹⁶) a table
    lookup (exact to float32 rounding), else ``torch.lgamma(x + 1)``."""
    if not _fast(x) or x.numel() == 0:
        return torch.lgamma(x + 1.0)
    k = x.to(torch.int32)
    lo, hi = torch.aminmax(k)
    if lo < 0 or hi >= _LOG_FACTORIAL.numel() or not torch.equal(k.to(x.dtype), x):
        return torch.lgamma(x + 1.0)
    return _LOG_FACTORIAL.index_select(0, k.reshape(-1)).reshape(x.shape)


def digamma(z: Tensor) -> Tensor:
    """ψ(z) for z > 0 (float32 on CPU: :func:`digamma_series`; else ``torch.digamma``)."""
    return digamma_series(z) if _fast(z) else torch.digamma(z)


def digamma_series(z: Tensor) -> Tensor:
    """ψ(z) for 0 < z < 4e9 in element-wise arithmetic and one ``log`` (recurrence + series;
    in-place on its own temporaries, which eager PyTorch needs to be fast and a compiler
    ignores)."""
    u = (z + 5.0).mul_(z)  # u = z(z+5)
    # Σ_{k<6} 1/(z+k) = p'/p = (2z+5)/u · (3u² + 20u + 24)/(u² + 10u + 24), with the ratio
    # as 3 − (10u + 48)/(u² + 10u + 24): finite for every z > 0 up to 1.8e19 (u < float32
    # max), so the recurrence needs no mask; 3u² + 20u + 24 overflowed from z ≈ 3.3e9 (ψ = −∞)
    q = (u + 10.0).mul_(u).add_(24.0)
    q = u.mul(10.0).add_(48.0).div_(q).neg_().add_(3.0)
    shift = q.mul_(z.mul(2.0).add_(5.0).div_(u))
    w = z + 6.0
    r = w.reciprocal()
    r2 = r * r
    tail = r2.mul(-1.0 / 252.0).add_(1.0 / 120.0).mul_(r2).neg_().add_(1.0 / 12.0).mul_(r2)
    return torch.log(w).sub_(r, alpha=0.5).sub_(tail).sub_(shift)


def lgamma_series(z: Tensor) -> Tensor:
    """log Γ(z) for 0 < z < 1.8e9 in element-wise arithmetic and three ``log``s, for a fusing
    compiler (eager, ``torch.lgamma`` is faster): log Γ(z) = log Γ(z + 6) − log[z(z+1)⋯(z+5)]
    with the product as u·(u+4)(u+6), u = z(z+5), and Stirling's series at w = z + 6 to
    1/(1260 w⁵) (first omitted term 1/(1680 w⁷) < 2e-9)."""
    u = (z + 5.0).mul_(z)
    w = z + 6.0
    r = w.reciprocal()
    r2 = r * r
    series = r2.mul(-1.0 / 1260.0).add_(1.0 / 360.0).mul_(r2).neg_().add_(1.0 / 12.0).mul_(r)
    out = torch.log(w).mul_(w - 0.5).sub_(w).add_(_HALF_LOG_2PI).add_(series)
    return out.sub_(torch.log(u)).sub_(torch.log((u + 4.0).mul_(u + 6.0)))


def _nb_forward(x, rho, log_lib, theta, lgamma=torch.lgamma, log_fact=log_factorial):
    """NB log pmf (see :class:`_NBLogitsLogProb`) and logsumexp(ρ), which the backward reuses.
    In-place on its own temporaries (fewer allocations eager; a compiler fuses either way)."""
    lse = torch.logsumexp(rho, -1, keepdim=True)
    log_mu = rho - (lse - log_lib)
    t = torch.exp(log_mu).add_(theta)
    xt = x + theta
    out = (xt * torch.log(t)).neg_()
    out.add_(lgamma(xt)).addcmul_(x, log_mu).sub_(log_fact(x))
    return out.add_(theta * torch.log(theta) - lgamma(theta)), lse


def _nb_backward(grad, x, rho, lse, log_lib, theta, need_rho, need_lib, need_theta, psi=digamma):
    """Gradients of Σ grad · log p to ρ, log ℓ and θ (None where not needed)."""
    mu = torch.exp(rho - (lse - log_lib))
    t = mu + theta
    grad_rho = grad_lib = grad_theta = None
    if need_rho or need_lib:
        a = (x - mu).mul_(theta).div_(t).mul_(grad)
        total = a.sum(-1, keepdim=True)
        if need_lib:
            grad_lib = total.sum_to_size(log_lib.shape)
        if need_rho:  # s · Σa = μ · (Σa / ℓ)
            grad_rho = a.sub_(mu.mul_(total * torch.exp(-log_lib))).sum_to_size(rho.shape)
    if need_theta:
        xt = x + theta
        per = (psi(xt) - torch.log(t)).sub_(xt / t).mul_(grad)
        own = (torch.log(theta) + 1.0 - psi(theta)) * grad.sum_to_size(theta.shape)
        grad_theta = per.sum_to_size(theta.shape).add_(own)
    return grad_rho, grad_lib, grad_theta


def _nb_forward_series(x, rho, log_lib, theta):
    return _nb_forward(x, rho, log_lib, theta, lgamma_series, lambda k: lgamma_series(k + 1.0))


def _nb_backward_series(grad, x, rho, lse, log_lib, theta, need_rho, need_lib, need_theta):
    return _nb_backward(
        grad, x, rho, lse, log_lib, theta, need_rho, need_lib, need_theta, digamma_series
    )


#: Compiled with the series forms inside a long training (see :mod:`.fused`), else eager with
#: torch's ``lgamma``, the log x! table and :func:`digamma`.
_NB_FORWARD = fused.FusedKernel(_nb_forward_series, _nb_forward)
_NB_BACKWARD = fused.FusedKernel(_nb_backward_series, _nb_backward)


class _NBLogitsLogProb(torch.autograd.Function):
    """The NB log pmf with μ = ℓ · softmax(ρ) taken from the logits ρ and log ℓ, with a
    hand-written backward. log μ = ρ − logsumexp(ρ) + log ℓ needs no ``log`` pass and no clamp
    of μ, and the gradient goes to ρ directly instead of through μ, a clamp and the softmax.
    With a = g · θ(x − μ)/(θ + μ) (g the incoming gradient; a = g · μ ∂log p/∂μ):

    log p = θ log θ − log Γ(θ) − (x+θ) log(θ+μ) + x log μ + log Γ(x+θ) − log Γ(x+1)
    ∂/∂ρ_j = a_j − s_j Σ_i a_i  (s = softmax(ρ) = μ/ℓ, i, j over the last axis)
    ∂/∂log ℓ = Σ_i a_i
    ∂/∂θ = log θ + 1 − ψ(θ) − log(θ+μ) − (x+θ)/(θ+μ) + ψ(x+θ)

    Forward and backward are :func:`_nb_forward` and :func:`_nb_backward`, compiled inside a
    long training (:mod:`biovae.likelihoods.fused`); the backward takes the forward's form.
    """

    @staticmethod
    def forward(ctx, x: Tensor, rho: Tensor, log_lib: Tensor, theta: Tensor) -> Tensor:
        ctx.compiled = fused.active(rho)
        out, lse = _NB_FORWARD(ctx.compiled, x, rho, log_lib, theta)
        ctx.cols = _large_theta_columns(theta, rho.shape[-1])
        cols = _with_large_count_columns(ctx.cols, x, rho.shape[-1])
        if cols is not None:  # those genes again, in float64 (PRECISE_THETA, PRECISE_COUNT)
            exact = _nb_columns_float64(x, rho, lse, log_lib, theta, cols)
            exact = exact.to(out.dtype).expand_as(out.index_select(-1, cols))
            out = out.index_copy(-1, cols, exact)
        ctx.save_for_backward(x, rho, lse, log_lib, theta)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, rho, lse, log_lib, theta = ctx.saved_tensors
        _, need_rho, need_lib, need_theta = ctx.needs_input_grad
        needs = (need_rho, need_lib, need_theta)
        grad_rho, grad_lib, grad_theta = _NB_BACKWARD(
            ctx.compiled, grad, x, rho, lse, log_lib, theta, *needs
        )
        if need_theta and ctx.cols is not None:  # ρ and ℓ gradients do not cancel; θ's does
            exact = _theta_grad_columns_float64(grad, x, rho, lse, log_lib, theta, ctx.cols)
            if theta.dim() and theta.shape[-1] == rho.shape[-1]:
                grad_theta = grad_theta.index_copy(-1, ctx.cols, exact.to(grad_theta.dtype))
            else:  # one θ shared by the columns: all of them were recomputed
                grad_theta = exact.sum_to_size(theta.shape).to(grad_theta.dtype)
        return None, grad_rho, grad_lib, grad_theta


#: θ beyond which float32 cannot hold the NB log-density: its terms θ log θ, (x+θ) log(θ+μ),
#: log Γ(x+θ) and log Γ(θ) are each ≈ θ log θ and cancel to a few nats, so one float32 rounding
#: of them (≈ 6e-8 · θ log θ) is 1e-4 nats at θ = e⁶ but ≈ 4 nats at the clamp e¹⁵, and the
#: gradient of log θ (ψ(x+θ) − ψ(θ) − log(θ+μ) + log θ + …, true size ≈ 1/θ) drowns in rounding
#: from θ ≈ e⁸. In a float32 call the genes (last-axis columns) with any θ above this are
#: computed again in float64: Poisson-like genes, which appear only after thousands of updates
#: as log θ climbs slowly; the other genes keep the fast (or compiled) kernel.
PRECISE_THETA = math.exp(6.0)


def _large_theta_columns(theta: Tensor, n_columns: int) -> Tensor | None:
    """Indices of the last-axis columns with some θ > :data:`PRECISE_THETA` (see
    :func:`_columns_above`)."""
    return _columns_above(theta, PRECISE_THETA, n_columns)


def _columns_above(values: Tensor, limit: float, n_columns: int) -> Tensor | None:
    """Indices of the last-axis columns with some value above ``limit`` (float32 only; every
    column when ``values`` has no axis of ``n_columns``, e.g. a scalar); None when none."""
    if values.dtype != torch.float32 or values.numel() == 0 or values.device.type == "meta":
        return None
    large = values > limit
    if not bool(large.any()):
        return None
    if values.dim() == 0 or values.shape[-1] != n_columns:
        return torch.arange(n_columns, device=values.device)
    return large.reshape(-1, n_columns).any(0).nonzero().flatten()


#: Count beyond which float32 cannot hold the NB log-density either: log Γ(x+θ), log x! and
#: (x+θ) log(θ+μ) are each ≈ x log x and cancel to a few nats, so their float32 roundings cost
#: ≈ 5e-3 nats at x = 4096, 0.1 at 10⁵ and 1–2 at 10⁶, and at 10⁷ the log-pmf came out
#: positive. Genes with such a count in the batch (bulk RNA-seq, the most expressed genes) are
#: computed again in float64, the forward only: the gradients are differences of terms of
#: size log x (ψ(x+θ) − log(θ+μ)), which float32 holds.
PRECISE_COUNT = 4096.0


def _with_large_count_columns(cols: Tensor | None, x: Tensor, n_columns: int) -> Tensor | None:
    """``cols`` joined with the last-axis columns that have some count > :data:`PRECISE_COUNT`
    (see :func:`_columns_above`)."""
    counted = _columns_above(x, PRECISE_COUNT, n_columns)
    if counted is None or cols is None:
        return cols if counted is None else counted
    return torch.unique(torch.cat([cols, counted]))


def _per_column(theta: Tensor, n_columns: int) -> Tensor:
    """θ with a last axis of ``n_columns`` (a view)."""
    if theta.dim() and theta.shape[-1] == n_columns:
        return theta
    return (
        theta.unsqueeze(-1).expand(*theta.shape, n_columns)
        if theta.dim() == 0
        else (theta.expand(*theta.shape[:-1], n_columns))
    )


def _columns64(cols: Tensor, n_columns: int, *tensors: Tensor) -> list[Tensor]:
    return [_per_column(t, n_columns).index_select(-1, cols).double() for t in tensors]


def _nb_columns_float64(x, rho, lse, log_lib, theta, cols) -> Tensor:
    """log NB of the columns ``cols`` in float64 (μ's normaliser ``lse`` from all columns)."""
    xs, rs, th = _columns64(cols, rho.shape[-1], x, rho, theta)
    log_mu = rs - (lse.double() - log_lib.double())
    xt = xs + th
    out = -xt * torch.log(torch.exp(log_mu) + th) + torch.lgamma(xt) + xs * log_mu
    return out - torch.lgamma(xs + 1.0) + (th * torch.log(th) - torch.lgamma(th))


def _theta_grad_columns_float64(grad, x, rho, lse, log_lib, theta, cols) -> Tensor:
    """∂/∂θ of Σ grad · log NB for the columns ``cols``, in float64, at θ's own shape."""
    g, xs, rs, th = _columns64(cols, rho.shape[-1], grad, x, rho, theta)
    t = torch.exp(rs - (lse.double() - log_lib.double())) + th
    xt = xs + th
    per = (torch.digamma(xt) - torch.log(t) - xt / t) * g
    own = (torch.log(th) + 1.0 - torch.digamma(th)) * g.sum_to_size(th.shape)
    return per.sum_to_size(th.shape) + own


def nb_logits_log_prob(x: Tensor, logits: Tensor, log_library: Tensor, theta: Tensor) -> Tensor:
    """Element-wise log NB(x; μ, θ) with μ = exp(log_library) · softmax(logits, -1), without
    forming μ through a softmax and a log; ``log_library`` broadcasts as ``(..., n, 1)``, θ as in
    :func:`nb_log_prob`. No gradient to x."""
    return _NBLogitsLogProb.apply(x, logits, log_library, theta)


def nb_log_prob(x: Tensor, mu: Tensor, theta: Tensor) -> Tensor:
    """Element-wise log NB(x; mean μ, inverse dispersion θ); θ broadcasts against μ (e.g. one
    value per gene), and terms in θ alone are evaluated at θ's own shape. No gradient to x.
    The same computation as :func:`nb_logits_log_prob` with ρ = log μ and ℓ = Σ μ."""
    log_mu = torch.log(mu)
    return _NBLogitsLogProb.apply(x, log_mu, torch.logsumexp(log_mu, -1, keepdim=True), theta)
