"""Cα-chain Gaussian: a Gaussian on Cartesian coordinates whose mean is a valid Cα trace.

p(x|z) = Π_f N(x_f; g(μ(z))_f, σ_f²), with σ as in the Gaussian likelihood (feature, shared,
observation or fixed) and g a constraint transform of the raw decoder output μ ``(L, 3)``: K
sweeps of a SHAKE-style projection (starting from y = μ, all constraints updated together)

    bonds:  v_i = y_{i+1} − y_i,  c_i = ½ (‖v_i‖ − ℓ_i) v_i/‖v_i‖,  y_i += c_i,  y_{i+1} −= c_i
    excluded volume, |i − j| ≥ 2 and ‖y_i − y_j‖ < r:  y_i += ½ (r − ‖y_i − y_j‖) (y_i − y_j)/‖·‖

with virtual-bond lengths ℓ_i = 2.75 Å + 1.25 Å · sigmoid(b_i) ∈ (2.75, 4.0) Å learned per bond
(b starts at ℓ = 3.8 Å, trans; a cis peptide bond can learn ≈ 2.9 Å) and r = 3.6 Å, below the
closest non-bonded Cα pair of real structures (≥ 3.65 Å in the AdK trajectory). Every
correction is local, so unlike rebuilding the chain bond by bond (an internal-coordinate
decoder, where an error in one direction moves every later atom) the map is well conditioned
and trains like the plain Gaussian. The projection converges geometrically: with K = 10
sweeps bond lengths match ℓ to ~0.05 Å or better when the raw bonds are within ~1 Å of ℓ. That
residual error is measured by the validity checks, not assumed away. The density is a proper
normalised Gaussian; only its mean is constrained. Records are ``3·L`` features ordered atom by
atom (x, y, z).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Distribution

from biovae.errors import ConfigError
from biovae.likelihoods.base import BadEntry, Likelihood
from biovae.likelihoods.gaussian import Gaussian

#: Virtual-bond lengths are learned in (BOND_MIN, BOND_MIN + BOND_SPAN) Å, starting at BOND.
BOND, BOND_MIN, BOND_SPAN = 3.8, 2.75, 1.25
#: Non-bonded Cα pairs (|i − j| ≥ 2) are pushed apart to at least this distance (Å).
EXCLUDED = 3.6
#: Projection sweeps of the constraint transform.
SWEEPS = 10


def bond_lengths(bond_raw: Tensor) -> Tensor:
    """Virtual-bond lengths ℓ = 2.75 + 1.25 sigmoid(b) Å."""
    return BOND_MIN + BOND_SPAN * torch.sigmoid(bond_raw)


def initial_bond_raw(n_bonds: int) -> Tensor:
    """Raw values b with ℓ(b) = 3.8 Å (trans)."""
    p = (BOND - BOND_MIN) / BOND_SPAN
    return torch.full((n_bonds,), math.log(p / (1 - p)))


def chain_mean(loc: Tensor, bond_raw: Tensor, sweeps: int = SWEEPS) -> Tensor:
    """The constraint transform g: raw ``(..., 3L)`` coordinates → chain with bonds ℓ(b)."""
    y = loc.reshape(*loc.shape[:-1], -1, 3)
    length = bond_lengths(bond_raw)[..., None]
    n = y.shape[-2]
    idx = torch.arange(n, device=y.device)
    nonbonded = (idx[:, None] - idx[None, :]).abs() >= 2
    pad = torch.zeros_like(y[..., :1, :])
    for _ in range(sweeps):
        v = y[..., 1:, :] - y[..., :-1, :]
        d = v.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        c = 0.5 * (d - length) / d * v
        y = y + torch.cat([c, pad], dim=-2) - torch.cat([pad, c], dim=-2)
        y = _push_apart(y, nonbonded)
    return y.reshape(loc.shape)


def _push_apart(y: Tensor, nonbonded: Tensor) -> Tensor:
    """One Jacobi sweep moving each non-bonded pair closer than EXCLUDED apart (half each)."""
    dist = torch.cdist(y, y)
    w = torch.where(
        nonbonded & (dist < EXCLUDED),
        0.5 * (EXCLUDED - dist) / dist.clamp_min(1e-6),
        torch.zeros_like(dist),
    )
    return y + w.sum(-1, keepdim=True) * y - w @ y


class CaChain(Likelihood):
    name = "ca_chain"

    def __init__(self, data_shape, config, n_letters: int = 0) -> None:
        super().__init__(data_shape, config, n_letters)
        if len(self.data_shape) != 1 or self.n_features % 3 or self.n_features < 6:
            raise ConfigError(
                f"the ca_chain likelihood needs records of x, y, z coordinates of at least 2 "
                f"atoms (3·atoms features), got shape {self.data_shape}; use gaussian otherwise"
            )
        self._gaussian = Gaussian(data_shape, config)
        self.n_atoms = self.n_features // 3

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return self._gaussian.outputs()

    def global_params(self) -> dict[str, Tensor]:
        return {**self._gaussian.global_params(), "bond": initial_bond_raw(self.n_atoms - 1)}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        loc = chain_mean(params["loc"], params["bond"])
        return self._gaussian.distribution({**params, "loc": loc}, context)

    def validate(self, x: np.ndarray) -> BadEntry | None:
        return self._gaussian.validate(x)
