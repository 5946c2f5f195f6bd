"""Reference mapping end to end: reference records keep their embedding and likelihood exactly,
the query gains over decoding it as any known batch, and the mapped model saves and loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import biovae
from biovae import tl
from biovae.cli.main import main
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError, DataError
from biovae.estimator import load_model
from biovae.query import map_query

G = 60


def _batches(seed: int = 0):
    """Three cell types (genes 0–9 up in B, 10–19 up in C) in batches b1, b2 (reference) and
    b3 (query) with gene-wise batch factors, b3's twice as strong."""
    rng = np.random.default_rng(seed)
    base = rng.gamma(2.0, 1.0, G)
    types = {"A": base, "B": base * np.r_[np.full(10, 6.0), np.ones(G - 10)]}
    types["C"] = base * np.r_[np.ones(10), np.full(10, 6.0), np.ones(G - 20)]
    factor = {b: np.exp(rng.normal(0, s, G)) for b, s in (("b1", 0.5), ("b2", 0.5), ("b3", 1.0))}

    def make(n, batch):
        t = rng.choice(list(types), n)
        share = np.stack([types[v] * factor[batch] for v in t])
        share /= share.sum(1, keepdims=True)
        lib = np.exp(rng.normal(np.log(2000), 0.3, n))
        x = rng.poisson(rng.gamma(10.0, share * lib[:, None] / 10)).astype(np.float32)
        return x, {"type": t.astype(object), "batch": np.full(n, batch, dtype=object)}

    (x1, o1), (x2, o2), query = make(300, "b1"), make(300, "b2"), make(200, "b3")
    ref = np.vstack([x1, x2]), {k: np.concatenate([o1[k], o2[k]]) for k in o1}
    return ref, query


@pytest.fixture(scope="module")
def mapped():
    (xr, orf), (xq, oq) = _batches()
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,), norm="batch")),
        train=TrainConfig(epochs=60, batch_size=64, seed=0),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    genes = [f"g{j}" for j in range(G)]  # named, so a query's gene names are checked
    named = biovae.data.dataset.Dataset(xr, [f"r{i}" for i in range(len(xr))], genes, orf)
    ref = biovae.VAE(likelihood="nb", config=cfg).fit(named)
    return ref, map_query(ref, xq, oq, epochs=100), (xr, orf), (xq, oq)


def test_reference_records_keep_embedding_and_likelihood_exactly(mapped):
    ref, q, (xr, orf), _ = mapped
    np.testing.assert_array_equal(q.transform(xr, orf), ref.transform(xr, orf))
    np.testing.assert_array_equal(
        q.score_samples(xr, orf, seed=3), ref.score_samples(xr, orf, seed=3)
    )
    assert q.schema_.covariates.categories == (("b1", "b2", "b3"),)


def test_query_fits_better_than_as_any_known_batch_and_lands_by_type(mapped):
    ref, q, (xr, orf), (xq, oq) = mapped
    mapped_elbo = q.score_samples(xq, oq, n_samples=5).mean()
    for known in ("b1", "b2"):
        as_known = {**oq, "batch": np.full(len(xq), known, dtype=object)}
        assert mapped_elbo > ref.score_samples(xq, as_known, n_samples=5).mean() + 3.0
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(15).fit(q.transform(xr, orf), orf["type"])
    assert (knn.predict(q.transform(xq, oq)) == oq["type"]).mean() > 0.95


def test_a_mapped_model_knows_the_features_of_its_reference(mapped):
    """map_query's model had no ``n_features_in_``: get_feature_names_out(names) failed with
    an AttributeError."""
    ref, q, _, _ = mapped
    assert q.n_features_in_ == ref.n_features_in_ == G
    assert list(q.feature_names_in_) == list(ref.feature_names_in_) == [f"g{j}" for j in range(G)]
    assert list(q.get_feature_names_out(ref.feature_names_in_)) == ["vae0", "vae1", "vae2", "vae3"]


