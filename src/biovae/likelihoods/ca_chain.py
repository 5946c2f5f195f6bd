"""Cα-chain Gaussian: a Gaussian on Cartesian coordinates whose mean is a valid Cα trace.

p(x|z) = Π_f N(x_f; g(μ(z))_f, σ_f²), with σ as in the Gaussian likelihood (feature, shared,
observation or fixed) and g a constraint transform of the raw decoder output μ ``(L, 3)``: K
sweeps of a SHAKE-style projection (starting from y = μ, all constraints updated together)

    bonds:  v_i = y_{i+1} − y_i,  c_i = ½ (‖v_i‖ − ℓ_i) v_i/‖v_i‖,  y_i += c_i,  y_{i+1} −= c_i
    excluded volume (sweeps 16–18 of 20), |i − j| ≥ 2 and ‖y_i − y_j‖ < r:
            y_i += mean over such j of ½ (r − ‖y_i − y_j‖) (y_i − y_j)/‖y_i − y_j‖

with trans virtual-bond lengths ℓ_i = 3.8 Å + 0.15 Å · tanh(b_i) ∈ (3.65, 3.95) Å learned per
bond, and r = 3.6 Å, below the closest non-bonded Cα pair of real structures (≥ 3.65 Å in the
AdK trajectory). Every correction is local, so unlike rebuilding the chain bond by bond (an
internal-coordinate decoder, where an error in one direction moves every later atom) the map is
well conditioned and trains like the plain Gaussian. The bond projection converges
geometrically (20 sweeps: ~1e-3 Å when raw bonds are within ~1 Å of ℓ); the excluded-volume
sweeps come late, once the chain is extended, and two bond-only sweeps follow them. Residual
violations are measured by the validity checks, not assumed away. The density is a proper
normalised Gaussian; only its mean is constrained. Records are ``3·L`` features ordered atom by
atom (x, y, z). Limitation: cis peptides (Cα–Cα ≈ 2.9 Å, e.g. Phe86–Pro87 of AdK) are held at
≥ 3.65 Å.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Distribution

from biovae.errors import ConfigError
from biovae.likelihoods.base import BadEntry, Likelihood
from biovae.likelihoods.gaussian import Gaussian

#: Virtual-bond lengths are learned in (BOND − BOND_RANGE, BOND + BOND_RANGE) Å.
BOND, BOND_RANGE = 3.8, 0.15
#: Non-bonded Cα pairs (|i − j| ≥ 2) are pushed apart to at least this distance (Å).
EXCLUDED = 3.6
#: Projection sweeps of the constraint transform: PUSH_SWEEPS of them also push pairs apart,
#: followed by FINAL_BOND_SWEEPS bond-only sweeps that restore the bond lengths.
SWEEPS, PUSH_SWEEPS, FINAL_BOND_SWEEPS = 20, 3, 2


def bond_lengths(bond_raw: Tensor) -> Tensor:
    """Virtual-bond lengths ℓ = 3.8 + 0.15 tanh(b) Å."""
    return BOND + BOND_RANGE * torch.tanh(bond_raw)


def initial_bond_raw(n_bonds: int) -> Tensor:
    """Raw values b with ℓ(b) = 3.8 Å."""
    return torch.zeros(n_bonds)


def chain_mean(loc: Tensor, bond_raw: Tensor, sweeps: int = SWEEPS) -> Tensor:
    """The constraint transform g: raw ``(..., 3L)`` coordinates → chain with bonds ℓ(b)."""
    y = loc.reshape(*loc.shape[:-1], -1, 3)
    length = bond_lengths(bond_raw)[..., None]
    n = y.shape[-2]
    idx = torch.arange(n, device=y.device)
    nonbonded = (idx[:, None] - idx[None, :]).abs() >= 2
    pad = torch.zeros_like(y[..., :1, :])
    for sweep in range(sweeps):
        v = y[..., 1:, :] - y[..., :-1, :]
        d = v.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        c = 0.5 * (d - length) / d * v
        y = y + torch.cat([c, pad], dim=-2) - torch.cat([pad, c], dim=-2)
        if sweeps - PUSH_SWEEPS - FINAL_BOND_SWEEPS <= sweep < sweeps - FINAL_BOND_SWEEPS:
            y = _push_apart(y, nonbonded)
    return y.reshape(loc.shape)


def _push_apart(y: Tensor, nonbonded: Tensor) -> Tensor:
    """One Jacobi sweep moving non-bonded pairs closer than EXCLUDED apart.

    Each atom takes the mean of its pairwise corrections (not their sum), so a crowded start
    (e.g. an untrained decoder putting every atom near the origin) expands smoothly.
    """
    dist = torch.cdist(y, y)
    active = nonbonded & (dist < EXCLUDED)
    w = torch.where(active, 0.5 * (EXCLUDED - dist) / dist.clamp_min(1e-6), torch.zeros_like(dist))
    count = active.sum(-1, keepdim=True).clamp_min(1)
    return y + (w.sum(-1, keepdim=True) * y - w @ y) / count


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
