"""Diffusion pseudotime on curves whose true time is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from biovae.applications import trajectory as tj
from biovae.errors import DataError

pytest.importorskip("sklearn")


def spiral(n: int = 300, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Records along a 3-D spiral, shuffled; returns the embedding and the true time in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = rng.permutation(np.linspace(0.0, 1.0, n))
    angle = 3 * np.pi * t
    emb = np.column_stack([np.cos(angle), np.sin(angle), 2 * t])
    return emb + rng.normal(0, noise, emb.shape), t


def test_pseudotime_is_monotone_in_the_true_time_on_a_curve():
    emb, t = spiral()
    traj = tj.pseudotime(emb, root=int(np.argmin(t)))
    step = np.diff(traj.pseudotime[np.argsort(t)])
    assert traj.pseudotime[traj.root] == 0.0
    assert np.nanmax(traj.pseudotime) == pytest.approx(1.0)
    assert spearmanr(traj.pseudotime, t).statistic > 0.999
    # monotone up to boundary effects of the neighbour graph: a few steps at the two ends of
    # the curve go back by less than 1 % of the range
    assert np.all(step[10:-25] > 0)
    assert step.min() > -0.01


def test_pseudotime_follows_time_on_a_noisy_curve_with_a_root_group():
    emb, t = spiral(400, noise=0.03, seed=1)
    early = t < 0.1  # the first stage; its extreme member becomes the root
    traj = tj.pseudotime(emb, root_group=early)
    assert early[traj.root]
    assert t[traj.root] < 0.03
    assert spearmanr(traj.pseudotime, t).statistic > 0.98


def test_default_root_lies_at_an_end_of_the_curve():
    emb, t = spiral(200)
    traj = tj.pseudotime(emb)
    assert min(t[traj.root], 1 - t[traj.root]) < 0.03
    assert abs(spearmanr(traj.pseudotime, t).statistic) > 0.98


def test_diffusion_map_eigenvalues_start_at_one_and_decrease():
    emb, _ = spiral(150)
    dmap = tj.diffusion_map(emb, n_comps=5)
    assert dmap.eigenvalues[0] == pytest.approx(1.0)
    assert np.all(np.diff(dmap.eigenvalues) <= 1e-12)
    assert dmap.components.shape == (150, 6)
    assert dmap.n_connected == 1


def test_records_disconnected_from_the_root_get_nan():
    emb, t = spiral(100)
    far = emb + 1000.0  # a second copy far away: its own graph component
    # the CLI wrote their pseudotimes as empty fields without a word
    with pytest.warns(UserWarning, match="100 of 200 records are not connected to the root"):
        traj = tj.pseudotime(np.concatenate([emb, far]), root=int(np.argmin(t)))
    assert traj.diffusion.n_connected == 2
    assert np.isnan(traj.pseudotime[100:]).all()
    assert np.isfinite(traj.pseudotime[:100]).all()


def test_root_mask_matches_numbers_as_text_and_reports_bad_values():
    obs = {"num_cells": np.array([2.0, 4.0, 2.0]), "line": np.array(["a", "b", "c"], object)}
    assert tj.root_mask(obs, "num_cells", "2").tolist() == [True, False, True]
    with pytest.raises(DataError, match="no record has num_cells = '3'"):
        tj.root_mask(obs, "num_cells", "3")
    with pytest.raises(DataError, match="not a metadata column"):
        tj.root_mask(obs, "stage", "2")
    # a level is named as biovae.levels spells it: 2, 2.0, "2.0" and np.int64(2) all name 2
    ints = {"num_cells": np.array([2, 4, 2, 16], dtype=np.int64)}
    for value in (2, 2.0, "2", "2.0", np.int64(2), np.float32(2)):
        assert tj.root_mask(ints, "num_cells", value).tolist() == [True, False, True, False]
        assert tj.root_mask(obs, "num_cells", value).tolist() == [True, False, True]
    with pytest.raises(DataError, match=r"no record has num_cells = 2\.5"):
        tj.root_mask(ints, "num_cells", 2.5)


def test_tl_pseudotime_roots_at_a_numeric_level_given_as_a_float():
    anndata = pytest.importorskip("anndata")
    import biovae

    emb, t = spiral(80)
    stage = np.where(t < 0.1, 2, 16).astype(np.int64)
    adata = anndata.AnnData(np.zeros((80, 1), np.float32), obsm={"X_biovae": emb})
    adata.obs["num_cells"] = stage
    for value in (2.0, "2.0"):
        biovae.tl.pseudotime(adata, root_key="num_cells", root_value=value)
        root = adata.obs_names.get_loc(adata.uns["biovae_pseudotime"]["root"])
        assert stage[root] == 2
        assert spearmanr(adata.obs["biovae_pseudotime"], t).correlation > 0.99


def test_bad_embeddings_and_roots_are_errors():
    with pytest.raises(DataError, match="finite"):
        tj.pseudotime(np.full((10, 2), np.nan))
    emb, _ = spiral(50)
    with pytest.raises(DataError, match="out of range"):
        tj.pseudotime(emb, root=50)
    with pytest.raises(DataError, match="no records"):
        tj.pseudotime(emb, root_group=np.zeros(50, bool))
    for flat in (np.ones((10, 3)), np.zeros((10, 3)), 1e3 + 1e-11 * np.eye(10, 3)):
        with pytest.raises(DataError, match="does not vary"):
            tj.pseudotime(flat, root=0)


def test_a_root_that_is_no_index_or_a_group_that_is_no_mask_is_a_one_line_error():
    emb, t = spiral(50)
    # IndexError tracebacks from numpy, and a group of row numbers or stages of the right length
    # was read as the mask of its non-zero values without a word
    for root in (True, 2.0, "3"):
        with pytest.raises(DataError, match="root must be a record index"):
            tj.pseudotime(emb, root=root)
    assert tj.pseudotime(emb, root=np.int64(3)).root == 3
    for group in (np.ones(10, bool), np.flatnonzero(t < 0.2), np.round(t * 4), (t < 0.2) * 1.0):
        with pytest.raises(DataError, match="root_group must be a boolean mask of the 50"):
            tj.pseudotime(emb, root_group=group)


def test_the_default_root_lies_in_the_largest_piece_of_a_disconnected_graph():
    from biovae.applications.trajectory import pseudotime

    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 10, 200))
    curve = np.c_[t, np.sin(t), 0.05 * rng.normal(size=200)]
    blob = rng.normal(size=(30, 3)) * 0.1 + 100.0  # far away: its own piece of the kNN graph
    with pytest.warns(UserWarning, match="30 of 230 records are not connected"):
        traj = pseudotime(np.r_[curve, blob])
    assert traj.root < 200 and np.isfinite(traj.pseudotime[:200]).all()
    assert np.isnan(traj.pseudotime[200:]).all()
    rho = abs(np.corrcoef(traj.pseudotime[:200], t)[0, 1])
    assert rho > 0.95


def test_other_pieces_of_the_graph_leave_the_root_pieces_pseudotime_unchanged():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 10, 200))
    curve = np.c_[t, np.sin(t), 0.05 * rng.normal(size=200)]
    alone = tj.pseudotime(curve, root=0).pseudotime
    for n_blobs in (4, 11):  # outlier clusters far away, each its own piece of the kNN graph
        blobs = [rng.normal(size=(20, 3)) * 0.1 + 100.0 * (i + 1) for i in range(n_blobs)]
        with pytest.warns(UserWarning, match=f"{20 * n_blobs} of .* not connected"):
            traj = tj.pseudotime(np.concatenate([curve, *blobs]), root=0)
        # the pieces shared the 10 diffusion components: with 4 blobs the curve kept 6 (its
        # pseudotime moved by 0.003), with 11 it kept none and was 0 for every record
        np.testing.assert_allclose(traj.pseudotime[:200], alone, rtol=0, atol=1e-9)
        assert np.isnan(traj.pseudotime[200:]).all()


def test_on_a_loop_pseudotime_is_the_distance_the_shorter_way_round():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 400)  # a cell cycle: as documented, no phase
    emb = np.c_[np.cos(angle), np.sin(angle)] + rng.normal(0, 0.02, (400, 2))
    root = int(np.argmin(angle))
    pt = tj.pseudotime(emb, root=root).pseudotime
    around = np.abs(angle - angle[root])
    assert spearmanr(pt, np.minimum(around, 2 * np.pi - around)).statistic > 0.98
    assert abs(spearmanr(pt, angle).statistic) < 0.2


def test_identical_records_get_identical_pseudotimes_and_no_self_loops():
    emb, _ = spiral(60)
    copies = np.r_[emb, emb[20:25], emb[40:41], emb[40:41]]  # doubles and a triple
    kernel = tj._knn_kernel(copies, tj.N_NEIGHBOURS)
    assert kernel.diagonal().max() == 0.0
    pt = tj.pseudotime(copies, root=0).pseudotime
    np.testing.assert_allclose(pt[60:65], pt[20:25], rtol=0, atol=1e-9)
    np.testing.assert_allclose(pt[65:], pt[[40, 40]], rtol=0, atol=1e-9)
    # a record's neighbours are the k nearest others, all copies tied with the k-th included,
    # and records evenly spaced on either side too, whichever way the last bit rounds
    d = np.linalg.norm(copies[:, None] - copies[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    kth = np.sort(d, axis=1)[:, tj.N_NEIGHBOURS - 1 : tj.N_NEIGHBOURS] * (1 + tj._TIE)
    np.testing.assert_array_equal(kernel.toarray() > 0, (d <= kth) | (d <= kth).T)


def test_tl_pseudotime_refuses_half_a_root_and_roots_at_a_named_cell():
    anndata = pytest.importorskip("anndata")
    import biovae
    from biovae.errors import ConfigError

    emb, t = spiral(80)
    adata = anndata.AnnData(np.zeros((80, 1), np.float32), obsm={"X_biovae": emb})
    adata.obs["stage"] = np.where(t < 0.1, "early", "late")
    # a root value without its key was ignored: the default root was used without a word
    for half in ({"root_value": "early"}, {"root_key": "stage"}):
        with pytest.raises(ConfigError, match="root_key and root_value together"):
            biovae.tl.pseudotime(adata, **half)
    with pytest.raises(ConfigError, match="root_key and root_value together"):
        biovae.tl.pseudotime(adata, root="3", root_key="stage", root_value="early")
    name = adata.obs_names[int(np.argmax(t))]  # the far end of the curve
    biovae.tl.pseudotime(adata, root=name)
    assert adata.uns["biovae_pseudotime"]["root"] == name
    assert adata.obs["biovae_pseudotime"][name] == 0.0
    assert spearmanr(adata.obs["biovae_pseudotime"], t).correlation < -0.99
    with pytest.raises(DataError, match="no record with id 'nope'"):
        biovae.tl.pseudotime(adata, root="nope")
    adata.obsm["X_biovae"][3, 0] = np.nan  # named by its obs name, not a shape
    with pytest.raises(DataError, match=f"record {adata.obs_names[3]!r} has a NaN"):
        biovae.tl.pseudotime(adata)


def test_a_root_group_member_in_a_far_piece_does_not_move_the_root():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 10, 200)  # shuffled, so the first group member is no end of the curve
    curve = np.c_[t, np.sin(t), 0.05 * rng.normal(size=200)]
    blob = rng.normal(size=(30, 3)) * 0.1 + 100.0  # its own piece of the kNN graph
    early = t < 3
    alone = tj.pseudotime(curve, root_group=early).root
    # one member of the group in the far piece (listed first) took that piece's axis, on which
    # the curve is flat, and the root was an arbitrary early cell (t = 2.7)
    with pytest.warns(UserWarning, match="30 of 230 records are not connected"):
        traj = tj.pseudotime(np.r_[blob, curve], root_group=np.r_[np.arange(30) == 0, early])
    assert traj.root == alone + 30
    assert t[alone] < 0.3
    assert np.isnan(traj.pseudotime[:30]).all()


def test_a_nan_coordinate_or_no_dimension_is_a_one_line_error_naming_the_record():
    emb, _ = spiral(50)
    emb[[7, 9], 1] = [np.nan, np.inf]
    with pytest.raises(DataError, match=r"the record in row 8 has a NaN .* \(2 of 50 records"):
        tj.pseudotime(emb)
    ids = [f"cell{i}" for i in range(50)]
    with pytest.raises(DataError, match="record 'cell7' has a NaN or infinite"):
        tj.pseudotime(emb, ids=ids)
    # no dimension: numpy's "zero-size array to reduction operation" traceback
    with pytest.raises(DataError, match=r">= 1 dimension, got shape \(50, 0\)"):
        tj.pseudotime(np.zeros((50, 0)))


def test_a_piece_joined_only_by_negligible_edges_counts_as_disconnected():
    emb, t = spiral(200)
    rng = np.random.default_rng(0)
    end = emb[np.argmax(t)]
    # nine records in a tight clump 3 past the curve's end: their neighbour edges to the
    # curve weigh ~1e-27, so the walk never crosses; their eigenvalue 1 - 2e-16 was dropped
    # as a stationary state and they got pseudotime 0.513 (mid-curve) without a warning
    clump = end + np.array([0, 0, 3.0]) + rng.normal(0, 0.01, (9, 3))
    with pytest.warns(UserWarning, match="9 of 209 records are not connected to the root"):
        traj = tj.pseudotime(np.concatenate([emb, clump]), root=int(np.argmin(t)))
    assert np.isnan(traj.pseudotime[200:]).all()
    alone = tj.pseudotime(emb, root=int(np.argmin(t))).pseudotime
    np.testing.assert_allclose(traj.pseudotime[:200], alone, atol=1e-9)


def _haghverdi_scanpy_dpt(x: np.ndarray, k: int, root: int, n_comps: int) -> np.ndarray:
    """The module's stated DPT, by hand with dense numpy on every pair of records."""
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    others = np.where(np.eye(len(x), dtype=bool), np.inf, d2)
    near = np.sort(others, axis=1)[:, :k]
    s2 = np.median(near, axis=1)  # sigma_i^2: median squared distance to the k nearest
    width = s2[:, None] + s2[None]
    w = np.sqrt(2 * np.sqrt(np.outer(s2, s2)) / width) * np.exp(-d2 / width)
    edge = others <= near[:, -1:]
    kern = np.where(edge | edge.T, w, 0.0)
    q = kern.sum(1)
    kern = kern / np.outer(q, q)
    d = kern.sum(1)
    lam, phi = np.linalg.eigh(kern / np.sqrt(np.outer(d, d)))
    order = np.argsort(-lam)[1 : n_comps + 1]  # lambda_0 = 1 is the stationary state
    lam, phi = lam[order], phi[:, order]
    dist = np.sqrt((((phi - phi[root]) * lam / (1 - lam)) ** 2).sum(1))
    return dist / dist.max()


