"""Probabilistic PCA (Tipping & Bishop 1999) in closed form: the linear baseline.

x = W z + μ + ε, z ~ N(0, I_k), ε ~ N(0, σ² I_f). With sample covariance eigenvalues λ_1 ≥ … and
eigenvectors U, the maximum-likelihood solution is σ² = mean of the discarded eigenvalues and
W = U_k (Λ_k − σ² I)^{1/2}. Then C = W Wᵀ + σ² I has eigenvalues λ_1..λ_k and σ², so

    log p(x) = −½ [f log 2π + Σ_i log λ_i + (f − k) log σ²
                   + Σ_i (u_iᵀd)²/λ_i + (|d|² − Σ_i (u_iᵀd)²)/σ²]

with d = x − μ, and the posterior is z|x ~ N(M⁻¹Wᵀd, σ² M⁻¹), M = WᵀW + σ² I = diag(λ_i).
PCA runs on the likelihood's featurised data (one-hot sequences, log1p counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PPCAFit:
    """Fitted parameters: mean (f,), components U (f, k), eigenvalues λ (k,), noise σ²."""

    mean: Tensor
    components: Tensor
    eigenvalues: Tensor
    noise_variance: float

    @property
    def loadings(self) -> Tensor:
        """W = U (Λ − σ² I)^{1/2}, shape (f, k)."""
        return self.components * (self.eigenvalues - self.noise_variance).clamp_min(0).sqrt()


def fit_ppca(x_nf: Tensor, n_latent: int) -> PPCAFit:
    """Maximum-likelihood PPCA of the rows of ``x_nf`` (float64 for accuracy)."""
    x = x_nf.double()
    n, f = x.shape
    if n_latent >= min(n, f):
        raise ValueError(f"PCA needs n_latent < min(records, features) = {min(n, f)}")
    mean = x.mean(0)
    d = x - mean
    _, s, vh = torch.linalg.svd(d, full_matrices=False)
    eig = s**2 / n
    total = float((d**2).sum() / n)
    return _fitted(mean, vh.T, eig, total, n_latent)


def _fitted(mean: Tensor, vecs: Tensor, eig: Tensor, total: float, k: int) -> PPCAFit:
    """The fit from the covariance's eigenvalues ``eig`` (descending) and eigenvectors
    ``vecs`` (columns), and its trace ``total``: σ² the mean of the f − k discarded
    eigenvalues. Each direction is signed so that its largest entry in magnitude is positive
    (an eigenvector's sign is arbitrary, and the SVD and the eigendecomposition of a streamed
    fit pick differently): the same data give the same map, in memory or streamed."""
    f = len(mean)
    sigma2 = max((total - float(eig[:k].sum())) / (f - k), 1e-12)
    u = vecs[:, :k]
    top = u.gather(0, u.abs().argmax(0, keepdim=True))
    u = u * torch.where(top < 0, -1.0, 1.0).to(u.dtype)
    return PPCAFit(mean, u.contiguous(), eig[:k].clamp_min(sigma2), sigma2)


# A streamed fit eigendecomposes the f × f covariance up to this many features (128 MiB in
# float64); above it, subspace iteration finds the leading k directions in f × l numbers.
GRAM_FEATURES = 4096
_SUBSPACE_TOL = 1e-11  # relative change of the top-k Ritz values that ends subspace iteration
_SUBSPACE_PASSES = 40


def fit_ppca_passes(
    passes: Callable[[], Iterable[Tensor]], n_latent: int, *, gram_features: int = GRAM_FEATURES
) -> PPCAFit:
    """Maximum-likelihood PPCA from passes over the rows (``passes()`` yields blocks of them),
    holding one block and O(f²) numbers — or O(f·k) above ``gram_features`` — never the n × f
    matrix: data larger than memory. One pass finds the mean; with f ≤ ``gram_features`` a
    second accumulates the centred covariance, whose eigendecomposition is the in-memory SVD's
    up to rounding. Above, randomized subspace iteration (Halko, Martinsson & Tropp 2011,
    algorithm 4.4 on the covariance, 2k + 10 columns, seeded) runs one pass per step until the
    top-k Ritz values change by less than 1e-11 of the largest (at most 40 passes); the total
    variance, and so σ², is exact either way."""
    n, total_sum = 0, None
    for block in passes():
        b = block.double()
        n += len(b)
        total_sum = b.sum(0) if total_sum is None else total_sum + b.sum(0)
    f = 0 if total_sum is None else len(total_sum)
    if n_latent >= min(n, f):
        raise ValueError(f"PCA needs n_latent < min(records, features) = {min(n, f)}")
    mean = total_sum / n

    def centred() -> Iterable[Tensor]:
        return (b.double() - mean for b in passes())

    if f <= gram_features:
        eig, vecs, total = _covariance_eigh(centred, n, f)
    else:
        eig, vecs, total = _subspace_iteration(centred, n, f, n_latent)
    return _fitted(mean, vecs, eig, total, n_latent)


def _covariance_eigh(centred, n: int, f: int) -> tuple[Tensor, Tensor, float]:
    """Eigenvalues (descending), eigenvectors and trace of the 1/n covariance, in one pass."""
    gram = torch.zeros(f, f, dtype=torch.float64)
    for d in centred():
        gram.addmm_(d.T, d)
    eig, vecs = torch.linalg.eigh(gram / n)
    return eig.flip(0), vecs.flip(1), float(gram.diagonal().sum()) / n


def _subspace_iteration(centred, n: int, f: int, k: int) -> tuple[Tensor, Tensor, float]:
    """Leading Ritz pairs of the 1/n covariance C by subspace iteration, one pass per step
    (C Q accumulated block by block as Dᵀ(D Q)), and C's trace from the first pass."""
    width = min(f, 2 * k + 10)
    gen = torch.Generator().manual_seed(0)
    q = torch.linalg.qr(torch.randn(f, width, generator=gen, dtype=torch.float64)).Q
    total, last = None, None
    for _ in range(_SUBSPACE_PASSES):
        cq, sq = torch.zeros(f, width, dtype=torch.float64), 0.0
        for d in centred():
            cq.addmm_(d.T, d @ q)
            if total is None:
                sq += float((d * d).sum())
        total = sq / n if total is None else total
        b = q.T @ cq / n  # Rayleigh–Ritz on span(Q): Qᵀ C Q, symmetric up to rounding
        ritz, v = torch.linalg.eigh((b + b.T) / 2)
        ritz, v = ritz.flip(0), v.flip(1)
        vecs = q @ v
        if last is not None and bool(((ritz[:k] - last).abs() <= _SUBSPACE_TOL * ritz[0]).all()):
            break
        last = ritz[:k].clone()
        q = torch.linalg.qr(cq).Q
    return ritz, vecs, total


