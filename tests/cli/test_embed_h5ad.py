"""``biovae embed --out *.h5ad``: DATA annotated as ``biovae.tl.vae`` annotates an AnnData
(obsm['X_biovae'], uns['X_biovae'], label predictions in obs, a linear decoder's loadings in
varm) — AnnData in, AnnData out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.cli._run import run
from tests.conftest import FIXTURES, needs_anndata

DATA = FIXTURES / "cellbench_100x200.h5ad"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    needs_anndata()
    from biovae.cli.main import main

    folder = tmp_path_factory.mktemp("emb")
    base = ["fit", str(DATA), "--likelihood", "nb", "--epochs", "2", "--hidden", "16", "--quiet"]
    assert main([*base, "--latent", "3", "--batch-key", "batch", "--out", str(folder / "v")]) == 0
    ss = ["--model", "ssvae", "--labels-key", "cell_line", "--latent", "2"]
    assert main([*base, *ss, "--out", str(folder / "s")]) == 0
    linear = ["--decoder", "linear", "--latent", "2", "--batch-key", "batch"]
    assert main([*base, *linear, "--out", str(folder / "l")]) == 0
    return folder


@pytest.mark.parametrize("kind", ["v", "s"])
def test_the_annotated_copy_holds_what_the_table_holds(models, tmp_path, capsys, kind):
    import anndata as ad

    table, annotated = tmp_path / "z.csv", tmp_path / "a.h5ad"
    assert run(capsys, "embed", models / kind, DATA, "--out", table)[0] == 0
    rc, out, _ = run(capsys, "embed", models / kind, DATA, "--out", annotated)
    assert rc == 0 and out.split() == [str(annotated)]
    got, given, rows = ad.read_h5ad(annotated), ad.read_h5ad(DATA), pd.read_csv(table)
    z = rows[[c for c in rows.columns if c.startswith("z_")]].to_numpy()
    np.testing.assert_allclose(got.obsm["X_biovae"], z, rtol=1e-5, atol=1e-6)
    assert got.uns["X_biovae"]["likelihood"] == "nb"
    dense = [m.toarray() if hasattr(m, "toarray") else m for m in (got.X, given.X)]
    np.testing.assert_array_equal(*dense)  # DATA itself is unchanged
    assert set(given.obs.columns) <= set(got.obs.columns)
    if kind == "s":
        assert list(got.obs["X_biovae_label"].astype(str)) == list(rows["predicted_label"])
        p = got.obs[[c for c in got.obs.columns if c.startswith("X_biovae_p_")]].to_numpy()
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    else:
        assert "X_biovae_label" not in got.obs


def test_an_h5ad_output_needs_an_h5ad_input(models, tmp_path, capsys):
    table = FIXTURES / "crc_abundance_60x50.tsv"
    for data, name in ((table, "a.h5ad"), (DATA, "a.h5ad.gz")):
        rc, _, err = run(capsys, "embed", models / "v", data, "--out", tmp_path / name)
        assert rc == 2 and "DATA must be an .h5ad file" in err
    assert not list(tmp_path.iterdir())


def test_cells_named_by_an_id_column_or_an_h5ad_named_h5_are_annotated(models, tmp_path, capsys):
    # with --id-column the cells were refused as "read in another order" (they were not), and
    # an .h5ad file named .h5 was refused as not an .h5ad although --format h5ad said it was
    import anndata as ad

    given = ad.read_h5ad(DATA)
    given.obs["cell"] = [f"c{i}" for i in range(given.n_obs)]
    given.write_h5ad(tmp_path / "named.h5ad")
    out = tmp_path / "a.h5ad"
    args = ["--id-column", "cell", "--out", out]
    assert run(capsys, "embed", models / "v", tmp_path / "named.h5ad", *args)[0] == 0
    assert ad.read_h5ad(out).obsm["X_biovae"].shape == (given.n_obs, 3)
    given.write_h5ad(tmp_path / "named.h5")
    args = ["--format", "h5ad", "--out", tmp_path / "b.h5ad"]
    assert run(capsys, "embed", models / "v", tmp_path / "named.h5", *args)[0] == 0
    got = ad.read_h5ad(tmp_path / "b.h5ad")
    np.testing.assert_allclose(got.obsm["X_biovae"], ad.read_h5ad(out).obsm["X_biovae"])


def test_a_linear_decoder_annotates_its_loadings_as_tl_vae_does(models, tmp_path, capsys):
    import anndata as ad

    table, annotated = tmp_path / "loadings.csv", tmp_path / "a.h5ad"
    assert run(capsys, "loadings", models / "l", "--out", table)[0] == 0
    assert run(capsys, "embed", models / "l", DATA, "--out", annotated)[0] == 0
    want = pd.read_csv(table, index_col=0)
    got = ad.read_h5ad(annotated)
    assert list(want.index) == list(got.var_names)
    np.testing.assert_allclose(got.varm["X_biovae_loadings"], want.to_numpy(), rtol=1e-5, atol=1e-6)
    rc, _, _ = run(capsys, "embed", models / "v", annotated, "--out", tmp_path / "b.h5ad")
    assert rc == 0 and "X_biovae_loadings" not in ad.read_h5ad(tmp_path / "b.h5ad").varm


def test_embeds_under_two_keys_keep_both_and_the_default_key_stays(models, tmp_path, capsys):
    # without --key-added a second embed into the first's output replaced its obsm/uns
    import anndata as ad

    alone, first, both = (tmp_path / n for n in ("alone.h5ad", "first.h5ad", "both.h5ad"))
    assert run(capsys, "embed", models / "s", DATA, "--out", alone)[0] == 0
    args = ["--out", first, "--key-added", "X_cvae"]
    assert run(capsys, "embed", models / "v", DATA, *args)[0] == 0
    assert run(capsys, "embed", models / "s", first, "--out", both)[0] == 0
    cvae, ss, got = ad.read_h5ad(first), ad.read_h5ad(alone), ad.read_h5ad(both)
    assert list(ss.obsm) == ["X_biovae"] and list(ss.uns) == ["X_biovae"]  # the default
    assert set(got.obsm) == {"X_cvae", "X_biovae"} and set(got.uns) == {"X_cvae", "X_biovae"}
    np.testing.assert_array_equal(got.obsm["X_cvae"], cvae.obsm["X_cvae"])
    np.testing.assert_array_equal(got.obsm["X_biovae"], ss.obsm["X_biovae"])
    assert (got.uns["X_cvae"]["model"], got.uns["X_cvae"]["batch_key"]) == ("vae", "batch")
    assert (got.uns["X_biovae"]["model"], got.uns["X_biovae"]["labels_key"]) == (
        "ssvae",
        "cell_line",
    )
    labels = [c for c in got.obs.columns if c.startswith(("X_biovae_", "X_cvae_"))]
    assert labels == [c for c in ss.obs.columns if c.startswith("X_biovae_")]


@pytest.mark.parametrize("kind", ["v", "s", "l"])
def test_an_h5ad_written_under_a_key_is_what_tl_write_latent_writes(models, tmp_path, capsys, kind):
    import anndata as ad

    import biovae
    from biovae import tl

    out = tmp_path / "a.h5ad"
    assert run(capsys, "embed", models / kind, DATA, "--out", out, "--key-added", "X_k")[0] == 0
    got, want = ad.read_h5ad(out), ad.read_h5ad(DATA)
    est = biovae.load_model(models / kind)
    proba = est.predict_proba(want) if kind == "s" else None
    tl.write_latent(want, est, est.transform(want), proba, key_added="X_k")
    assert list(got.obsm) == list(want.obsm) == ["X_k"]
    np.testing.assert_allclose(got.obsm["X_k"], want.obsm["X_k"], rtol=1e-6, atol=1e-7)
    assert list(got.obs.columns) == list(want.obs.columns)
    assert list(got.varm) == list(want.varm) and list(got.uns) == list(want.uns) == ["X_k"]
    assert sorted(got.uns["X_k"]) == sorted(want.uns["X_k"])
    for name in ("model", "likelihood", "n_latent", "fingerprint"):
        assert got.uns["X_k"][name] == want.uns["X_k"][name]


@pytest.mark.parametrize("key", ["", "X/cvae", "."])
def test_a_key_h5ad_cannot_hold_is_refused_in_one_line_before_writing(
    models, tmp_path, capsys, key
):
    out = tmp_path / "a.h5ad"
    rc, stdout, err = run(capsys, "embed", models / "v", DATA, "--out", out, "--key-added", key)
    assert rc == 2 and stdout == ""
    assert err.count("\n") == 1 and "--key-added must be a non-empty name without '/'" in err
    rc, _, err = run(
        capsys, "embed", models / "v", DATA, "--out", tmp_path / "z.csv", "--key-added", "X_k"
    )
    assert rc == 2 and err.count("\n") == 1 and "a .csv or .tsv table has none" in err
    assert not list(tmp_path.iterdir())
