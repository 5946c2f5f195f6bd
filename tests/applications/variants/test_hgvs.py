"""HGVS protein changes (ClinVar, gnomAD, VEP): read as the one-letter mutation they name,
or unmapped with what they are."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.applications.variants import hgvs, mutations

ALPHABET = "ACDEFGHIKLMNPQRSTVWY-"
FOCUS_LETTERS = "MKVWL"  # residues 40..44: M40 K41 V42 W43 L44
FOCUS = np.array([ALPHABET.index(c) for c in FOCUS_LETTERS], dtype=np.uint8)
POSITIONS = (40, 41, 42, 43, 44)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("p.Val42Gly", [("V", 42, "G")]),
        ("p.(Val42Gly)", [("V", 42, "G")]),
        ("p.V42G", [("V", 42, "G")]),
        ("Val42Gly", [("V", 42, "G")]),
        ("p.VAL42GLY", [("V", 42, "G")]),
        ("p.val42gly", [("V", 42, "G")]),
        ("p.[Val42Gly;Lys45Arg]", [("V", 42, "G"), ("K", 45, "R")]),
        ("p.[(Val42Gly;Lys45Arg)]", [("V", 42, "G"), ("K", 45, "R")]),
        ("p.Val42=", [("V", 42, "V")]),
        ("p.(Val42=)", [("V", 42, "V")]),
        ("p.Trp41Ter", [("W", 41, "*")]),
        ("p.Trp41*", [("W", 41, "*")]),
        ("p.Val42Sec", [("V", 42, "U")]),
        ("p.Pyl42Gly", [("O", 42, "G")]),
        ("p.=", []),
        ("p.(=)", []),
        ("ENSP00000269305.4:p.Arg175His", [("R", 175, "H")]),
        ("NP_000537.3(TP53):p.Arg175His", [("R", 175, "H")]),
        ("ENSP00000384523.1:p.Leu23%3D", [("L", 23, "L")]),  # VEP escapes '='
        ("p.Val42Gly:p.Lys45Arg", [("V", 42, "G"), ("K", 45, "R")]),
        ("A42G:p.Lys45Arg", [("A", 42, "G"), ("K", 45, "R")]),
    ],
)
def test_substitutions_parse_to_their_one_letter_twin(written, expected):
    assert mutations.parse(written) == expected


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("p.Arg97fs", "a frameshift"),
        ("p.Arg97ProfsTer23", "a frameshift"),
        ("p.(Arg97Profs*23)", "a frameshift"),
        ("p.Lys23_Val25del", "an in-frame deletion"),
        ("p.Val7del", "an in-frame deletion"),
        ("p.Cys28delinsTrpVal", "a deletion-insertion"),
        ("p.His4_Gln5insAla", "an insertion"),
        ("p.Gly4_Gln6dup", "a duplication"),
        ("p.Ter110GlnextTer17", "an extension"),
        ("p.*110Glnext*17", "an extension"),
        ("p.Met1ext-5", "an extension"),
        ("p.Ala2[10]", "a repeat-length change"),
        ("p.Met1?", "a lost start codon"),
        ("p.?", "unknown effect"),
        ("p.0", "a loss of the protein"),
        ("p.0?", "a predicted loss of the protein"),
        ("p.Ter110Gln", "changes a stop codon"),
        ("p.[Val42Gly];[Lys45Arg]", "on two alleles"),
        ("p.[Val42Gly(;)Lys45Arg]", "unknown phase"),
        ("Arg97fs", "a frameshift"),
    ],
)
def test_changes_no_substitution_model_scores_name_what_they_are(written, kind):
    with pytest.raises(ValueError, match=r"model scores substitutions only|each change") as exc:
        mutations.parse(written)
    assert kind in str(exc.value) and written in str(exc.value)
    assert "malformed" not in str(exc.value)


@pytest.mark.parametrize("bad", ["p.Val42", "p.Vla42Gly", "p.Val42Gla", "p.42Gly", "p.", "p.[]"])
def test_malformed_hgvs_is_malformed(bad):
    with pytest.raises(ValueError, match="malformed"):
        mutations.parse(bad)


def test_one_letter_strings_are_not_taken_for_hgvs():
    assert hgvs.changes("A42G") is None and hgvs.changes("WT") is None
    assert hgvs.changes("Abc42Gly") is None  # no amino-acid code: the one-letter reader's
    assert not hgvs.is_reference("A42G", "p.Lys45Arg")
    assert not hgvs.is_reference("Val42Gly", "p.Lys45Arg")
    assert hgvs.is_reference("ENSP00000269305.4", "p.Arg175His")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NM_000059.4(BRCA2):c.7007G>A (p.Arg2336His)", [("R", 2336, "H")]),
        ("NM_000059.4(BRCA2):c.7007G>A(p.Arg2336His)", [("R", 2336, "H")]),
        ("NM_000059.4(BRCA2):c.7242A>G (p.Ser2414=)", [("S", 2414, "S")]),
        ("NM_000059.4(BRCA2):c.9976A>T (p.Lys3326Ter)", [("K", 3326, "*")]),
        ("NC_012920.1(MT-ND1):m.3460G>A (p.Ala52Thr)", [("A", 52, "T")]),
        ("c.524G>A (p.(Arg175His))", [("R", 175, "H")]),
        ("NM_000546.6(TP53):c.1A>G (p.=)", []),
    ],
)
def test_clinvar_names_parse_to_their_protein_change(name, expected):
    assert mutations.parse(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "NM_000059.4(BRCA2):c.68-7T>A",  # intronic
        "NM_000059.4(BRCA2):c.-26G>A",  # 5' UTR
        "NC_000013.11:g.32316461G>A",
        "NC_000017.11:g.43044295_43044343del",  # 49 nucleotides: a short deletion
        "NC_000017.11:g.43045712_43045713inv",
    ],
)
def test_clinvar_names_of_a_dna_change_only_say_there_is_no_protein_change(name):
    with pytest.raises(ValueError) as exc:
        mutations.parse(name)
    assert str(exc.value).startswith(f"{name} has no protein change")


# ClinVar's copy-number and structural names: the variant they are, not 'malformed'
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (
            "GRCh38/hg38 17q21.31(chr17:43044295-43125483)x1",
            "a copy-number variant (1 copy of chr17:43044295-43125483)",
        ),
        (
            "GRCh37/hg19 1q21.1-21.2(chr1:145399022-148270545)x3",
            "a copy-number variant (3 copies of chr1:145399022-148270545)",
        ),
        ("NCBI36/hg18 Xp22.33(chrX:1-2000000)x0", "a copy-number variant (0 copies of chrX:"),
        (
            "NC_000017.11:g.(?_43044295)_(43125483_?)del",
            "a copy-number variant (a deletion of DNA with uncertain ends)",
        ),
        (
            "NC_000017.11:g.(43000000_43044295)_(43125483_43200000)dup",
            "a copy-number variant (a duplication of DNA with uncertain ends)",
        ),
        (
            "NM_000059.4(BRCA2):c.(4185+1_4186-1)_(4357+1_4358-1)dup",
            "a copy-number variant (a duplication of DNA with uncertain ends)",
        ),
        (
            "NM_007294.4(BRCA1):c.(?_-232)_(80+1_81-1)del",
            "a copy-number variant (a deletion of DNA with uncertain ends)",
        ),
        (
            "NC_000017.11:g.43044295_43125483del",
            "a structural variant (a deletion of 81,189 nucleotides)",
        ),
        ("NC_000017.11:g.43044295_43044344dup", "a structural variant (a duplication of 50 "),
        ("NC_000017.11:g.43044295_43125483inv", "a structural variant (an inversion of 81,189 "),
        ("seq[GRCh38] del(17)(q21.31q21.31)", "a chromosomal rearrangement or copy-number"),
        ("arr[GRCh38] 17q21.31(43044295_43125483)x1", "a chromosomal rearrangement or copy"),
        ("t(11;22)(q23;q11.2)", "a chromosomal rearrangement"),
    ],
)
def test_copy_number_and_structural_names_say_what_they_are(name, kind):
    with pytest.raises(ValueError) as exc:
        mutations.parse(name)
    assert str(exc.value).startswith(f"{name} is {kind}")
    assert "no single protein change" in str(exc.value) and "malformed" not in str(exc.value)


@pytest.mark.parametrize(
    "garbage",
    [
        "GRCh38/hg38 17q21.31(chr17:43044295)x1",  # no range
        "GRCh38/hg38 17q21.31(chr17:43044295-43125483)",  # no copy number
        "hg38 chr17:43044295-43125483",
        "17q21.31 deletion",
    ],
)
def test_text_that_only_resembles_a_copy_number_name_is_malformed(garbage):
    with pytest.raises(ValueError, match="malformed"):
        mutations.parse(garbage)


def test_clinvar_names_that_are_no_substitution_name_what_they_are():
    with pytest.raises(ValueError, match=r"p\.Gln1756fs is a frameshift"):
        mutations.parse("NM_007294.4(BRCA1):c.5266dup (p.Gln1756fs)")
    assert hgvs.protein_of_name("A42G") is None and hgvs.protein_of_name("p.Val42Gly") is None
    assert hgvs.protein_of_name("NP_000537.3:p.Arg175His") is None  # a reference, read as before


def test_each_form_maps_to_the_codes_of_its_one_letter_twin_or_a_per_row_reason():
    rows = [
        "K41R:V42G",
        "p.[Lys41Arg;Val42Gly]",
        "p.Val42=",
        "p.Trp43Ter",
        "p.Val42Sec",
        "p.Sec42Gly",
        "p.Arg97fs",
        "p.Met41Gly",  # wrong wild type is checked as for A42G
        "p.Val42Glx",
    ]
    m = mutations.map_mutants(rows, FOCUS, ALPHABET, POSITIONS)
    assert m.mutants == tuple(rows)  # the user's spelling is kept
    assert m.ok.tolist() == [True, True, True] + [False] * 6
    assert "".join(ALPHABET[c] for c in m.codes[1]) == "MRGWL"
    assert np.array_equal(m.codes[0], m.codes[1]) and np.array_equal(m.codes[2], FOCUS)
    assert "W43* is a stop" in m.reasons[3]
    assert "letter U (selenocysteine, Sec) in V42U is not in the alphabet" in m.reasons[4]
    assert "wild-type letter U (selenocysteine, Sec) at 42" in m.reasons[5]
    assert "frameshift" in m.reasons[6]
    assert m.reasons[7] == "wild-type letter mismatch at 41: focus has K, not M"
    assert "letter Z in V42Z is not in the alphabet" in m.reasons[8]


def test_x_for_the_new_letter_is_named_a_stop_or_an_unknown_amino_acid():
    rows = ["p.Lys41X", "K41X", "p.Lys41Xaa", "V42G:K41X"]
    m = mutations.map_mutants(rows, FOCUS, ALPHABET, POSITIONS)
    assert not m.ok.any()
    for reason in m.reasons:
        assert reason.startswith("K41X is a stop (nonsense) mutation in the older notation")
        assert "unknown amino acid (Xaa)" in reason
