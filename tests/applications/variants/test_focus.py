"""The focus's whole sequence (inserts included): read from A2M / A3M / Stockholm, saved with
the model, and the designs written as whole proteins — checked against sequences written out
by hand; models saved before it was kept design match columns with one warning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.focus import FocusResidues, from_row
from biovae.data.fasta import read_fasta_records
from tests.applications.variants.test_family import SMALL
from tests.cli._run import run

# the focus, residues 5..17: M5 K6 a7 a8 V9 L10 c11 R12 S13 T14 d15 D16 E17 (lower case:
# inserts); its match columns are residues 5, 6, 9, 10, 12, 13, 14, 16 and 17
FOCUS_ROW = "MKaaVLcRSTdDE"
WHOLE = "MKAAVLCRSTDDE"
START = 5
MATCH = (5, 6, 9, 10, 12, 13, 14, 16, 17)


def small_a2m(path, n: int = 40):
    """The focus and ``n`` relatives: match columns drawn near the focus, inserts '.' or
    lower case, as an aligner writes them."""
    rng = np.random.default_rng(0)
    rows = [f">FOC/{START}-17\n{FOCUS_ROW}\n"]
    for i in range(n):
        row = "".join(_relative(c, rng) for c in FOCUS_ROW)
        rows.append(f">seq{i}\n{row}\n")
    path.write_text("".join(rows))
    return path


def _relative(focus: str, rng) -> str:
    if focus.islower():  # an insert column: a residue or none
        return focus if rng.random() < 0.5 else "."
    return focus if rng.random() < 0.7 else str(rng.choice(list("ACDEFGHIKLMNPQRSTVWY")))


def test_the_whole_focus_and_its_match_columns_by_hand(tmp_path):
    aln = read_alignment(small_a2m(tmp_path / "fam.a2m"))
    assert aln.positions == MATCH
    whole = aln.focus_residues
    assert whole.sequence == WHOLE
    assert whole.index == tuple(p - START for p in MATCH)  # index = residue number - START
    assert whole.problem(aln.focus_sequence) is None


def test_a3m_and_stockholm_keep_the_same_whole_focus(tmp_path):
    a3m = tmp_path / "fam.a3m"
    a3m.write_text(">FOC/5-17\nMKaaVLcRSTdDE\n>s1\nMKVLcRSTDE\n>s2\nMKgVL-STDE\n")
    sto = tmp_path / "fam.sto"
    sto.write_text(
        "# STOCKHOLM 1.0\nFOC/5-17 MKaaVLcRSTdDE\ns1 MK..VLcRST.DE\ns2 MKg.VL.-ST.DE\n//\n"
    )
    for path in (a3m, sto):
        aln = read_alignment(path)
        assert aln.focus_residues == FocusResidues(WHOLE, tuple(p - START for p in MATCH))


def test_whole_substitutes_deletes_and_inserts_at_the_right_residues():
    # focus row: A b C - D e (match columns A, C, -, D; the third is a gap of the focus)
    whole = from_row("AbC-De", 4)
    assert whole == FocusResidues("ABCDE", (0, 2, 3, 3))
    assert whole.whole("AC-D", "AC-D") == "ABCDE"
    assert whole.whole("AC-D", "WC-D") == "WBCDE"  # a substitution
    assert whole.whole("AC-D", "A--D") == "ABDE"  # a designed gap deletes the residue
    assert whole.whole("AC-D", "ACYD") == "ABCYDE"  # a letter where the focus has a gap
    assert from_row("acgt", 4) == FocusResidues("ACGT", (0, 1, 2, 3))  # read without inserts


def test_a_whole_focus_that_does_not_fit_is_named():
    whole = FocusResidues("ABCDE", (0, 2, 3, 3))
    assert "not that residue" in whole.problem("AW-D")
    assert "2 residue indices for 3 match columns" in FocusResidues("AB", (0, 1)).problem("ABC")
    assert "outside" in FocusResidues("AB", (0, 5)).problem("AB")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("focus")
    fitted = family.fit(read_alignment(small_a2m(tmp / "fam.a2m")), SMALL)
    return family.save(tmp / "model", fitted)


def designs(capsys, model, tmp_path):
    out, fasta = tmp_path / "d.csv", tmp_path / "d.fasta"
    args = ["variants", "design", model, "-k", 2, "--beam", 4, "--samples", 4, "--seed", 3]
    rc, _, err = run(capsys, *args, "--out", out, "--fasta", fasta)
    assert rc == 0, err
    return read_fasta_records(fasta), out.read_text().splitlines(), err


def test_designs_are_the_whole_focus_with_their_substitutions(model, tmp_path, capsys):
    records, rows, err = designs(capsys, model, tmp_path)
    assert len(records.ids) == 4 and "warning" not in err
    header = rows[0].split(",")
    assert header[-2:] == ["sequence", "match_columns"]
    for desc, seq, row in zip(records.descriptions, records.seqs, rows[1:]):
        expected = list(WHOLE)
        for change in desc.split()[0].split(":"):
            wt, number, new = change[0], int(change[1:-1]), change[-1]
            assert expected[number - START] == wt and new != wt
            expected[number - START] = new
        assert seq == "".join(expected)  # inserts kept, substitutions at their residues
        columns = "".join(expected[p - START] for p in MATCH)
        assert row.split(",")[-2:] == [seq, columns]


def test_an_old_model_designs_match_columns_with_one_warning(model, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.json", "weights.safetensors"):
        (old / name).write_bytes((model / name).read_bytes())
    meta = json.loads((model / "metadata.json").read_text())
    del meta["focus_residues"], meta["focus_residue_index"]
    (old / "metadata.json").write_text(json.dumps(meta))
    records, _, err = designs(capsys, old, tmp_path)
    assert err.count("biovae: warning:") == 1 and "refit it with 'biovae variants fit'" in err
    assert all(len(s) == len(MATCH) for s in records.seqs)
    meta["focus_residues"] = "MKAA"  # damaged: a whole focus that does not fit
    (old / "metadata.json").write_text(json.dumps({**meta, "focus_residue_index": [0, 1]}))
    rc, _, err = run(capsys, "variants", "design", old, "--out", tmp_path / "x.csv")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "refit the model" in err
    assert not (tmp_path / "x.csv").exists()


def test_the_whole_focus_survives_save_and_load(model):
    loaded = family.load(model)
    assert loaded.focus_residues == FocusResidues(WHOLE, tuple(p - START for p in MATCH))
    assert "focus_residues" not in loaded.facts


def test_unmodelled_residues_are_numbered_by_the_header_range():
    whole = from_row(FOCUS_ROW, len(MATCH))
    letters = "".join(c for c in FOCUS_ROW if c.isupper())
    # residues 7, 8, 11 and 15 (a a c d) are on no match column
    assert whole.unmodelled(letters, MATCH) == {7: "A", 8: "A", 11: "C", 15: "D"}
    # a match column dropped (residue 12, R): its residue joins them
    kept = [i for i, p in enumerate(MATCH) if p != 12]
    dropped = FocusResidues(whole.sequence, tuple(whole.index[i] for i in kept))
    positions = tuple(MATCH[i] for i in kept)
    found = dropped.unmodelled("".join(letters[i] for i in kept), positions)
    assert found == {7: "A", 8: "A", 11: "C", 12: "R", 15: "D"}
    # numbered 1..L over the match columns (no range): an insert has no number
    assert whole.unmodelled(letters, tuple(range(1, len(MATCH) + 1))) == {}
