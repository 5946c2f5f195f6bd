"""Integration metrics against hand-computed cases (perfectly mixed vs separated batches)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from biovae.diagnostics import integration as im
from biovae.errors import DataError

pytest.importorskip("sklearn")

# four points at the corners of a regular simplex: every pairwise distance is √2, so any kernel
# weighs the three neighbours of a point equally
SIMPLEX = np.eye(4)
SIMPLEX_BATCH = np.array(["a", "a", "b", "b"])


def separated(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two tight clusters far apart, one per batch."""
    rng = np.random.default_rng(seed)
    emb = np.concatenate([rng.normal(0, 0.1, (n, 3)), rng.normal(50, 0.1, (n, 3))])
    return emb, np.repeat(["a", "b"], n)


def mixed(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Both batches drawn from the same distribution."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), np.tile(["a", "b"], n // 2)


def test_lisi_on_the_simplex_is_the_inverse_simpson_index_by_hand():
    # each point: 1 neighbour of its own batch, 2 of the other -> 1 / (1/9 + 4/9) = 1.8
    np.testing.assert_allclose(im.lisi(SIMPLEX, SIMPLEX_BATCH), 1.8, rtol=1e-9)
    median, scaled = im.ilisi(SIMPLEX, SIMPLEX_BATCH)
    assert median == pytest.approx(1.8)
    assert scaled == pytest.approx(0.8)


def test_ilisi_is_one_for_separated_batches_and_near_two_when_mixed():
    assert im.ilisi(*separated()) == (pytest.approx(1.0), pytest.approx(0.0))
    median, scaled = im.ilisi(*mixed())
    assert 1.8 < median <= 2.0
    assert scaled > 0.8


def harmony_lisi(emb, batch, perplexity=30):
    """LISI as Korsunsky et al. (2019) describe it and Harmony computes it, written out per cell:
    the 3·perplexity nearest records (the cell itself first, then left out), Gaussian weights
    exp(−β d) of their Euclidean distances with β found by halving/doubling then bisection
    until the entropy is log(perplexity), Simpson's index of the weighted batch shares, 1 / it."""
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=3 * perplexity).fit(emb).kneighbors(emb)
    dist, idx = dist[:, 1:], idx[:, 1:]
    out = []
    for d, j in zip(dist, idx):
        beta, low, high = 1.0, 0.0, np.inf
        for _ in range(200):
            p = np.exp(-beta * d)
            p /= p.sum()
            entropy = -(p * np.log(p)).sum()
            if abs(entropy - np.log(perplexity)) < 1e-10:
                break
            if entropy > np.log(perplexity):  # too flat: sharpen
                low, beta = beta, beta * 2 if np.isinf(high) else (beta + high) / 2
            else:
                high, beta = beta, (beta + low) / 2
        shares = [p[batch[j] == b].sum() for b in np.unique(batch)]
        out.append(1.0 / np.sum(np.square(shares)))
    return np.array(out)


def test_lisi_matches_harmonys_algorithm():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(300, 4))
    batch = rng.choice(["b1", "b2", "b3"], 300)
    emb[batch == "b1", 0] += 0.8  # partly mixed: the kernel's shape matters
    expected = harmony_lisi(emb, batch)
    np.testing.assert_allclose(im.lisi(emb, batch), expected, rtol=1e-6)
    assert im.ilisi(emb, batch)[0] == pytest.approx(np.median(expected), rel=1e-6)


def test_lisi_does_not_depend_on_the_scale_of_the_embedding():
    # β·d is all the kernel sees, so LISI is scale-free; the search for β must be too (with a
    # fixed bracket on log β in absolute units, 1e-13 and 1e14 gave medians 1.93 and 1.31)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(300, 4))
    batch = rng.choice(["p", "q"], 300)
    emb[batch == "p", 0] += 1.0
    expected = im.lisi(emb, batch)
    for scale in (1e-13, 1e14):
        np.testing.assert_allclose(im.lisi(emb * scale, batch), expected, rtol=1e-6)


