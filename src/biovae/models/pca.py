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
    k = n_latent
    sigma2 = max((total - float(eig[:k].sum())) / (f - k), 1e-12)
    return PPCAFit(mean, vh[:k].T.contiguous(), eig[:k].clamp_min(sigma2), sigma2)


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
