"""``biovae expression``: the command-line form of ``biovae.tl.expression`` (denoised and
batch-corrected expression), end to end on the CellBench fixture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biovae.applications.expression import expression
from biovae.data.readers import read_dataset
from biovae.estimator import load_model
from tests.cli._run import run
from tests.conftest import needs_anndata


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    needs_anndata()
    from biovae.cli.main import main
    from tests.conftest import FIXTURES

    data = FIXTURES / "cellbench_100x200.h5ad"
    folder = tmp_path_factory.mktemp("expr")
    base = ["fit", str(data), "--epochs", "2", "--hidden", "16", "--latent", "3", "--quiet"]
    assert (
        main([*base, "--likelihood", "nb", "--batch-key", "batch", "--out", str(folder / "nb")])
        == 0
    )
    assert main([*base, "--likelihood", "gaussian", "--out", str(folder / "g")]) == 0
    return folder, data


def _layout(adata) -> dict:
    """Every entry of ``adata`` with its shape and dtype (obs and var: columns and dtypes)."""
    slots = {s: dict(getattr(adata, s).items()) for s in ("layers", "obsm", "varm", "obsp")}
    entries = {f"{s}/{k}": (v.shape, str(v.dtype)) for s, d in slots.items() for k, v in d.items()}
    return {
        "X": (adata.X.shape, str(adata.X.dtype), type(adata.X).__name__),
        **entries,
        "uns": sorted(adata.uns),
        "obs": [(str(c), str(d)) for c, d in adata.obs.dtypes.items()],
        "var": [(str(c), str(d)) for c, d in adata.var.dtypes.items()],
        "names": (list(adata.obs_names), list(adata.var_names)),
    }


@pytest.mark.parametrize(
    ("flags", "kwargs"),
    [
        ([], {}),
        (
            ["--reference-batch", "celseq2", "--library-size", "100", "--key-added", "corrected"],
            {"reference_batch": "celseq2", "library_size": 100, "key_added": "corrected"},
        ),
    ],
)
def test_the_cli_writes_the_layout_and_values_tl_expression_writes(
    fitted, tmp_path, capsys, flags, kwargs
):
    """The command wrote X = the expression and uns["biovae_expression"]; tl.expression a
    layer and no settings: one AnnData layout now, tl.write_expression's."""
    import anndata as ad

    import biovae

    folder, data = fitted
    out = tmp_path / "den.h5ad"
    rc, stdout, _ = run(capsys, "expression", folder / "nb", data, *flags, "--out", out)
    assert rc == 0 and stdout.split() == [str(out)]
    got = ad.read_h5ad(out)
    want = ad.read_h5ad(data)
    biovae.tl.expression(want, load_model(folder / "nb"), **kwargs)
    want.write_h5ad(tmp_path / "api.h5ad")  # as the user would keep it
    want = ad.read_h5ad(tmp_path / "api.h5ad")
    assert _layout(got) == _layout(want)
    key = kwargs.get("key_added", "biovae_denoised")
    assert list(got.layers) == [key] and got.layers[key].dtype == np.float32
    np.testing.assert_array_equal(got.layers[key], want.layers[key])
    np.testing.assert_array_equal(got.X.toarray(), ad.read_h5ad(data).X.toarray())  # counts
    pd.testing.assert_frame_equal(got.obs, want.obs)
    assert dict(got.uns[key]) == dict(want.uns[key])
    size = kwargs.get("library_size", 1e4)
    assert got.uns[key]["library_size"] == size and got.uns[key]["layer"] == "X"
    assert got.uns[key]["reference_batch"] == kwargs.get("reference_batch", "")
    # ground truth: the model's normalised means at the posterior mean, each cell summing to
    # the library size asked for
    est, ds = load_model(folder / "nb"), read_dataset(data)
    reference = {"batch_key": "batch", "reference": "celseq2"} if kwargs else {}
    truth = expression(est, ds, library_size=size, **reference)
    np.testing.assert_allclose(got.layers[key], truth, rtol=1e-6)
    np.testing.assert_allclose(got.layers[key].sum(1), size, rtol=1e-4)


def test_an_h5ad_output_of_a_table_holds_its_counts_as_x(fitted, tmp_path, capsys):
    import anndata as ad

    folder, data = fitted
    adata = ad.read_h5ad(data)
    table = pd.DataFrame(adata.X.toarray(), index=adata.obs_names, columns=adata.var_names)
    table.insert(0, "batch", adata.obs["batch"].astype(str))
    table.rename_axis("id").to_csv(tmp_path / "counts.csv")
    out = tmp_path / "den.h5ad"
    args = ["--metadata-columns", "batch", "--out", out]
    assert run(capsys, "expression", folder / "nb", tmp_path / "counts.csv", *args)[0] == 0
    got = ad.read_h5ad(out)
    np.testing.assert_array_equal(np.asarray(got.X), adata.X.toarray())
    assert list(got.obs["batch"]) == list(adata.obs["batch"].astype(str))
    want = expression(load_model(folder / "nb"), read_dataset(data))
    np.testing.assert_allclose(got.layers["biovae_denoised"], want, rtol=1e-6)
    assert sorted(got.uns) == ["biovae_denoised"]


