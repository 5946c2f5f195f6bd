"""Trajectories on a latent map: diffusion maps and diffusion pseudotime (DPT) from a root cell.

Following Haghverdi et al. (2016, Nat. Methods 13:845) on a k-nearest-neighbour graph of the
embedding (e.g. posterior means E_q[z|x]):

1. Gaussian kernel with local widths, K_ij = sqrt(2 σ_i σ_j / (σ_i² + σ_j²)) ·
   exp(−d_ij² / (σ_i² + σ_j²)) on the symmetrised kNN graph of the distinct points (points
   tied with a point's k-th neighbour, to rounding, are all its neighbours), σ_i² = median
   squared distance of point i to its k nearest neighbours;
2. density normalisation K̃ = Q⁻¹ K Q⁻¹ (Q = row sums of K), then the symmetric transition
   matrix T_s = D^{-1/2} K̃ D^{-1/2} (D = row sums of K̃), whose eigenvalues λ_l are those of the
   Markov chain T = D⁻¹ K̃ (λ_0 = 1 is the stationary state); φ_l are T_s's eigenvectors (as in
   scanpy's ``tl.dpt``; T's right eigenvectors are D^{-1/2} φ_l);
3. the DPT distance sums random walks of every length:
   dpt(i, r)² = Σ_{l ≥ 1} (λ_l / (1 − λ_l))² (φ_l(i) − φ_l(r))² over the ``n_comps`` leading
   components, and the pseudotime of cell i is dpt(i, root) scaled to [0, 1].

Identical records (cells with the same counts have the same posterior mean) are one point of
the graph and share its pseudotime, however many copies there are; the embedding is centred
and scaled to unit extent first, so that pseudotime does not change when it is moved, rotated
or scaled. Cells not connected to the root in the kNN graph get NaN (an edge a walk takes with
probability < 1e-8 from either end counts as none); each connected piece of the graph has its
own diffusion components. On a loop (a cell cycle) the pseudotime is the distance from
the root the shorter way round, rising to the opposite side and falling back: no phase. The
root is a given cell, the cell of a root group at its far end of the first diffusion component,
or (no root given) the cell at the extreme of the first diffusion component farthest from the
median.

Below :func:`fewest_points` distinct points (17 at the defaults) the result is kept but a
warning says why it says little: with k + 1 or fewer points every point is every other's
neighbour (the graph is complete, so it no longer follows the data's shape), and with fewer
than ``n_comps`` + 2 there are fewer diffusion components than asked for.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from biovae.applications.trajectory_roots import root_index as root_index
from biovae.applications.trajectory_roots import root_mask as root_mask
from biovae.errors import ConfigError, DataError, require

#: Defaults of scanpy's DPT: 15 neighbours, 10 diffusion components.
N_NEIGHBOURS = 15
N_COMPONENTS = 10
#: Pieces of the graph up to this size are solved densely; Lanczos (eigsh) on larger ones
#: (4000 points: 11 s dense on 2 cores, 0.3 s by eigsh).
_DENSE_LIMIT = 1000
#: Spread (largest range of a coordinate) relative to the largest |coordinate| at or below
#: which an embedding counts as one point: float64 rounding, not a trajectory.
_NO_SPREAD = 1e-12
#: Eigenvalues within this of 1 are stationary states (one per connected piece of the graph);
#: edges a walk takes with a smaller probability from either end are no edges (see
#: :func:`_drop_negligible`).
_STATIONARY = 1e-8


@dataclass(frozen=True)
class DiffusionMap:
    """Eigenvalues ``(m,)`` (descending, λ_0 = 1 first) and eigenvectors of T_s, one row per
    record ``(n, m)``: T_s is over the distinct points, and identical records share a row."""

    eigenvalues: np.ndarray
    components: np.ndarray
    n_connected: int
    component_of: np.ndarray


@dataclass(frozen=True)
class Trajectory:
    """Diffusion pseudotime of every record (NaN where disconnected from the root)."""

    pseudotime: np.ndarray
    root: int
    diffusion: DiffusionMap


def _knn_kernel(emb: np.ndarray, k: int) -> sp.csr_matrix:
    """Symmetric Gaussian kernel with local widths on the kNN graph (see module doc).

    Each record's neighbours are the other records within its k-th neighbour's distance (to
    rounding: :data:`_TIE`), so records tied with the k-th are all in or all out; otherwise
    which of two records evenly spaced on either side (a regular path or grid) or which copy of
    a duplicate a record links to would be arbitrary, or hang on the last bit of a distance,
    which moving or scaling the embedding changes. σ_i² is at least 1e-12 (of the unit
    extent :func:`diffusion_map` gives the points)."""
    nn = require("sklearn.neighbors", "report")
    n = len(emb)
    k = min(k, n - 1)
    dist, idx = _neighbours_with_ties(nn.NearestNeighbors().fit(emb), k, n)
    sigma2 = np.maximum(np.median(dist[:, :k] ** 2, axis=1), 1e-12)
    rows, slot = np.nonzero(dist <= _reach(dist, k))
    cols, d2 = idx[rows, slot], dist[rows, slot] ** 2
    s_i, s_j = sigma2[rows], sigma2[cols]
    width = s_i + s_j
    value = np.sqrt(2 * np.sqrt(s_i * s_j) / width) * np.exp(-d2 / width)
    kernel = sp.csr_matrix((value, (rows, cols)), shape=(n, n))
    return kernel.maximum(kernel.T).tocsr()  # an edge kept by either end, same weight


#: At most this many times k neighbours per record are searched for ties with the k-th.
_TIE_FACTOR = 8
#: Distances within this fraction of the k-th neighbour's are tied with it (float rounding).
_TIE = 1e-9


def _reach(dist: np.ndarray, k: int) -> np.ndarray:
    """Each record's k-th neighbour distance ``(n, 1)``, widened by :data:`_TIE`."""
    return dist[:, k - 1 : k] * (1 + _TIE)


