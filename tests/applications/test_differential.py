"""Differential expression: the change-mode summaries, the FDR rule and the pseudocount against
hand computations, and recovery of planted fold changes (with and without a confounded batch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import biovae
from biovae import tl
from biovae.applications import differential as de
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError, DataError

N_DE = 16  # genes 0..15: pairs (2k, 2k + 1) swap expression between groups, log2 FC ∓ 2
BATCH_GENES = range(16, 24)  # pairs swapped in batch b2 (log2 FC ∓ log2 3), not DE


def simulate(seed: int = 0, n: int = 600, g: int = 60):
    """NB counts whose group and batch effects swap pairs of genes, so every other gene's
    share of the counts is unchanged (true log fold change exactly 0). Batch b2 holds 25 % of
    group A and 75 % of group B: uncorrected, the batch genes look differential."""
    rng = np.random.default_rng(seed)
    group = np.repeat(["A", "B"], n // 2)
    batch = np.where(rng.random(n) < np.where(group == "A", 0.25, 0.75), "b2", "b1")
    base = rng.gamma(2.0, 1.0, g)
    base[0:16:2] = 4 * base[1:16:2]
    base[16:24:2] = 3 * base[17:24:2]

    def swap(v, lo, hi):
        return np.concatenate([v[:lo], v[lo:hi].reshape(-1, 2)[:, ::-1].ravel(), v[hi:]])

    share = np.tile(base, (n, 1))
    share[group == "B"] = swap(base, 0, 16)
    share[batch == "b2"] = np.apply_along_axis(swap, 1, share[batch == "b2"], 16, 24)
    share /= share.sum(1, keepdims=True)
    library = np.exp(rng.normal(np.log(2000), 0.3, n))
    x = rng.poisson(rng.gamma(10.0, share * library[:, None] / 10.0)).astype(np.float32)
    return x, {"group": group, "batch": batch}


@pytest.fixture(scope="module")
def fitted():
    x, obs = simulate()
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,))),
        train=TrainConfig(epochs=150, batch_size=64, seed=0),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    return x, obs, biovae.VAE(likelihood="nb", config=cfg).fit(x, obs)


def _gene(frame: pd.DataFrame) -> np.ndarray:
    return frame.index.str[1:].astype(int).to_numpy()  # feature names f0, f1, ...


def test_fdr_calls_follow_the_posterior_expected_fdr_by_hand():
    p = np.array([0.5, 0.99, 0.2, 0.9, 0.97])
    # sorted 0.99, 0.97, 0.9, 0.5: expected FDR 0.01, 0.02, 0.14 / 3 = 0.0467, 0.64 / 4 = 0.16
    np.testing.assert_array_equal(de.fdr_calls(p, 0.05), [False, True, False, True, True])
    np.testing.assert_array_equal(de.fdr_calls(p, 0.045), [False, True, False, False, True])
    assert not de.fdr_calls(np.array([0.5, 0.4]), 0.05).any()


def test_change_table_summaries_by_hand():
    h2 = np.array([[0.1, 0.2, 0.7], [0.2, 0.2, 0.6]])
    h1 = h2 * np.array([2.0, 1.0, 0.5])  # log2 FC exactly +1, 0, −1 in every pair
    t = de.change_table(h1, h2, 0.0, de.DESettings(delta=0.25))
    np.testing.assert_allclose(t["lfc_mean"], [1.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(t["proba_de"], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(t["lfc_std"], 0.0, atol=1e-12)
    np.testing.assert_allclose(t["scale1"], h1.mean(0))
    t = de.change_table(h1, h2, 0.0, de.DESettings(delta=1.5))
    np.testing.assert_allclose(t["proba_de"], 0.0)
    # half the pairs up by 1, half down by 1: each direction has probability 0.5
    t = de.change_table(np.array([[0.2], [0.05]]), np.array([[0.1], [0.1]]), 0.0, de.DESettings())
    np.testing.assert_allclose(t["proba_de"], 0.5)
    np.testing.assert_allclose(t["lfc_median"], 0.0, atol=1e-12)
    np.testing.assert_allclose(t["bayes_factor"], 0.0, atol=1e-6)  # even odds
    # the Bayes factor is the log-odds of proba_de (no sign: the lfc columns give the
    # direction); lfc_* use ε / 1000
    t = de.change_table(h1, h2, 0.1, de.DESettings())
    assert t["bayes_factor"][0] > 0 and t["bayes_factor"][2] > 0 > t["bayes_factor"][1]
    assert t["lfc_median"][0] > 0 > t["lfc_median"][2]
    barely = de.change_table(h1[:, 1:2] * 1.02, h2[:, 1:2], 0.0, de.DESettings())
    assert barely["proba_de"][0] < 0.5 and barely["bayes_factor"][0] < 0  # not "strongly down"
    np.testing.assert_allclose(
        t["lfc_mean"][0], np.mean(np.log2((h1[:, 0] + 1e-4) / (h2[:, 0] + 1e-4)))
    )


def test_vanilla_table_by_hand():
    h2 = np.array([[0.1, 0.2, 0.7], [0.2, 0.2, 0.6], [0.3, 0.1, 0.6], [0.1, 0.3, 0.6]])
    h1 = h2 * np.array([[2.0, 0.5, 1.0]]) + np.array(
        [[0, 0, 0.1], [0, 0, -0.1], [0, 0, 0.1], [0, 0, 0.1]]
    )
    t = de.change_table(h1, h2, 0.0, de.DESettings(mode="vanilla"))
    # gene 0 higher in group 1 in all 4 pairs, gene 1 in none, gene 2 in 3 of 4
    np.testing.assert_allclose(t["proba_m1"], [1.0, 0.0, 0.75])
    np.testing.assert_allclose(t["proba_m2"], [0.0, 1.0, 0.25])
    np.testing.assert_allclose(t["proba_de"], [1.0, 1.0, 0.75])
    np.testing.assert_allclose(
        t["bayes_factor"],
        [
            np.log(1 + 1e-8) - np.log(1e-8),
            np.log(1e-8) - np.log(1 + 1e-8),
            np.log(0.75 + 1e-8) - np.log(0.25 + 1e-8),
        ],
    )
    np.testing.assert_array_equal(t["is_de_bf_3"], [True, True, False])
    np.testing.assert_allclose(t["lfc_mean"][:2], [1.0, -1.0], atol=1e-12)  # as in change mode
    t = de.change_table(h1, h2, 0.0, de.DESettings(mode="vanilla", bayes_factor=1.0))
    np.testing.assert_array_equal(t["is_de_bf_1"], [True, True, True])  # log 3 ≥ 1


def test_change_table_in_gene_blocks_equals_one_block(monkeypatch):
    rng = np.random.default_rng(0)
    h1, h2 = rng.dirichlet(np.ones(7), 50), rng.dirichlet(np.ones(7), 50)
    whole = de.change_table(h1, h2, 1e-3, de.DESettings())
    from biovae.applications import de_table

    monkeypatch.setattr(de_table, "GENE_BLOCK", 3)
    blocks = de.change_table(h1, h2, 1e-3, de.DESettings())
    for key, value in whole.items():
        np.testing.assert_allclose(blocks[key], value, rtol=1e-12, atol=1e-15, err_msg=key)


def test_pseudocount_is_the_quantile_of_unexpressed_genes_largest_draws():
    h1 = np.array([[0.1, 0.01, 0.02, 0.87], [0.3, 0.03, 0.01, 0.66]])
    h2 = np.array([[0.5, 0.001, 0.002, 0.497], [0.4, 0.004, 0.001, 0.595]])
    absent = np.array([False, True, True, False])
    # group 1: maxima 0.03, 0.02 → 0.9 quantile 0.029; group 2: 0.004, 0.002 → 0.0038;
    # the larger over 4 genes
    assert de.estimate_pseudocount(h1, h2, absent, absent) == pytest.approx(0.029 / 4)
    assert de.estimate_pseudocount(h1, h2, ~absent & False, absent) == pytest.approx(0.0038 / 4)
    none = np.zeros(4, dtype=bool)
    assert de.estimate_pseudocount(h1, h2, none, none) == pytest.approx(1e-10)


def test_planted_fold_changes_are_found_and_the_batch_corrected_away(fitted):
    x, obs, est = fitted
    out = de.differential_expression(
        est, x, obs, groupby="group", group1="B", group2="A", batch_key="batch"
    )
    gene, p = _gene(out), out["proba_de"].to_numpy()
    called = set(gene[out["is_de_fdr_0.05"].to_numpy()])
    assert len(called & set(range(N_DE))) >= 14 and len(called - set(range(N_DE))) <= 1
    lfc = out["lfc_mean"].to_numpy()
    even, odd = gene < N_DE, gene < N_DE  # pairs: even genes lose a factor 4 in B, odd gain
    even &= gene % 2 == 0
    odd &= gene % 2 == 1
    assert np.all(lfc[even] < -1.2) and np.all(lfc[odd] > 1.2)
    batch_genes = np.isin(gene, list(BATCH_GENES))
    assert p[batch_genes].mean() < 0.15
    uncorrected = de.differential_expression(est, x, obs, groupby="group", group1="B", group2="A")
    pu = uncorrected["proba_de"].to_numpy()[np.isin(_gene(uncorrected), list(BATCH_GENES))]
    assert pu.mean() > p[batch_genes].mean() + 0.25


def test_two_halves_of_one_group_differ_in_nothing(fitted):
    x, obs, est = fitted
    rng = np.random.default_rng(1)
    half = np.where(obs["group"] == "A", np.where(rng.random(len(x)) < 0.5, "A1", "A2"), "B")
    out = de.differential_expression(
        est, x, {**obs, "half": half}, groupby="half", group1="A1", group2="A2", batch_key="batch"
    )
    assert not out["is_de_fdr_0.05"].any()
    assert out["proba_de"].max() < 0.5


def test_vanilla_mode_finds_the_planted_signs_and_not_the_batch(fitted):
    x, obs, est = fitted
    settings = de.DESettings(mode="vanilla")
    out = de.differential_expression(
        est, x, obs, groupby="group", group1="B", group2="A", batch_key="batch", settings=settings
    )
    assert out.attrs["mode"] == "vanilla" and "is_de_fdr_0.05" not in out
    gene, bf = _gene(out), out["bayes_factor"].to_numpy()
    planted = gene < N_DE
    assert np.all(bf[planted & (gene % 2 == 1)] > 3) and np.all(bf[planted & (gene % 2 == 0)] < -3)
    assert set(gene[:N_DE]) == set(range(N_DE))  # ranked first
    # the sign of a batch gene's change is a coin toss within a batch: none is called (the
    # batch pairing itself is checked in change mode, above)
    assert not out["is_de_bf_3"].to_numpy()[np.isin(gene, list(BATCH_GENES))].any()
    rng = np.random.default_rng(1)
    half = np.where(obs["group"] == "A", np.where(rng.random(len(x)) < 0.5, "A1", "A2"), "B")
    same = de.differential_expression(
        est,
        x,
        {**obs, "half": half},
        groupby="half",
        group1="A1",
        group2="A2",
        batch_key="batch",
        settings=settings,
    )
    assert not same["is_de_bf_3"].any()


def test_same_seed_same_table_and_attrs(fitted):
    x, obs, est = fitted
    settings = de.DESettings(n_samples=500, seed=3)
    a = de.differential_expression(est, x, obs, groupby="group", group1="A", settings=settings)
    b = de.differential_expression(est, x, obs, groupby="group", group1="A", settings=settings)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["n1"] == 300 and a.attrs["n2"] == 300 and a.attrs["group2"] == "rest"


def test_level_sums_match_numpy_for_dense_sparse_and_unions(fitted):
    import scipy.sparse as sp

    from biovae.applications.group_counts import level_sums

    x, obs, _ = fitted
    labels = np.where(np.arange(len(x)) % 7 == 0, "", obs["batch"])  # some unlabelled rows
    for matrix in (x, sp.csr_matrix(x)):
        sums = level_sums(matrix, labels)
        assert sums.levels == ("b1", "b2")
        for chosen in (["b1"], ["b1", "b2"]):
            rows = x[np.isin(labels, chosen)].astype(np.float64)
            raw = sums.summary(chosen)
            np.testing.assert_allclose(raw["raw_mean"], rows.mean(0), rtol=1e-9)
            np.testing.assert_allclose(raw["non_zeros_proportion"], (rows > 0).mean(0))
            cp10k = rows / rows.sum(1, keepdims=True) * 1e4
            np.testing.assert_allclose(raw["raw_normalized_mean"], cp10k.mean(0), rtol=1e-9)


def test_one_vs_rest_and_tl_wrapper(fitted):
    x, obs, est = fitted
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(x, obs=pd.DataFrame(obs, index=[f"c{i}" for i in range(len(x))]))
    out = tl.differential_expression(adata, est, groupby="group", n_samples=300)
    assert sorted(set(out["comparison"])) == ["A vs rest", "B vs rest"]
    assert len(out) == 2 * x.shape[1]
    one = tl.differential_expression(
        adata, est, groupby="group", group1="B", group2="A", batch_correction=True, n_samples=300
    )
    assert one.attrs["group2"] == "A"
    vanilla = tl.differential_expression(
        adata, est, groupby="group", group1="B", mode="vanilla", bayes_factor=2.0, n_samples=300
    )
    assert vanilla.attrs["mode"] == "vanilla" and "is_de_bf_2" in vanilla
    with pytest.raises(ConfigError, match="group2 needs group1"):
        tl.differential_expression(adata, est, groupby="group", group2="A")


def test_a_list_of_levels_is_compared_level_by_level_not_cut_to_its_first(fitted):
    """scvi-tools users pass group1=["A", "B"]: it was read as "A" alone, silently, and
    batch_correction="group" (a column name) silently corrected for the model's batch."""
    x, obs, est = fitted
    with pytest.raises(ConfigError, match="group1 names one level, got \\['A', 'B'\\]"):
        de.differential_expression(est, x, obs, groupby="group", group1=["A", "B"])
    with pytest.raises(ConfigError, match="group2 names one level"):
        de.differential_expression(est, x, obs, groupby="group", group1="A", group2=("B",))
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(x, obs=pd.DataFrame(obs, index=[f"c{i}" for i in range(len(x))]))
    out = tl.differential_expression(adata, est, groupby="group", group1=["B", "A"], n_samples=50)
    assert list(dict.fromkeys(out["comparison"])) == ["B vs rest", "A vs rest"]
    assert len(out) == 2 * x.shape[1]
    with pytest.raises(ConfigError, match=r"batch_correction is True or False.*got 'group'"):
        tl.differential_expression(
            adata, est, groupby="group", group1="A", batch_correction="group"
        )


