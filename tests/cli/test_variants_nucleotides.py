"""``biovae variants fit / score / scan`` end to end on a small RNA family in A2M (a header
range, an insert of the focus): the same pipeline as for proteins, over 4 letters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main
from tests.cli._run import run
from tests.cli.test_variants_cli import SMALL_TOML

FOCUS = "GGACUUCGAUCCAGUA"  # match columns; residues 41-42 ('ag') are an insert after the 5th
START = 36  # the header range: focus/36-53


def _family(path) -> None:
    """An A2M of the focus and 30 records with a few substitutions and gaps each."""
    rng = np.random.default_rng(0)
    rows = [f">focus/{START}-{START + len(FOCUS) + 1}", FOCUS[:5] + "ag" + FOCUS[5:]]
    for i in range(30):
        row = [c if rng.random() > 0.2 else rng.choice(list("ACGU-")) for c in FOCUS]
        rows += [f">r{i}", "".join(row[:5]) + str(rng.choice(["..", "cu"])) + "".join(row[5:])]
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def rna_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rna")
    (tmp / "small.toml").write_text(SMALL_TOML)
    _family(tmp / "family.a2m")
    out = tmp / "model"
    argv = ["variants", "fit", tmp / "family.a2m", "--out", out, "--config", tmp / "small.toml"]
    assert main([str(a) for a in [*argv, "--steps", "20", "--quiet"]]) == 0
    return out


def test_scan_covers_every_match_position_and_nucleotide(rna_model, tmp_path, capsys):
    out = tmp_path / "scan.csv"
    rc, _, _ = run(capsys, "variants", "scan", rna_model, "--out", out, "--samples", "2")
    scan = pd.read_csv(out, keep_default_na=False)
    assert rc == 0 and len(scan) == len(FOCUS) * 4
    numbers = [n for n in range(START, START + len(FOCUS) + 2) if n not in (41, 42)]
    assert sorted(set(scan["position"])) == numbers  # the insert residues 41-42 are no column
    assert sorted(set(scan["letter"])) == list("ACGU")
    same = scan["letter"] == scan["wild_type"]
    assert (scan.loc[same, "score"] == 0.0).all() and same.sum() == len(FOCUS)


def test_score_names_why_each_nucleotide_mutant_is_not_scored(rna_model, tmp_path, capsys):
    # residue 36 is G, 40 U, 43 U (after the insert 41-42)
    mutants = ["G36A", "G36G", "U40C:U43G", "T40C", "G36T", "A41G", "G36A:G36C", "G36L", "G35A"]
    pd.DataFrame({"mutant": mutants}).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "s.csv"
    argv = ["variants", "score", rna_model, "--mutations", tmp_path / "m.csv", "--out", out]
    rc, _, err = run(capsys, *argv, "--samples", "2")
    s = pd.read_csv(out, keep_default_na=False)
    assert rc == 0 and "6 of 9 mutants could not be scored" in err
    assert s["status"].tolist() == ["ok"] * 3 + ["unmapped"] * 6
    assert float(s.loc[1, "score"]) == 0.0  # synonymous
    reasons = s["reason"].tolist()
    assert reasons[3].endswith("write U for T (U40C)") and reasons[4].endswith("(G36U)")
    assert "41 is an insert residue" in reasons[5]
    assert "mutated twice" in reasons[6] and "not in the alphabet ACGU" in reasons[7]
    assert "outside the model" in reasons[8]