def _neighbours_with_ties(index: Any, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (n, m), m ≥ k, of every record's nearest other records, enough
    of them that none is left out at the k-th neighbour's distance (up to
    :data:`_TIE_FACTOR` · k). ``kneighbors()`` without X leaves each record itself out (with
    X an exact duplicate may come before it, and dropping the first column then drops the
    duplicate and keeps a self-loop)."""
    m = k
    while True:
        dist, idx = index.kneighbors(n_neighbors=m)
        if m >= min(n - 1, _TIE_FACTOR * k) or not (dist[:, -1:] <= _reach(dist, k)).any():
            return dist, idx
        m = min(2 * m, n - 1, _TIE_FACTOR * k)


def as_embedding(emb: Any, ids: Any = None) -> np.ndarray:
    """``emb`` as a float64 ``(records, dims)`` array, or a one-line error that names the first
    record (by its id in ``ids``, else its row) with a NaN or infinite coordinate. A sparse
    ``emb`` (an obsm entry may be one) is made dense: numpy could not read it as numbers."""
    x = np.asarray(emb.toarray() if sp.issparse(emb) else emb, dtype=np.float64)
    if x.ndim != 2 or len(x) < 4 or x.shape[1] < 1:
        raise DataError(
            "trajectories need a (records, dims) embedding of >= 4 records and >= 1 dimension, "
            f"got shape {x.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad.size:
        where = (
            f"record {str(ids[bad[0]])!r}" if ids is not None else f"the record in row {bad[0] + 1}"
        )
        raise DataError(
            f"{where} has a NaN or infinite embedding coordinate ({bad.size} of {len(x)} "
            "records have one); drop those records or fix the embedding"
        )
    return x


def diffusion_map(emb: Any, n_neighbors: int = N_NEIGHBOURS, n_comps: int = N_COMPONENTS):
    """The diffusion map of ``emb`` (n, d): leading eigenpairs of the density-normalised T_s.

    The graph joins the distinct points of ``emb``: a record with more than ``n_neighbors``
    copies would otherwise have only its copies as neighbours (a piece of its own). On a graph
    of several connected pieces, T_s is block-diagonal and each piece has its own eigenpairs
    (zero outside it): the ``n_comps + 1`` leading ones of every piece are kept, so that other
    pieces (outlier clusters) take no components from the root's piece."""
    _check_sizes(n_neighbors, n_comps)
    points, point_of = _distinct_points(as_embedding(emb))
    _warn_if_few(len(point_of), len(points), n_neighbors, n_comps)
    kernel = _knn_kernel(points, n_neighbors)
    q = np.asarray(kernel.sum(1)).ravel()
    kernel = _drop_negligible(sp.diags(1 / q) @ kernel @ sp.diags(1 / q))
    d = np.asarray(kernel.sum(1)).ravel()
    t_sym = sp.diags(d**-0.5) @ kernel @ sp.diags(d**-0.5)
    n_conn, labels = connected_components(kernel, directed=False)
    if n_conn == 1:
        values, vectors = _leading_eigenpairs(t_sym, np.sqrt(d), n_comps)
    else:
        values, vectors = _piecewise_eigenpairs(t_sym.tocsr(), np.sqrt(d), labels, n_comps)
    return DiffusionMap(values, vectors[point_of], int(n_conn), labels[point_of])


def _check_sizes(n_neighbors: Any, n_comps: Any) -> None:
    """A one-line error unless both graph sizes are whole numbers >= 1."""
    for name, value in (("n_neighbors", n_neighbors), ("n_comps", n_comps)):
        whole = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
        if not whole or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")