def test_bad_requests_are_one_line_errors(fitted):
    x, obs, est = fitted
    with pytest.raises(DataError, match="no level 'C'"):
        de.differential_expression(est, x, obs, groupby="group", group1="C")
    with pytest.raises(DataError, match="no metadata column 'grp'"):
        de.differential_expression(est, x, obs, groupby="grp", group1="A")
    with pytest.raises(DataError, match="both 'A'"):
        de.differential_expression(est, x, obs, groupby="group", group1="A", group2="A")
    with pytest.raises(ConfigError, match="not a categorical covariate"):
        de.differential_expression(est, x, obs, groupby="group", group1="A", batch_key="group")
    with pytest.raises(DataError, match="at least two groups"):
        de.one_vs_rest(est, x, {**obs, "one": np.full(len(x), "z")}, groupby="one")
    with pytest.raises(DataError, match="no cells outside"):
        de.differential_expression(
            est, x, {**obs, "one": np.full(len(x), "z")}, groupby="one", group1="z"
        )
    for fdr in (-0.01, 1.0):
        with pytest.raises(ConfigError, match=r"fdr must be in \[0, 1\)"):
            de.DESettings(fdr=fdr)
    with pytest.raises(ConfigError, match="mode must be"):
        de.DESettings(mode="mean")
    with pytest.raises(ConfigError, match="bayes_factor must be"):
        de.DESettings(mode="vanilla", bayes_factor=0)
    gaussian = biovae.VAE(
        likelihood="gaussian",
        config=FitConfig(
            model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
            train=TrainConfig(epochs=1),
        ),
    ).fit(np.log1p(x[:64]), {k: v[:64] for k, v in obs.items()})
    ae = biovae.Autoencoder("nb", n_latent=2, hidden=(8,), epochs=1).fit(x[:64])
    with pytest.raises(ConfigError, match="fit a VAE"):
        de.differential_expression(
            ae, x[:64], {k: v[:64] for k, v in obs.items()}, groupby="group", group1="A"
        )
    with pytest.raises(ConfigError, match="count likelihood"):
        de.differential_expression(
            gaussian,
            np.log1p(x[:64]),
            {k: v[:64] for k, v in obs.items()},
            groupby="group",
            group1="A",
        )