def test_kernel_weights_reach_the_target_perplexity():
    dist = np.sort(np.random.default_rng(1).gamma(2.0, size=(50, 90)), axis=1)
    w = im.simpson_weights(dist, 30.0)
    np.testing.assert_allclose(w.sum(1), 1.0)
    perplexity = np.exp(-(w * np.log(w)).sum(1))
    np.testing.assert_allclose(perplexity, 30.0, rtol=1e-3)


def test_kbet_on_the_simplex_matches_the_chi_square_by_hand():
    # k = 3 neighbours, expected 1.5 per batch, observed (1, 2): χ² = 2 · 0.25 / 1.5 = 1/3
    assert chi2.sf(1 / 3, df=1) == pytest.approx(0.5637, abs=1e-4)
    assert im.kbet_acceptance(SIMPLEX, SIMPLEX_BATCH, k=3) == 1.0
    # the 0.05 test rejects when the level is above the p-value
    assert im.kbet_acceptance(SIMPLEX, SIMPLEX_BATCH, k=3, alpha=0.6) == 0.0


def test_kbet_rejects_separated_and_accepts_mixed_batches():
    # separated, k = 10: observed (10, 0), expected (5, 5), χ² = 10, p = 0.0016
    assert im.kbet_acceptance(*separated(), k=10) == 0.0
    assert im.kbet_acceptance(*mixed(), k=10) > 0.8


def test_batch_asw_by_hand_in_one_dimension():
    # a = {0, 1}, b = {10, 11}: s = 1 − 1/10.5 and 1 − 1/9.5 (twice each)
    emb = np.array([[0.0], [1.0], [10.0], [11.0]])
    expected = np.mean([1 / 10.5, 1 / 9.5])
    assert im.batch_asw(emb, ["a", "a", "b", "b"]) == pytest.approx(expected)
    # interleaved a = {0, 2}, b = {1, 3}: s = 0, −0.5, −0.5, 0 -> mean(1 − |s|) = 0.75
    assert im.batch_asw(emb * 0 + [[0], [2], [1], [3]], ["a", "a", "b", "b"]) == pytest.approx(0.75)


def test_batch_asw_is_computed_within_cell_types_and_skips_single_batch_types():
    emb = np.array([[0.0], [2.0], [1.0], [3.0], [100.0], [101.0]])
    batch = ["a", "a", "b", "b", "a", "a"]
    labels = ["t", "t", "t", "t", "u", "u"]  # type u has one batch: skipped
    assert im.batch_asw(emb, batch, labels) == pytest.approx(0.75)


def test_label_asw_by_hand():
    emb = np.array([[0.0], [1.0], [10.0], [11.0]])
    s = np.mean([1 - 1 / 10.5, 1 - 1 / 9.5])
    assert im.label_asw(emb, ["x", "x", "y", "y"]) == pytest.approx((s + 1) / 2)


def test_clustering_agreement_is_one_for_separated_types_and_near_zero_for_random_labels():
    emb, labels = separated()
    assert im.clustering_agreement(emb, labels) == (pytest.approx(1.0), pytest.approx(1.0))
    emb, _ = mixed()
    random_labels = np.random.default_rng(3).choice(["x", "y", "z"], len(emb))
    ari, nmi = im.clustering_agreement(emb, random_labels)
    assert abs(ari) < 0.05
    assert nmi < 0.05


def test_integration_metrics_order_mixed_above_separated():
    emb_sep, batch_sep = separated()
    emb_mix, batch_mix = mixed(80)
    types = np.repeat(["t1", "t2"], 40)
    sep = im.integration_metrics(emb_sep, batch_sep, np.tile(["t1", "t2"], 40))
    mix = im.integration_metrics(emb_mix, batch_mix, types)
    for key in ("batch_asw", "ilisi_scaled", "kbet_acceptance"):
        assert mix[key] > sep[key] + 0.5, key
    assert set(sep) == {"batch_asw", "ilisi", "ilisi_scaled", "kbet_acceptance"} | {
        "label_asw",
        "clisi",
        "clisi_scaled",
        "ari",
        "nmi",
        "n_records",
    }


