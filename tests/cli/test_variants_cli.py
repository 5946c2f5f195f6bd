"""``biovae variants fit / score / scan`` end to end on the BLAT_ECOLX fixture, and bad input:
one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main
from tests._gzip import WHERE, damaged_gzip
from tests.cli._run import run

SMALL_TOML = """
[model]
n_latent = 3
encoder_hidden = [32]
decoder_hidden = [8, 16]
rank = 4
[train]
batch_size = 16
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tests.conftest import FIXTURES

    tmp = tmp_path_factory.mktemp("variants")
    (tmp / "small.toml").write_text(SMALL_TOML)
    out = tmp / "model"
    argv = ["variants", "fit", FIXTURES / "blat_ecolx_first40.a2m", "--out", out]
    rc = main([str(a) for a in [*argv, "--config", tmp / "small.toml", "--steps", "20"]])
    assert rc == 0
    return out


def test_score_with_fitness_and_reasons(model_dir, tmp_path, capsys):
    table = pd.DataFrame(
        {
            "mutant": ["V29A", "V29V", "K30A:K32R", "A29G", "H24A", "nonsense"],
            "fit": [0.1, 0.0, -1.0, 0.2, 0.3, 0.4],
        }
    )
    table.to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "scores.csv"
    rc, stdout, err = run(
        capsys,
        "variants",
        "score",
        model_dir,
        "--mutations",
        tmp_path / "m.csv",
        "--out",
        out,
        "--fitness-column",
        "fit",
        "--samples",
        "4",
    )
    assert rc == 0 and stdout.strip() == str(out)
    assert "Spearman ρ" in err and "3 of 6 mutants could not be scored" in err
    s = pd.read_csv(out, keep_default_na=False)
    assert s["mutant"].tolist() == table["mutant"].tolist()
    assert s["status"].tolist() == ["ok", "ok", "ok", "unmapped", "unmapped", "unmapped"]
    assert float(s.loc[1, "score"]) == 0.0  # synonymous
    assert "mismatch" in s.loc[3, "reason"] and "not a match column" in s.loc[4, "reason"]
    assert "malformed" in s.loc[5, "reason"]


