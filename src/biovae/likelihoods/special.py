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

:func:`nb_log_prob` (NB and ZINB) uses it in its backward. Only float32 on CPU takes the fast
path; every other dtype or device goes to ``torch.digamma``, so float64 ground-truth tests see
no approximation. Arguments must be positive.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _fast(z: Tensor) -> bool:
    return z.dtype == torch.float32 and z.device.type == "cpu"


def digamma(z: Tensor) -> Tensor:
    """ψ(z) for z > 0 (float32 on CPU: recurrence + asymptotic series; else torch.digamma)."""
    if not _fast(z):
        return torch.digamma(z)
    u = (z + 5.0).mul_(z)  # u = z(z+5)
    # Σ_{k<6} 1/(z+k) = p'/p = (2z+5)/u · (3u² + 20u + 24)/(u² + 10u + 24): finite for every
    # z < 4e9 (u² < float32 max) and z > 0, so the recurrence needs no mask
    q = u.mul(3.0).add_(20.0).mul_(u).add_(24.0)
    q.div_((u + 10.0).mul_(u).add_(24.0))
    shift = q.mul_(z.mul(2.0).add_(5.0).div_(u))
    w = z + 6.0
    r = w.reciprocal()
    r2 = r * r
    tail = r2.mul(-1.0 / 252.0).add_(1.0 / 120.0).mul_(r2).neg_().add_(1.0 / 12.0).mul_(r2)
    return torch.log(w).sub_(r, alpha=0.5).sub_(tail).sub_(shift)


class _NBLogProb(torch.autograd.Function):
    """Element-wise NB log pmf with a hand-written backward (few full-size temporaries).

    log p = θ log θ − log Γ(θ) − (x+θ) log(θ+μ) + x log μ + log Γ(x+θ) − log Γ(x+1)
    ∂/∂μ = x/μ − (x+θ)/(θ+μ)
    ∂/∂θ = log θ + 1 − ψ(θ) − log(θ+μ) − (x+θ)/(θ+μ) + ψ(x+θ)
    """

    @staticmethod
    def forward(ctx, x: Tensor, mu: Tensor, theta: Tensor) -> Tensor:
        log_t = torch.log(mu + theta)
        x_theta = x + theta
        out = (x_theta * log_t).neg_()  # the full broadcast shape of x, μ and θ
        out.add_(torch.lgamma(x_theta))
        out.addcmul_(x, torch.log(mu))
        out.sub_(torch.lgamma(x + 1.0))
        out.add_(theta * torch.log(theta) - torch.lgamma(theta))
        ctx.save_for_backward(x, mu, theta, log_t, x_theta)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, mu, theta, log_t, x_theta = ctx.saved_tensors
        ratio = x_theta / (mu + theta)  # (x+θ)/(θ+μ)
        grad_mu = grad_theta = None
        if ctx.needs_input_grad[1]:
            grad_mu = (x / mu - ratio).mul_(grad).sum_to_size(mu.shape)
        if ctx.needs_input_grad[2]:
            per = (digamma(x_theta) - log_t).sub_(ratio).mul_(grad).sum_to_size(theta.shape)
            own = (torch.log(theta) + 1.0 - digamma(theta)) * grad.sum_to_size(theta.shape)
            grad_theta = per.add_(own)
        return None, grad_mu, grad_theta


def nb_log_prob(x: Tensor, mu: Tensor, theta: Tensor) -> Tensor:
    """Element-wise log NB(x; mean μ, inverse dispersion θ); θ broadcasts against μ (e.g. one
    value per gene), and terms in θ alone are evaluated at θ's own shape. No gradient to x."""
    return _NBLogProb.apply(x, mu, theta)