def test_mapped_model_saves_loads_and_refuses_bad_queries(mapped, tmp_path):
    ref, q, (xr, orf), (xq, oq) = mapped
    q.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.transform(xq, oq), q.transform(xq, oq))
    assert loaded.mapping_ == q.mapping_ and q.mapping_["levels_added"] == {"batch": ["b3"]}
    assert q.mapping_["reference_n_train"] == ref.n_train_
    from biovae.reports.model_card import model_card_section

    rows = dict(model_card_section(loaded).tables[0].rows)
    assert "new levels (batch: b3)" in rows["Mapped"]
    assert "Mapped" not in dict(model_card_section(ref).tables[0].rows)
    with pytest.raises(DataError, match="already known"):
        map_query(ref, xr, orf)
    with pytest.raises(DataError, match=r"\(59,\) but the reference model was fitted on \(60,\)"):
        map_query(ref, xq[:, :-1], oq)
    renamed = biovae.data.dataset.Dataset(
        xq, [f"q{i}" for i in range(len(xq))], [f"g{j}" for j in reversed(range(G))], oq
    )
    with pytest.raises(DataError, match="feature 1 is 'g59' where the reference model has 'g0'"):
        map_query(ref, renamed)
    plain = biovae.VAE("nb", n_latent=2, hidden=(8,), epochs=1).fit(xq)
    with pytest.raises(ConfigError, match="categorical covariate"):
        map_query(plain, xq, oq)
    ae = biovae.Autoencoder("nb", n_latent=2, hidden=(8,), epochs=1).fit(xq)
    with pytest.raises(ConfigError, match=r"fitted biovae\.VAE or SemiSupervisedVAE"):
        map_query(ae, xq, oq)


def test_semi_supervised_reference_predicts_the_unlabelled_query(tmp_path):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    (xr, orf), (xq, oq) = _batches(seed=1)
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,))),
        train=TrainConfig(epochs=60, batch_size=64, seed=0),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    ref = biovae.SemiSupervisedVAE("nb", labels_key="type", config=cfg).fit(xr, orf)
    query_obs = {"batch": oq["batch"]}  # no labels in the query
    q = map_query(ref, xq, query_obs, epochs=60)
    assert type(q) is biovae.SemiSupervisedVAE and list(q.classes_) == list(ref.classes_)
    np.testing.assert_array_equal(q.predict_proba(xr, orf), ref.predict_proba(xr, orf))
    assert (q.predict(xq, query_obs) == oq["type"]).mean() > 0.95
    adata = anndata.AnnData(xq, obs=pd.DataFrame(query_obs, index=[f"q{i}" for i in range(200)]))
    adata.var_names = [f"f{j}" for j in range(G)]
    tl.map_query(adata, ref, epochs=2)
    assert {"X_biovae_label", "X_biovae_label_probability"} <= set(adata.obs.columns)


