"""Cα-chain Gaussian: a Gaussian on Cartesian coordinates whose mean is a valid Cα trace.

p(x|z) = Π_f N(x_f; g(μ(z))_f, σ_f²), with σ as in the Gaussian likelihood (feature, shared,
observation or fixed) and g a constraint transform of the raw decoder output μ ``(L, 3)``, an
iterative constraint projection in the spirit of SHAKE, starting from y = μ:

    bond sweep, first over even bonds i, then over odd ones (bonds of one parity share no atom,
    so each half is the exact least-squares projection onto its constraints):
            v_i = y_{i+1} − y_i,  c_i = ½ (‖v_i‖ − ℓ_i) v_i/‖v_i‖,  y_i += c_i,  y_{i+1} −= c_i
    excluded-volume sweep (all pairs at once), over pairs |i − j| ≥ 2 with ‖y_i − y_j‖ < r:
            y_i += mean over such j of ½ (r − ‖y_i − y_j‖) (y_i − y_j)/‖y_i − y_j‖

First BOND_SWEEPS bond sweeps extend the chain; then rounds of (excluded-volume sweep, bond
sweep) alternate until both constraints hold within tolerance — every bond within BOND_TOL of
ℓ_i and every non-bonded pair at least r − EXCLUDED_TOL apart — or MAX_ROUNDS rounds have run.
The test is made per record, and a record that passes is left as it is (and costs nothing more),
so a structure does not depend on the other records of its batch. Trans virtual-bond lengths ℓ_i
= 3.8 Å + 0.15 Å · tanh(b_i) ∈ (3.65, 3.95) Å are learned per bond, and r = 3.6 Å sits below the
closest non-bonded Cα pair of real structures (≥ 3.65 Å in the AdK trajectory) and well above
the 3.0 Å clash cut-off, so a converged structure has every bond within 3.8 ± 0.2 Å and no
clash. The stopping test is not differentiated (it only picks the number of rounds); every sweep
is, and each correction is local, so unlike rebuilding the chain bond by bond (an
internal-coordinate decoder, where an error in one direction moves every later atom) the map is
well conditioned and trains like the plain Gaussian. A record that has not converged after
MAX_ROUNDS keeps its residual violations; the validity checks measure them. The density is a
proper normalised Gaussian; only its mean is constrained. Records are ``3·L`` features ordered
atom by atom (x, y, z). Cis peptides (Cα–Cα ≈ 2.9 Å, e.g. Phe86–Pro87 of AdK): bonds listed in
``LikelihoodConfig.cis_bonds`` (found in the training frames by the structure estimator) have
ℓ_i = 2.9 Å + 0.15 Å · tanh(b_i) ∈ (2.75, 3.05) Å instead.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Distribution

from biovae.errors import ConfigError
from biovae.likelihoods.base import BadEntry, Likelihood
from biovae.likelihoods.gaussian import Gaussian

#: Virtual-bond lengths are learned in (BOND − BOND_RANGE, BOND + BOND_RANGE) Å; bonds marked
#: cis (``LikelihoodConfig.cis_bonds``) in (CIS_BOND − BOND_RANGE, CIS_BOND + BOND_RANGE) Å.
BOND, CIS_BOND, BOND_RANGE = 3.8, 2.9, 0.15
#: Non-bonded Cα pairs (|i − j| ≥ 2) are pushed apart to at least this distance (Å).
EXCLUDED = 3.6
#: Bond-only sweeps first, then at most MAX_ROUNDS rounds of (excluded volume, bonds).
BOND_SWEEPS, MAX_ROUNDS = 10, 10
#: Converged: every |bond − ℓ| ≤ BOND_TOL and every non-bonded pair ≥ EXCLUDED − EXCLUDED_TOL (Å).
BOND_TOL, EXCLUDED_TOL = 0.05, 0.1


def bond_lengths(bond_raw: Tensor, cis: Tensor | None = None) -> Tensor:
    """Virtual-bond lengths ℓ = 3.8 + 0.15 tanh(b) Å, or 2.9 + 0.15 tanh(b) Å where ``cis``."""
    centre = (
        torch.full_like(bond_raw, BOND)
        if cis is None
        else torch.where(cis, CIS_BOND, BOND).to(bond_raw)
    )
    return centre + BOND_RANGE * torch.tanh(bond_raw)


def initial_bond_raw(n_bonds: int) -> Tensor:
    """Raw values b with ℓ(b) = 3.8 Å."""
    return torch.zeros(n_bonds)


def chain_mean(
    loc: Tensor,
    bond_raw: Tensor,
    rounds: int = MAX_ROUNDS,
    cis: Tensor | None = None,
    bonded: Tensor | None = None,
) -> Tensor:
    """The constraint transform g: raw ``(..., 3L)`` coordinates → chain with bonds ℓ(b).

    ``rounds`` caps the (excluded volume, bonds) rounds; the likelihood uses MAX_ROUNDS.
    ``cis`` ``(L − 1,)`` marks cis bonds (length near 2.9 Å); ``bonded`` ``(L − 1,)`` is False
    at chain breaks, where no bond is enforced and the two atoms are a non-bonded pair.
    """
    y = loc.reshape(-1, loc.shape[-1] // 3, 3)
    length = bond_lengths(bond_raw, cis)[..., None]
    joined = torch.ones_like(length, dtype=torch.bool) if bonded is None else bonded[:, None]
    idx = torch.arange(y.shape[-2], device=y.device)
    nonbonded = (idx[:, None] - idx[None, :]).abs() >= 2
    if bonded is not None:
        i = torch.nonzero(~bonded).flatten()
        nonbonded = nonbonded.clone()
        nonbonded[i, i + 1] = nonbonded[i + 1, i] = True
    for _ in range(BOND_SWEEPS):
        y = _bond_sweep(y, length, joined)
    todo = torch.arange(len(y), device=y.device)
    for _ in range(rounds):
        part = y if len(todo) == len(y) else y[todo]
        dist = torch.cdist(part, part)
        # only records that do not yet satisfy both constraints move on: a record's result
        # does not depend on the rest of its batch, and converged records cost nothing
        keep = ~_satisfied(part, dist, length, joined, nonbonded)
        if not bool(keep.any()):
            break
        if not bool(keep.all()):  # (copies of the pairwise distances only when some stop)
            todo, part, dist = todo[keep], part[keep], dist[keep]
        moved = _bond_sweep(_push_apart(part, dist, nonbonded), length, joined)
        y = moved if len(todo) == len(y) else y.index_copy(0, todo, moved)
    return y.reshape(loc.shape)


def _bond_sweep(y: Tensor, length: Tensor, joined: Tensor) -> Tensor:
    """One sweep setting every virtual bond i → i+1 to its length ℓ_i: even bonds, then odd.

    Bonds of one parity share no atom, so each half-sweep is the exact (least-squares)
    projection onto its set of bond constraints; alternating the two converges much faster
    than correcting all bonds at once (Jacobi), whose corrections to neighbouring bonds fight.
    """
    pad = torch.zeros_like(y[..., :1, :])
    parity = torch.arange(length.shape[-2], device=y.device) % 2
    for half in (0, 1):
        v = y[..., 1:, :] - y[..., :-1, :]
        d = v.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        c = torch.where((parity == half)[:, None] & joined, 0.5 * (d - length) / d * v, 0.0)
        y = y + torch.cat([c, pad], dim=-2) - torch.cat([pad, c], dim=-2)
    return y


@torch.no_grad()
def _satisfied(
    y: Tensor, dist: Tensor, length: Tensor, joined: Tensor, nonbonded: Tensor
) -> Tensor:
    """Per record ``(...,)``: do both constraints hold within tolerance?"""
    bond_err = ((y[..., 1:, :] - y[..., :-1, :]).norm(dim=-1) - length[..., 0]).abs()
    bond_err = bond_err * joined[..., 0]  # no bond across a chain break
    # a non-bonded pair closer than allowed (or NaN): one byte per pair, not a float copy
    close = (dist >= EXCLUDED - EXCLUDED_TOL).logical_not_().logical_and_(nonbonded)
    return (bond_err.amax(-1) <= BOND_TOL) & ~close.any(-1).any(-1)


def _push_apart(y: Tensor, dist: Tensor, nonbonded: Tensor) -> Tensor:
    """One Jacobi sweep moving non-bonded pairs closer than EXCLUDED apart.

    Each atom takes the mean of its pairwise corrections (not their sum), so a crowded start
    (e.g. an untrained decoder putting every atom near the origin) expands smoothly.
    """
    active = nonbonded & (dist < EXCLUDED)
    w = torch.where(active, 0.5 * (EXCLUDED - dist) / dist.clamp_min(1e-6), 0.0)
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
        for key in ("cis_bonds", "chain_breaks"):
            if any(int(i) >= self.n_atoms - 1 for i in getattr(config, key)):
                raise ConfigError(
                    f"likelihood.{key} {list(getattr(config, key))} name bonds beyond the last "
                    f"of {self.n_atoms - 1}; bond i joins atoms i and i+1 (0-based)"
                )
        self._cis = torch.zeros(self.n_atoms - 1, dtype=torch.bool)
        self._cis[list(config.cis_bonds)] = True
        self._bonded = torch.ones(self.n_atoms - 1, dtype=torch.bool)
        self._bonded[list(config.chain_breaks)] = False

    def outputs(self) -> dict[str, tuple[int, ...]]:
        return self._gaussian.outputs()

    def global_params(self) -> dict[str, Tensor]:
        return {**self._gaussian.global_params(), "bond": initial_bond_raw(self.n_atoms - 1)}

    def distribution(self, params: dict[str, Tensor], context: dict[str, Tensor]) -> Distribution:
        device = params["loc"].device
        bonded = None if self._bonded.all() else self._bonded.to(device)
        loc = chain_mean(params["loc"], params["bond"], cis=self._cis.to(device), bonded=bonded)
        return self._gaussian.distribution({**params, "loc": loc}, context)

    def validate(self, x: np.ndarray) -> BadEntry | None:
        return self._gaussian.validate(x)
