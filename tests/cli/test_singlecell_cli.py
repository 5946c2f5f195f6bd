"""``biovae trajectory``, ``integration`` and ``de`` end to end on the CellBench fixture."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main
from tests.conftest import needs_anndata

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    needs_anndata()
    from tests.conftest import FIXTURES

    data = FIXTURES / "cellbench_100x200.h5ad"
    out = tmp_path_factory.mktemp("sc") / "m"
    args = ["fit", str(data), "--likelihood", "nb", "--epochs", "3", "--out", str(out)]
    assert main([*args, "--hidden", "16", "--latent", "3", "--quiet"]) == 0
    return out, data


def test_integration_writes_every_metric(model, tmp_path, capsys):
    out, data = model
    target = tmp_path / "m.json"
    args = ["integration", str(out), str(data), "--batch-key", "batch", "--out", str(target)]
    assert main([*args, "--labels-key", "cell_line"]) == 0
    metrics = json.loads(target.read_text())
    assert set(metrics) >= {"batch_asw", "ilisi_scaled", "kbet_acceptance", "ari", "nmi"}
    assert all(np.isfinite(v) for v in metrics.values())
    capsys.readouterr()


def test_trajectory_writes_pseudotime_and_report(model, tmp_path, capsys):
    out, data = model
    table, html = tmp_path / "pt.csv", tmp_path / "t.html"
    args = ["trajectory", str(out), str(data), "--root-key", "batch", "--root-value", "celseq2"]
    assert main([*args, "--out", str(table), "--report", str(html)]) == 0
    pt = pd.read_csv(table)
    assert list(pt.columns) == ["id", "pseudotime"] and len(pt) == 100
    assert pt["pseudotime"].min() == 0.0
    assert 'data-plot="trajectory-pseudotime"' in html.read_text()
    assert "neighbour graph of the posterior means" in html.read_text()
    # the title names the data file alone; its full path and the model's were nowhere
    inputs = f"<h2>Inputs</h2><table><tr><th>model folder</th><td>{out}</td></tr>"
    assert inputs + f"<tr><th>data</th><td>{data}</td></tr></table>" in html.read_text()
    capsys.readouterr()


def test_an_autoencoders_trajectory_page_speaks_of_codes(model, tmp_path, capsys):
    _, data = model
    ae, html = tmp_path / "ae", tmp_path / "t.html"
    fit = ["fit", str(data), "--model", "ae", "--likelihood", "nb", "--epochs", "1"]
    assert main([*fit, "--hidden", "16", "--latent", "3", "--out", str(ae), "--quiet"]) == 0
    args = ["trajectory", str(ae), str(data), "--root-id", "B14", "--out", str(tmp_path / "p.csv")]
    assert main([*args, "--report", str(html)]) == 0
    text = html.read_text()  # an autoencoder has no posterior: its map holds codes f(x)
    assert "neighbour graph of the codes f(x)" in text and "posterior means" not in text
    capsys.readouterr()


def test_trajectory_roots_at_a_cell_given_by_id(model, tmp_path, capsys):
    out, data = model
    table = tmp_path / "pt.csv"
    base = ["trajectory", str(out), str(data), "--out", str(table)]
    assert main([*base, "--root-id", "B14"]) == 0
    pt = pd.read_csv(table, index_col="id")
    assert pt.loc["B14", "pseudotime"] == 0.0
    table.unlink()
    for extra, message in (
        (["--root-id", "nope"], "no record with id 'nope'"),
        (["--root-id", "B14", "--root-key", "batch", "--root-value", "celseq2"], "not both"),
    ):
        capsys.readouterr()
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert not table.exists()


def test_trajectory_color_by_without_a_report_exits_2_and_writes_nothing(model, tmp_path, capsys):
    out, data = model
    table = tmp_path / "pt.csv"
    # the column was read and then ignored: the table has no place for it
    args = ["trajectory", str(out), str(data), "--out", str(table), "--color-by", "cell_line"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "give --report too" in err and len(err.strip().splitlines()) == 1
    assert not table.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-key", "nope", "--labels-key", "cell_line"], "'nope' not found"),
        (["--batch-key", "batch", "--labels-key", "outliers"], "only one class"),
        # one label per cell: sklearn's silhouette raised a traceback (exit 1)
        (["--batch-key", "batch", "--labels-key", "unaligned"], "one per record"),
    ],
)
def test_bad_keys_exit_2_and_write_nothing(model, tmp_path, capsys, extra, message):
    out, data = model
    target = tmp_path / "m.json"
    assert main(["integration", str(out), str(data), "--out", str(target), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_de_writes_a_gene_table_and_each_vs_rest(model, tmp_path, capsys):
    out, data = model
    one, every = tmp_path / "de.csv", tmp_path / "all.tsv"
    args = ["de", str(out), str(data), "--groupby", "cell_line", "--n-samples", "200"]
    pair = ["--group1", "H1975", "--group2", "H2228", "--out", str(one)]
    assert main([*args, *pair]) == 0
    table = pd.read_csv(one, index_col="gene")
    assert len(table) == 200 and table["proba_de"].between(0, 1).all()
    assert {"lfc_mean", "bayes_factor", "is_de_fdr_0.05", "raw_mean2"} <= set(table.columns)
    html = tmp_path / "de.html"
    assert main([*args, "--out", str(every), "--report", str(html)]) == 0
    page = html.read_text()
    assert all(f'data-plot="de-volcano-{i}"' in page for i in range(3))
    assert "H2228 vs rest" in page
    # headed by the model's and the file's names, as fit's report is (was the data's full path)
    title = "Differential expression from model m: cellbench_100x200.h5ad"
    assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page
    # ... and lists their full paths, as diagnose and sweep do (they were nowhere on the page)
    inputs = f"<tr><th>model folder</th><td>{out}</td></tr><tr><th>data</th><td>{data}</td></tr>"
    assert f"<h2>Inputs</h2><table>{inputs}</table>" in page
    table = pd.read_csv(every, sep="\t")
    lines = ("H1975", "H2228", "HCC827")
    assert sorted(set(table["comparison"])) == [f"{c} vs rest" for c in lines]
    vanilla = tmp_path / "vanilla.csv"
    assert main([*args, *pair[:4], "--mode", "vanilla", "--out", str(vanilla)]) == 0
    table = pd.read_csv(vanilla, index_col="gene")
    assert {"proba_m1", "proba_m2", "bayes_factor", "is_de_bf_3"} <= set(table.columns)
    np.testing.assert_allclose(table["proba_m1"] + table["proba_m2"], 1.0)
    capsys.readouterr()


def test_trajectory_report_names_the_root_by_its_id(model, tmp_path, capsys):
    out, data = model
    table, html = tmp_path / "pt.csv", tmp_path / "t.html"
    args = ["trajectory", str(out), str(data), "--root-key", "batch", "--root-value", "dropseq"]
    assert main([*args, "--out", str(table), "--report", str(html)]) == 0
    pt = pd.read_csv(table, dtype={"id": str})
    root = pt["id"][pt["pseudotime"] == 0.0].item()
    page = html.read_text()
    assert f"root (record {root})" in page  # the id, not the row number
    assert "<h1>Trajectory of cellbench_100x200.h5ad</h1>" in page  # was the full path
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--groupby", "cell_line", "--group1", "H19"], "no level 'H19'"),
        (["--groupby", "nope"], "no metadata column 'nope'"),
        (["--groupby", "cell_line", "--group2", "H1975"], "--group2 needs --group1"),
        (["--groupby", "cell_line", "--mode", "vanilla", "--bayes-factor", "-1"], "must be > 0"),
        (
            ["--groupby", "cell_line", "--group1", "H1975", "--batch-correct", "batch"],
            "not a categorical covariate",
        ),
    ],
)
def test_de_bad_requests_exit_2_and_write_nothing(model, tmp_path, capsys, extra, message):
    out, data = model
    target = tmp_path / "de.csv"
    assert main(["de", str(out), str(data), "--out", str(target), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


FAST = ["--epochs", "2", "--hidden", "8", "--latent", "2", "--quiet"]


def _h5ad(tmp_path, edit=None, name="c.h5ad"):
    """A copy of the CellBench fixture, optionally edited (``edit(adata) -> adata``)."""
    import anndata

    from tests.conftest import FIXTURES

    adata = anndata.read_h5ad(FIXTURES / "cellbench_100x200.h5ad")
    adata = edit(adata) if edit else adata
    path = tmp_path / name
    adata.write_h5ad(path)
    return path


def _hide_labels(adata):
    adata.obs["cell_line"] = adata.obs["cell_line"].astype(str)
    adata.obs.loc[adata.obs_names[5:], "cell_line"] = "unassigned"
    adata.layers["counts"] = adata.X.copy()
    adata.X = adata.X * 0  # the layer, not X, must be read
    return adata


def test_semisupervised_fit_with_batch_key_labels_key_layer(tmp_path, capsys):
    needs_anndata()
    from tests.cli._run import run

    data, model, table = _h5ad(tmp_path, _hide_labels), tmp_path / "m", tmp_path / "z.csv"
    rc, _, err = run(
        capsys, "fit", data, "--likelihood", "nb", "--model", "ssvae", "--labels-key",
        "cell_line", "--unlabeled-category", "unassigned", "--batch-key", "batch",
        "--layer", "counts", "--dispersion", "gene-batch", "--out", model, *FAST,
    )  # fmt: skip
    assert rc == 0, err
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["schema"]["covariates"]["categorical"] == ["batch"]
    assert meta["schema"]["labels"]["levels"] == ["H1975", "H2228", "HCC827"]  # not unassigned
    assert run(capsys, "embed", model, data, "--out", table)[0] == 0
    z = pd.read_csv(table)
    assert set(z["predicted_label"]) <= {"H1975", "H2228", "HCC827"}
    probs = z[["p_H1975", "p_H2228", "p_HCC827"]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def _as_float(adata, value):
    x = adata.X.toarray().astype(np.float32)
    x[3, 7] = value
    adata.X = x
    return adata


BAD_SINGLE_CELL = {
    "labels key with one class": (
        None,
        ["--model", "ssvae", "--labels-key", "outliers"],
        "needs at least two",
    ),
    "missing batch key": (None, ["--batch-key", "platform"], "'platform' not found"),
    "missing labels key": (None, ["--model", "ssvae", "--labels-key", "celltype"], "not found"),
    "non-integer counts": (lambda a: _as_float(a, 2.5), [], "not a whole number"),
    "negative counts": (lambda a: _as_float(a, -1.0), [], "is negative"),
    "zero genes": (lambda a: a[:, :0].copy(), [], "matrix is empty"),
    "gene-batch without batch key": (None, ["--dispersion", "gene-batch"], "--batch-key"),
}


@pytest.mark.parametrize("case", sorted(BAD_SINGLE_CELL))
def test_bad_single_cell_input_exit_2_one_line_nothing_written(case, tmp_path, capsys):
    needs_anndata()
    from tests.cli._run import run

    edit, extra, message = BAD_SINGLE_CELL[case]
    data, out = _h5ad(tmp_path, edit), tmp_path / "model"
    rc, stdout, err = run(capsys, "fit", data, "--likelihood", "nb", "--out", out, *extra, *FAST)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("biovae fit: error:"), err
    assert message in lines[0] and stdout == ""
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name != "c.h5ad"]


@pytest.fixture(scope="module")
def tsv_model(tmp_path_factory):
    """A conditional model fitted on the fixture's counts as a genes × cells TSV (--transpose)
    with --obs metadata, and the fixture's h5ad (the same cells, its own metadata)."""
    needs_anndata()
    import anndata as ad

    from tests.conftest import FIXTURES

    h5ad = FIXTURES / "cellbench_100x200.h5ad"
    adata = ad.read_h5ad(h5ad)
    tmp = tmp_path_factory.mktemp("tsv")
    counts = pd.DataFrame(adata.X.toarray().T, index=adata.var_names, columns=adata.obs_names)
    counts.rename_axis("gene").to_csv(tmp / "counts.tsv", sep="\t")
    meta = pd.DataFrame({"batch": "ref_" + adata.obs["batch"].astype(str)})  # new to the h5ad
    meta.rename_axis("id").to_csv(tmp / "meta.tsv", sep="\t")
    adata.obs[["batch"]].rename_axis("id").to_csv(tmp / "query.tsv", sep="\t")
    args = ["fit", tmp / "counts.tsv", "--transpose", "--obs", tmp / "meta.tsv"]
    args += ["--categorical-covariates", "batch", "--likelihood", "nb", "--epochs", "2"]
    args += ["--hidden", "16", "--latent", "3", "--quiet", "--out", tmp / "m"]
    assert main([str(a) for a in args]) == 0
    return tmp / "m", h5ad


