"""AnnData adapter: ``biovae.tl.vae`` writes obsm/uns and reads layers and batch keys."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import DataError

anndata = pytest.importorskip("anndata")


def _cfg():
    return FitConfig(
        model=ModelConfig(network=NetworkConfig(hidden=(16,))),
        train=TrainConfig(epochs=3, batch_size=32),
    )


def test_tl_vae_writes_obsm_and_uns(fixtures):
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    batch_key = next(c for c in adata.obs.columns if adata.obs[c].nunique() == 2)
    adata.layers["counts"] = adata.X.copy()
    adata.X = adata.X * 0  # make sure the layer, not X, is used
    est = biovae.tl.vae(adata, layer="counts", batch_key=batch_key, n_latent=4, config=_cfg())
    assert adata.obsm["X_biovae"].shape == (adata.n_obs, 4)
    assert np.isfinite(adata.obsm["X_biovae"]).all()
    assert adata.uns["X_biovae"]["batch_key"] == batch_key
    assert est.schema_.covariates.categorical == (batch_key,)
    assert np.ptp(adata.obsm["X_biovae"], axis=0).min() > 0


def test_tl_vae_takes_what_the_config_sets_and_arguments_win(fixtures):
    from biovae.config import DataConfig, LikelihoodConfig

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    adata.layers["counts"] = adata.X.copy()
    adata.X = adata.X * 0.5  # not counts: only the layer can be read
    cfg = FitConfig(
        model=ModelConfig(n_latent=3, likelihood=LikelihoodConfig("zinb")),
        train=TrainConfig(epochs=2, batch_size=32, seed=5),
        data=DataConfig(batch_key="batch", layer="counts"),
    )
    est = biovae.tl.vae(adata, config=cfg)
    used = est.config_
    assert (used.model.likelihood.name, used.model.n_latent, used.train.seed) == ("zinb", 3, 5)
    assert est.schema_.covariates.categorical == ("batch",)
    assert adata.uns["X_biovae"]["likelihood"] == "zinb" and adata.uns["X_biovae"]["seed"] == 5
    est = biovae.tl.vae(adata, config=cfg, likelihood="nb", n_latent=2, batch_key="cell_line")
    assert (est.config_.model.likelihood.name, est.config_.model.n_latent) == ("nb", 2)
    assert est.schema_.covariates.categorical == ("cell_line",)
    est = biovae.tl.vae(adata, config=cfg, epochs=1)  # as VAE(epochs=); was a TypeError
    assert est.config_.train.epochs == 1 and adata.uns["X_biovae"]["epochs"] == 1
    assert est.config_.train.seed == 5  # the rest of the config as it was
    default = FitConfig(train=TrainConfig(epochs=1), data=DataConfig(layer="counts"))
    assert biovae.tl.vae(adata, config=default).config_.model.likelihood.name == "nb"


def test_tl_vae_with_labels_writes_predictions_to_obs(fixtures):
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    truth = adata.obs["cell_line"].astype(str).to_numpy()
    adata.obs["partial"] = np.where(np.arange(adata.n_obs) % 4 == 0, truth, "Unknown")
    est = biovae.tl.vae(
        adata,
        batch_key="batch",
        labels_key="partial",
        unlabeled_category="Unknown",
        n_latent=4,
        config=_cfg(),
    )
    assert isinstance(est, biovae.SemiSupervisedVAE)
    levels = ["H1975", "H2228", "HCC827"]
    assert list(est.classes_) == levels and adata.uns["X_biovae"]["label_levels"] == levels
    assert set(adata.obs["X_biovae_label"]) <= set(levels)
    p = adata.obs[[f"X_biovae_p_{lv}" for lv in levels]].to_numpy()
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(adata.obs["X_biovae_label_probability"], p.max(1))
    assert adata.obsm["X_biovae"].shape == (adata.n_obs, 4)
    adata.obs["partial"] = np.where(np.isin(truth, levels[:2]), truth, "Unknown")
    adata.obs["X_biovae_p_value"] = 0.5  # the user's own column, which no fit wrote
    biovae.tl.vae(adata, labels_key="partial", n_latent=2, config=_cfg())
    assert "X_biovae_p_value" in adata.obs  # not taken for an earlier fit's probability
    adata.obs.drop(columns="X_biovae_p_value", inplace=True)
    assert [c for c in adata.obs if c.startswith("X_biovae_p_")] == [
        f"X_biovae_p_{lv}" for lv in levels[:2]
    ]  # the first fit's third level is gone
    biovae.tl.vae(adata, n_latent=2, config=_cfg())  # unsupervised under the same key
    assert not [c for c in adata.obs if str(c).startswith("X_biovae_")]  # no stale labels
    assert "label_levels" not in adata.uns["X_biovae"]


def test_tl_refuses_a_view_of_a_backed_file_before_fitting(fixtures, tmp_path):
    import shutil

    from biovae.errors import DataError

    path = shutil.copy(fixtures / "cellbench_100x200.h5ad", tmp_path / "c.h5ad")
    view = anndata.read_h5ad(path, backed="r")[:50]
    with pytest.raises(DataError, match=r"view of a backed file.*to_memory\(\)"):
        biovae.tl.vae(view, config=_cfg())


def test_tl_map_query_replaces_what_an_earlier_fit_wrote_and_can_be_saved(fixtures, tmp_path):
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    ref = adata[adata.obs["batch"] == "celseq2"].copy()
    query = adata[adata.obs["batch"] == "dropseq"].copy()
    query.obs["lower"] = query.obs["cell_line"].astype(str).str.lower()
    biovae.tl.vae(query, labels_key="lower", n_latent=2, config=_cfg())  # an earlier fit
    est = biovae.tl.vae(ref, batch_key="batch", labels_key="cell_line", n_latent=2, config=_cfg())
    mapped = biovae.tl.map_query(query, est, epochs=1)
    assert [c for c in query.obs if str(c).startswith("X_biovae_p_")] == [
        f"X_biovae_p_{lv}" for lv in est.classes_
    ]  # no stale levels of the earlier fit
    uns = query.uns["X_biovae"]
    assert uns["labels_key"] == "cell_line" and uns["fingerprint"] == mapped.fingerprint_
    assert uns["reference_fingerprint"] == est.fingerprint_
    query.write_h5ad(tmp_path / "q.h5ad")


def test_tl_refuses_a_view_of_a_backed_file_before_mapping_or_pseudotime(fixtures, tmp_path):
    from biovae.errors import DataError

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    est = biovae.tl.vae(
        adata[adata.obs["batch"] == "celseq2"].copy(), batch_key="batch", n_latent=2, config=_cfg()
    )
    biovae.tl.vae(adata, n_latent=2, config=_cfg())
    adata.write_h5ad(tmp_path / "c.h5ad")
    backed = anndata.read_h5ad(tmp_path / "c.h5ad", backed="r")
    view = backed[(backed.obs["batch"] == "dropseq").to_numpy()]
    with pytest.raises(DataError, match=r"view of a backed file.*to_memory\(\)"):
        biovae.tl.map_query(view, est, epochs=1)
    with pytest.raises(DataError, match=r"view of a backed file.*to_memory\(\)"):
        biovae.tl.pseudotime(view)


def test_expression_and_diagnose_errors_and_inputs(fixtures):
    from biovae.diagnose import DiagnoseOptions, diagnose
    from biovae.errors import ConfigError, DataError

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    vae = biovae.VAE("nb", n_latent=2, config=_cfg()).fit(adata)
    with pytest.raises(ConfigError, match="conditioned on a batch"):
        biovae.tl.expression(adata, vae, reference_batch="celseq2")
    with pytest.raises(ConfigError, match="batch_key names the covariate of reference_batch"):
        biovae.tl.expression(adata, vae, batch_key="batch")
    assert "biovae_denoised" not in adata.layers and "biovae_denoised" not in adata.uns
    pca = biovae.PCA(n_latent=2, likelihood="nb").fit(adata)
    with pytest.raises(ConfigError, match="not a probabilistic PCA"):
        biovae.tl.expression(adata, pca)
    options = DiagnoseOptions(iwae_k=5, gap_records=5, gap_steps=2, ppc_replicates=0)
    assert diagnose(vae, adata, options)["records"] == adata.n_obs  # an AnnData, not a Dataset
    bad = adata.copy()
    bad.X = bad.X.toarray().astype(np.float32)
    bad.X[3, 7] = np.inf
    with pytest.raises(DataError, match=r"record '.*', feature '.*' is infinite"):
        vae.transform(bad)


def test_a_label_with_a_slash_gets_a_column_h5ad_can_hold(fixtures, tmp_path):
    import warnings

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    truth = adata.obs["cell_line"].astype(str).str.replace("H2228", "CD4+/CD25 T Reg")
    adata.obs["partial"] = np.where(np.arange(adata.n_obs) % 4 == 0, truth, "Unknown")
    biovae.tl.vae(adata, labels_key="partial", unlabeled_category="Unknown", config=_cfg())
    assert "X_biovae_p_CD4+_CD25 T Reg" in adata.obs  # pbmc68k has such a level
    assert not [c for c in adata.obs if "/" in str(c)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # anndata warns of '/' in names
        adata.write_h5ad(tmp_path / "a.h5ad")


def test_levels_that_would_share_a_probability_column_are_refused_with_nothing_written(fixtures):
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    truth = adata.obs["cell_line"].astype(str).str.replace("H1975", "A/B")
    adata.obs["partial"] = truth.str.replace("H2228", "A_B").to_numpy()
    adata.obs["X_biovae_label"] = "from an earlier fit"
    with pytest.raises(DataError, match=r"'A/B' and 'A_B' would both be written to obs column"):
        biovae.tl.vae(adata, labels_key="partial", config=_cfg())
    assert "X_biovae" not in adata.obsm and "X_biovae" not in adata.uns
    assert (adata.obs["X_biovae_label"] == "from an earlier fit").all()


def test_an_unlabelled_category_without_labels_is_refused_not_ignored(fixtures):
    from biovae.errors import ConfigError

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    with pytest.raises(ConfigError, match="unlabeled_category 'Unknown' is only used by the semi"):
        biovae.tl.vae(adata, unlabeled_category="Unknown", config=_cfg())
    assert "X_biovae" not in adata.obsm


# "." was taken: an h5ad file written with it could not be read back (TypeError in read_h5ad)
@pytest.mark.parametrize("key", [5, None, "", "X/biovae", ".", "X\0biovae"])
def test_a_key_h5ad_cannot_hold_is_refused_before_fitting_or_writing(fixtures, key):
    from biovae.errors import ConfigError

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    with pytest.raises(ConfigError, match="key_added must be a non-empty name without '/'"):
        biovae.tl.vae(adata, key_added=key, config=_cfg())
    est = biovae.tl.vae(adata, n_latent=2, config=_cfg())
    for call in (
        lambda: biovae.tl.expression(adata, est, key_added=key),
        lambda: biovae.tl.pseudotime(adata, key_added=key),
        lambda: biovae.tl.map_query(adata, est, key_added=key),
        lambda: biovae.tl.write_latent(adata, est, adata.obsm["X_biovae"], key_added=key),
    ):
        with pytest.raises(ConfigError, match="key_added must be"):
            call()
    assert list(adata.obsm) == ["X_biovae"] and list(adata.layers) == []


def test_an_unsupervised_fit_keeps_a_label_column_no_labelled_fit_wrote(fixtures, tmp_path):
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    adata.obs["X_biovae_label"] = adata.obs["cell_line"]  # the user's own, e.g. from a paper
    biovae.tl.vae(adata, n_latent=2, config=_cfg())
    assert (adata.obs["X_biovae_label"] == adata.obs["cell_line"]).all()
    adata.write_h5ad(tmp_path / "a.h5ad")


def test_uns_names_the_model_kind_and_an_autoencoders_objective_as_what_it_is(fixtures):
    """uns recorded an autoencoder's log p(x | z = f(x)) as "elbo" and no model kind."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    biovae.tl.vae(adata, n_latent=2, config=_cfg())
    assert adata.uns["X_biovae"]["model"] == "vae" and "elbo" in adata.uns["X_biovae"]
    ae = biovae.Autoencoder(likelihood="nb", n_latent=2, epochs=1).fit(adata)
    biovae.tl.write_latent(adata, ae, ae.transform(adata))
    uns = adata.uns["X_biovae"]
    assert uns["model"] == "ae" and "elbo" not in uns and np.isfinite(uns["log_px_z"])


