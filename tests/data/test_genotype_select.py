"""PLINK's sample and variant selection (keep/remove, extract/exclude) of genotype inputs, on
the PLINK 1.07 documentation's six-individual fileset and the VCF 4.0 specification's example,
against genotypes decoded by hand."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.data.genotype_select import GenotypeSelection
from biovae.data.readers import read_dataset
from biovae.errors import DataError
from tests.data.test_plink import A1_COPIES, fileset

NAN = np.nan


def _read(path, notes=None, **files):
    notes = [] if notes is None else notes
    return read_dataset(path, select=GenotypeSelection(**files), note=notes.append)


def test_keep_fid_iid_pairs_and_remove_record_ids(tmp_path):
    bed = fileset(tmp_path)  # IIDs repeat across families: records are FID_IID
    (tmp_path / "keep.txt").write_text("#FID IID\n2 3\n1 1 extra columns\n9 9\n")
    notes = []
    ds = _read(bed, notes, keep=str(tmp_path / "keep.txt"))
    assert list(ds.ids) == ["1_1", "2_3"]  # the file order of the data, not of the list
    np.testing.assert_array_equal(ds.x, A1_COPIES[[0, 5]])
    assert list(ds.obs["phenotype"]) == ["", "case"]
    assert notes == [
        f"{bed}: kept 2 of 6 samples and 3 of 3 variants (--keep {tmp_path / 'keep.txt'}: "
        "1 id(s) not in the data, ignored (e.g. '9 9'))"
    ]
    (tmp_path / "remove.txt").write_text("1_2\n2_1\n")
    ds = _read(bed, remove=str(tmp_path / "remove.txt"), keep=str(tmp_path / "keep.txt"))
    assert list(ds.ids) == ["1_1", "2_3"]
    ds = _read(bed, remove=str(tmp_path / "remove.txt"))
    np.testing.assert_array_equal(ds.x, A1_COPIES[[0, 2, 4, 5]])


def test_an_iid_pair_must_match_the_family(tmp_path):
    fam = "A a 0 0 1 0\nB b 0 0 1 0\nC c 0 0 1 0\nD d 0 0 1 0\nE e 0 0 1 0\nF f 0 0 1 0\n"
    bed = fileset(tmp_path, fam=fam)  # unique IIDs: records are named by IID alone
    (tmp_path / "keep.txt").write_text("B b\nX c\nf\n")  # 'X c': c is of family C
    ds = _read(bed, keep=str(tmp_path / "keep.txt"))
    assert list(ds.ids) == ["b", "f"]
    np.testing.assert_array_equal(ds.x, A1_COPIES[[1, 5]])


def test_extract_and_exclude_by_bim_ids_and_a_bim_file(tmp_path):
    bim = "1\t.\t0\t1\tG\tA\n1\tNC_1.11:2\t0\t2\t1\t2\nMT\tsnp3\t0\t3\tA\tC\n"
    bed = fileset(tmp_path, bim=bim)  # read as 1:1:A:G, NC_1_11:2, snp3
    (tmp_path / "ids.txt").write_text("NC_1.11:2 snp3\nrs404\n")  # .bim spelling, with dots
    notes = []
    ds = _read(bed, notes, extract=str(tmp_path / "ids.txt"))
    assert ds.features == ("NC_1_11:2", "snp3") and ds.alleles == (("1", "2"), ("A", "C"))
    np.testing.assert_array_equal(ds.x, A1_COPIES[:, 1:])
    assert "2 of 3 variants" in notes[0] and "'rs404'" in notes[0]
    (tmp_path / "sub.bim").write_text("1\t.\t0\t1\tG\tA\n")  # a no-id variant, as PLINK wrote it
    ds = _read(bed, exclude=str(tmp_path / "sub.bim"))
    assert ds.features == ("NC_1_11:2", "snp3")
    ds = _read(bed, extract=str(tmp_path / "sub.bim"))
    assert ds.features == ("1:1:A:G",) and ds.alleles == (("G", "A"),)
    np.testing.assert_array_equal(ds.x, A1_COPIES[:, :1])


def test_vcf_samples_and_variants(fixtures_dir, tmp_path):
    vcf = fixtures_dir / "vcf_spec_example_4.0.vcf"
    (tmp_path / "keep.txt").write_text("NA00003\nNA00002\n")
    (tmp_path / "extract.txt").write_text("rs6054257\n20:17330:T:A\nrs6040355:T\n")
    ds = _read(vcf, keep=str(tmp_path / "keep.txt"), extract=str(tmp_path / "extract.txt"))
    assert list(ds.ids) == ["NA00002", "NA00003"]
    assert ds.features == ("rs6054257", "20:17330:T:A", "rs6040355:T")
    # GTs 1|0 0|1 2|1 (NA00002) and 1/1 0/0 2/2 (NA00003): copies of A, A and T
    np.testing.assert_array_equal(ds.x, [[1, 1, 1], [2, 0, 2]])


def test_an_empty_selection_is_an_error(tmp_path):
    bed = fileset(tmp_path)
    (tmp_path / "none.txt").write_text("7 7\n")
    with pytest.raises(DataError, match=r"leave\(s\) no sample of the 6"):
        _read(bed, keep=str(tmp_path / "none.txt"))
    (tmp_path / "all.txt").write_text("snp1 snp2 snp3\n")
    with pytest.raises(DataError, match="no variant of the 3"):
        _read(bed, exclude=str(tmp_path / "all.txt"))
    with pytest.raises(DataError, match="id file not found"):
        _read(bed, keep=str(tmp_path / "absent.txt"))


def test_selection_of_a_table_is_refused(tmp_path):
    (tmp_path / "t.tsv").write_text("id\ta\tb\nr1\t0\t1\nr2\t2\t1\n")
    (tmp_path / "keep.txt").write_text("r1\n")
    with pytest.raises(DataError, match="--keep select samples and variants of PLINK"):
        _read(tmp_path / "t.tsv", keep=str(tmp_path / "keep.txt"))


def test_a_plink2_header_says_what_the_columns_are(tmp_path):
    fam = "A a 0 0 1 0\nB b 0 0 1 0\nC c 0 0 1 0\nD d 0 0 1 0\nE e 0 0 1 0\nF f 0 0 1 0\n"
    bed = fileset(tmp_path, fam=fam)
    # a .psam without FIDs: '#IID' then IID SEX; 'b 2' is IID b, not FID b IID 2
    (tmp_path / "keep.psam").write_text("## a comment\n#IID\tSEX\nb\t2\nf\t1\n")
    ds = _read(bed, keep=str(tmp_path / "keep.psam"))
    assert list(ds.ids) == ["b", "f"]
    np.testing.assert_array_equal(ds.x, A1_COPIES[[1, 5]])
    (tmp_path / "pairs.psam").write_text("#FID\tIID\tSEX\nC\tc\t2\nX\td\t1\n")
    assert list(_read(bed, keep=str(tmp_path / "pairs.psam")).ids) == ["c"]
    (tmp_path / "bad.txt").write_text("#FID\tSEX\nC\t2\n")
    with pytest.raises(DataError, match="'#FID SEX' has no IID column"):
        _read(bed, keep=str(tmp_path / "bad.txt"))


def test_a_pair_never_names_a_record_of_another_family(tmp_path):
    # unique IIDs: records are IIDs, and family X's IID is 'A_b'
    fam = "A a 0 0 1 0\nB b 0 0 1 0\nC c 0 0 1 0\nX A_b 0 0 1 0\nE e 0 0 1 0\nF f 0 0 1 0\n"
    bed = fileset(tmp_path, fam=fam)
    (tmp_path / "keep.txt").write_text("A b\nF f\n")  # 'A b': no such individual
    notes = []
    ds = _read(bed, notes, keep=str(tmp_path / "keep.txt"))
    assert list(ds.ids) == ["f"]
    np.testing.assert_array_equal(ds.x, A1_COPIES[[5]])
    assert "1 id(s) not in the data, ignored (e.g. 'A b')" in notes[0]
    (tmp_path / "keep.txt").write_text("X A_b\n")
    assert list(_read(bed, keep=str(tmp_path / "keep.txt")).ids) == ["A_b"]


def test_a_pair_names_one_vcf_sample(fixtures_dir, tmp_path):
    text = (fixtures_dir / "vcf_spec_example_4.0.vcf").read_text()
    vcf = tmp_path / "ids.vcf"  # samples A_B, B and C
    vcf.write_text(text.replace("NA00001\tNA00002\tNA00003", "A_B\tB\tC"))
    for line, kept in [
        ("A B", ["A_B"]),  # PLINK's --id-delim split of A_B, not sample B
        ("B B", ["B"]),  # --double-id
        ("0 C", ["C"]),  # --const-fid
        ("POP1 C", ["C"]),  # a population as FID
    ]:
        (tmp_path / "keep.txt").write_text(line + "\n")
        assert list(_read(vcf, keep=str(tmp_path / "keep.txt")).ids) == kept, line


def test_the_id_of_a_multiallelic_record_names_all_its_alleles(fixtures_dir, tmp_path):
    vcf = fixtures_dir / "vcf_spec_example_4.0.vcf"
    (tmp_path / "ids.txt").write_text("rs6040355\n.\n")  # A>G,T; '.' is no id
    notes = []
    ds = _read(vcf, notes, extract=str(tmp_path / "ids.txt"))
    assert ds.features == ("rs6040355:G", "rs6040355:T")
    assert ds.alleles == (("G", "A"), ("T", "A"))
    # GTs 1|2, 2|1, 2/2: copies of G and of T
    np.testing.assert_array_equal(ds.x, [[1, 1], [1, 1], [0, 2]])
    assert "1 id(s) not in the data, ignored (e.g. '.')" in notes[0]
    ds = _read(vcf, exclude=str(tmp_path / "ids.txt"))
    assert ds.n_features == 6 and not any(f.startswith("rs6040355") for f in ds.features)
    # one column named ID:ALLELE is no split record: 'k' names nothing
    bed = fileset(tmp_path, bim="1\tk:G\t0\t1\tG\tA\n1\tsnp2\t0\t2\t1\t2\n1\tsnp3\t0\t3\tA\tC\n")
    (tmp_path / "k.txt").write_text("k snp2\n")
    assert _read(bed, extract=str(tmp_path / "k.txt")).features == ("snp2",)


def test_an_iid_alone_names_its_one_record_and_a_repeated_iid_is_refused(tmp_path):
    # IIDs 1 repeat, so every record is FID_IID; IIDs 3 and 5 are of one individual each
    fam = "1 1 0 0 1 0\n1 2 0 0 1 0\n1 3 0 0 1 0\n2 1 0 0 1 0\n2 5 0 0 1 0\n2 6 0 0 1 0\n"
    bed = fileset(tmp_path, fam=fam)
    (tmp_path / "keep.txt").write_text("5\n1_2\n")  # an IID alone, a record id
    ds = _read(bed, keep=str(tmp_path / "keep.txt"))
    assert list(ds.ids) == ["1_2", "2_5"]
    np.testing.assert_array_equal(ds.x, A1_COPIES[[1, 4]])
    (tmp_path / "keep.txt").write_text("3\n1\n")  # IID 1: individuals of families 1 and 2
    with pytest.raises(DataError, match=r"keep.txt: line 2: the IID '1' names 2 individuals"):
        _read(bed, keep=str(tmp_path / "keep.txt"))
    (tmp_path / "keep.txt").write_text("#IID\n1\n")  # the same after a #IID header
    with pytest.raises(DataError, match=r"'1_1', '2_1'.*give the FID IID pair"):
        _read(bed, remove=str(tmp_path / "keep.txt"))
    (tmp_path / "keep.txt").write_text("2 1\n")  # the pair names one
    assert list(_read(bed, keep=str(tmp_path / "keep.txt")).ids) == ["2_1"]


def test_a_fid_iid_header_refuses_a_line_of_one_id(tmp_path):
    fam = "A a 0 0 1 0\nB b 0 0 1 0\nC c 0 0 1 0\nD d 0 0 1 0\nE e 0 0 1 0\nF f 0 0 1 0\n"
    bed = fileset(tmp_path, fam=fam)
    (tmp_path / "keep.psam").write_text("#FID\tIID\nC\tc\n\nd\n")
    with pytest.raises(DataError, match=r"keep.psam: line 4: one id 'd', but the header"):
        _read(bed, keep=str(tmp_path / "keep.psam"))


def test_a_pair_naming_two_records_of_its_family_is_refused(tmp_path):
    # unique IIDs: family F holds IIDs 'i' and 'F_i', so 'F i' may mean either
    fam = "A a 0 0 1 0\nF i 0 0 1 0\nC c 0 0 1 0\nF F_i 0 0 1 0\nE e 0 0 1 0\nG g 0 0 1 0\n"
    bed = fileset(tmp_path, fam=fam)
    (tmp_path / "keep.txt").write_text("F i\n")
    with pytest.raises(DataError, match=r"line 1: 'F i' names two individuals of family 'F'"):
        _read(bed, keep=str(tmp_path / "keep.txt"))
    for line, kept, row in [("i", ["i"], 1), ("F_i", ["F_i"], 3), ("F F_i", ["F_i"], 3)]:
        (tmp_path / "keep.txt").write_text(line + "\n")
        ds = _read(bed, keep=str(tmp_path / "keep.txt"))
        assert list(ds.ids) == kept, line
        np.testing.assert_array_equal(ds.x, A1_COPIES[[row]])


def test_chrom_pos_ref_names_the_columns_of_a_multiallelic_record_without_id(
    fixtures_dir, tmp_path
):
    text = (fixtures_dir / "vcf_spec_example_4.0.vcf").read_text()
    vcf = tmp_path / "noid.vcf"  # rs6040355 (A>G,T) without its ID
    vcf.write_text(text.replace("\trs6040355\t", "\t.\t"))
    (tmp_path / "ids.txt").write_text("20:1110696:A\n")
    ds = _read(vcf, extract=str(tmp_path / "ids.txt"))
    assert ds.features == ("20:1110696:A:G", "20:1110696:A:T")
    np.testing.assert_array_equal(ds.x, [[1, 1], [1, 1], [0, 2]])  # GTs 1|2, 2|1, 2/2
