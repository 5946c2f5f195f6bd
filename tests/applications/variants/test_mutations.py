"""Mutation strings: parsing, mapping onto match columns, and the reasons for failures."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.applications.variants import mutations

ALPHABET = "ACDEFGHIKLMNPQRSTVWY-"
FOCUS = np.array([ALPHABET.index(c) for c in "MKAGL"], dtype=np.uint8)
POSITIONS = (10, 11, 12, 14, 15)  # residue 13 is an insert column (not modelled)


def test_parse_single_multi_and_wild_type():
    assert mutations.parse("A42G") == [("A", 42, "G")]
    assert mutations.parse("a42g:K45R") == [("A", 42, "G"), ("K", 45, "R")]
    assert mutations.parse("WT") == [] and mutations.parse("_wt") == []


@pytest.mark.parametrize("bad", ["A42", "42G", "AA42G", "A4.2G", "A42G:", "A42G;K45R", "", "  "])
def test_parse_malformed(bad):
    with pytest.raises(ValueError, match=r"malformed|empty"):
        mutations.parse(bad)


def test_an_empty_mutant_is_unmapped_not_the_wild_type():
    m = mutations.map_mutants(["", "WT"], FOCUS, ALPHABET, POSITIONS)
    assert m.ok.tolist() == [False, True] and "empty" in m.reasons[0] and "WT" in m.reasons[0]


def test_map_reasons_and_codes():
    names = ["K11R", "K11R:G14A", "A11R", "A13G", "K11B", "M10A:M10C", "K11", "K11K"]
    m = mutations.map_mutants(names, FOCUS, ALPHABET, POSITIONS)
    assert m.ok.tolist() == [True, True, False, False, False, False, False, True]
    assert "".join(ALPHABET[c] for c in m.codes[1]) == "MRAAL"
    assert "".join(ALPHABET[c] for c in m.codes[7]) == "MKAGL"
    assert "mismatch" in m.reasons[2] and "focus has K" in m.reasons[2]
    assert "not a match column" in m.reasons[3]
    assert "not in the alphabet" in m.reasons[4]
    assert "twice" in m.reasons[5]
    assert "malformed" in m.reasons[6]
    assert np.array_equal(m.codes[2], FOCUS)  # unmapped rows carry the focus unchanged


def test_single_mutant_scan_covers_every_letter():
    names = mutations.single_mutant_scan(FOCUS, ALPHABET, POSITIONS)
    assert len(names) == 5 * 20 and names[0] == "M10A" and "M10M" in names
    assert mutations.map_mutants(names, FOCUS, ALPHABET, POSITIONS).ok.all()


def test_a_stop_or_a_deletion_is_named_not_called_malformed():
    m = mutations.map_mutants(
        ["K11*", "K11-", "k11*:G14A", "K11R:M10-"], FOCUS, ALPHABET, POSITIONS
    )
    assert not m.ok.any()
    assert "K11* is a stop" in m.reasons[0] and "K11- is a deletion" in m.reasons[1]
    assert "K11* is a stop" in m.reasons[2] and "M10- is a deletion" in m.reasons[3]
    assert not any("malformed" in r for r in m.reasons)


def test_a_residue_between_match_columns_is_named_an_insert():
    m = mutations.map_mutants(["A13G", "M9A", "L16A"], FOCUS, ALPHABET, POSITIONS)
    assert not m.ok.any()
    assert "13 is an insert residue" in m.reasons[0] and "not a match column" in m.reasons[0]
    assert all("insert" not in r and "outside the model" in r for r in m.reasons[1:])


RNA_FOCUS = np.array(["ACGU-".index(c) for c in "UGCA"], dtype=np.uint8)
DNA_FOCUS = np.array(["ACGT-".index(c) for c in "TGCA"], dtype=np.uint8)


def test_t_on_an_rna_model_and_u_on_a_dna_model_name_the_mutant_respelled():
    rna = mutations.map_mutants(
        ["T1G", "G2T", "T1G:A4T", "U1G:A4U", "T3G"], RNA_FOCUS, "ACGU-", (1, 2, 3, 4)
    )
    assert rna.ok.tolist() == [False, False, False, True, False]
    assert rna.reasons[0].endswith("the model is RNA: write U for T (U1G)")
    assert "letter T in G2T" in rna.reasons[1] and rna.reasons[1].endswith("(G2U)")
    assert rna.reasons[2].endswith("write U for T (U1G:A4U)")
    # T where the focus has C: no respelling fits, the focus's letter is named instead
    assert rna.reasons[4].endswith("not in the alphabet ACGU (the focus has C there)")
    dna = mutations.map_mutants(["U1G", "A4U", "M1A"], DNA_FOCUS, "ACGT-", (1, 2, 3, 4))
    assert not dna.ok.any()
    assert dna.reasons[0].endswith("the model is DNA: write T for U (T1G)")
    assert dna.reasons[1].endswith("write T for U (A4T)")
    assert "letter M at 1 is not in the alphabet ACGT" in dna.reasons[2]  # a protein mutant
    assert dna.reasons[2].endswith("(the focus has T there)")


# the first 30 match-column residues of BLAT_ECOLX, numbered 29..58 (a gapless toy focus)
BLAT = "VKVKDAEDQLGARVGYIELDLNSGKILSFR"
BLAT_FOCUS = np.array([ALPHABET.index(c) for c in BLAT], dtype=np.uint8)
BLAT_POSITIONS = tuple(range(29, 29 + len(BLAT)))


def _singles(first_number: int, new: str = "A") -> list[str]:
    """One substitution at each residue of BLAT, numbered from ``first_number``."""
    return [f"{wt}{first_number + i}{new}" for i, wt in enumerate(BLAT)]


def test_a_file_numbered_from_1_is_told_the_shift_to_the_focus_numbering():
    found = mutations.numbering_shift(_singles(6), BLAT_FOCUS, ALPHABET, BLAT_POSITIONS)
    assert found is not None and found.shift == 23
    assert (found.agree, found.compared) == (30, 30)
    assert found.example == ("V", 6, "A")
    assert "shifted by +23" in found.message() and "V6A would be V29A" in found.message()
    # numbered entirely outside the focus, e.g. in a longer precursor's numbering: still found
    far = mutations.numbering_shift(_singles(1029), BLAT_FOCUS, ALPHABET, BLAT_POSITIONS)
    assert far is not None and far.shift == -1000 and far.compared_as_given == 0


def test_no_shift_is_claimed_for_a_right_numbering_or_too_little_evidence():
    right = [*_singles(29), "WT", "nonsense", "K32A:V29C"]
    assert mutations.numbering_shift(right, BLAT_FOCUS, ALPHABET, BLAT_POSITIONS) is None
    # half of them wrong wild-type letters (a messy file, not a shifted one): no claim
    half = [*_singles(29)[:15], *(f"W{n}A" for n in range(44, 59))]
    assert mutations.numbering_shift(half, BLAT_FOCUS, ALPHABET, BLAT_POSITIONS) is None
    few = _singles(6)[:9]  # 9 residues agree under +23: below the evidence needed
    assert mutations.numbering_shift(few, BLAT_FOCUS, ALPHABET, BLAT_POSITIONS) is None
    # wild-type letters in scrambled order: no constant shift fits them
    order = np.random.default_rng(0).permutation(30)
    shuffled = [f"{BLAT[j]}{29 + i}A" for i, j in enumerate(order)]
    assert mutations.numbering_shift(shuffled, BLAT_FOCUS, ALPHABET, BLAT_POSITIONS) is None


def test_a_wrong_wild_type_at_an_unmodelled_residue_is_named_before_the_column():
    # residue 13, an insert of the focus, holds D; residue 9, before the columns, holds W
    unmodelled = {13: "D", 9: "W"}
    names = ["A13G", "D13G", "M9A", "W9A", "X13G", "A16G"]
    m = mutations.map_mutants(names, FOCUS, ALPHABET, POSITIONS, unmodelled=unmodelled)
    assert not m.ok.any()
    assert m.reasons[0] == "wild-type letter mismatch at 13: focus has D, not A"
    assert "13 is an insert residue" in m.reasons[1] and "mismatch" not in m.reasons[1]
    assert m.reasons[2] == "wild-type letter mismatch at 9: focus has W, not M"
    assert "outside the model" in m.reasons[3] and "mismatch" not in m.reasons[3]
    assert m.reasons[4].startswith("wild-type letter X at 13 is not in the alphabet")
    assert "outside the model" in m.reasons[5]  # no letter known there: as before
    dropped = {13: "column 13 dropped: 60% gaps"}
    both = mutations.map_mutants(["A13G", "D13G"], FOCUS, ALPHABET, POSITIONS, dropped, unmodelled)
    assert "mismatch" in both.reasons[0] and both.reasons[1] == dropped[13]