def test_pseudotime_is_the_stated_dpt_computed_by_hand():
    x = np.random.default_rng(3).normal(size=(30, 2))
    got = tj.pseudotime(x, root=4, n_neighbors=6, n_comps=5).pseudotime
    np.testing.assert_allclose(got, _haghverdi_scanpy_dpt(x, 6, 4, 5), rtol=0, atol=1e-10)


def test_pseudotime_does_not_change_when_the_embedding_is_moved_rotated_or_scaled():
    emb, t = spiral(200, noise=0.02)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    alone = tj.pseudotime(emb, root=int(np.argmin(t))).pseudotime
    # kernel widths follow the data, so DPT has no length scale; at 1e-6 an absolute floor
    # on the widths (1e-12) took over and the pseudotime moved by 0.036
    for scale in (1e-9, 1e-6, 1e-3, 7.0, 1e6):
        moved = tj.pseudotime(scale * (emb @ q) + 3 * scale, root=int(np.argmin(t))).pseudotime
        np.testing.assert_allclose(moved, alone, rtol=0, atol=1e-8)


@pytest.mark.parametrize("copies", [2, 20, 200])
def test_copies_of_every_record_change_no_pseudotime(copies):
    emb, _ = spiral(100)
    alone = tj.pseudotime(emb, root=0).pseudotime
    # with more than 15 (k) copies of each record, each record's neighbours were its own
    # copies: 100 separate pieces, NaN for 99 % of the records; two copies moved it by 0.026
    repeated = tj.pseudotime(np.repeat(emb, copies, axis=0), root=0)
    np.testing.assert_allclose(repeated.pseudotime, np.repeat(alone, copies), rtol=0, atol=1e-9)
    assert repeated.diffusion.n_connected == 1


