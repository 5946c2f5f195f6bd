"""Reading family alignments: focus, match columns, numbering, letter and gap policies."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.applications.variants.alignment import read_alignment
from biovae.data.sequences import decode
from biovae.errors import DataError

A2M = """>focus/10-16
MKaAG.LV
>s1
MK.AGaLC
>s2
MX.AG.LC
>s3
--.--.-C
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fixture_matches_published_shape(fixtures):
    aln = read_alignment(fixtures / "blat_ecolx_first40.a2m")
    assert aln.codes.shape == (40, 253) and aln.ids[0] == "BLAT_ECOLX/24-286"
    assert aln.positions[0] == 29 and aln.positions[-1] == 283
    assert aln.n_invalid == 0 and aln.n_read == 40


def test_a2m_policies(tmp_path):
    aln = read_alignment(write(tmp_path, "f.a2m", A2M), max_gap_fraction=0.5)
    # match columns: M K A G L V (lower case and '.' dropped); residues 10, 11, 13, 14, 15, 16
    assert aln.focus_sequence == "MKAGLV"
    assert aln.positions == (10, 11, 13, 14, 15, 16)
    assert aln.ids == ("focus/10-16", "s1")  # s2 has X (dropped), s3 is > 50 % gaps
    assert (aln.n_invalid, aln.n_gappy) == (1, 1)
    keep_all = read_alignment(write(tmp_path, "g.a2m", A2M), max_gap_fraction=1.0)
    assert len(keep_all) == 3


def test_focus_by_name_and_not_found(tmp_path):
    path = write(tmp_path, "f.a2m", A2M)
    aln = read_alignment(path, focus="s1")
    assert aln.ids[0] == "s1" and aln.positions == (1, 2, 3, 4, 5, 6)
    assert aln.focus_sequence == "MKAGLC"
    with pytest.raises(DataError, match="focus sequence 'nope' not found"):
        read_alignment(path, focus="nope")
    with pytest.raises(DataError, match="letters outside the alphabet"):
        read_alignment(path, focus="s2")


def test_a_focus_name_two_records_carry_is_refused(tmp_path):
    # two domain hits of one protein: '--focus P1' must not silently take the first
    text = ">q/1-4\nMWEL\n>P1/1-4\nMWEK\n>P1/20-23\nMREL\n>P2\nMWEL\n>P2/5-8\nMREL\n"
    for name in ("f.a2m", "f.a3m"):
        path = write(tmp_path, name, text)
        with pytest.raises(DataError, match=r"'P1' names 2 records \('P1/1-4', 'P1/20-23'\)"):
            read_alignment(path, focus="P1")
        aln = read_alignment(path, focus="P1/20-23")
        assert aln.focus_sequence == "MREL" and aln.positions == (20, 21, 22, 23)
        assert read_alignment(path, focus="P2").ids[0] == "P2"  # the id as written wins


@pytest.mark.parametrize("name", ["f.a2m", "f.a3m"])
def test_a_zero_or_negative_range_start_numbers_the_residues(tmp_path, name):
    # '/-2-3' numbers the focus from -2 (it was read as no range: 1..L, silently)
    text = ">P1/-2-3\nMKaAGL\n>s1\nMK.AGL\n>s2\nMR.AGV\n"
    aln = read_alignment(write(tmp_path, name, text), focus="P1")
    assert aln.ids[0] == "P1/-2-3" and aln.positions == (-2, -1, 1, 2, 3)
    text = ">P1/-5--1\nMKAGL\n>s1\nMKAGV\n>s2\nMRAGV\n"
    assert read_alignment(write(tmp_path, name, text)).positions == (-5, -4, -3, -2, -1)