def test_tl_and_command_line(mapped, tmp_path, capsys):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    ref, _, _, (xq, oq) = mapped
    ids = [f"q{i}" for i in range(len(xq))]
    adata = anndata.AnnData(xq, obs=pd.DataFrame(oq, index=ids))
    adata.var_names = [f"f{j}" for j in range(G)]  # the reference's (numpy input) names
    out = tl.map_query(adata, ref, epochs=2)
    assert adata.obsm["X_biovae"].shape == (len(xq), 4) and out is not ref
    ref.save(tmp_path / "ref")
    adata.write_h5ad(tmp_path / "q.h5ad")
    args = ["map", str(tmp_path / "ref"), str(tmp_path / "q.h5ad"), "--out", str(tmp_path / "m")]
    assert main([*args, "--epochs", "2", "--quiet"]) == 0
    assert (tmp_path / "m" / "weights.safetensors").exists()
    capsys.readouterr()
    del adata.obs["batch"]  # the model's covariate is missing from the query
    adata.write_h5ad(tmp_path / "nobatch.h5ad")
    bad = ["map", str(tmp_path / "ref"), str(tmp_path / "nobatch.h5ad"), "--out"]
    assert main([*bad, str(tmp_path / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "batch" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mapping_and_differential_expression_of_a_cuda_fit():
    from biovae.applications.differential import DESettings, differential_expression

    (xr, orf), (xq, oq) = _batches()
    cfg = FitConfig(
        model=ModelConfig(n_latent=4, network=NetworkConfig(hidden=(32,), norm="batch")),
        train=TrainConfig(epochs=30, batch_size=64, seed=0, device="cuda"),
        data=DataConfig(categorical_covariates=("batch",)),
    )
    ref = biovae.VAE(likelihood="nb", config=cfg).fit(xr, orf)
    q = map_query(ref, xq, oq, epochs=30)  # trained on the GPU, returned on the CPU
    np.testing.assert_array_equal(q.transform(xr, orf), ref.transform(xr, orf))
    as_b1 = {**oq, "batch": np.full(len(xq), "b1", dtype=object)}
    assert (
        q.score_samples(xq, oq, n_samples=5).mean()
        > ref.score_samples(xq, as_b1, n_samples=5).mean()
    )
    table = differential_expression(
        q, xr, orf, groupby="type", group1="B", group2="A", settings=DESettings(n_samples=500)
    )
    top = set(table.index[:10])
    assert len(top & {f"f{j}" for j in range(10)}) >= 8  # genes 0–9 are up in B


def test_a_mapped_model_refitted_is_no_longer_a_mapping(mapped, tmp_path):
    import copy
    import json

    _, query, (xr, orf), _ = mapped
    refit = copy.deepcopy(query)
    assert refit.mapping_
    refit.set_params(config=biovae.config.FitConfig(train=TrainConfig(epochs=1))).fit(xr, orf)
    assert refit.mapping_ is None
    assert "mapping" not in json.loads((refit.save(tmp_path / "m") / "metadata.json").read_text())


def test_a_query_of_one_cell_maps_onto_a_batch_norm_reference(mapped):
    """The reference's batch norm stays in inference mode while the query trains, so a batch
    of one query cell is fine (a fit whose batch norm trains refuses batches of one)."""
    ref, _, _, (xq, oq) = mapped
    one = map_query(ref, xq[:1], {k: v[:1] for k, v in oq.items()}, epochs=1)
    assert one.transform(xq[:1], {k: v[:1] for k, v in oq.items()}).shape == (1, 4)


def test_a_gpu_trained_reference_maps_on_the_cpu(mapped, tmp_path, capsys):
    """A reference fitted with train.device 'cuda' maps where there is no GPU with device cpu
    (the error for the missing GPU says so; ``biovae map`` had no --device to follow it)."""
    import dataclasses

    ref, _, (xr, orf), (xq, oq) = mapped
    gpu = dataclasses.replace(ref.config_.train, device="cuda")
    ref_gpu = load_model(ref.save(tmp_path / "ref"))
    ref_gpu.config_ = dataclasses.replace(ref.config_, train=gpu)
    q = map_query(ref_gpu, xq[:20], {k: v[:20] for k, v in oq.items()}, epochs=1, device="cpu")
    np.testing.assert_array_equal(q.transform(xr, orf), ref.transform(xr, orf))
    assert q.config_.train.device == "cpu"
    ref_gpu.save(tmp_path / "ref_gpu")
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    adata = anndata.AnnData(
        xq[:20], obs=pd.DataFrame({"batch": oq["batch"][:20]}, index=[f"q{i}" for i in range(20)])
    )
    adata.var_names = [f"f{j}" for j in range(G)]
    adata.write_h5ad(tmp_path / "q.h5ad")
    args = ["map", str(tmp_path / "ref_gpu"), str(tmp_path / "q.h5ad"), "--epochs", "1"]
    assert main([*args, "--out", str(tmp_path / "m"), "--device", "cpu", "--quiet"]) == 0
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "bad"), "--device", "gpu", "--quiet"]) == 2
    assert "train.device 'gpu'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("typo", ["B1", "b1 ", " B2"])