def test_settings_of_a_wrong_type_are_one_line_errors():
    """n_samples=1e3 or seed=None (as tl.differential_expression passes them) failed deep in
    numpy or torch with a traceback; an infinite δ or ε gave a table of NaN or no calls."""
    for field, value, message in (
        ("n_samples", 1e3, "n_samples must be an integer"),
        ("n_samples", True, "n_samples must be an integer"),
        ("seed", None, "seed must be an integer"),
        ("delta", float("inf"), "delta must be a finite number"),
        ("pseudocount", float("inf"), "pseudocount must be a finite number"),
        ("threshold_counts", -1.0, "threshold_counts must be ≥ 0"),
    ):
        with pytest.raises(ConfigError, match=message):
            de.DESettings(**{field: value})
    assert de.DESettings(n_samples=np.int64(300), delta=1).n_samples == 300


def test_too_few_draws_names_the_command_line_flag():
    # `biovae de --samples 1` said "n_samples must be at least 2": no --samples in it
    with pytest.raises(ConfigError, match=r"n_samples \(CLI --samples\) must be at least 2, got 1"):
        de.DESettings(n_samples=1)


def test_data_left_on_disk_give_the_in_memory_table(tmp_path):
    pytest.importorskip("anndata")
    from biovae.data.readers import read_dataset
    from tests.conftest import FIXTURES

    path = FIXTURES / "cellbench_100x200.h5ad"
    memory, disk = read_dataset(path), read_dataset(path, stream=True)
    assert not isinstance(disk.x, np.ndarray) and not hasattr(disk.x, "tocsr")  # a RowStore
    cfg = FitConfig(
        model=ModelConfig(n_latent=3, network=NetworkConfig(hidden=(16,))),
        train=TrainConfig(epochs=3, batch_size=32),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    est = biovae.VAE(likelihood="nb", config=cfg).fit(memory)
    settings = de.DESettings(n_samples=300)
    a = de.one_vs_rest(est, memory, groupby="cell_line", batch_key="batch", settings=settings)
    b = de.one_vs_rest(est, disk, groupby="cell_line", batch_key="batch", settings=settings)
    for ta, tb in zip(a, b):
        pd.testing.assert_frame_equal(ta, tb, rtol=1e-6)


def test_semi_supervised_models_have_differential_expression_too():
    x, obs = simulate(seed=2)
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,))),
        train=TrainConfig(epochs=100, batch_size=64, seed=0),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    est = biovae.SemiSupervisedVAE("nb", labels_key="group", config=cfg).fit(x, obs)
    out = de.differential_expression(
        est, x, obs, groupby="group", group1="B", group2="A", batch_key="batch"
    )
    assert len(set(_gene(out)[:N_DE]) & set(range(N_DE))) >= 14  # ranked first
    called = set(_gene(out)[out["is_de_fdr_0.05"].to_numpy()])
    # the rule bounds the *expected* share of false calls (5 %): one in 17 is within it
    assert len(called & set(range(N_DE))) >= 14 and len(called - set(range(N_DE))) <= 1


