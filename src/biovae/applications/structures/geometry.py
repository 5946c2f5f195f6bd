"""Rigid-body geometry of point sets: Kabsch superposition and RMSD (numpy and batched torch).

Shapes: ``(..., n_atoms, 3)``. RMSD is always after optimal superposition (rotation without
reflection, Kabsch 1976) unless stated otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from biovae.data.structure import Structures


def kabsch(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation ``R`` and centroids such that ``(mobile − c_m) @ R.T + c_t`` best fits target.

    Parameters
    ----------
    mobile, target
        ``(n_atoms, 3)`` coordinates of the same atoms.

    Returns
    -------
    rotation, mobile_centroid, target_centroid
        ``R`` is a proper rotation (det +1) minimising Σ ‖R(m_i − c_m) − (t_i − c_t)‖².
    """
    m = np.asarray(mobile, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    cm, ct = m.mean(0), t.mean(0)
    h = (m - cm).T @ (t - ct)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rotation, cm, ct


def superpose(mobile: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``mobile`` ``(n_atoms, 3)`` rotated and translated onto ``target``."""
    rotation, cm, ct = kabsch(mobile, target)
    return (np.asarray(mobile, dtype=np.float64) - cm) @ rotation.T + ct


def align_frames(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Every frame of ``coords`` ``(n, atoms, 3)`` superposed onto ``reference`` (float32)."""
    return np.stack([superpose(frame, reference) for frame in coords]).astype(np.float32)


def rmsd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMSD after optimal superposition between matching frames of ``a`` and ``b``.

    ``a`` and ``b`` are ``(..., atoms, 3)`` and broadcast against each other.
    """
    return pairwise_rmsd(_tensor(a), _tensor(b)).numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """``a`` as a tensor; a view with negative strides (``frames[::-1]``) is copied, which
    :func:`torch.as_tensor` refuses."""
    return torch.as_tensor(np.ascontiguousarray(a))


def pairwise_rmsd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Superposition RMSD of broadcast frames ``a``, ``b`` ``(..., atoms, 3)``, shape ``(...)``.

    Uses RMSD² = (E₀ − 2(σ₁ + σ₂ + d σ₃)) / N with σ the singular values of the covariance
    of the centred sets and d = sign det(covariance) (no reflections), so no rotation is built.
    """
    a, b = torch.broadcast_tensors(_centred(a), _centred(b))
    e0 = a.pow(2).sum((-1, -2)) + b.pow(2).sum((-1, -2))
    return _superposed_rmsd(e0, a.transpose(-1, -2) @ b, a.shape[-2])


def _centred(a: torch.Tensor) -> torch.Tensor:
    """Frames ``(..., atoms, 3)`` in float64, each moved to its centroid."""
    a = a.double()
    return a - a.mean(-2, keepdim=True)


def _superposed_rmsd(e0: torch.Tensor, h: torch.Tensor, n_atoms: int) -> torch.Tensor:
    """RMSD from E₀ = Σ‖a‖² + Σ‖b‖² ``(...)`` and covariances h = aᵀb ``(..., 3, 3)`` of
    centred sets (the formula of :func:`pairwise_rmsd`)."""
    s = torch.linalg.svdvals(h)
    d = torch.sign(torch.linalg.det(h))
    d = torch.where(d == 0, torch.ones_like(d), d)
    msd = (e0 - 2 * (s[..., 0] + s[..., 1] + d * s[..., 2])) / n_atoms
    return msd.clamp_min(0).sqrt()


def rmsd_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Superposition RMSD ``(n, m)`` of every frame of ``a`` ``(n, atoms, 3)`` against every
    frame of ``b`` ``(m, atoms, 3)``: :func:`pairwise_rmsd` of ``a[:, None]`` and ``b[None]``,
    with the n·m covariances aᵢᵀbⱼ from one matrix product (3n × atoms) @ (atoms × 3m) instead
    of n·m broadcast copies of the frames."""
    a, b = _centred(a), _centred(b)
    n, m, n_atoms = a.shape[0], b.shape[0], a.shape[-2]
    h = a.transpose(-1, -2).reshape(3 * n, n_atoms) @ b.permute(1, 0, 2).reshape(n_atoms, 3 * m)
    h = h.reshape(n, 3, m, 3).transpose(1, 2)
    e0 = a.pow(2).sum((-1, -2))[:, None] + b.pow(2).sum((-1, -2))[None]
    return _superposed_rmsd(e0, h, n_atoms)


#: Largest temporary of :func:`nearest_rmsd`, in float64 elements (2^24: 128 MiB).
RMSD_BUDGET = 2**24
#: float64 elements :func:`rmsd_matrix` holds per pair of frames (covariance, its singular
#: values and determinant, E₀, the result), with room to spare.
PAIR_ELEMENTS = 32


def nearest_rmsd(queries: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """For each query ``(q, atoms, 3)`` the RMSD to the closest of ``frames`` ``(f, atoms, 3)``.

    Blocks of queries × frames go through :func:`rmsd_matrix`, which holds about
    :data:`PAIR_ELEMENTS` floats per pair; blocks are sized so that is at most
    :data:`RMSD_BUDGET`, whatever the number of queries and frames (a running minimum over the
    frame blocks). Infinite where there are no frames.
    """
    pairs = max(RMSD_BUDGET // PAIR_ELEMENTS, 1)
    frame_step = min(max(len(frames), 1), pairs)
    query_step = max(pairs // frame_step, 1)
    frame_blocks = [_tensor(frames[j : j + frame_step]) for j in range(0, len(frames), frame_step)]
    best = np.full(len(queries), np.inf)
    for i in range(0, len(queries), query_step):
        q = _tensor(queries[i : i + query_step])
        for f in frame_blocks:
            near = rmsd_matrix(q, f).min(1).values.numpy()
            best[i : i + query_step] = np.minimum(best[i : i + query_step], near)
    return best


def ca_only(structures: Structures, coords: np.ndarray | None = None) -> np.ndarray:
    """The Cα coordinates ``(n, residues, 3)`` of ``structures`` (or of ``coords`` on its atoms)."""
    keep = np.asarray(structures.atom_names) == "CA"
    return (structures.coords if coords is None else coords)[:, keep]