@pytest.mark.parametrize(
    "command",
    [
        ["trajectory", "--out", "pt.csv"],
        [
            "de",
            "--groupby",
            "cell_line",
            "--group1",
            "H1975",
            "--n-samples",
            "50",
            "--out",
            "d.csv",
        ],
        ["integration", "--batch-key", "batch", "--labels-key", "cell_line", "--out", "m.json"],
        ["audit", "--covariates", "cell_line", "--out", "audit"],
        ["map", "--epochs", "1", "--obs", "QUERY", "--out", "mapped"],
    ],
)
def test_table_options_of_the_fit_do_not_follow_the_model_to_h5ad(
    tsv_model, tmp_path, capsys, command
):
    needs_anndata()
    model, h5ad = tsv_model
    name, *rest, out = command  # every command ends in --out NAME
    rest = [str(model.parent / "query.tsv") if a == "QUERY" else a for a in rest]
    args = [name, str(model), str(h5ad), "--quiet", *rest, str(tmp_path / out)]
    assert main(args) == 0, capsys.readouterr().err


def test_sampling_a_conditional_model_without_obs_names_the_flag(tsv_model, tmp_path, capsys):
    model, _ = tsv_model
    out = tmp_path / "s.tsv"
    assert main(["sample", str(model), "-n", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "conditional on batch" in err and "--obs FILE" in err and "3 rows" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_integration_writes_json_only_to_a_json_name(model, tmp_path, capsys):
    out, data = model
    args = ["integration", str(out), str(data), "--batch-key", "batch", "--labels-key"]
    assert main([*args, "cell_line", "--out", str(tmp_path / "m.csv")]) == 2
    assert "use a file name ending in .json" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()


def test_de_takes_samples_as_score_does_and_keeps_n_samples():
    from biovae.cli.parser import build_parser

    base = ["de", "model", "data.h5ad", "--groupby", "g", "--out", "de.csv"]
    for flag in ("--samples", "--n-samples"):
        assert build_parser().parse_args([*base, flag, "7"]).n_samples == 7


def test_integration_help_says_what_each_json_key_holds():
    from biovae.cli.parser import build_parser
    from biovae.diagnostics.integration import METRIC_KEYS

    sub = next(a for a in build_parser()._actions if a.choices and "integration" in a.choices)
    text = sub.choices["integration"].format_help()
    assert "higher = better" in text
    for key in METRIC_KEYS:
        assert f"  {key}: " in text, key