def test_many_copies_of_one_record_share_one_pseudotime_and_leave_the_rest_alone():
    # 300 copies of one record (only 8 k neighbours are searched for ties) got pseudotimes
    # up to 0.18 apart and moved the other records' by up to 0.73
    emb, t = spiral(200)
    root = int(np.argmin(t))
    alone = tj.pseudotime(emb, root=root).pseudotime
    for at in (root, int(np.argmax(t)), int(np.argsort(t)[100])):
        pt = tj.pseudotime(np.r_[emb, np.repeat(emb[at : at + 1], 300, axis=0)], root=root)
        np.testing.assert_allclose(pt.pseudotime[200:], alone[at], rtol=0, atol=1e-9)
        np.testing.assert_allclose(pt.pseudotime[:200], alone, rtol=0, atol=1e-9)


def test_fewer_than_four_distinct_points_is_a_one_line_error():
    for emb in (np.array([[0.0], [0.0], [1.0], [1.0]]), np.r_[np.zeros((5, 2)), np.eye(2)]):
        # two or three distinct points left no diffusion component: pseudotime 0 everywhere
        with pytest.raises(DataError, match=r"only \d distinct points"):
            tj.pseudotime(emb, root=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_neighbors": 0}, "n_neighbors must be a whole number >= 1, got 0"),
        ({"n_neighbors": 2.5}, "n_neighbors must be a whole number >= 1, got 2.5"),
        ({"n_comps": 0}, "n_comps must be a whole number >= 1, got 0"),
        ({"n_comps": -1}, "n_comps must be a whole number >= 1, got -1"),
    ],
)
def test_a_graph_size_below_one_is_a_one_line_error(kwargs, message):
    from biovae.errors import ConfigError

    emb, _ = spiral(50)
    # n_neighbors=0 raised sklearn's ValueError; n_comps=0 gave pseudotime 0 for every record
    with pytest.raises(ConfigError, match=message):
        tj.pseudotime(emb, root=0, **kwargs)


