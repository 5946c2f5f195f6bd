"""``biovae variants score`` on a clinical list (HGVS ``p.`` changes beside one-letter ones),
wild-type letters checked at residues the model leaves out, and ``biovae sample`` refusing a
variants model with the command that designs from it."""

from __future__ import annotations

import pandas as pd
import pytest

from biovae.cli.main import main
from tests.cli._run import run
from tests.cli.test_variants_cli import SMALL_TOML


@pytest.fixture(scope="module")
def blat_variants(tmp_path_factory):
    from tests.conftest import FIXTURES

    tmp = tmp_path_factory.mktemp("clinical")
    (tmp / "small.toml").write_text(SMALL_TOML)
    out = tmp / "blat_variants"
    argv = ["variants", "fit", FIXTURES / "blat_ecolx_first40.a2m", "--out", out]
    rc = main([str(a) for a in [*argv, "--config", tmp / "small.toml", "--steps", "20", "--quiet"]])
    assert rc == 0
    return out


# BLAT_ECOLX/24-286: V29 K30 V31 K32 are match columns, W229 too; residues 24-28 (hpetl)
# come before the match columns and 56 (e) is an insert residue
ROWS = [
    ("V29A", "p.Val29Ala"),
    ("V29A", "Val29Ala"),
    ("V29A", "ENSP00000000001.1:p.(VAL29ALA)"),
    ("V29A:K32R", "p.[Val29Ala;Lys32Arg]"),
    ("V29V", "p.Val29="),
    ("K30E", "p.K30E"),
]


def _score(model, rows: list[str], path, capsys) -> pd.DataFrame:
    pd.DataFrame({"mutant": rows}).to_csv(path.with_suffix(".in.csv"), index=False)
    argv = ["variants", "score", model, "--mutations", path.with_suffix(".in.csv")]
    rc, _, _ = run(capsys, *argv, "--out", path, "--samples", "3")
    assert rc == 0
    return pd.read_csv(path, keep_default_na=False)


def test_hgvs_rows_score_as_their_one_letter_twins(blat_variants, tmp_path, capsys):
    # one file mixing both notations, one with every row one-letter: row for row the same
    # mutation at the same place in the batch, so the same numbers to the last bit
    mixed = [m for pair in ROWS for m in pair]
    plain = [one for one, _ in ROWS for _ in (0, 1)]
    s = _score(blat_variants, mixed, tmp_path / "mixed.csv", capsys)
    t = _score(blat_variants, plain, tmp_path / "plain.csv", capsys)
    assert s["mutant"].tolist() == mixed  # as the user wrote them
    assert (s["status"] == "ok").all() and (t["status"] == "ok").all()
    for col in ("score", "se", "independent_site"):
        assert s[col].tolist() == t[col].tolist(), col
    assert float(s.loc[s["mutant"] == "p.Val29=", "score"].iloc[0]) == 0.0


def test_hgvs_changes_that_are_no_substitution_keep_their_row(blat_variants, tmp_path, capsys):
    unscorable = ["p.Arg97fs", "p.Lys23_Val25del", "p.Met1?", "p.Val29Sec", "p.Val29Xyz"]
    s = _score(blat_variants, ["p.Val29Ala", *unscorable], tmp_path / "calls.csv", capsys)
    assert s["mutant"].tolist() == ["p.Val29Ala", *unscorable]
    assert s["status"].tolist() == ["ok"] + ["unmapped"] * len(unscorable)
    reasons = s["reason"].tolist()[1:]
    assert "frameshift" in reasons[0] and "in-frame deletion" in reasons[1]
    assert "lost start codon" in reasons[2] and "selenocysteine" in reasons[3]
    assert "malformed HGVS" in reasons[4]


# ClinVar's Name column: the DNA change, then the protein change in parentheses (R41, V29 and
# D33 of BLAT_ECOLX/24-286 are match columns; the transcript is made up)
CLINVAR = [
    ("R41H", "NM_000000.1(BLA):c.122G>A (p.Arg41His)"),
    ("V29A", "NM_000000.1(BLA):c.86T>C(p.Val29Ala)"),
    ("V29V", "NM_000000.1(BLA):c.87T>C (p.Val29=)"),
    ("D33E", "c.99T>A (p.Asp33Glu)"),
]


def test_clinvar_names_score_as_their_one_letter_twins(blat_variants, tmp_path, capsys):
    named = [m for pair in CLINVAR for m in pair]
    plain = [one for one, _ in CLINVAR for _ in (0, 1)]
    s = _score(blat_variants, named, tmp_path / "named.csv", capsys)
    t = _score(blat_variants, plain, tmp_path / "plain.csv", capsys)
    assert s["mutant"].tolist() == named and (s["status"] == "ok").all()
    for col in ("score", "se", "independent_site"):
        assert s[col].tolist() == t[col].tolist(), col
    assert s["score"].iloc[0] != 0.0 and s["score"].iloc[5] == 0.0  # R41H moves, V29= not


def test_clinvar_names_with_no_scorable_protein_change_keep_their_row(
    blat_variants, tmp_path, capsys
):
    unscorable = [
        "NM_000000.1(BLA):c.121dup (p.Arg41fs)",
        "NM_000000.1(BLA):c.121C>T (p.Arg41Ter)",
        "NM_000000.1(BLA):c.68-7T>A",
        "NC_000000.1:g.1000G>A",
    ]
    s = _score(blat_variants, [CLINVAR[0][1], *unscorable], tmp_path / "calls.csv", capsys)
    assert s["mutant"].tolist() == [CLINVAR[0][1], *unscorable]
    assert s["status"].tolist() == ["ok"] + ["unmapped"] * len(unscorable)
    reasons = s["reason"].tolist()[1:]
    assert "frameshift" in reasons[0] and "R41* is a stop" in reasons[1]
    assert reasons[2].startswith("NM_000000.1(BLA):c.68-7T>A has no protein change")
    assert reasons[3].startswith("NC_000000.1:g.1000G>A has no protein change")