def test_score_with_classes(model_dir, tmp_path, capsys):
    pd.DataFrame({"mutant": ["V29A", "V29V", "K30A:K32R", "A29G"]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    out = tmp_path / "calls.csv"
    argv = ["variants", "score", model_dir, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, _, _ = run(capsys, *argv, "--classes", "--samples", "2")
    assert rc == 0
    s = pd.read_csv(out, keep_default_na=False)
    assert s.loc[0, "class"] in {"damaging", "tolerated", "uncertain"}
    assert s["class"].tolist()[1:] == ["", "", ""]
    rc, _, err = run(capsys, *argv, "--classes", "--uncertain-fraction", "-0.1")
    assert rc == 2 and "uncertain fraction" in err


def test_no_mixture_scan_still_writes_and_score_classes_refuses(
    model_dir, tmp_path, capsys, monkeypatch
):
    from biovae.applications.variants import classes
    from biovae.errors import DataError

    def flat(*args, **kwargs):
        raise DataError("every substitution has the same score; there is nothing to classify")

    monkeypatch.setattr(classes, "classify_scan", flat)
    out, html = tmp_path / "scan.csv", tmp_path / "scan.html"
    argv = ["variants", "scan", model_dir, "--out", out, "--report", html, "--samples", "2"]
    rc, _, err = run(capsys, *argv)
    assert rc == 0 and "class columns are empty" in err
    assert "scan-classes" not in html.read_text() and "scan-heatmap" in html.read_text()
    rc, _, err = run(capsys, *argv, "--quiet")  # as fit and design take it: no notes
    assert rc == 0 and "class columns are empty" not in err
    pd.DataFrame({"mutant": ["V29A"]}).to_csv(tmp_path / "m.csv", index=False)
    calls = tmp_path / "calls.csv"
    argv = ["variants", "score", model_dir, "--mutations", tmp_path / "m.csv", "--out", calls]
    rc, _, err = run(capsys, *argv, "--classes", "--samples", "2")
    assert rc == 2 and "score without --classes" in err and len(err.strip().splitlines()) == 1
    assert not calls.exists()


def test_scan_and_heatmap(model_dir, tmp_path, capsys):
    out, png = tmp_path / "scan.csv", tmp_path / "scan.png"
    rc, _, _ = run(
        capsys, "variants", "scan", model_dir, "--out", out, "--heatmap", png, "--samples", "2"
    )
    assert rc == 0 and png.stat().st_size > 1000
    s = pd.read_csv(out)
    assert len(s) == 253 * 20 and np.isfinite(s["score"]).all()
    assert (s.loc[s["wild_type"] == s["letter"], "score"] == 0).all()
    # EVE-style classes: every substitution classed, 25 % uncertain, synonymous rows apart
    same = s["wild_type"] == s["letter"]
    assert (s.loc[same, "class"] == "synonymous").all() and s.loc[same, "p_damaging"].isna().all()
    sub = s.loc[~same]
    assert set(sub["class"]) == {"damaging", "tolerated", "uncertain"}
    assert (sub["class"] == "uncertain").sum() == round(0.25 * len(sub))
    np.testing.assert_allclose(s["evolutionary_index"], -s["score"])
    assert not np.signbit(s.loc[same, "evolutionary_index"]).any()  # 0, never -0
    sure = sub.loc[sub["class"] != "uncertain"]
    assert ((sure["p_damaging"] > 0.5) == (sure["class"] == "damaging")).all()


@pytest.mark.parametrize("flag", ["--heatmap", "--report"])
def test_scan_without_matplotlib_writes_no_table(model_dir, tmp_path, capsys, monkeypatch, flag):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # a core install: no biovae[report]
    out, extra = tmp_path / "scan.csv", tmp_path / ("s.png" if flag == "--heatmap" else "s.html")
    rc, stdout, err = run(capsys, "variants", "scan", model_dir, "--out", out, flag, extra)
    assert rc == 2 and stdout == "" and "pip install 'biovae[report]'" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists() and not extra.exists()


def test_scan_report(model_dir, tmp_path, capsys):
    out, html = tmp_path / "scan.csv", tmp_path / "scan.html"
    rc, stdout, _ = run(
        capsys, "variants", "scan", model_dir, "--out", out, "--report", html, "--samples", "2"
    )
    assert rc == 0 and str(html) in stdout
    page = html.read_text()
    assert 'data-plot="scan-heatmap"' in page and 'data-plot="scan-profile"' in page
    assert 'data-plot="scan-classes"' in page and "Damaging, tolerated, uncertain" in page
    assert "Model card" in page and "Neff" in page and "Checks before reuse" in page
    # 20 steps end before the first held-out evaluation (every 200): the last update is kept
    assert "the last update (training ended before the first held-out evaluation)" in page
    s = pd.read_csv(out)
    worst = s.loc[s["wild_type"] != s["letter"]].sort_values("score", kind="stable").iloc[0]
    first_row = page.split("most damaging")[1].split("<td>")[1].split("</td>")[0]
    assert first_row == f"{worst['wild_type']}{worst['position']}{worst['letter']}"


def test_scan_uncertain_fraction_is_checked_first(model_dir, tmp_path, capsys):
    out = tmp_path / "scan.csv"
    rc, _, err = run(
        capsys, "variants", "scan", model_dir, "--out", out, "--uncertain-fraction", "1.5"
    )
    assert rc == 2 and "uncertain fraction" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_scan_report_needs_html_name(model_dir, tmp_path, capsys):
    out = tmp_path / "scan.csv"
    rc, _, err = run(
        capsys, "variants", "scan", model_dir, "--out", out, "--report", tmp_path / "r.pdf"
    )
    assert rc == 2 and "--report" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "r.pdf").exists()
    report = tmp_path / "missing" / "r.html"
    rc, _, err = run(capsys, "variants", "scan", model_dir, "--out", out, "--report", report)
    assert rc == 2 and "--report" in err and "does not exist" in err
    assert not out.exists() and not report.parent.exists()


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (">a\nMWEL\n>b\nMWE\n", [], "ragged"),
        ("", [], "no FASTA records"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--focus", "zz"], "not found"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--alphabet", "dna"], "check the alphabet set (--alphabet)"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--theta", "1.5"], "theta"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--max-column-gaps", "1.5"], "max_column_gaps"),
        (
            ">a/1-2\nMW\n>b\n--\n>c\n--\n",
            ["--max-gap-fraction", "1", "--max-column-gaps", "0.5"],
            "drops them all",
        ),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--bayesian", "--latent", "0"], "n_latent"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--seed", "-5"], "train.seed must be in 0"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--seed", str(2**63)], "train.seed must be in 0"),
        (">a/1-4\nMWEL\n>b\nMWEC\n", ["--seed", str(2**63 - 1), "--ensemble", "2"], "seed + i"),
    ],
)
def test_fit_bad_input(tmp_path, capsys, content, extra, message):
    path = tmp_path / "aln.fasta"
    path.write_text(content)
    out = tmp_path / "model"
    rc, stdout, err = run(capsys, "variants", "fit", path, "--out", out, "--steps", "2", *extra)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and stdout == ""