def test_an_evenly_spaced_path_gives_mirrored_pseudotimes_from_its_two_ends():
    # a record's k-th neighbour and the next one on the other side are equally far, so
    # which of them was a neighbour hung on the last bit of the distances: the graph was
    # lopsided, and the pseudotimes from the two ends differed by up to 0.012
    path = np.c_[np.linspace(0.0, 3.7, 101), np.linspace(1.3, -0.2, 101)]
    forward = tj.pseudotime(path, root=0).pseudotime
    backward = tj.pseudotime(path, root=100).pseudotime
    np.testing.assert_allclose(backward, forward[::-1], rtol=0, atol=1e-9)


def test_large_pieces_solved_by_lanczos_give_the_dense_eigenpairs(monkeypatch):
    emb, t = spiral(300, noise=0.01)
    dense = tj.pseudotime(emb, root=int(np.argmin(t)))
    monkeypatch.setattr(tj, "_DENSE_LIMIT", 50)  # as a piece of more than 1000 records is
    lanczos = tj.pseudotime(emb, root=int(np.argmin(t)))
    np.testing.assert_allclose(
        lanczos.diffusion.eigenvalues, dense.diffusion.eigenvalues, atol=1e-10
    )
    np.testing.assert_allclose(lanczos.pseudotime, dense.pseudotime, rtol=0, atol=1e-8)


