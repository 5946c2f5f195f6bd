"""FASTA / A2M reading: the BLAT_ECOLX alignment excerpt, alphabets and malformed input."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from biovae.data import DNA, PROTEIN, RNA, decode, read_dataset, read_fasta
from biovae.data.fasta import read_fasta_records
from biovae.errors import DataError
from tests._gzip import WHERE, damaged_gzip
from tests.cli._run import run


def raw_records(path):
    """(id, joined sequence) pairs parsed independently of biovae."""
    records = []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            records.append([line[1:].split()[0], ""])
        else:
            records[-1][1] += line.strip()
    return records


def test_a2m_focus_columns(fixtures_dir):
    path = fixtures_dir / "blat_ecolx_first40.a2m"
    ds = read_dataset(path)
    assert ds.x.shape == (40, 253) and ds.x.dtype == np.uint8
    assert ds.alphabet == PROTEIN == "ACDEFGHIKLMNPQRSTVWY-"
    # The focus row "hpetlVKV..." starts at residue 24; its first match column is V29,
    # and the last match column is I283 (followed by the insert columns "khw" = 284-286).
    assert ds.features[0] == "29" and ds.features[-1] == "283"
    assert "56" not in ds.features  # 'e' at residue 56 is an insert column of the focus row
    assert ds.ids[0] == "BLAT_ECOLX/24-286"
    assert ds.ids[1] == "up|A0A077REW6|A0A077REW6_WHEAT/30-249"


def test_a2m_codes_match_raw_text(fixtures_dir):
    path = fixtures_dir / "blat_ecolx_first40.a2m"
    ds = read_fasta(path)
    records = raw_records(path)
    focus = records[0][1]
    assert len(focus) == 263
    match = [i for i, c in enumerate(focus) if c.isupper() or c == "-"]
    assert len(match) == 253
    for row in (0, 1, 39):
        expected = "".join(records[row][1][i] for i in match).replace(".", "-")
        assert decode(ds.x[row : row + 1], ds.alphabet)[0] == expected
    assert decode(ds.x[:1], ds.alphabet)[0].startswith("VKVKDAEDQLGARVGYIELDLNSGKIL")
    assert decode(ds.x[1:2], ds.alphabet)[0].startswith("-KVKDAEDQ")


def test_plain_dna_and_description(write):
    path = write("s.fa", ">r1 first read\nacgT\nAC\n\n>r2\nTTGGCA\n")
    ds = read_dataset(path)
    assert ds.alphabet == DNA
    assert list(ds.ids) == ["r1", "r2"]
    assert ds.obs["description"].tolist() == ["first read", ""]
    assert decode(ds.x, DNA) == ["ACGTAC", "TTGGCA"]
    assert ds.features == ("1", "2", "3", "4", "5", "6")


def test_sequence_lines_in_blocks_of_ten_join_without_spaces(write):
    # 'ACGTACGTAC GTAC' (blocks, as some exporters write) was a ragged record or letter ' '
    path = write("b.fa", ">r1\nACGTACGTAC GTAC\r\n>r2\nACGTACGTAC\tGTAA\n>r3\nACGTACGTACGTAG\n")
    ds = read_dataset(path)
    assert decode(ds.x, DNA) == ["ACGTACGTACGTAC", "ACGTACGTACGTAA", "ACGTACGTACGTAG"]


def test_mixed_case_aligned_fasta_drops_inserts(write):
    text = ">focus/5-9\nmKLvW\n>o\n-KLaW\n"
    ds = read_dataset(write("m.afa", text))
    assert ds.features == ("6", "7", "9")
    assert decode(ds.x, ds.alphabet) == ["KLW", "KLW"]
    # the same text in a plain .fa is soft-masked sequence: upper-cased, nothing dropped
    ds = read_dataset(write("m.fa", text))
    assert ds.features == ("5", "6", "7", "8", "9")
    assert decode(ds.x, ds.alphabet) == ["MKLVW", "-KLAW"]


def test_rna_and_gzip(tmp_path):
    path = tmp_path / "r.fasta.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">a\nACGU\n>b\nUUCA\n")
    ds = read_dataset(path)
    assert ds.alphabet == RNA and decode(ds.x, RNA) == ["ACGU", "UUCA"]


@pytest.mark.parametrize("name", ["bom.fa", "bom.fa.gz"])
def test_byte_order_mark_is_dropped(tmp_path, name):
    path = tmp_path / name
    data = "\ufeff>a desc\nACGT\n>b\nACGA\n".encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    ds = read_dataset(path)
    assert list(ds.ids) == ["a", "b"] and decode(ds.x, ds.alphabet) == ["ACGT", "ACGA"]
    assert ds.obs["description"].tolist() == ["desc", ""]


def test_aligned_fasta_with_gaps_is_protein(write):
    ds = read_dataset(write("p.afa", ">p1\nMK-LW\n>p2\nMRQ-W\n"))
    assert ds.alphabet == PROTEIN and ds.x.shape == (2, 5)
    assert decode(ds.x, PROTEIN) == ["MK-LW", "MRQ-W"]


def test_dot_means_a2m_even_without_extension(write):
    ds = read_dataset(write("x.fa", ">f/10-13\nMkLW\n>o\nM.L-\n"))
    assert ds.features == ("10", "12", "13")
    assert decode(ds.x, ds.alphabet) == ["MLW", "ML-"]


def test_upper_case_letter_in_an_insert_column_is_refused_not_dropped(write):
    # '.' for gaps in a plain FASTA made it A2M: column 3 (a '.' of the focus) was dropped,
    # and with it record b's G, silently
    path = write("dot.fa", ">a\nAC.TACGT\n>b\nACGTACGT\n>c\nACGT.CGT\n")
    with pytest.raises(DataError) as info:
        read_dataset(path)
    assert str(info.value).startswith(
        f"{path}: record 'b' has upper-case 'G' at column 3, an insert column of the focus 'a'"
    )
    assert "write them as '-'" in str(info.value)


def test_ragged_sequences(write):
    path = write("r.fa", ">first\n" + "A" * 60 + "\n>X\n" + "A" * 57 + "\n")
    with pytest.raises(DataError) as info:
        read_dataset(path)
    assert str(info.value) == (
        f"{path}: ragged sequences: record 'X' has length 57, expected 60 (record 'first'); "
        "align them first (e.g. with MAFFT) or pass an alignment"
    )


def test_unknown_letter_names_record_position_and_letter(write):
    path = write("n.fa", ">a\nACGTACGT\n>b\nACGNACGT\n")
    with pytest.raises(DataError, match=r"n\.fa: record 'b' position 4 .*letter 'N'.*drop_invalid"):
        read_dataset(path)
    ds = read_dataset(path, drop_invalid=True)
    assert list(ds.ids) == ["a"] and ds.alphabet == DNA


def test_semicolon_comment_lines_are_skipped(write):
    # Pearson's ';' comments were joined into the sequence: a ragged record, or (unaligned,
    # as screening references are read) residues shifted by the comment's length
    text = "; family of interest\n>a\nACGT\n; curated by hand\nACGA\n>b x\nTTGG\nCCAA\n"
    path = write("c.fa", text)
    assert decode(read_dataset(path).x, DNA) == ["ACGTACGA", "TTGGCCAA"]
    records = read_fasta_records(path)
    assert records.ids == ["a", "b"] and records.seqs == ["ACGTACGA", "TTGGCCAA"]


def test_stop_codons_in_every_record_are_named(write):
    path = write("stop.fa", ">a\nMKLVA*\n>b\nMKLVW*\n")
    with pytest.raises(DataError) as info:
        read_dataset(path, drop_invalid=True)
    message = str(info.value)
    assert "most often '*', a stop codon" in message
    assert "variants fit" not in message  # the protein alphabet was detected rightly


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("hello\n>a\nACGT\n", r"line 1: text before the first '>'"),
        (">a\nAC\u2013T\n>b\nACGT\n", r"record 'a' position 3: character '\u2013' \(U\+2013\)"),
        (">a\nACGT\n>b\n>c\nACGT\n", r"record 'b' \(line 3\) has no sequence"),
        (">\nACGT\n", r"line 1: header '>' has no record id"),
        ("\n\n", r"no FASTA records"),
        (">a\nAC#GT\n", r"record 'a' position 3 .*letter '#'"),
        (">f\nacgt\n>g\nACgt\n", None),
    ],
)
def test_malformed_fasta(write, text, pattern):
    path = write("bad.fa", text)
    if pattern is None:  # all-lower-case first record: plain FASTA, upper-cased
        assert decode(read_dataset(path).x, DNA) == ["ACGT", "ACGT"]
        return
    with pytest.raises(DataError, match=r"bad\.fa: " + pattern) as info:
        read_dataset(path)
    assert "\n" not in str(info.value)


def test_duplicate_fasta_ids(write):
    with pytest.raises(DataError, match=r"dup\.fa: duplicate record id 'a'"):
        read_dataset(write("dup.fa", ">a\nAC\n>b\nAC\n>a x\nGT\n"))


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "b.fa"
    path.write_bytes(b"\xff\xfe\x00>a\n")
    with pytest.raises(DataError, match=r"b\.fa: not UTF-8 text \(line 1\); save the sequence"):
        read_dataset(path)


def test_a_protein_family_of_nucleotide_letters_reads_with_alphabet_protein(tmp_path, capsys):
    """GAGAGS... is all IUPAC nucleotide codes, detected as DNA: the error names the way out,
    --alphabet protein reads it, the model keeps it for embed, and a bad name is one line."""
    from biovae.cli.main import main

    fasta = tmp_path / "p.fa"
    fasta.write_text(">a\nGAGAGS\n>b\nGAGSGA\n>c\nGSGAGA\n")
    with pytest.raises(DataError, match="if these are proteins, set --alphabet protein"):
        read_dataset(fasta)
    assert read_dataset(fasta, alphabet="protein").alphabet == PROTEIN
    with pytest.raises(DataError, match="unknown alphabet 'klingon'"):
        read_dataset(fasta, alphabet="klingon")
    model, query, out = tmp_path / "m", tmp_path / "q.fa", tmp_path / "z.csv"
    fit = ["fit", str(fasta), "--alphabet", "protein", "--epochs", "1", "--latent", "2"]
    assert main([*fit, "--validation-fraction", "0", "--quiet", "--out", str(model)]) == 0
    query.write_text(">q\nGAGSGG\n")  # read as protein with the saved option
    assert main(["embed", str(model), str(query), "--out", str(out), "--quiet"]) == 0
    assert out.read_text().splitlines()[1].startswith("q,")
    table = tmp_path / "t.tsv"
    table.write_text("id\tx\nS1\t1\n")
    with pytest.raises(DataError, match="alphabet applies to sequences"):
        read_dataset(table, alphabet="protein")


def test_dna_with_n_in_every_record_is_not_called_a_protein_family(write):
    # the hint was "set it: 'biovae variants fit --alphabet protein'", which reads DNA as protein
    path = write("n.fa", ">a\nACGTN\n>b\nACNNT\n")
    with pytest.raises(DataError) as info:
        read_dataset(path, drop_invalid=True)
    message = str(info.value)
    assert "most often 'N', a nucleotide ambiguity code" in message
    assert "variants fit" not in message


@pytest.mark.parametrize("where", WHERE)
def test_a_damaged_gzip_fasta_is_a_one_line_error(fixtures_dir, tmp_path, capsys, where):
    """A .a2m.gz whose deflate stream is damaged raised zlib.error (no OSError): a traceback
    and exit status 1 from 'biovae fit', 'variants fit' and 'screen' instead of exit 2."""
    data = (fixtures_dir / "blat_ecolx_first40.a2m").read_bytes()
    path = tmp_path / "dam.a2m.gz"
    path.write_bytes(damaged_gzip(data, where))
    message = r"dam\.a2m\.gz: could not read the sequence file \(Error -3 .*gzip -t"
    with pytest.raises(DataError, match=message):
        read_dataset(path)
    with pytest.raises(DataError, match=message):
        read_fasta_records(path)  # screen's reader
    out = tmp_path / "m"
    for command in (["fit", path, "--likelihood", "categorical"], ["variants", "fit", path]):
        rc, stdout, err = run(capsys, *command, "--out", out)
        assert rc == 2 and stdout == "" and not out.exists()
        assert len(err.strip().splitlines()) == 1 and "could not read the sequence file" in err


def test_a_soft_masked_focus_is_told_to_be_upper_cased_not_told_of_gaps(write):
    # DNA soft-masking (a repeat in lower case) in the focus alone made its columns inserts
    path = write("soft.afa", ">a\nACgtACGT\n>b\nACGTACGT\n")
    with pytest.raises(DataError) as info:
        read_dataset(path)
    assert "record 'b' has upper-case 'G' at column 3" in str(info.value)
    assert "soft-masking" in str(info.value) and "upper-case it" in str(info.value)
    assert "'.' marks gaps" not in str(info.value)