def fewest_points(n_neighbors: int = N_NEIGHBOURS, n_comps: int = N_COMPONENTS) -> int:
    """Distinct points needed for a kNN graph that is not complete and all ``n_comps``
    diffusion components: max(k, n_comps) + 2."""
    return max(n_neighbors, n_comps) + 2


def _warn_if_few(n_records: int, n_points: int, n_neighbors: int, n_comps: int) -> None:
    """One warning when ``n_points`` distinct points are fewer than :func:`fewest_points`."""
    need = fewest_points(n_neighbors, n_comps)
    if n_points < need:
        warnings.warn(
            f"only {n_records} records ({n_points} distinct points) for diffusion pseudotime, "
            f"which needs >= {need} (n_neighbors={n_neighbors}, n_comps={n_comps}): every point "
            "is (nearly) every other's neighbour, so the ordering says little; use more records",
            UserWarning,
            stacklevel=3,
        )


def _distinct_points(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``x``, centred and scaled to unit extent (so that no constant,
    such as the kernel widths' floor, sets a length scale), and each record's row among them."""
    extent = np.ptp(x, axis=0).max()
    if extent <= _NO_SPREAD * np.abs(x).max():
        raise DataError(
            f"the embedding does not vary: all {len(x)} records lie at one point (to rounding), "
            "so there is no path to order them along; check the model or the embedding"
        )
    points, point_of = np.unique(x, axis=0, return_inverse=True)
    if len(points) < 4:
        raise DataError(
            f"the {len(x)} records lie at only {len(points)} distinct points of the embedding; "
            "trajectories need >= 4 distinct points (identical records share one)"
        )
    return (points - points.mean(axis=0)) / extent, point_of.reshape(-1)


def _drop_negligible(kernel: sp.spmatrix) -> sp.csr_matrix:
    """``kernel`` without the edges a walk takes with probability below :data:`_STATIONARY`
    from either end (K_ij < tol · min(D_i, D_j)).

    A piece of the graph joined to the rest only by such edges (a clump of records a little
    past the end of a path, where both ends' kernel widths are small) is left in fewer steps
    than the eigenvalues' rounding can tell: its eigenvalue 1 − λ < tol was dropped as a
    stationary state and its records got a mid-range pseudotime of no meaning, silently. As a
    piece of its own they get NaN and a warning. A record's strongest edge is always kept."""
    kernel = sp.coo_matrix(kernel)
    d = np.asarray(kernel.sum(1)).ravel()
    keep = kernel.data >= _STATIONARY * np.minimum(d[kernel.row], d[kernel.col])
    rows, cols = kernel.row[keep], kernel.col[keep]
    return sp.csr_matrix((kernel.data[keep], (rows, cols)), shape=kernel.shape)


def _leading_eigenpairs(t_sym: sp.spmatrix, v0: np.ndarray, n_comps: int):
    """The ``n_comps + 1`` (at most records − 2) leading eigenpairs of ``t_sym``, descending."""
    m = max(min(n_comps + 1, t_sym.shape[0] - 2), 1)
    if t_sym.shape[0] <= _DENSE_LIMIT:
        values, vectors = np.linalg.eigh(t_sym.toarray())
    else:
        from scipy.sparse.linalg import eigsh

        values, vectors = eigsh(t_sym, k=m, which="LA", v0=v0)
    order = np.argsort(-values)[:m]
    return values[order], vectors[:, order]


def _piecewise_eigenpairs(t_sym: sp.csr_matrix, v0: np.ndarray, labels: np.ndarray, n_comps):
    """The leading eigenpairs of each connected piece's block of ``t_sym``, as vectors over
    all records (zero outside the piece), sorted by eigenvalue, descending."""
    values, vectors = [], []
    for piece in range(labels.max() + 1):
        members = np.flatnonzero(labels == piece)
        lam, phi = _leading_eigenpairs(t_sym[members][:, members], v0[members], n_comps)
        full = np.zeros((len(labels), len(lam)))
        full[members] = phi
        values.append(lam)
        vectors.append(full)
    values, vectors = np.concatenate(values), np.concatenate(vectors, axis=1)
    order = np.argsort(-values, kind="stable")
    return values[order], vectors[:, order]


def dpt_distances(dmap: DiffusionMap, root: int) -> np.ndarray:
    """DPT distance of every record to ``root`` (NaN outside the root's connected component).

    Eigenvalues ≈ 1 belong to stationary states of the graph's components and are left out.
    """
    lam = dmap.eigenvalues
    use = lam < 1 - _STATIONARY
    weight = lam[use] / (1 - lam[use])
    diff = dmap.components[:, use] - dmap.components[root, use]
    out = np.sqrt(((diff * weight) ** 2).sum(1))
    out[dmap.component_of != dmap.component_of[root]] = np.nan
    return out


def root_from_group(dmap: DiffusionMap, in_group: np.ndarray) -> int:
    """The record of the root group at its far end of the first diffusion component.

    The group's side is where its mean lies relative to the other records' mean, so the root is
    the group member farthest from the rest of the data along the main diffusion direction.
    Both are taken within the connected piece of the graph holding most of the group (the
    larger piece on a tie): a member in another piece, such as a far outlier, has no place on
    this piece's axis, and taking its piece would leave the rest of the group unreached.
    """
    in_group = np.asarray(in_group, dtype=bool)
    if not in_group.any():
        raise DataError("the root group has no records; check --root-key/--root-value")
    size = np.bincount(dmap.component_of)
    held = np.bincount(dmap.component_of[in_group], minlength=len(size))
    piece = np.lexsort((size, held))[-1]  # most members, then the larger piece
    inside = dmap.component_of == piece
    dc1 = main_axis(dmap, np.flatnonzero(inside))
    rest = inside & ~in_group
    rest_mean = dc1[rest].mean() if rest.any() else np.median(dc1[inside])
    members = np.flatnonzero(inside & in_group)
    side = 1.0 if dc1[members].mean() >= rest_mean else -1.0
    return int(members[np.argmax(side * dc1[members])])


def main_axis(dmap: DiffusionMap, members: np.ndarray) -> np.ndarray:
    """The leading diffusion component that varies over ``members`` (one connected piece of
    the graph): components of eigenvalue 1 are flat on each piece, and those of another piece
    are ≈ 0 on this one."""
    moving = np.flatnonzero(dmap.eigenvalues < 1 - _STATIONARY)
    for j in moving:
        values = dmap.components[:, j]
        if np.ptp(values[members]) > 1e-6 * np.abs(values).max():
            return values
    return dmap.components[:, 1]


def default_root(dmap: DiffusionMap) -> int:
    """In the largest connected piece of the graph, the record at the extreme of its main
    diffusion component farthest from the median."""
    members = np.flatnonzero(dmap.component_of == np.bincount(dmap.component_of).argmax())
    dc1 = main_axis(dmap, members)[members]
    return int(members[np.argmax(np.abs(dc1 - np.median(dc1)))])


def pseudotime(
    emb: Any,
    *,
    root: int | None = None,
    root_group: np.ndarray | None = None,
    n_neighbors: int = N_NEIGHBOURS,
    n_comps: int = N_COMPONENTS,
    ids: Any = None,
) -> Trajectory:
    """Diffusion pseudotime in [0, 1] along ``emb`` from a root record.

    Parameters
    ----------
    emb
        Embedding (n, d), e.g. posterior means of a fitted VAE.
    root
        Index of the root record; or
    root_group
        Boolean mask of a root group (e.g. the earliest stage); its extreme member is the root.
        Without either, :func:`default_root` is used.
    n_neighbors, n_comps
        kNN graph size and number of non-trivial diffusion components.
    ids
        Record ids (e.g. obs names), to name a record with a NaN coordinate in the error.
    """
    x = as_embedding(emb, ids)
    n = len(x)
    _check_root(root, root_group, n)
    dmap = diffusion_map(x, n_neighbors, n_comps)
    if root is None:
        root = root_from_group(dmap, root_group) if root_group is not None else default_root(dmap)
    dist = dpt_distances(dmap, root)
    unreached = int(np.isnan(dist).sum())
    if unreached:
        warnings.warn(
            f"{unreached} of {n} records are not connected to the root in the neighbour graph "
            "(another piece of the latent map): their pseudotime is NaN (empty in tables)",
            UserWarning,
            stacklevel=2,
        )
    top = np.nanmax(dist)
    return Trajectory(dist / top if top > 0 else dist, int(root), dmap)


def _check_root(root: Any, root_group: Any, n: int) -> None:
    """A one-line error unless ``root`` is a record index and ``root_group`` a boolean mask of
    the ``n`` records (row numbers or stage values would be read as a mask of the non-zero)."""
    if root is not None:
        if isinstance(root, bool | np.bool_) or not isinstance(root, int | np.integer):
            raise DataError(f"root must be a record index (an int), got {root!r}")
        if not 0 <= root < n:
            raise DataError(f"root record {root} is out of range for {n} records")
    if root_group is not None:
        group = np.asarray(root_group)
        if group.dtype != bool or group.shape != (n,):
            raise DataError(
                f"root_group must be a boolean mask of the {n} records, got {group.dtype} of "
                f"shape {group.shape}; e.g. stage == stage.min()"
            )