def test_max_records_scores_a_seeded_subsample_and_says_so():
    """The silhouettes compare all pairs (minutes at 10^5 cells): max_records scores a random
    subsample, the same one for each metric and seed, and the result names its size."""
    emb, batch = mixed(400)
    types = np.repeat(["t1", "t2"], 200)
    whole = im.integration_metrics(emb, batch, types)
    part = im.integration_metrics(emb, batch, types, max_records=100)
    assert whole["n_records"] == 400 and "subsampled_from" not in whole
    assert part["n_records"] == 100 and part["subsampled_from"] == 400
    assert part == im.integration_metrics(emb, batch, types, max_records=100)  # seeded
    pick = np.sort(np.random.default_rng(0).choice(400, 100, replace=False))
    assert part["label_asw"] == pytest.approx(im.label_asw(emb[pick], types[pick]))
    assert im.integration_metrics(emb, batch, types, max_records=400) == whole


def test_every_key_of_the_result_is_described():
    # the CLI's help lists METRIC_KEYS as what the JSON holds: nothing more, nothing less
    emb, batch = mixed(400)
    types = np.repeat(["t1", "t2"], 200)
    keys = set(im.integration_metrics(emb, batch, types)) | set(
        im.integration_metrics(emb, batch, types, max_records=100)
    )
    assert keys == set(im.METRIC_KEYS)


def test_bad_inputs_are_one_line_errors():
    emb, batch = separated(5)
    with pytest.raises(DataError, match="two batches"):
        im.ilisi(emb, np.full(len(emb), "a"))
    with pytest.raises(DataError, match="shape"):
        im.kbet_acceptance(emb, batch[:-1])
    with pytest.raises(DataError, match="NaN"):
        im.label_asw(np.full_like(emb, np.nan), batch)
    with pytest.raises(DataError, match="two distinct labels"):
        im.clustering_agreement(emb, np.full(len(emb), "t"))


def test_missing_labels_are_left_out_not_a_cell_type():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, 4))
    emb[:100] += 5
    labels = np.array(["a"] * 100 + ["b"] * 100, dtype=object)
    batch = np.tile(["x", "y"], 100).astype(object)
    with_missing = labels.copy()
    with_missing[::20] = np.nan
    keep = np.arange(200) % 20 != 0
    got = im.integration_metrics(emb, batch, with_missing)
    want = im.integration_metrics(emb[keep], batch[keep], labels[keep])
    assert got == pytest.approx(want)
    tiny = im.integration_metrics(  # a cell type of 3 cells in 3 batches: no silhouette, no error
        np.r_[emb[:3], emb[100:110]], np.r_[["x", "y", "z"], batch[100:110]], ["c"] * 3 + ["b"] * 10
    )
    assert np.isfinite(tiny["batch_asw"])


def test_too_few_usable_records_or_labels_are_one_line_errors_naming_the_columns():
    emb, batch = separated(5)
    ids = [f"cell{i}" for i in range(len(emb))]  # an id column given as the labels
    with pytest.raises(DataError, match="fewer labels than records"):
        im.label_asw(emb, ids)
    with pytest.raises(DataError, match="one per record"):
        im.integration_metrics(emb, batch, ids)
    labels = np.array(["t", "u"] * 5, dtype=object)
    with pytest.raises(DataError, match="'lab' has only one class among the 5 records"):
        # the cells of type "u" have no batch, so only type "t" is left to compare
        im.check_groups(np.where(labels == "t", batch, None), labels, ("b", "'lab'"), "x.h5ad")
    with pytest.raises(DataError, match=r"^x\.h5ad: only 0 records have both"):
        im.check_groups(batch, [None] * len(batch), where="x.h5ad")
    with pytest.raises(DataError, match="batch has only one level"):
        im.integration_metrics(emb[:5], batch[:5], labels[:5])


def test_a_level_spelled_as_integer_and_as_float_is_one_batch():
    # a column of 0/1 read partly as 0 and partly as 0.0: check_groups counts two batches, so
    # the metrics must too (before: three, and an iLISI above its maximum of 2)
    emb, batch = mixed(60)
    codes = np.tile([0, 1], 30).astype(object)
    respelled = codes.copy()
    respelled[::4] = 0.0
    assert im.ilisi(emb, respelled) == im.ilisi(emb, codes)
    labels = np.repeat(["t1", "t2"], 30)
    assert im.integration_metrics(emb, respelled, labels) == im.integration_metrics(
        emb, batch, labels
    )