def log_likelihood(fit: PPCAFit, x_nf: Tensor) -> Tensor:
    """Exact log p(x) per row under the fitted PPCA model, shape (n,)."""
    d = x_nf.double() - fit.mean
    proj = d @ fit.components
    f, k = fit.components.shape
    s2 = fit.noise_variance
    quad = (proj**2 / fit.eigenvalues).sum(1) + ((d**2).sum(1) - (proj**2).sum(1)) / s2
    logdet = torch.log(fit.eigenvalues).sum() + (f - k) * math.log(s2)
    return -0.5 * (f * math.log(2 * math.pi) + logdet + quad)


def posterior(fit: PPCAFit, x_nf: Tensor) -> tuple[Tensor, Tensor]:
    """Posterior mean (n, k) and (diagonal) standard deviation (k,) of z given x."""
    d = x_nf.double() - fit.mean
    w = fit.loadings
    m_diag = fit.eigenvalues  # WᵀW + σ²I = Λ in this basis
    mean = (d @ w) / m_diag
    return mean, (fit.noise_variance / m_diag).sqrt()


def reconstruct(fit: PPCAFit, z_nk: Tensor) -> Tensor:
    """E[x|z] = W z + μ."""
    return z_nk.double() @ fit.loadings.T + fit.mean


def sample(fit: PPCAFit, n: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw n records x = W z + μ + ε from the fitted model."""
    f, k = fit.components.shape
    z = torch.randn(n, k, generator=generator, dtype=torch.float64)
    eps = torch.randn(n, f, generator=generator, dtype=torch.float64)
    return reconstruct(fit, z) + math.sqrt(fit.noise_variance) * eps