def test_one_vs_rest_of_a_continuous_or_crowded_column_is_refused(fitted):
    """A column of nearly one level per cell (n_counts) ran one comparison per value."""
    x, obs, est = fitted
    counts = np.asarray(x).sum(1).round(1)
    assert len(set(counts)) > len(x) / 2
    with pytest.raises(DataError, match=r"levels among 600 cells \(a continuous or id column"):
        de.one_vs_rest(est, x, {**obs, "n_counts": counts}, groupby="n_counts")
    crowded = np.arange(len(x)) % 101  # 101 clusters of 5-6 cells
    with pytest.raises(DataError, match="101 levels among 600 cells"):
        de.one_vs_rest(est, x, {**obs, "cluster": crowded}, groupby="cluster")


def test_one_vs_rest_runs_numbered_clusters_in_numeric_order(fitted):
    """Clusters 0, 1, 2, 10 (as scanpy numbers them) ran as 0, 1, 10, 2."""
    from biovae.levels import natural_order

    assert natural_order({"10", "2", "b", "0", "a", "1.5", "nan"}) == (
        "0", "1.5", "2", "10", "a", "b", "nan"
    )  # fmt: skip
    x, obs, est = fitted
    cluster = np.array(["0", "1", "2", "10"] * (len(x) // 4 + 1))[: len(x)]
    tables = de.one_vs_rest(est, x, {**obs, "cluster": cluster}, groupby="cluster",
                            settings=de.DESettings(n_samples=20))  # fmt: skip
    assert [t.attrs["group1"] for t in tables] == ["0", "1", "2", "10"]