def _path(n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    return np.c_[t, 0.3 * np.sin(4 * t)]


def test_too_few_points_for_the_neighbour_graph_warn_once_naming_the_records():
    # 16 records ran without a word though with k = 15 every record is every other's
    # neighbour: the graph is complete and no longer follows the path
    k = tj.N_NEIGHBOURS
    need = tj.fewest_points()
    assert need == k + 2
    complete = tj._knn_kernel(_path(need - 1), k).toarray() > 0
    assert complete.sum() == (need - 1) * (need - 2)  # every pair of distinct points
    assert not (tj._knn_kernel(_path(need), k).toarray() > 0).all(axis=None)
    for n, points in ((need - 1, need - 1), (need + 3, need - 2)):
        emb = _path(points)[np.arange(n) % points]  # copies are one point of the graph
        with pytest.warns(UserWarning) as caught:
            tj.pseudotime(emb, root=0)
        assert len(caught) == 1
        assert f"only {n} records ({points} distinct points)" in str(caught[0].message)
        assert f"needs >= {need} (n_neighbors=15, n_comps=10)" in str(caught[0].message)


def test_enough_points_for_the_graph_and_components_give_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tj.pseudotime(_path(tj.fewest_points()), root=0)
        # a smaller graph needs fewer points, but never fewer than n_comps + 2 (components)
        tj.pseudotime(_path(12), root=0, n_neighbors=5, n_comps=10)
        tj.pseudotime(_path(8), root=0, n_neighbors=6, n_comps=3)
    with pytest.warns(UserWarning, match=r"only 11 records .* needs >= 12"):
        tj.pseudotime(_path(11), root=0, n_neighbors=5, n_comps=10)