def test_an_array_is_refused_in_one_line_not_an_attribute_error():
    from biovae.errors import ConfigError

    with pytest.raises(ConfigError, match="writes results into an AnnData, not a ndarray"):
        biovae.tl.vae(np.ones((10, 4)), config=_cfg())


def test_a_missing_layer_a_model_reads_says_where_to_put_the_counts(fixtures):
    """tl.expression, tl.differential_expression and tl.map_query take no layer: the error
    for the model's missing layer told the user to pass one."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    adata.layers["counts"] = adata.X.copy()
    est = biovae.tl.vae(adata, layer="counts", batch_key="batch", n_latent=2, config=_cfg())
    del adata.layers["counts"]
    where = r"put the counts in adata\.layers\['counts'\]"
    with pytest.raises(DataError, match=where):
        biovae.tl.expression(adata, est)
    with pytest.raises(DataError, match=where):
        biovae.tl.differential_expression(adata, est, groupby="cell_line", group1="H1975")


def test_a_config_that_is_not_a_fitconfig_is_refused_in_one_line(fixtures):
    """A dict as config (as scvi-tools' setup takes keyword dicts) failed with AttributeError."""
    from biovae.errors import ConfigError

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    with pytest.raises(ConfigError, match=r"config must be a biovae\.config\.FitConfig, got dict"):
        biovae.tl.vae(adata, config={"train": {"epochs": 1}})
    assert "X_biovae" not in adata.obsm


def test_names_that_are_not_text_are_refused_in_one_line_not_a_type_error(fixtures):
    """groupby, root_key and use_rep given as lists failed with TypeError: unhashable type."""
    from biovae.errors import ConfigError

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    est = biovae.tl.vae(adata, n_latent=2, config=_cfg())
    with pytest.raises(ConfigError, match=r"groupby names one key.*got \['cell_line'\]"):
        biovae.tl.differential_expression(adata, est, groupby=["cell_line"])
    with pytest.raises(ConfigError, match=r"root_key names one key.*got \['batch'\]"):
        biovae.tl.pseudotime(adata, root_key=["batch"], root_value="celseq2")
    with pytest.raises(ConfigError, match=r"use_rep names one key.*got \['X_biovae'\]"):
        biovae.tl.pseudotime(adata, use_rep=["X_biovae"])
    assert "biovae_pseudotime" not in adata.obs


def test_pseudotime_reads_a_sparse_embedding_and_its_errors_name_the_arguments(fixtures):
    """A sparse obsm entry failed with ValueError (setting an array element with a sequence);
    a bad root told a Python user to fix --root-value."""
    import scipy.sparse as sp

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    biovae.tl.vae(adata, n_latent=2, config=_cfg())
    adata.obsm["X_sparse"] = sp.csr_matrix(adata.obsm["X_biovae"])
    biovae.tl.pseudotime(adata)
    biovae.tl.pseudotime(adata, use_rep="X_sparse", key_added="pt_sparse")
    np.testing.assert_array_equal(adata.obs["pt_sparse"], adata.obs["biovae_pseudotime"])
    with pytest.raises(DataError, match=r"fix root_value \(--root-value\)"):
        biovae.tl.pseudotime(adata, root_key="batch", root_value="nope")
    with pytest.raises(DataError, match=r"a group with root_key/root_value"):
        biovae.tl.pseudotime(adata, root="nope")


def test_uns_says_which_epoch_the_weights_are_from(fixtures):
    """uns recorded the epochs trained and the last epoch's ELBO, with no word of the epoch
    whose weights were kept (the best validation epoch), which the embedding comes from."""
    from biovae.training.history import kept_epoch

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    cfg = dataclasses.replace(
        _cfg(), train=dataclasses.replace(_cfg().train, epochs=6, validation_fraction=0.2)
    )
    est = biovae.tl.vae(adata, n_latent=2, config=cfg)
    uns = adata.uns["X_biovae"]
    assert uns["epochs"] == len(est.history_)
    assert uns["kept_epoch"] == kept_epoch(est.history_, 1.0, "elbo")


def test_a_view_is_made_an_anndata_of_its_own_with_a_warning_as_scanpy_does(fixtures):
    """tl.vae and tl.map_query on adata[mask] made the view actual without a word (through
    an obs.drop on it), so results written to a subset passed inline were lost silently;
    tl.expression and tl.pseudotime warned (anndata's own warning)."""
    from anndata import ImplicitModificationWarning

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    ref = adata.obs["batch"] == "celseq2"
    view = adata[ref]
    with pytest.warns(ImplicitModificationWarning, match=r"view of an AnnData.*adata\[mask\]") as w:
        est = biovae.tl.vae(view, batch_key="batch", n_latent=2, config=_cfg())
    assert [r.filename for r in w if r.category is ImplicitModificationWarning] == [__file__]
    assert not view.is_view and view.obsm["X_biovae"].shape == (int(ref.sum()), 2)
    assert "X_biovae" not in adata.obsm and "X_biovae" not in adata.uns  # the parent is as it was
    query = adata[~ref]
    with pytest.warns(ImplicitModificationWarning, match=r"sub = adata\[mask\]\.copy\(\)"):
        biovae.tl.map_query(query, est, epochs=1)
    assert not query.is_view and query.obsm["X_biovae"].shape == (int((~ref).sum()), 2)
    refused = adata[ref]
    with pytest.raises(DataError, match=r"adata\.obsm has no 'nope'"):
        biovae.tl.pseudotime(refused, use_rep="nope")
    assert refused.is_view  # a refused call leaves the view as it was, without a warning
    for call in (biovae.tl.pseudotime, lambda a: biovae.tl.expression(a, est)):
        with pytest.warns(ImplicitModificationWarning, match=r"biovae\.tl got a view"):
            call(view[:20])  # view has X_biovae now
    sub = adata[ref].copy()  # its own AnnData already: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImplicitModificationWarning)
        biovae.tl.vae(sub, n_latent=2, config=_cfg())
    assert "X_biovae" not in adata.obsm


def test_x_and_the_layers_are_only_read_not_changed_in_place(fixtures):
    """The README says so (there is no copy=): float32 X is handed to torch without a copy, so
    any in-place step of the fit would show in the user's matrix."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    counts = adata.X.toarray().astype(np.float32)
    adata.X, adata.layers["counts"] = counts, counts.copy()
    x, layer = adata.X, adata.layers["counts"]
    biovae.tl.vae(adata, batch_key="batch", labels_key="cell_line", n_latent=2, config=_cfg())
    biovae.tl.vae(adata, layer="counts", likelihood="gaussian", key_added="X_g", config=_cfg())
    assert adata.X is x and adata.layers["counts"] is layer
    np.testing.assert_array_equal(x, counts)
    np.testing.assert_array_equal(layer, counts)


def test_an_unlabeled_category_the_column_declares_but_no_cell_holds_is_accepted(fixtures):
    """Labels kept as a categorical of a fixed vocabulary (or an R factor's levels) may declare
    an "Unassigned" that no cell holds: it was refused as a misspelling ("matches no entry")."""
    import pandas as pd

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    levels = ["H1975", "H2228", "HCC827", "Unassigned"]
    adata.obs["partial"] = pd.Categorical(adata.obs["cell_line"].astype(str), categories=levels)
    est = biovae.tl.vae(adata, labels_key="partial", unlabeled_category="Unassigned", config=_cfg())
    assert list(est.classes_) == levels[:3]
    assert est.schema_.labels.unlabeled == "Unassigned"  # new data's "Unassigned" cells
    with pytest.raises(DataError, match="matches no entry"):  # a typo is still refused
        biovae.tl.vae(adata, labels_key="partial", unlabeled_category="Unasigned", config=_cfg())


def test_counts_refused_in_x_point_to_adata_raw_when_it_is_there(fixtures):
    """scanpy keeps counts in adata.raw and log-normalised values in X: the refusal named only
    a layer (there was none) and not the raw counts beside it."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    adata.raw = adata.copy()
    adata.X = np.log1p(adata.X.toarray())
    with pytest.raises(DataError, match=r"not a whole number.*raw\.X \(adata\.raw, 200 genes\)"):
        biovae.tl.vae(adata, config=_cfg())
    adata.layers["counts"] = adata.raw[:, adata.var_names].X  # as the message says
    est = biovae.tl.vae(adata, layer="counts", config=_cfg())
    with pytest.raises(DataError, match=r"adata\.raw") as refused:
        biovae.VAE(likelihood="nb", config=_cfg()).fit(adata)  # the estimators say it too
    assert len(str(refused.value).splitlines()) == 1
    logged = adata.copy()
    logged.layers["counts"] = logged.X  # a layer named: it is what was asked for, not raw
    with pytest.raises(DataError, match="not a whole number") as refused:
        est.transform(logged)
    assert "adata.raw" not in str(refused.value)


def test_messages_shared_with_the_command_line_name_the_python_spelling_too(fixtures):
    """On the Python path the errors and warnings named only command-line flags ("check
    --batch-key/...", "a number belongs in --continuous-covariates", "--layer"); each names
    both spellings, in one line, and the warning points at the caller's line, not estimator.py."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    with pytest.raises(DataError, match=r"column 'nope' not found") as missing:
        biovae.tl.vae(adata, batch_key="nope", config=_cfg())
    for both in ("--batch-key (batch_key)", "--continuous-covariates (config.data.continuous_"):
        assert both in str(missing.value)
    halves = adata.copy()
    halves.X = halves.X * 0.5  # not counts; an id column as the batch, warned of first
    halves.obs["cell_id"] = [f"c{i}" for i in range(halves.n_obs)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match=r"--layer \(layer\)") as counts:
            biovae.tl.vae(halves, batch_key="cell_id", config=_cfg())
    crowded = [r for r in w if "levels among" in str(r.message)]
    assert len(crowded) == 1 and crowded[0].filename == __file__
    assert "--continuous-covariates (config.data.continuous_covariates)" in str(crowded[0].message)
    assert "--likelihood (likelihood)" in str(counts.value)
    assert all("\n" not in str(m) for m in (missing.value, counts.value, crowded[0].message))


def test_the_config_an_estimator_shows_names_the_likelihood_it_fitted(fixtures):
    """tl.vae fitted NB with likelihood='nb' beside a config reading 'gaussian': repr and
    get_params showed a Gaussian config, and the config shown, given to an estimator (as a
    user copying it would), fitted a Gaussian model. The config now names NB, and nothing
    else of the default fit changed."""
    from biovae.config import LikelihoodConfig

    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    est = biovae.tl.vae(adata, n_latent=2, config=_cfg())
    assert est.config_.model.likelihood.name == "nb"
    shown = est.get_params()["config"]
    assert shown.model.likelihood == LikelihoodConfig("nb") and "gaussian" not in repr(est)
    assert biovae.VAE(config=shown).get_config().model.likelihood.name == "nb"
    assert est.get_config() == dataclasses.replace(
        _cfg(),
        model=dataclasses.replace(_cfg().model, n_latent=2, likelihood=shown.model.likelihood),
    )
    sklearn_base = pytest.importorskip("sklearn.base")
    assert sklearn_base.clone(est).get_config() == est.get_config()
    zinb = biovae.tl.vae(adata, likelihood="zinb", n_latent=2, config=_cfg())
    assert zinb.get_params()["config"].model.likelihood.name == "zinb" == zinb.likelihood


def test_repeated_gene_names_are_warned_of_once_at_the_callers_line(fixtures):
    """tl.vae warned twice (fit, then transform) and at '<string>' (a dataclass's __init__),
    not at the line that called it; a labelled fit and fit_transform read the data again too."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    names = list(adata.var_names)
    names[1] = names[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata's own note on names that repeat
        adata.var_names = names
    ssvae = dict(labels_key="cell_line", n_latent=2, config=_cfg())
    calls = (
        lambda: biovae.tl.vae(adata, batch_key="batch", n_latent=2, config=_cfg()),
        lambda: biovae.tl.vae(adata, **ssvae),
        lambda: biovae.VAE(n_latent=2, config=_cfg()).fit_transform(adata),
    )
    for call in calls:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            call()
        repeated = [r for r in w if "feature names repeat" in str(r.message)]
        assert [r.filename for r in repeated] == [__file__]


def test_a_batch_not_seen_in_training_points_to_reference_mapping(fixtures):
    """The error said "refit the model or map it to a known level"; reference mapping, which
    places new batches on the model, was not named (Python: tl.map_query, CLI: biovae map)."""
    adata = anndata.read_h5ad(fixtures / "cellbench_100x200.h5ad")
    est = biovae.tl.vae(adata, batch_key="batch", n_latent=2, config=_cfg())
    query = adata[:20].copy()
    query.obs["batch"] = "new_platform"
    with pytest.raises(DataError, match=r"'new_platform' not seen in training") as unseen:
        est.transform(query)
    message = str(unseen.value)
    assert "biovae.tl.map_query" in message and "biovae map" in message and "\n" not in message
    biovae.tl.map_query(query, est, epochs=1)  # the advice works
    assert query.obsm["X_biovae"].shape == (20, 2)