def test_a3m_and_stockholm_give_the_same_matrix(tmp_path):
    a3m = ">q/1-4\nMWEL\n>s1\nMWkkEL\n>s2\nM-EaL\n"
    sto = "# STOCKHOLM 1.0\nq/1-4 MW..EL\ns1    MWkkEL\n#=GC RF xx..xx\ns2    M-.aEL\n//\n"
    x = read_alignment(write(tmp_path, "f.a3m", a3m))
    y = read_alignment(write(tmp_path, "f.sto", sto))
    assert np.array_equal(x.codes, y.codes) and x.positions == y.positions == (1, 2, 3, 4)
    assert x.ids == y.ids == ("q/1-4", "s1", "s2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">a\nMKAG\n>b\nMKA\n", "ragged"),
        ("", "no FASTA records"),
        ("MKAG\n", "before the first"),
    ],
)
def test_bad_alignments(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_alignment(write(tmp_path, "bad.fasta", text))


def test_alphabet_mismatch(tmp_path):
    with pytest.raises(DataError, match=r"outside the alphabet 'ACGT-'.*--alphabet dna"):
        read_alignment(write(tmp_path, "f.a2m", A2M), alphabet="dna")  # read as DNA: no focus
    dna = read_alignment(write(tmp_path, "d.fasta", ">a\nACGT\n>b\nACGA\n"), alphabet="dna")
    assert dna.alphabet == "ACGT-"


def test_stockholm_must_be_one_whole_alignment(tmp_path):
    body = "# STOCKHOLM 1.0\nq/1-4 MWEL\ns1    MWEL\n"
    with pytest.raises(DataError, match="no '//' line ends the alignment"):
        read_alignment(write(tmp_path, "cut.sto", body))
    with pytest.raises(DataError, match="more than one alignment"):
        read_alignment(write(tmp_path, "two.sto", body + "//\n" + body + "//\n"))
    with pytest.raises(DataError, match=r"no '# STOCKHOLM 1\.0' header"):
        read_alignment(write(tmp_path, "bare.sto", "q MWEL\n//\n"))


def test_errors_name_the_users_file_and_an_odd_focus_letter(tmp_path):
    path = write(tmp_path, "ragged.a3m", ">q\nMWEL\n>s1\nMWE\n")
    with pytest.raises(DataError, match=f"^{path}"):
        read_alignment(path)
    with pytest.raises(DataError, match=r"has '\*' at column 3"):
        read_alignment(write(tmp_path, "star.a2m", ">q\nMW*EL\n>s1\nMWAEL\n"))


def test_a3m_numbers_count_the_focus_inserts_like_a2m(fixtures, tmp_path):
    from biovae.data.fasta import parse_fasta

    a2m = fixtures / "blat_ecolx_first40.a2m"
    records = parse_fasta(a2m.read_text(), str(a2m))
    a3m = "".join(f">{i}\n{s.replace('.', '')}\n" for i, s in zip(records.ids, records.seqs))
    x, y = read_alignment(a2m), read_alignment(write(tmp_path, "f.a3m", a3m))
    np.testing.assert_array_equal(x.codes, y.codes)
    assert y.positions == x.positions and y.positions[0] == 29  # H24..K28 are focus inserts


def test_a_mixed_case_focus_marks_inserts_whatever_the_extension(tmp_path):
    text = ">f/1-6\nacDEFg\n>s\nmnDEFk\n>t\nmnDEYk\n"
    for name in ("t.a2m", "t.fasta"):
        aln = read_alignment(write(tmp_path, name, text))
        assert aln.positions == (3, 4, 5) and aln.focus_sequence == "DEF"


def test_alphabet_sets_the_letters_of_a_protein_of_nucleotide_codes(tmp_path):
    silk = ">f\nGAGAGSGAGAGYGAGAGS\n>s1\nGAGAGSGAGAGYGAGAGV\n>s2\nGAGAGDGAGAGYGAGAGS\n"
    path = write(tmp_path, "silk.a2m", silk)  # G, A, S, Y, V, D: IUPAC codes, mostly A/C/G/T
    with pytest.raises(DataError, match="--alphabet protein"):
        read_alignment(path)  # detected as DNA: every record has a letter outside ACGT
    aln = read_alignment(path, alphabet="protein")
    assert aln.alphabet.startswith("ACDEF") and len(aln.ids) == 3


def test_a_header_range_that_does_not_fit_the_focus_warns(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 10-16: the focus's 7 residues (inserts included)
        read_alignment(write(tmp_path, "ok.a2m", A2M))
    for header, span in (("focus/10-99", "spans 90"), ("focus/20-10", "spans -9")):
        path = write(tmp_path, "w.a2m", A2M.replace("focus/10-16", header))
        with pytest.warns(UserWarning, match=rf"{span} residues but the sequence has 7"):
            aln = read_alignment(path)
        start = int(header.split("/")[1].split("-")[0])
        assert aln.positions[0] == start  # numbered upward from START all the same


# HMMER/Pfam style: all upper case, the '#=GC RF' line marks match columns ('x') and inserts
# ('.'), the alignment interleaved in two blocks. Match columns 1 2 4 5 | 6 9; the focus's L at
# column 3 is absent (a gap) and its L E at columns 7-8 are insert residues: still counted
# by /5-12 (M5 K6 A7 G8 W9 L10 E11 V12).
INTERLEAVED_STO = """# STOCKHOLM 1.0
#=GF ID   toy
#=GS q/5-12 DE the focus
q/5-12   MK-AG
s1       MKLAG
s2       MRLA-
#=GR s2  SS ....-
#=GC RF  xx.xx

q/5-12   WLEV
s1       W..V
s2       WLEI
#=GC SS_cons ....
#=GC RF  x..x
//
"""


def test_stockholm_rf_line_marks_the_match_columns_across_blocks(tmp_path):
    aln = read_alignment(write(tmp_path, "pfam.sto", INTERLEAVED_STO), max_gap_fraction=1.0)
    assert aln.positions == (5, 6, 7, 8, 9, 12)
    assert aln.ids == ("q/5-12", "s1", "s2")
    assert decode(aln.codes, aln.alphabet) == ["MKAGWV", "MKAGWV", "MRA-WI"]
    by_name = read_alignment(write(tmp_path, "f.sto", INTERLEAVED_STO), focus="s2")
    assert by_name.focus_sequence == "MRA-WI" and by_name.positions == (1, 2, 3, 4, 5, 6)


def test_a_stockholm_header_range_that_does_not_fit_the_focus_warns(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 5-12: the focus's 8 residues, its RF inserts included
        read_alignment(write(tmp_path, "ok.sto", INTERLEAVED_STO), max_gap_fraction=1.0)
    path = write(tmp_path, "w.sto", INTERLEAVED_STO.replace("q/5-12", "q/5-9"))
    with pytest.warns(UserWarning, match="spans 5 residues but the sequence has 8"):
        aln = read_alignment(path, max_gap_fraction=1.0)
    assert aln.positions == (5, 6, 7, 8, 9, 12)  # numbered upward from START all the same


def test_stockholm_rf_wins_over_the_focus_case(tmp_path):
    # the focus's lower-case 'w' sits in an RF match column, its upper-case 'L' in an insert
    sto = "# STOCKHOLM 1.0\nq/1-4 MwLE\ns1    MWKE\n#=GC RF xx.x\n//\n"
    aln = read_alignment(write(tmp_path, "f.sto", sto))
    assert aln.focus_sequence == "MWE" and aln.positions == (1, 2, 4)


def test_stockholm_rf_must_cover_every_column(tmp_path):
    cut = INTERLEAVED_STO.replace("#=GC RF  x..x\n", "")
    with pytest.raises(DataError, match="'#=GC RF' line covers 5 columns but the sequences 9"):
        read_alignment(write(tmp_path, "cut.sto", cut))
    with pytest.raises(DataError, match="marks no match column"):
        read_alignment(write(tmp_path, "ins.sto", "# STOCKHOLM 1.0\nq MW\n#=GC RF ..\n//\n"))


def test_colabfold_a3m_header_line_and_trailing_nul_are_skipped(tmp_path):
    text = "#4\t1\n>101\nMWEL\n>UniRef100_A0A\t87\t0.9\nMWkkEL\n>s2\nM-EaL\n\x00"
    aln = read_alignment(write(tmp_path, "colab.a3m", text))
    assert aln.ids == ("101", "UniRef100_A0A", "s2") and aln.positions == (1, 2, 3, 4)
    assert aln.focus_sequence == "MWEL"
    two = text + ">102\nMWEL\n>t\nMWEL\n\x00"  # an MMseqs2 database: one alignment per query
    with pytest.raises(DataError, match="NUL byte at line 8 separates alignments"):
        read_alignment(write(tmp_path, "db.a3m", two))
    with pytest.raises(DataError, match="before the first"):  # '#' lines only in A3M
        read_alignment(write(tmp_path, "colab.a2m", text.replace("\x00", "")))


RNA_WITH_T = ">f/1-6\nACGUAC\n>s1\nACGUAU\n>s2\nACGTAC\n>s3\nACGUUC\n>s4\nAUGTAC\n"


def test_an_explicit_nucleotide_alphabet_reads_the_other_letter_as_invalid(tmp_path):
    path = write(tmp_path, "rna.a2m", RNA_WITH_T)
    with pytest.raises(DataError, match="--alphabet rna"):
        read_alignment(path)  # detected as DNA (T occurs): the U focus does not fit
    aln = read_alignment(path, alphabet="rna")
    assert aln.alphabet == "ACGU-" and aln.ids == ("f/1-6", "s1", "s3")
    assert (aln.n_read, aln.n_invalid) == (5, 2) and aln.focus_sequence == "ACGUAC"
    dna = RNA_WITH_T.replace("U", "T").replace(">s3\nACGTTC", ">s3\nACGUTC")
    aln = read_alignment(write(tmp_path, "dna.a2m", dna), alphabet="dna")
    assert aln.alphabet == "ACGT-" and "s3" not in aln.ids and aln.n_invalid == 1
    with pytest.raises(DataError, match=r"outside the alphabet 'ACGU-'.*--alphabet rna"):
        read_alignment(write(tmp_path, "dna2.a2m", dna + ">s5\nACGAAC\n"), alphabet="rna")
    with pytest.raises(DataError, match=r"every record .* 'ACGU-'.*check the alphabet set"):
        read_alignment(write(tmp_path, "dna3.a2m", dna), alphabet="rna")


def test_an_rna_family_whose_every_record_has_u_names_alphabet_rna(tmp_path):
    # one record holds T (and U): detected as DNA, every record dropped for its U
    path = write(tmp_path, "rna.a2m", ">f/1-6\nACGUAC\n>s1\nACGUAU\n>s2\nACGTAU\n")
    with pytest.raises(DataError, match=r"every record .* 'ACGT-'.*--alphabet rna"):
        read_alignment(path)
    assert read_alignment(path, alphabet="rna").ids == ("f/1-6", "s1")


@pytest.mark.parametrize("name", ["g.a2m", "g.a3m", "g.sto"])
def test_a_focus_range_dropped_for_a_gap_in_a_match_column_warns(tmp_path, name):
    # the focus has no residue at its 7th match column: the range 10-20 cannot number it
    rows = (("q/10-20", "MKaaLV-NGEST"), ("s1", "MK..LVANGEST"))
    if name.endswith(".sto"):
        text = "# STOCKHOLM 1.0\n" + "".join(f"{i} {s}\n" for i, s in rows) + "//\n"
    else:
        text = "".join(f">{i}\n{s}\n" for i, s in rows)
    with pytest.warns(UserWarning, match=r"gap in 1 of its 10 match columns.*range 10-20"):
        aln = read_alignment(write(tmp_path, name, text), max_gap_fraction=1.0)
    assert aln.positions == tuple(range(1, 11))


def test_a_focus_with_an_ambiguity_code_names_the_letter_and_its_column(tmp_path):
    # DNA A2M: the focus's insert 'n' is no match column; its 'N' at column 5 is
    text = ">f/1-7\nACnGNTA\n>s1\nACaGCTA\n>s2\nAC.GCTT\n"
    with pytest.raises(DataError, match=r"'ACGT-' in its match columns \('N' at column 5\)"):
        read_alignment(write(tmp_path, "n.a2m", text))
    # all lower case (as MAFFT writes DNA): every column a match column, the letter as written
    with pytest.raises(DataError, match=r"\('r' at column 3\)"):
        read_alignment(write(tmp_path, "r.fasta", ">f\nacrt\n>s1\nacgt\n>s2\nacga\n"))


def test_a_dna_family_with_x_masked_records_is_dna_not_protein(tmp_path):
    # three of six records masked with X (RepeatMasker -x): 1/3 of the letters; read as
    # protein, the scan listed 20 amino acids at each base
    masked = "XXXXCGTAXXXX"
    rows = ["ACGTACGTACGT", "ACGAACGTACGT", "ACGTACCTACGA", masked, masked, masked]
    path = write(tmp_path, "x.fasta", "".join(f">r{i}\n{s}\n" for i, s in enumerate(rows)))
    aln = read_alignment(path)
    assert aln.alphabet == "ACGT-" and aln.n_invalid == 3 and len(aln) == 3
    # X says nothing of a protein family either: still protein
    protein = ">p\nMKLVWEAKLVWEMKLV\n>q\nMKLVWEXXXXXXXXXX\n"
    assert read_alignment(write(tmp_path, "p.fasta", protein)).alphabet.startswith("ACDEF")