def test_score_bad_input(model_dir, tmp_path, capsys):
    pd.DataFrame({"variant": ["V29A"]}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    argv = ["variants", "score", model_dir, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and "no 'mutant' column" in err and not out.exists()
    (tmp_path / "m.csv").write_text("mutant,fit\n")  # a header, no mutant
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and "header but no rows" in err and not out.exists()
    pd.DataFrame({"mutant": ["V29A"]}).to_csv(tmp_path / "m.csv", index=False)
    rc, _, err = run(capsys, *argv, "--fitness-column", "fit")
    assert rc == 2 and "no column 'fit'" in err and not out.exists()
    not_a_model = tmp_path / "folder"
    not_a_model.mkdir()
    rc, _, err = run(
        capsys, "variants", "score", not_a_model, "--mutations", tmp_path / "m.csv", "--out", out
    )
    assert rc == 2 and "not a variants model folder" in err and not out.exists()
    (tmp_path / "m.csv").write_text("mutant,fit\nV29A,0.1,9\nK30A,0.2\n")  # a surplus field
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and "cannot read the mutations table" in err and not out.exists()
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("seed", ["-1", str(2**63), str(10**23)])
def test_a_seed_torch_cannot_take_is_one_line(model_dir, tmp_path, capsys, seed):
    pd.DataFrame({"mutant": ["V29A"]}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    for argv in (
        ["score", model_dir, "--mutations", tmp_path / "m.csv", "--out", out],
        ["scan", model_dir, "--out", out],
        ["design", model_dir, "-k", "1", "--out", out],
    ):
        rc, _, err = run(capsys, "variants", *argv, "--seed", seed, "--samples", "2")
        assert rc == 2 and "seed" in err and "2**63 - 1" in err, err
        assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_fitness_column_named_like_an_output_column_keeps_both(model_dir, tmp_path, capsys):
    (tmp_path / "m.csv").write_text("\ufeffmutant,score\nV29A,0.5\nK30A,0.1\nV29G,0.3\n")  # BOM
    out = tmp_path / "s.csv"
    argv = ["variants", "score", model_dir, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, _, err = run(capsys, *argv, "--fitness-column", "score", "--samples", "2")
    assert rc == 0 and "Spearman ρ = 1.0000" not in err
    s = pd.read_csv(out)
    assert s["score_measured"].tolist() == [0.5, 0.1, 0.3]
    assert not np.allclose(s["score"], s["score_measured"])


def test_deepsequence_protocol_flags_fit_and_score(tmp_path, capsys):
    """The README's variational protocol (no held-out set, bfloat16 training) end to end."""
    import json

    from tests.conftest import FIXTURES

    (tmp_path / "small.toml").write_text(SMALL_TOML)
    out = tmp_path / "bayes"
    rc, _, err = run(
        capsys, "variants", "fit", FIXTURES / "blat_ecolx_first40.a2m", "--out", out,
        "--config", tmp_path / "small.toml", "--bayesian", "--validation-fraction", "0",
        "--steps", "20", "--minutes", "1", "--precision", "bfloat16",
    )  # fmt: skip
    assert rc == 0, err
    saved = json.loads(next(out.rglob("config.json")).read_text())
    assert saved["model"]["bayesian"] is True and saved["train"]["validation_fraction"] == 0
    pd.DataFrame({"mutant": ["V29A", "V29V"]}).to_csv(tmp_path / "m.csv", index=False)
    rc, _, err = run(
        capsys, "variants", "score", out, "--mutations", tmp_path / "m.csv",
        "--out", tmp_path / "s.csv", "--samples", "4",
    )  # fmt: skip
    assert rc == 0, err
    scores = pd.read_csv(tmp_path / "s.csv")
    assert np.isfinite(scores.loc[0, "score"]) and scores.loc[1, "score"] == 0.0
    rc, _, err = run(
        capsys, "variants", "score", out, "--mutations", tmp_path / "m.csv",
        "--out", tmp_path / "mean.csv", "--samples", "4", "--mean-weights",
    )  # fmt: skip
    assert rc == 0, err  # the posterior means instead of weight draws: other (finite) scores
    means = pd.read_csv(tmp_path / "mean.csv")
    assert np.isfinite(means.loc[0, "score"]) and means.loc[0, "score"] != scores.loc[0, "score"]
    html = tmp_path / "scan.html"
    rc, _, err = run(
        capsys, "variants", "scan", out, "--out", tmp_path / "scan.csv", "--report", html,
        "--samples", "2",
    )  # fmt: skip
    assert rc == 0, err
    page = html.read_text()
    assert "variational (posterior q(θ))" in page
    assert "the last update (no held-out sequences)" in page
    assert "decoder weights drawn from q(θ)" in page


@pytest.mark.parametrize(
    ("toml", "flag", "message"),
    [
        ("alignment = 3\n", ["--theta", "0.2"], "config.alignment must be a table of keys"),
        ('model = "x"\n', ["--latent", "4"], "config.model must be a table of keys"),
    ],
)
def test_a_config_value_where_a_table_belongs_is_one_line(tmp_path, capsys, toml, flag, message):
    from tests.conftest import FIXTURES

    (tmp_path / "bad.toml").write_text(toml)
    out = tmp_path / "model"
    argv = ["variants", "fit", FIXTURES / "blat_ecolx_first40.a2m", "--out", out]
    assert main([str(a) for a in [*argv, "--config", tmp_path / "bad.toml", *flag]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not out.exists()


@pytest.mark.parametrize(
    ("toml", "flag", "source"),
    [
        ("[train]\nlr = 0\n", [], r"config file .*bad.toml, line 2"),
        ("[model]\nn_latent = 2\ndecoder_hidden = [8]\n", [], r"config file .*bad.toml, line 3"),
        ("[train]\nsteps = 5\n", ["--lr", "0"], "option --lr"),
        ("[train]\nsteps = 0\n", ["--steps", "5", "--seed", "-1"], "option --seed"),
    ],
)
def test_a_bad_config_value_is_blamed_on_its_file_line_or_flag(
    tmp_path, capsys, toml, flag, source
):
    from tests.conftest import FIXTURES

    (tmp_path / "bad.toml").write_text(toml)
    out = tmp_path / "model"
    argv = ["variants", "fit", FIXTURES / "blat_ecolx_first40.a2m", "--out", out]
    assert main([str(a) for a in [*argv, "--config", tmp_path / "bad.toml", *flag]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()
    assert re.search(rf"\(from {source}\)$", err), err


def test_a_fitness_column_with_text_is_copied_as_given(model_dir, tmp_path, capsys):
    table = pd.DataFrame(
        {"mutant": ["V29A", "K30A", "K32R", "V29V"], "fit": ["0.1", "x", "-1.0", ""]}
    )
    table.to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "scores.csv"
    argv = ["variants", "score", model_dir, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, _, err = run(capsys, *argv, "--fitness-column", "fit", "--samples", "2")
    assert rc == 0 and "1 value(s) of 'fit' are not numbers" in err
    copied = pd.read_csv(out, keep_default_na=False, dtype=str)["fit"].tolist()
    assert copied == ["0.1", "x", "-1.0", ""]  # 'x' was blanked
    table["fit"] = ["0.1", "NaN", "-1.0", "NA"]  # missing values, as pandas writes them
    table.to_csv(tmp_path / "m.csv", index=False)
    rc, _, err = run(capsys, *argv, "--fitness-column", "fit", "--samples", "2")
    assert rc == 0 and "not numbers" not in err
    assert pd.read_csv(out)["fit"].tolist()[::2] == [0.1, -1.0]


def test_design_help_positions_are_match_columns_of_blat(model_dir, tmp_path, capsys):
    import re

    with pytest.raises(SystemExit):
        main(["variants", "design", "--help"])
    positions = re.search(r"--positions (\d\S+)", capsys.readouterr().out).group(1)
    args = ["variants", "design", model_dir, "-k", "1", "--positions", positions, "--samples", "2"]
    rc, _, err = run(capsys, *args, "--out", tmp_path / "d.csv", "--quiet")
    assert rc == 0, err


@pytest.mark.parametrize("action", ["fit", "score", "scan", "design"])
def test_every_action_help_has_a_description_and_examples(action, capsys):
    with pytest.raises(SystemExit):
        main(["variants", action, "--help"])
    text = capsys.readouterr().out
    usage_end = text.index("\n\n")
    assert text[usage_end:].split("\n\n")[1][0].isupper()  # a description before the options
    assert f"examples:\n  biovae variants {action} " in text


def test_model_card_names_the_update_each_member_was_kept_at():
    from biovae.applications.variants.card import kept_update as _kept

    evaluated = [{"step": 200, "val_elbo": -10.0}, {"step": 400, "val_elbo": -9.0},
                 {"step": 600, "val_elbo": -9.5}, {"step": 650, "final": 1.0}]  # fmt: skip
    short = [{"step": 20, "final": 1.0}]
    text = _kept(0.05, [evaluated, short])
    assert text.endswith("at update 400, last") and "5% of the sequences used" in text
    assert _kept(0.05, [short]).startswith("the last update (training ended before")
    assert _kept(0.0, [evaluated]) == "the last update (no held-out sequences)"


@pytest.mark.parametrize("flag", ["--heatmap", "--report"])
def test_a_scan_whose_picture_fails_to_draw_writes_nothing(
    model_dir, tmp_path, capsys, monkeypatch, flag
):
    """The table was written before the heatmap and the report were drawn: a drawing that
    failed ended the scan with status 2 and left the table (and a heatmap) behind."""
    from biovae.errors import DataError
    from biovae.reports import variants_page

    def fail(*args, **kwargs):
        raise DataError("drawing failed")

    name = "scan_heatmap" if flag == "--heatmap" else "variants_report_page"
    monkeypatch.setattr(variants_page, name, fail)
    out, extra = tmp_path / "scan.csv", tmp_path / ("s.png" if flag == "--heatmap" else "s.html")
    both = ["--heatmap", tmp_path / "h.png"] if flag == "--report" else []
    rc, _, err = run(
        capsys, "variants", "scan", model_dir, "--out", out, flag, extra, *both, "--samples", "1"
    )
    assert rc == 2 and "drawing failed" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", WHERE)
def test_a_damaged_gzip_mutations_table_is_one_line(model_dir, tmp_path, capsys, where):
    """A mutations .csv.gz whose deflate stream is damaged (at its start, or after rows pandas
    has parsed) raised zlib.error (no OSError): a traceback and exit status 1."""
    rows = "mutant,fit\n" + "".join(f"V29A,{i / 3000:.6f}\n" for i in range(3000))
    path = tmp_path / "m.csv.gz"
    path.write_bytes(damaged_gzip(rows.encode(), where))
    out = tmp_path / "s.csv"
    rc, stdout, err = run(capsys, "variants", "score", model_dir, "--mutations", path, "--out", out)
    assert rc == 2 and stdout == "" and not out.exists() and len(err.strip().splitlines()) == 1
    assert re.search(r"m\.csv\.gz: could not read the mutations table \(Error -3 .*gzip -t", err)


def test_score_quiet_drops_the_notes_not_the_rho_asked_for(model_dir, tmp_path, capsys):
    # score alone of the variants actions took no --quiet: 'unrecognized arguments', status 2
    table = pd.DataFrame({"mutant": ["V29A", "V29V", "K30A:K32R", "H24A"], "f": [1, 0, 2, 3]})
    table.to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    args = ["--mutations", tmp_path / "m.csv", "--out", out, "--samples", "2"]
    rc, stdout, err = run(capsys, "variants", "score", model_dir, *args, "--fitness-column", "f")
    assert rc == 0 and "1 of 4 mutants could not be scored" in err
    rc, stdout, err = run(
        capsys, "variants", "score", model_dir, *args, "--fitness-column", "f", "--quiet"
    )
    assert rc == 0 and stdout.strip() == str(out) and err.startswith("Spearman ρ")
    assert "could not be scored" not in err and len(pd.read_csv(out)) == 4


def test_fit_quiet_prints_only_the_model_folder(tmp_path, capsys):
    """`variants fit --quiet` still printed its Neff line, where `fit --quiet` says nothing but
    the output path; an error is still one line on stderr."""
    from tests.conftest import FIXTURES

    (tmp_path / "small.toml").write_text(SMALL_TOML)
    aln, out = FIXTURES / "blat_ecolx_first40.a2m", tmp_path / "model"
    argv = ["variants", "fit", aln, "--config", tmp_path / "small.toml", "--steps", "2"]
    rc, stdout, err = run(capsys, *argv, "--out", out, "--quiet")
    assert rc == 0 and stdout == f"{out}\n" and err == ""
    rc, stdout, err = run(capsys, *argv, "--out", tmp_path / "loud")
    assert rc == 0 and "Neff = " in err
    rc, stdout, err = run(capsys, *argv, "--out", tmp_path / "bad", "--theta", "1.5", "--quiet")
    assert rc == 2 and stdout == "" and "theta" in err and len(err.strip().splitlines()) == 1


def test_fit_max_column_gaps_drops_columns_and_score_scan_report_them(tmp_path, capsys):
    """EVE's column filter: residues 10 and 11 (3 and 2 gaps of 6) go at 0.3; their mutations
    are unscorable with the reason, the scan leaves them out, and record r4 (gaps only over the
    columns kept) weighs 0: the five others are identical there, so Neff = 5 · 1/5 = 1."""
    text = ">f/10-13\nACDE\n>r1\n-CDE\n>r2\nA-DE\n>r3\n--DE\n>r4\nAC--\n>r5\n-CDE\n"
    (tmp_path / "aln.a2m").write_text(text)
    (tmp_path / "small.toml").write_text(SMALL_TOML)
    model = tmp_path / "model"
    argv = ["variants", "fit", tmp_path / "aln.a2m", "--config", tmp_path / "small.toml"]
    rc, _, err = run(capsys, *argv, "--steps", "5", "--max-column-gaps", "0.3", "--out", model)
    assert rc == 0 and "Neff = 1.0" in err and "2 match columns" in err and ": 10, 11" in err
    assert "1 records without residues weigh 0" in err
    pd.DataFrame({"mutant": ["A10G", "D12E"]}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    rc, _, err = run(
        capsys,
        "variants",
        "score",
        model,
        "--mutations",
        tmp_path / "m.csv",
        "--out",
        out,
        "--samples",
        "2",
    )
    s = pd.read_csv(out, keep_default_na=False)
    assert rc == 0 and s["status"].tolist() == ["unmapped", "ok"]
    assert s.loc[0, "reason"].startswith("column 10 dropped: 50.0% gaps (3 of 6 sequences) > 0.3")
    rc, _, err = run(
        capsys, "variants", "scan", model, "--out", tmp_path / "scan.csv", "--samples", "2"
    )
    scan = pd.read_csv(tmp_path / "scan.csv")
    assert rc == 0 and sorted(set(scan["position"])) == [12, 13] and ": 10, 11" in err


def test_score_warns_when_the_file_is_numbered_from_another_start(model_dir, tmp_path, capsys):
    from biovae.applications.variants import family

    fitted = family.load(model_dir)
    singles = [f"{wt}{n - 23}A" for wt, n in zip(fitted.focus_sequence, fitted.positions)]
    pd.DataFrame({"mutant": singles}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    argv = ["variants", "score", model_dir, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, stdout, err = run(capsys, *argv, "--samples", "1", "--quiet")
    assert rc == 0 and stdout.strip() == str(out)  # scored as written, with the warning
    first = singles[0]
    assert "warning" in err and "shifted by +23" in err
    assert f"{first} would be {first[0]}{int(first[1:-1]) + 23}A" in err
    right = [f"{wt}{n}A" for wt, n in zip(fitted.focus_sequence, fitted.positions)]
    pd.DataFrame({"mutant": right}).to_csv(tmp_path / "m.csv", index=False)
    rc, _, err = run(capsys, *argv, "--samples", "1", "--quiet")
    assert rc == 0 and "warning" not in err


def test_score_reads_eve_mutations_column_with_mutant_column(model_dir, tmp_path, capsys):
    eve = tmp_path / "eve.csv"
    pd.DataFrame({"protein_name": ["BLAT"] * 2, "mutations": ["V29A", "V29A:K30R"]}).to_csv(
        eve, index=False
    )
    out = tmp_path / "s.csv"
    argv = ["variants", "score", model_dir, "--mutations", eve, "--out", out, "--samples", "2"]
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and not out.exists()
    assert "no 'mutant' column" in err and "--mutant-column mutations" in err
    rc, _, err = run(capsys, *argv, "--fitness-column", "DMS_score", "--mutant-column", "mutations")
    assert rc == 2 and "(columns: protein_name, mutations)" in err and not out.exists()
    rc, _, _ = run(capsys, *argv, "--mutant-column", "mutations")
    assert rc == 0
    s = pd.read_csv(out, keep_default_na=False)
    assert s["mutant"].tolist() == ["V29A", "V29A:K30R"] and (s["status"] == "ok").all()
    assert "protein_name" not in s.columns