def test_batch_corrected_expression_as_a_table(fitted, tmp_path, capsys):
    folder, data = fitted
    out = tmp_path / "cor.csv.gz"
    args = ["--reference-batch", "celseq2", "--library-size", "100", "--out", out]
    assert run(capsys, "expression", folder / "nb", data, *args)[0] == 0
    got = pd.read_csv(out, index_col=0)
    est, ds = load_model(folder / "nb"), read_dataset(data)
    want = expression(est, ds, library_size=100, batch_key="batch", reference="celseq2")
    assert got.index.name == "id" and list(got.columns) == list(ds.features)
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-5)
    plain = expression(est, ds, library_size=100)
    assert not np.allclose(want, plain)  # the reference level changed the decoding


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("g", [], "needs a count likelihood with a library size, not 'gaussian'"),
        ("g", ["--reference-batch", "x"], "needs a model conditioned on a batch"),
        ("nb", ["--reference-batch", "nope"], "batch has no level 'nope'"),
        ("nb", ["--batch-key", "batch"], "give that too"),
        ("nb", ["--library-size", "0"], "--library-size must be a positive number"),
    ],
)
def test_bad_requests_exit_2_and_write_nothing(fitted, tmp_path, capsys, model, extra, message):
    folder, data = fitted
    out = tmp_path / "e.csv"
    rc, _, err = run(capsys, "expression", folder / model, data, *extra, "--out", out)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_output_names_are_checked_before_any_work(fitted, tmp_path, capsys):
    folder, data = fitted
    for name, message in (("e.h5ad.gz", "is not gzipped"), ("e.json", "ending in .csv")):
        rc, _, err = run(capsys, "expression", folder / "nb", data, "--out", tmp_path / name)
        assert rc == 2 and message in err
    for key, message in (("X", "a .csv or .tsv table has none"), ("a/b", "without '/'")):
        out = tmp_path / ("e.csv" if key == "X" else "e.h5ad")
        args = ["--key-added", key, "--out", out]
        rc, _, err = run(capsys, "expression", folder / "nb", data, *args)
        assert rc == 2 and message in err and not out.exists()
    rc, _, err = run(capsys, "expression", folder / "nb", data, "--out", data)
    assert rc == 2 and "is also an input" in err


def test_an_h5ad_output_keeps_the_obs_and_var_of_an_h5ad_input(fitted, tmp_path, capsys):
    # obs and var were rebuilt from the records' metadata: integer columns became float,
    # unused categories went, and every var column (gene symbols, ...) was dropped
    import anndata as ad

    folder, data = fitted
    adata = ad.read_h5ad(data)
    adata.obs["n"] = np.arange(adata.n_obs, dtype=np.int64)
    adata.obs["batch"] = adata.obs["batch"].astype("category").cat.add_categories(["unused"])
    adata.var["symbol"] = [f"s{j}" for j in range(adata.n_vars)]
    adata.write_h5ad(tmp_path / "annotated.h5ad")
    extra = pd.DataFrame({"id": adata.obs_names, "donor": "d1"})
    extra.to_csv(tmp_path / "extra.csv", index=False)
    out = tmp_path / "den.h5ad"
    args = ["--obs", tmp_path / "extra.csv", "--out", out]
    assert run(capsys, "expression", folder / "nb", tmp_path / "annotated.h5ad", *args)[0] == 0
    got = ad.read_h5ad(out)
    pd.testing.assert_frame_equal(got.var, adata.var)
    pd.testing.assert_frame_equal(got.obs[list(adata.obs.columns)], adata.obs)
    assert list(got.obs["donor"]) == ["d1"] * adata.n_obs  # added by --obs


def test_every_help_example_runs_on_the_cellbench_fixture(fitted, tmp_path, capsys):
    """An example asked for `--reference-batch 10x`, a level no shipped data set has: copied
    onto CellBench (batches celseq2 and dropseq) it failed."""
    import shlex

    from biovae.cli.parser import build_parser

    folder, data = fitted
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    lines = sub.choices["expression"].epilog.splitlines()[1:]
    swap = {"model": str(folder / "nb"), "counts.h5ad": str(data)}
    for line in lines:
        argv = [swap.get(word, word) for word in shlex.split(line)[1:]]
        argv[argv.index("--out") + 1] = str(tmp_path / argv[argv.index("--out") + 1])
        rc, _, err = run(capsys, *argv)
        assert rc == 0, f"{line}: {err}"
    assert len(lines) == 2 and len(list(tmp_path.iterdir())) == 2