def test_single_metrics_reject_missing_values_instead_of_making_them_a_level():
    emb, batch = mixed(60)
    labels = np.repeat(["t1", "t2"], 30).astype(object)
    labels[:5] = np.nan
    with pytest.raises(DataError, match="labels has 5 missing values"):
        im.batch_asw(emb, batch, labels)
    with pytest.raises(DataError, match="missing values"):
        im.label_asw(emb, labels)
    with pytest.raises(DataError, match="batch has 1 missing values"):
        im.kbet_acceptance(emb, np.r_[[None], batch[1:]])


def test_records_left_out_for_a_missing_label_may_have_no_embedding():
    emb, batch = mixed(60)
    labels = np.repeat(["t1", "t2"], 30).astype(object)
    labels[0] = None
    holed = emb.copy()
    holed[0] = np.nan
    assert im.integration_metrics(holed, batch, labels) == im.integration_metrics(
        emb, batch, labels
    )


def test_kernel_weights_are_the_same_solved_in_blocks(monkeypatch):
    dist = np.sort(np.random.default_rng(2).gamma(2.0, size=(23, 20)), axis=1)
    whole = im.simpson_weights(dist, 5.0)
    monkeypatch.setattr(im, "KERNEL_BLOCK", 7)
    np.testing.assert_array_equal(im.simpson_weights(dist, 5.0), whole)


def test_clisi_on_the_simplex_with_equal_weights_is_the_number_of_labels_around():
    # four labels on the simplex: each point's 3 neighbours are equally weighted and of 3
    # distinct labels -> inverse Simpson 1 / (3 · 1/9) = 3; scaled (L − 3) / (L − 1) = 1/3
    labels = np.array(["a", "b", "c", "d"])
    np.testing.assert_allclose(im.lisi(SIMPLEX, labels), 3.0, rtol=1e-9)
    median, scaled = im.clisi(SIMPLEX, labels)
    assert (median, scaled) == (pytest.approx(3.0), pytest.approx(1 / 3))
    # pairs a, a, b, b: 1 own + 2 other -> 1 / (1/9 + 4/9) = 1.8 -> (2 − 1.8) / 1 = 0.2
    assert im.clisi(SIMPLEX, SIMPLEX_BATCH) == (pytest.approx(1.8), pytest.approx(0.2))


def test_clisi_is_one_for_separated_types_and_near_zero_when_types_are_mixed():
    rng = np.random.default_rng(0)
    types = np.repeat(["t1", "t2", "t3"], 100)  # > 90 per type: neighbourhoods stay pure
    centres = np.repeat(np.array([[0.0, 0, 0], [50, 0, 0], [0, 50, 0]]), 100, axis=0)
    emb = centres + rng.normal(0, 0.1, (300, 3))
    assert im.clisi(emb, types) == (pytest.approx(1.0), pytest.approx(1.0))
    shuffled = rng.permutation(types)  # every type spread over the three clusters
    median, scaled = im.clisi(emb, shuffled)
    assert 2.7 < median <= 3.0
    assert scaled < 0.15


def test_integration_metrics_clisi_and_ilisi_equal_the_single_metrics():
    # one neighbour search and kernel serve both LISIs: the same numbers as computed apart
    emb, batch = mixed(200)
    types = np.where(emb[:, 0] > 0, "up", "down")
    got = im.integration_metrics(emb, batch, types)
    assert (got["ilisi"], got["ilisi_scaled"]) == im.ilisi(emb, batch)
    assert (got["clisi"], got["clisi_scaled"]) == im.clisi(emb, types)
    assert 0.5 < got["clisi_scaled"] < 1.0  # types split along an axis: mostly pure
    with pytest.raises(DataError, match="two distinct labels"):
        im.clisi(emb, np.repeat("t", len(emb)))