def test_a_known_batch_typed_otherwise_is_not_mapped_as_a_new_one(mapped, typo):
    ref, _, _, (xq, _) = mapped
    obs = {"batch": np.array([typo] * 5 + ["b9"] * 5, dtype=object)}
    with pytest.raises(DataError, match="differ only in letter case or surrounding spaces"):
        map_query(ref, xq[:10], obs, epochs=1)
    twice = {"batch": np.array(["b9"] * 5 + ["B9"] * 5, dtype=object)}
    with pytest.raises(DataError, match="'B9' and 'b9' of 'batch' differ only"):
        map_query(ref, xq[:10], twice, epochs=1)


@pytest.mark.parametrize(
    "bad, field",
    [({"epochs": 2.5}, "epochs"), ({"epochs": True}, "epochs"), ({"seed": "7"}, "seed")],
)
def test_epochs_or_seed_of_a_wrong_type_are_refused_not_rounded(mapped, bad, field):
    """epochs=2.5 trained two epochs, True one, and seed="x" raised int()'s ValueError."""
    ref, _, _, (xq, oq) = mapped
    with pytest.raises(ConfigError, match=f"train.{field} must be an integer"):
        map_query(ref, xq[:10], {k: v[:10] for k, v in oq.items()}, **bad)


def test_a_query_of_no_records_is_refused_as_empty_not_as_all_known(mapped):
    ref, _, _, (xq, oq) = mapped
    with pytest.raises(DataError, match="0 records; give the query's records to map"):
        map_query(ref, xq[:0], {k: v[:0] for k, v in oq.items()}, epochs=1)


@pytest.mark.parametrize("gap", [None, np.nan, ""])
def test_a_query_cell_without_a_batch_is_refused_not_given_an_empty_level(mapped, gap):
    """A missing batch became a new level spelled "", which the error then offered as a level
    to fill in: "(b1, b2, , b9)", or "(b1, b2, )" when every batch was missing."""
    ref, _, _, (xq, _) = mapped
    some = {"batch": np.array(["b9"] * 9 + [gap], dtype=object)}
    with pytest.raises(DataError, match=r"'batch' is missing for record 10 \('9'; 1 record") as e:
        map_query(ref, xq[:10], some, epochs=1)
    assert "reference level (b1, b2) or a new one" in str(e.value)
    every = {"batch": np.array([gap] * 10, dtype=object)}
    with pytest.raises(DataError, match=r"'batch' is missing for record 1 \('0'; 10 record"):
        map_query(ref, xq[:10], every, epochs=1)


def test_samples_of_a_new_batch_draw_the_library_sizes_of_its_query_cells(tmp_path):
    """A mapped model sampled its new batch with the reference's pooled library sizes (here
    ~2,000 where the query's cells hold ~20,000): its per-batch log-normal is now fitted to the
    query's cells, as the reference's levels are to theirs."""
    (xr, orf), (xq, oq) = _batches()
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1, seed=0),
        data=DataConfig(batch_key="batch"),
    )
    ref = biovae.VAE(likelihood="nb", config=cfg).fit(xr, orf)
    deep = xq * 10  # ten times the reference's sequencing depth
    q = load_model(map_query(ref, deep, oq, epochs=1).save(tmp_path / "m"))
    log_lib = np.log(deep.sum(1, dtype=np.float64))
    stats = q.schema_.context_stats
    assert stats["log_library_mean|b3"] == pytest.approx(log_lib.mean(), rel=1e-12)
    assert stats["log_library_std|b3"] == pytest.approx(log_lib.std(), rel=1e-12)
    assert stats == {**ref.schema_.context_stats, **{k: stats[k] for k in stats if "|b3" in k}}
    drawn = np.log(q.sample(2000, {"batch": np.full(2000, "b3")}, seed=0).sum(1))
    assert drawn.mean() == pytest.approx(log_lib.mean(), abs=0.03)
    assert drawn.std() == pytest.approx(log_lib.std(), rel=0.15)