def test_a_wrong_wild_type_letter_off_the_match_columns_is_named(blat_variants, tmp_path, capsys):
    mutants = ["K56A", "E56A", "K26A", "E26A"]
    pd.DataFrame({"mutant": mutants}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    argv = ["variants", "score", blat_variants, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, _, _ = run(capsys, *argv, "--samples", "2")
    reasons = pd.read_csv(out, keep_default_na=False)["reason"].tolist()
    assert rc == 0
    assert reasons[0] == "wild-type letter mismatch at 56: focus has E, not K"
    assert "56 is an insert residue" in reasons[1] and "mismatch" not in reasons[1]
    assert reasons[2] == "wild-type letter mismatch at 26: focus has E, not K"
    assert "not a match column" in reasons[3] and "mismatch" not in reasons[3]


def test_sample_refuses_a_variants_model_pointing_at_variants_design(
    blat_variants, tmp_path, capsys
):
    out = tmp_path / "designs.fasta"
    rc, _, err = run(capsys, "sample", blat_variants, "-n", "3", "--out", out)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and not out.exists()
    assert f"'biovae variants design {blat_variants} -k 3" in err


# every class of name a clinical list holds, on BLAT_ECOLX/24-286 (V29 K30 V31 K32 R41 are
# match columns): (name, its one-letter twin or None, status, what the reason says)
CLASSES = [
    ("p.(Arg41His)", "R41H", "ok", ""),  # predicted
    ("p.r41h", "R41H", "ok", ""),  # lower case
    ("r41h", "R41H", "ok", ""),
    ("  p.Arg41His\t", "R41H", "ok", ""),  # whitespace around
    ("p.Arg41=", "R41R", "ok", ""),  # synonymous
    ("p.R41=", "R41R", "ok", ""),
    ("p.[Arg41His;Lys32Arg]", "R41H:K32R", "ok", ""),  # one allele
    ("p.[R41H;K32R]", "R41H:K32R", "ok", ""),
    ("NM_000000.1(BLA):c.122G>A (p.Arg41His)", "R41H", "ok", ""),
    ("p.Arg41Ter", None, "unmapped", "R41* is a stop (nonsense) mutation"),
    ("p.R41*", None, "unmapped", "R41* is a stop (nonsense) mutation"),
    ("p.Arg41X", None, "unmapped", "R41X is a stop (nonsense) mutation in the older notation"),
    ("R41X", None, "unmapped", "R41X is a stop (nonsense) mutation in the older notation"),
    ("p.Arg41fs", None, "unmapped", "is a frameshift"),
    ("p.Arg41ProfsTer5", None, "unmapped", "is a frameshift"),
    ("p.Lys32del", None, "unmapped", "is an in-frame deletion"),
    ("p.Lys30_Lys32del", None, "unmapped", "is an in-frame deletion"),
    ("p.Lys32dup", None, "unmapped", "is a duplication"),
    ("p.Lys30_Val31insGly", None, "unmapped", "is an insertion"),
    ("p.Lys32delinsGlyAla", None, "unmapped", "is a deletion-insertion"),
    ("p.[Arg41His;Lys32del]", None, "unmapped", "is an in-frame deletion"),
    ("p.?", None, "unmapped", "unknown effect on the protein"),
    ("p.Met1?", None, "unmapped", "a lost start codon"),
    ("p.0", None, "unmapped", "a loss of the protein"),
    (
        "GRCh38/hg38 17q21.31(chr17:43044295-43125483)x1",
        None,
        "unmapped",
        "is a copy-number variant (1 copy of chr17:43044295-43125483): it has no single protein",
    ),
    (
        "NC_000017.11:g.(?_43044295)_(43125483_?)del",
        None,
        "unmapped",
        "is a copy-number variant (a deletion of DNA with uncertain ends)",
    ),
    ("seq[GRCh38] del(17)(q21.31q21.31)", None, "unmapped", "is a chromosomal rearrangement"),
    ("NC_000000.1:g.1000G>A", None, "unmapped", "has no protein change"),
    ("p.Vla41His", None, "unmapped", "malformed HGVS protein change"),
    ("17q21.31 deletion", None, "unmapped", "malformed mutation"),
]


def test_every_class_of_clinical_name_scores_or_says_why(blat_variants, tmp_path, capsys):
    named = ["R41H", *(name for name, *_ in CLASSES)]
    plain = ["R41H", *(twin or name for name, twin, *_ in CLASSES)]
    s = _score(blat_variants, named, tmp_path / "named.csv", capsys)
    t = _score(blat_variants, plain, tmp_path / "plain.csv", capsys)
    assert s["mutant"].tolist() == named  # every row kept, as written
    assert s["status"].tolist() == ["ok", *(status for _, _, status, _ in CLASSES)]
    for (name, _, _, says), reason in zip(CLASSES, s["reason"].iloc[1:]):
        assert says in reason, (name, reason)
        if says and "malformed" not in says:
            assert "malformed" not in reason, (name, reason)
    ok = (s["status"] == "ok").to_numpy()
    for col in ("score", "se", "independent_site"):  # substitutions as their short forms
        assert s.loc[ok, col].tolist() == t.loc[ok, col].tolist(), col
    scores = {m: float(x) for m, x in zip(s.loc[ok, "mutant"], s.loc[ok, "score"])}
    assert scores["p.Arg41="] == 0.0 and scores["p.R41="] == 0.0  # as A42A
    assert scores["p.(Arg41His)"] != 0.0 and scores["p.[R41H;K32R]"] != scores["r41h"]
