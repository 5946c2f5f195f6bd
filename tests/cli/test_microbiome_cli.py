"""Microbiome tables through the command line: compositional fits, the semi-supervised model
from flags, ``biovae audit`` on several modalities, and bad input (exit 2, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_cli import run
from tests.conftest import needs_anndata

FAST = ["--epochs", "2", "--hidden", "8", "--latent", "2", "--quiet"]
ABUND, META = "crc_abundance_60x50.tsv", "crc_metadata_60.tsv"


@pytest.fixture
def tables(fixtures, tmp_path):
    """Editable copies of the CRC fixtures."""
    abund = pd.read_csv(fixtures / ABUND, sep="\t", dtype={"sample_id": str})
    meta = pd.read_csv(fixtures / META, sep="\t")
    return abund, meta


def _write(tmp_path, abund, meta):
    a, m = tmp_path / "abund.tsv", tmp_path / "meta.tsv"
    abund.to_csv(a, sep="\t", index=False)
    meta.to_csv(m, sep="\t", index=False)
    return a, m


def test_semisupervised_fit_and_audit_from_flags(fixtures, tmp_path, capsys):
    meta = pd.read_csv(fixtures / META, sep="\t")
    meta.loc[::3, "study_condition"] = "unknown"  # a third of the labels hidden
    meta["sex_batch"] = meta["gender"].fillna("unknown")
    m = tmp_path / "meta.tsv"
    meta.to_csv(m, sep="\t", index=False)
    model = tmp_path / "ss"
    rc, _, err = run(
        capsys, "fit", fixtures / ABUND, "--obs", m, "--likelihood", "hurdle_dirichlet",
        "--model", "ssvae", "--labels-key", "study_condition",
        "--categorical-covariates", "sex_batch", "--classifier-input", "clr_residual",
        "--out", model, "--report", tmp_path / "r.html", *FAST,
    )  # fmt: skip
    assert rc == 0, err
    report = (tmp_path / "r.html").read_text()
    assert report.lstrip().lower().startswith("<!doctype html>")
    assert "Semi-supervised VAE" in report
    rc, _, err = run(
        capsys, "diagnose", model, fixtures / ABUND, "--obs", m, "--out", tmp_path / "d",
        "--iwae", "20", "--gap-records", "10", "--gap-steps", "5",
    )  # fmt: skip
    assert rc == 0, err  # the semi-supervised VAE is diagnosed as a model of x alone
    diag = json.loads((tmp_path / "d" / "diagnostics.json").read_text())
    assert diag["log_likelihood"]["mean"] >= diag["rate_distortion"]["elbo"] - 1.0
    assert json.loads((model / "metadata.json").read_text())["schema"]["labels"]["levels"] == [
        "CRC",
        "control",
    ]
    rc, _, err = run(
        capsys, "embed", model, fixtures / ABUND, "--obs", m, "--out", tmp_path / "z.csv"
    )
    assert rc == 0, err
    z = pd.read_csv(tmp_path / "z.csv")
    assert list(z.columns) == ["id", "z_1", "z_2", "predicted_label", "p_CRC", "p_control"]
    np.testing.assert_allclose(z["p_CRC"] + z["p_control"], 1.0, rtol=1e-6)
    rc, _, err = run(
        capsys, "audit", model, fixtures / ABUND, "--obs", m, "--covariates",
        "study_condition,age", "--html", "--out", tmp_path / "audit",
    )  # fmt: skip
    assert rc == 0, err
    result = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert set(result["covariates"]) == {"study_condition", "age"}
    assert result["covariates"]["study_condition"]["records"] == 40  # "unknown" skipped
    page = (tmp_path / "audit" / "audit.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<strong>Carried by</strong>" in page
    assert "<th>left out</th><th>folds</th>" in page  # "unknown" and the folds used, shown
    # headed by the model's and the files' names (was "Audit"), the full paths below it
    title = f"biovae audit of model ss: {ABUND} (metadata meta.tsv)"
    assert f"<h1>{title}</h1>" in page and f"<title>{title}</title>" in page
    assert str(fixtures / ABUND) in page and str(m) in page
    # both maps captioned and counted by the page's image-loaded check
    assert 'data-plots-expected="2"' in page and page.count('<img class="plot"') == 2
    assert page.count("<figcaption>Coloured by ") == 2


@pytest.mark.parametrize(
    ("data", "covariates", "extra"),
    [
        (
            "splice_junctions_200.tsv",
            "class",
            ["--sequence-column", "sequence", "--likelihood", "categorical"],
        ),
        ("cellbench_100x200.h5ad", "batch", ["--likelihood", "nb"]),
    ],
)
def test_audit_works_on_sequence_and_single_cell_models(
    fixtures, tmp_path, capsys, data, covariates, extra
):
    if data.endswith(".h5ad"):
        needs_anndata()
    model = tmp_path / "m"
    rc, _, err = run(capsys, "fit", fixtures / data, *extra, "--out", model, *FAST)
    assert rc == 0, err
    rc, _, err = run(
        capsys, "audit", model, fixtures / data, "--covariates", covariates, "--out", tmp_path / "a"
    )
    assert rc == 0, err
    result = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert 0 <= result["covariates"][covariates]["balanced_accuracy"] <= 1


def _edit_negative(abund, meta):
    abund.iloc[3, 5] = -0.01


def _edit_nan(abund, meta):
    abund.iloc[4, 7] = np.nan


def _edit_missing_id(abund, meta):
    return abund, meta.drop(index=10)


def _edit_percentages(abund, meta):
    abund.iloc[2, 1:] = abund.iloc[2, 1:] * 100


BAD_EDITS = [
    (_edit_negative, "is negative"),
    (_edit_nan, "missing value"),
    (_edit_missing_id, "has no row in the metadata table"),
    (_edit_percentages, "instead of 1"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_EDITS)
def test_bad_compositions_exit_2_and_write_nothing(tables, tmp_path, capsys, edit, message):
    abund, meta = tables
    edited = edit(abund, meta)
    if edited is not None:
        abund, meta = edited
    a, m = _write(tmp_path, abund, meta)
    out = tmp_path / "model"
    rc, stdout, err = run(
        capsys, "fit", a, "--obs", m, "--likelihood", "hurdle_dirichlet", "--out", out, *FAST
    )
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and stdout == ""


@pytest.fixture(scope="module")
def clean_model(tmp_path_factory):
    """A model fitted on the clean fixtures, to feed bad tables to audit / embed / score."""
    from tests.conftest import FIXTURES

    out = tmp_path_factory.mktemp("clean") / "m"
    rc = main_rc(
        "fit", FIXTURES / ABUND, "--obs", FIXTURES / META, "--likelihood", "hurdle_dirichlet",
        "--out", out, *FAST,
    )  # fmt: skip
    assert rc == 0
    return out


def main_rc(*argv) -> int:
    from biovae.cli.main import main

    return main([str(a) for a in argv])


@pytest.mark.parametrize(("edit", "message"), BAD_EDITS)
@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("audit", ["--covariates", "studyID", "--html"]),
        ("embed", []),
        ("score", []),
    ],
)
def test_bad_compositions_given_to_a_fitted_model_exit_2_and_write_nothing(
    clean_model, tables, tmp_path, capsys, edit, message, command, extra
):
    abund, meta = tables
    edited = edit(abund, meta)
    if edited is not None:
        abund, meta = edited
    a, m = _write(tmp_path, abund, meta)
    out = tmp_path / ("audit" if command == "audit" else "out.csv")
    rc, stdout, err = run(capsys, command, clean_model, a, "--obs", m, "--out", out, *extra)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and stdout == ""


def test_bad_values_in_a_biom_table_exit_2_and_write_nothing(tables, tmp_path, capsys):
    biom = pytest.importorskip("biom")
    abund, _ = tables
    abund.iloc[3, 5] = -0.01
    values = abund.set_index("sample_id")
    table = biom.Table(
        values.to_numpy().T, observation_ids=list(values.columns), sample_ids=list(values.index)
    )
    path = tmp_path / "bad.biom"
    path.write_text(table.to_json("biovae tests"))
    out = tmp_path / "model"
    rc, stdout, err = run(
        capsys, "fit", path, "--likelihood", "hurdle_dirichlet", "--out", out, *FAST
    )
    assert rc == 2 and "is negative" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and stdout == ""


def test_labels_key_without_ssvae_is_refused(fixtures, tmp_path, capsys):
    rc, _, err = run(
        capsys, "fit", fixtures / ABUND, "--obs", fixtures / META, "--labels-key",
        "study_condition", "--likelihood", "hurdle_dirichlet", "--out", tmp_path / "m", *FAST,
    )  # fmt: skip
    assert rc == 2 and "--model ssvae" in err and not (tmp_path / "m").exists()


def test_fractional_counts_are_refused_by_the_dirichlet_multinomial(fixtures, tmp_path, capsys):
    out = tmp_path / "model"
    rc, _, err = run(
        capsys, "fit", fixtures / ABUND, "--likelihood", "dirichlet_multinomial", "--out", out,
        *FAST,
    )  # fmt: skip
    assert rc == 2 and "whole number" in err and not out.exists()


def test_audit_bad_covariate_exits_2_and_writes_nothing(fixtures, tmp_path, capsys):
    model = tmp_path / "m"
    rc, _, _ = run(capsys, "fit", fixtures / ABUND, "--likelihood", "hurdle_dirichlet",
                   "--out", model, *FAST)  # fmt: skip
    assert rc == 0
    rc, _, err = run(
        capsys, "audit", model, fixtures / ABUND, "--obs", fixtures / META,
        "--covariates", "studyID,nonexistent", "--out", tmp_path / "a",
    )  # fmt: skip
    assert rc == 2 and "nonexistent" in err and not (tmp_path / "a").exists()
    meta = pd.read_csv(fixtures / META, sep="\t")
    meta["empty"] = ""  # a column with no values at all (read back as all missing)
    meta.to_csv(tmp_path / "meta.tsv", sep="\t", index=False)
    rc, _, err = run(
        capsys, "audit", model, fixtures / ABUND, "--obs", tmp_path / "meta.tsv",
        "--covariates", "study_condition,empty", "--out", tmp_path / "a",
    )  # fmt: skip
    assert rc == 2 and "'empty': it has no values (all 60 missing)" in err
    assert "Traceback" not in err and not (tmp_path / "a").exists()
    for nothing in ("", ","):  # no covariate at all: not an empty audit.json and status 0
        rc, _, err = run(
            capsys, "audit", model, fixtures / ABUND, "--covariates", nothing,
            "--out", tmp_path / "a",
        )  # fmt: skip
        assert rc == 2 and "--covariates names no column" in err and not (tmp_path / "a").exists()


def test_taxa_by_samples_table_reads_like_samples_by_taxa(fixtures, tmp_path):
    from biovae.data import read_dataset

    abund = pd.read_csv(fixtures / ABUND, sep="\t")
    flipped = tmp_path / "taxa_x_samples.tsv"
    abund.set_index("sample_id").T.rename_axis("taxon").reset_index().to_csv(
        flipped, sep="\t", index=False
    )
    rows = read_dataset(fixtures / ABUND, obs_path=str(fixtures / META))
    cols = read_dataset(flipped, transpose=True, obs_path=str(fixtures / META))
    np.testing.assert_array_equal(cols.x, rows.x)
    assert list(cols.ids) == list(rows.ids) and cols.features == rows.features
    np.testing.assert_array_equal(cols.obs["study_condition"], rows.obs["study_condition"])


def test_mmd_batch_flag_from_the_command_line(fixtures, tmp_path, capsys):
    rc, out, _ = run(capsys, "fit", "--help")
    assert rc == 0 and "--mmd-batch" in out
    model = tmp_path / "m"
    rc, _, err = run(
        capsys, "fit", fixtures / ABUND, "--obs", fixtures / META, "--likelihood",
        "hurdle_dirichlet", "--categorical-covariates", "studyID", "--mmd-batch", "100",
        "--out", model, *FAST,
    )  # fmt: skip
    assert rc == 0, err
    assert json.loads((model / "config.json").read_text())["objective"]["mmd_batch"] == 100.0
    for bad, message in (([], "--categorical-covariates"), (["--mmd-batch", "-1"], ">= 0")):
        out = tmp_path / "refused"
        args = (
            ["--mmd-batch", "10", *bad]
            if not bad
            else ["--categorical-covariates", "studyID", *bad]
        )
        rc, _, err = run(
            capsys, "fit", fixtures / ABUND, "--obs", fixtures / META, "--likelihood",
            "hurdle_dirichlet", *args, "--out", out, *FAST,
        )  # fmt: skip
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()


def test_audit_refuses_one_covariate_as_both_technical_and_biological(fixtures, tmp_path, capsys):
    rc, _, err = run(
        capsys, "audit", tmp_path / "no_model", fixtures / ABUND, "--obs", fixtures / META,
        "--covariates", "studyID,study_condition", "--technical", "studyID",
        "--biological", "studyID", "--out", tmp_path / "a",
    )  # fmt: skip
    assert rc == 2 and "--technical and --biological both name 'studyID'" in err
    assert "Traceback" not in err and not (tmp_path / "a").exists()


def _ranked(abund: pd.DataFrame, scale: float, sep: str) -> pd.DataFrame:
    """Taxa x samples with a phylum row above the species, as a MetaPhlAn merged table."""
    species = abund.set_index("sample_id").T * scale
    species.index = [f"k__Bacteria{sep}p__Firmicutes{sep}{s}" for s in species.index]
    phylum = species.sum().to_frame(f"k__Bacteria{sep}p__Firmicutes").T
    return pd.concat([phylum, species]).round(0 if scale > 1 else 12).rename_axis("clade_name")


@pytest.mark.parametrize(
    ("likelihood", "scale", "sep"),
    [("hurdle_dirichlet", 0.5, "|"), ("dirichlet_multinomial", 1e4, ";")],
)
def test_a_table_of_several_taxonomic_ranks_is_refused(
    tables, tmp_path, capsys, likelihood, scale, sep
):
    """Each share or read counted once per rank: proportions whose rows still summed to at
    most 1, and counts, were fitted as if the phylum were one more taxon."""
    abund, _ = tables
    path, out = tmp_path / "merged.tsv", tmp_path / "m"
    _ranked(abund, scale, sep).reset_index().to_csv(path, sep="\t", index=False)
    rc, stdout, err = run(
        capsys, "fit", path, "--transpose", "--likelihood", likelihood, "--out", out, *FAST
    )
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert f"feature 'k__Bacteria{sep}p__Firmicutes{sep}s__" in err
    assert f"lies within feature 'k__Bacteria{sep}p__Firmicutes'" in err and "s__)" in err
    assert not out.exists() and stdout == ""


def test_audit_summary_states_the_page_and_the_guess_of_numbers_can_be_overridden(
    clean_model, fixtures, tmp_path, capsys
):
    import re

    meta = pd.read_csv(fixtures / META, sep="\t")
    meta["age"] = meta["age"] // 10 * 10  # 5 decades over 60 records: guessed to be levels
    m = tmp_path / "meta.tsv"
    meta.to_csv(m, sep="\t", index=False)
    args = ["audit", clean_model, fixtures / ABUND, "--obs", m, "--covariates"]
    rc, _, err = run(capsys, *args, "study_condition,age", "--html", "--out", tmp_path / "a")
    assert rc == 0, err
    result = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert result["covariates"]["age"]["kind"] == "categorical"
    assert "5 numbers read as levels: --continuous age for R²" in err
    # the printed line says what the page's table says: the metric, its chance, the dimensions
    page = (tmp_path / "a" / "audit.html").read_text()
    cells = re.search(r"<td>study_condition</td><td>(.*?)</td><td>(.*?)</td>", page).groups()
    r = result["covariates"]["study_condition"]
    assert cells[0].startswith(f"balanced accuracy {r['balanced_accuracy']:.3f}")
    assert f"(chance {r['chance']:.3f})" in cells[0]
    assert f"study_condition: {cells[0]}; carried by {cells[1]} (categorical)" in err
    rc, _, err = run(capsys, *args, "age", "--continuous", "age", "--out", tmp_path / "b")
    assert rc == 0, err
    age = json.loads((tmp_path / "b" / "audit.json").read_text())["covariates"]["age"]
    assert age["kind"] == "continuous" and "age: cross-validated R² " in err
    both = ["--categorical", "age", "--continuous", "age", "--out", tmp_path / "c"]
    rc, out, err = run(capsys, *args, "age", *both)
    assert rc == 2 and "--categorical and --continuous both name 'age'" in err
    assert len(err.strip().splitlines()) == 1 and out == "" and not (tmp_path / "c").exists()


def test_audit_group_column_groups_the_folds_and_refuses_bad_groups(
    clean_model, fixtures, tmp_path, capsys
):
    meta = pd.read_csv(fixtures / META, sep="\t")
    meta["subject"] = [f"p{i // 2}" for i in range(len(meta))]  # two samples per subject
    m = tmp_path / "meta.tsv"
    meta.to_csv(m, sep="\t", index=False)
    args = ["audit", clean_model, fixtures / ABUND, "--obs", m, "--covariates", "study_condition"]
    rc, _, err = run(capsys, *args, "--group-column", "subject", "--html", "--out", tmp_path / "a")
    assert rc == 0, err
    said = "Cross-validation folds grouped by 'subject': all records of a group lie in one fold"
    assert f"{said} (30 groups)" in err
    result = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert result["grouped_by"] == "subject" and result["groups"] == 30
    r = result["covariates"]["study_condition"]
    page = (tmp_path / "a" / "audit.html").read_text()
    assert "grouped by &#x27;subject&#x27;: all records of a group lie in one fold" in page
    assert f"<td>{r['folds']} ({r['groups']} groups)</td>" in page
    # the per-dimension tests are on the means of each subject and condition it holds (some
    # subjects span two), and both outputs say so
    cells = len(set(zip(meta["subject"], meta["study_condition"])))
    assert 30 < cells < 60 and r["attribution_n"] == cells
    assert "the per-dimension tests (carried by) compare group means" in err
    assert f"(tested on {cells} group means)" in page and f"(tested on {cells} group" in err
    meta.loc[7, "subject"] = ""
    meta.to_csv(tmp_path / "gap.tsv", sep="\t", index=False)
    gap = ["audit", clean_model, fixtures / ABUND, "--obs", tmp_path / "gap.tsv", "--covariates"]
    bad = [
        ([*args, "--group-column", "Subjects"], "no metadata column 'Subjects' for "
         "--group-column; close names: 'subject'"),
        ([*args, "--group-column", "subject", "--folds", "40"], "holds 30 group(s), fewer "
         "than the 40"),
        ([*gap, "study_condition", "--group-column", "subject"], "'subject' is missing for 1 "
         f"record(s), the first record {meta.loc[7, 'sample_id']!r}"),
    ]  # fmt: skip
    for argv, message in bad:
        rc, out, err = run(capsys, *argv, "--out", tmp_path / "b")
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert out == "" and not (tmp_path / "b").exists()


def test_samples_without_reads_are_warned_of_once_by_fit_embed_and_score(tables, tmp_path, capsys):
    """A sample with no reads is a valid DM record (depth 0, one outcome), but the data say
    nothing of where it lies: each command says so once, and keeps it."""
    abund, _ = tables
    reads = abund.set_index("sample_id").mul(1e4).round().astype(int)
    reads.iloc[[3, 7]] = 0
    path, model = tmp_path / "reads.tsv", tmp_path / "m"
    reads.to_csv(path, sep="\t")
    empty = [str(s) for s in reads.index[[3, 7]]]
    runs = [
        ("fit", path, "--likelihood", "dirichlet_multinomial", "--out", model, *FAST),
        ("embed", model, path, "--out", tmp_path / "e.tsv"),
        ("score", model, path, "--out", tmp_path / "s.tsv"),
    ]
    for argv in runs:
        rc, _, err = run(capsys, *argv)
        assert rc == 0, err
        (line,) = [x for x in err.splitlines() if "no counts at all" in x]
        assert f"{path}: 2 record(s)" in line and f"'{empty[0]}', '{empty[1]}')" in line
    embedded = pd.read_csv(tmp_path / "e.tsv", sep="\t", dtype=str)
    assert set(empty) <= set(embedded.iloc[:, 0]) and len(embedded) == len(reads)
