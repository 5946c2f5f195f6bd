"""PLINK 1 binary genotypes against the worked example of the PLINK 1.07 documentation
("BED file format": six individuals, three SNPs, bytes 6c 1b 01 dc 0f e7 0f 6b 01)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from biovae import VAE
from biovae.cli.main import main
from biovae.data.readers import infer_format, read_dataset
from biovae.errors import DataError

NAN = np.nan
FAM = "1 1 0 0 1 0\n1 2 0 0 1 0\n1 3 1 2 1 2\n2 1 0 0 1 0\n2 2 0 0 1 2\n2 3 1 2 1 2\n"
BIM = "1\tsnp1\t0\t1\tG\tA\n1\tsnp2\t0\t2\t1\t2\n1\tsnp3\t0\t3\tA\tC\n"
BED = bytes.fromhex("6c1b01dc0fe70f6b01")
# copies of allele A1 (.bim column 5) per individual, from the example's PED genotypes
A1_COPIES = np.array(
    [[2, 0, 0], [0, NAN, 1], [NAN, 1, 1], [0, 0, NAN], [0, 0, NAN], [0, 0, 2]], dtype=np.float32
)


def fileset(tmp_path, bed=BED, bim=BIM, fam=FAM):
    (tmp_path / "test.bed").write_bytes(bed)
    (tmp_path / "test.bim").write_text(bim)
    (tmp_path / "test.fam").write_text(fam)
    return tmp_path / "test.bed"


def test_the_documented_example_decodes_to_a1_copies(tmp_path):
    ds = read_dataset(fileset(tmp_path))
    np.testing.assert_array_equal(ds.x, A1_COPIES)
    assert ds.features == ("snp1", "snp2", "snp3")
    assert list(ds.ids) == ["1_1", "1_2", "1_3", "2_1", "2_2", "2_3"]  # IIDs repeat
    assert list(ds.obs["sex"]) == ["male"] * 6
    # case/control with PLINK's missing codes: 0 (case/control only) and -9 are no level
    assert list(ds.obs["phenotype"]) == ["", "", "case", "", "case", "case"]


def test_missing_phenotypes_are_missing_and_quantitative_ones_numbers(tmp_path):
    fam = "1 1 0 0 1 1\n1 2 0 0 2 -9\n1 3 0 0 1 2\n2 1 0 0 1 NA\n2 2 0 0 2 1\n2 3 0 0 1 2\n"
    ds = read_dataset(fileset(tmp_path, fam=fam))
    assert list(ds.obs["phenotype"]) == ["control", "", "case", "", "control", "case"]
    fam = "".join(f"1 {i} 0 0 1 {v}\n" for i, v in enumerate(["0.5", "-9", "0", "1.25", "2", "3"]))
    phenotype = read_dataset(fileset(tmp_path, fam=fam)).obs["phenotype"]
    np.testing.assert_array_equal(phenotype, [0.5, NAN, 0.0, 1.25, 2.0, 3.0])


def test_a_genotype_model_fits_plink_dosages(tmp_path):
    rng = np.random.default_rng(0)
    n, m = 40, 12
    dosage = rng.integers(0, 3, (n, m))
    code = np.array([3, 2, 0])[dosage]  # A1 copies 0, 1, 2 -> codes 11, 10, 00
    code[0, 0] = 1  # one missing genotype
    padded = np.zeros((m, -(-n // 4) * 4), dtype=np.uint8)
    padded[:, :n] = code.T
    packed = (padded.reshape(m, -1, 4) << np.array([0, 2, 4, 6], dtype=np.uint8)).sum(-1)
    fam = "".join(f"F{i} I{i} 0 0 0 -9\n" for i in range(n))
    bim = "".join(f"1 rs{j} 0 {j} A G\n" for j in range(m))
    path = fileset(tmp_path, bytes.fromhex("6c1b01") + packed.astype(np.uint8).tobytes(), bim, fam)
    ds = read_dataset(path)
    expected = dosage.astype(np.float32)
    expected[0, 0] = NAN
    np.testing.assert_array_equal(ds.x, expected)
    est = VAE(likelihood="genotype", n_latent=2, epochs=2).fit(ds)
    assert est.config_.model.likelihood.loci == () and np.isfinite(est.transform(ds)).all()


def test_missing_and_dotted_variant_ids_stay_dosage_columns(tmp_path):
    # '.' (no id) and ids with dots would otherwise read as <locus>.<allele> columns of one locus
    bim = "1\t.\t0\t1\tG\tA\n1\tNC_1.11:2\t0\t2\t1\t2\nMT\t.\t0\t3\tA\tC\n"
    ds = read_dataset(fileset(tmp_path, bim=bim))
    assert ds.features == ("1:1:A:G", "NC_1_11:2", "MT:3:C:A")
    est = VAE(likelihood="genotype", n_latent=2, epochs=1).fit(ds)
    assert est.config_.model.likelihood.loci == ()


def test_repeated_variant_names_are_an_error(tmp_path):
    bim = "1\tsnp1\t0\t1\tG\tA\n1\tsnp2\t0\t2\t1\t2\n1\tsnp1\t0\t3\tA\tC\n"
    with pytest.raises(DataError, match=r"test\.bim: lines 1 and 3 name the same variant 'snp1'"):
        read_dataset(fileset(tmp_path, bim=bim))


@pytest.mark.parametrize("pos", ["12x", "1.5", "1e3", "-", "\u0663"])  # \u0663: Arabic-Indic 3
def test_a_bim_position_that_is_not_a_whole_number_names_its_line(tmp_path, pos):
    bim = f"1\tsnp1\t0\t1\tG\tA\n\n1\tsnp2\t0\t{pos}\t1\t2\n1\tsnp3\t0\t3\tA\tC\n"
    with pytest.raises(DataError) as info:
        read_dataset(fileset(tmp_path, bim=bim))
    assert str(info.value).startswith(
        f"{tmp_path / 'test.bim'}: line 3: position '{pos}' (column 4) is not a whole number"
    )


def test_zero_and_negative_bim_positions_read(tmp_path):
    """0 (unknown) and PLINK 1's negative positions (excluded variants) are whole numbers."""
    bim = "1\t.\t0\t0\tG\tA\n1\t.\t0\t-2\t1\t2\n1\tsnp3\t0\t3\tA\tC\n"
    ds = read_dataset(fileset(tmp_path, bim=bim))
    assert ds.features == ("1:0:A:G", "1:-2:2:1", "snp3")
    np.testing.assert_array_equal(ds.x, A1_COPIES)


def test_a_repeated_variant_name_counts_blank_lines_in_its_line_numbers(tmp_path):
    bim = "1\tsnp1\t0\t1\tG\tA\n\n1\tsnp2\t0\t2\t1\t2\n1\tsnp1\t0\t3\tA\tC\n"
    with pytest.raises(DataError, match=r"test\.bim: lines 1 and 4 name the same variant 'snp1'"):
        read_dataset(fileset(tmp_path, bim=bim))


def test_bad_filesets_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="magic bytes"):
        read_dataset(fileset(tmp_path, bed=bytes.fromhex("6c1b00dc0fe70f6b01")))
    with pytest.raises(DataError, match="do not belong together"):
        read_dataset(fileset(tmp_path, bed=BED[:-1]))
    with pytest.raises(DataError, match=r"line 2 has 3 fields, expected 6 \(FID IID .*--make-bed"):
        read_dataset(fileset(tmp_path, fam="1 1 0 0 1 0\n1 2 0\n"))
    (tmp_path / "test.fam").unlink()
    with pytest.raises(DataError, match=r"test\.fam not found"):
        read_dataset(tmp_path / "test.bed")


def packed_bed(dosage: np.ndarray) -> bytes:
    """A SNP-major .bed of ``(individuals, variants)`` A1 copies, padded with zeros as PLINK."""
    n, m = dosage.shape
    padded = np.zeros((m, -(-n // 4) * 4), dtype=np.uint8)
    padded[:, :n] = np.array([3, 2, 0])[dosage].T  # A1 copies 0, 1, 2 -> codes 11, 10, 00
    packed = (padded.reshape(m, -1, 4) << np.array([0, 2, 4, 6], dtype=np.uint8)).sum(-1)
    return bytes.fromhex("6c1b01") + packed.astype(np.uint8).tobytes()


def test_a_fam_short_of_the_bed_within_its_last_byte_is_an_error(tmp_path):
    # 6 individuals in the .bed, 5 in the .fam: both need 2 bytes per variant, so the size
    # check passes; the 6th individual's genotypes sit where PLINK writes zero padding
    with pytest.raises(DataError) as err:
        read_dataset(fileset(tmp_path, fam="".join(FAM.splitlines(True)[:5])))
    assert "2 of 3 variants (the first 'snp1') hold genotypes after the 5 individuals of " in str(
        err.value
    )
    assert "test.fam" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"2 genotype bytes \(1 per variant: 1 to 4 individ"):
        read_dataset(
            fileset(
                tmp_path, bed=BED[:3] + bytes([0xDC, 0xE7]), bim="".join(BIM.splitlines(True)[:2])
            )
        )


def test_a_fam_longer_than_the_bed_within_its_last_byte_is_warned_of(tmp_path):
    rng = np.random.default_rng(0)
    dosage = rng.integers(0, 3, (5, 12))  # 5 individuals, 12 variants
    bim = "".join(f"1 rs{j} 0 {j + 1} A G\n" for j in range(12))
    fam = "".join(f"F{i} I{i} 0 0 0 -9\n" for i in range(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right .fam: nothing to say
        ds = read_dataset(fileset(tmp_path, packed_bed(dosage), bim, fam))
    np.testing.assert_array_equal(ds.x, dosage)
    longer = fam + "F5 I5 0 0 0 -9\nF6 I6 0 0 0 -9\n"  # the padding read as two individuals
    with pytest.warns(UserWarning, match=r"the last 2 individual\(s\) of test\.fam have two cop"):
        ds = read_dataset(fileset(tmp_path, packed_bed(dosage), bim, longer))
    assert (ds.x[5:] == 2).all()


def test_fam_errors_count_blank_lines(tmp_path):
    with pytest.raises(DataError, match=r"test\.fam: line 3 has 3 fields"):
        read_dataset(fileset(tmp_path, fam="1 1 0 0 1 0\n\n1 2 0\n"))


def test_a_fileset_given_by_its_prefix_reads_as_its_bed(tmp_path, capsys):
    """``plink --bfile data`` names a fileset by its prefix; that name was refused as a file
    of unknown format (and, with --format plink, as not found)."""
    fileset(tmp_path)
    prefix = tmp_path / "test"
    assert infer_format(prefix) == "plink"
    for fmt in (None, "plink"):
        ds = read_dataset(prefix, fmt=fmt)
        np.testing.assert_array_equal(ds.x, A1_COPIES)
        assert ds.source == str(tmp_path / "test.bed")
    dotted = tmp_path / "cohort.chr2"  # a prefix with a dot in it is no extension
    for ext in ("bed", "bim", "fam"):
        (tmp_path / f"cohort.chr2.{ext}").write_bytes((tmp_path / f"test.{ext}").read_bytes())
    np.testing.assert_array_equal(read_dataset(dotted).x, A1_COPIES)
    out = tmp_path / "model"
    fit = ["fit", str(prefix), "--likelihood", "genotype", "--epochs", "1", "--quiet"]
    assert main([*fit, "--latent", "2", "--out", str(out)]) == 0
    assert main(["score", str(out), str(prefix), "--out", str(tmp_path / "s.csv"), "--quiet"]) == 0
    assert (tmp_path / "s.csv").read_text().count("\n") == 7  # header and six individuals


#: what each message must say, in order (``{d}``: the folder of the files)
GENOTYPE_FILES_NOT_READ = {
    "test.bim": ("a PLINK .bim file; pass the fileset's .bed ({d}/test.bed,", "prefix {d}/test"),
    "test.fam": ("a PLINK .fam file; pass the fileset's .bed ({d}/test.bed,", "prefix {d}/test"),
    "data.pgen": ("PLINK 2 files", "plink2 --pfile {d}/data --make-bed --out {d}/data"),
    "data.pvar.zst": ("PLINK 2 files", "plink2 --pfile {d}/data --make-bed"),
    "data.psam": ("PLINK 2 files", "plink2 --pfile {d}/data --make-bed"),
    "data.ped": ("PLINK text", "plink --file {d}/data --make-bed --out {d}/data"),
    "calls.bcf": ("BCF files are not read", "bcftools view -Oz -o {d}/calls.vcf.gz {d}/calls.bcf"),
    "imputed.bgen": ("BGEN files", "plink2 --bgen {d}/imputed.bgen ref-first --sample"),
    "calls.vcf.gz.tbi": ("a tabix index, not genotypes", "the VCF it indexes ({d}/calls.vcf.gz)"),
}


@pytest.mark.parametrize("name", sorted(GENOTYPE_FILES_NOT_READ))
def test_genotype_files_not_read_are_refused_with_their_conversion(tmp_path, capsys, name):
    fileset(tmp_path)
    path = tmp_path / name
    if not path.exists():
        path.write_bytes(b"\x00" * 8)
    out = tmp_path / "model"
    assert main(["fit", str(path), "--likelihood", "genotype", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"biovae fit: error: {path}: ")
    first, second = (part.format(d=tmp_path) for part in GENOTYPE_FILES_NOT_READ[name])
    assert first in err[0] and second in err[0].split(first, 1)[1]
    assert not out.exists()


def test_a_plink2_prefix_is_refused_with_the_conversion(tmp_path):
    (tmp_path / "data.pgen").write_bytes(b"l\x1b\x10")
    with pytest.raises(DataError, match=r"data: PLINK 2 files .* plink2 --pfile .*data --make"):
        read_dataset(tmp_path / "data")


@pytest.mark.parametrize(
    ("fam", "pairs", "what"),
    [
        (  # 'a_b' + 'c' and 'a' + 'b_c' are both 'a_b_c' once IIDs repeat ('3')
            "a_b c 0 0 1 0\na b_c 0 0 1 0\n1 3 0 0 1 0\n2 1 0 0 1 0\n2 2 0 0 1 0\n2 3 0 0 1 0\n",
            "lines 1 (FID 'a_b', IID 'c') and 2 (FID 'a', IID 'b_c')",
            "both read as record id 'a_b_c'",
        ),
        (
            FAM.replace("2 3 ", "1 3 "),
            "lines 3 (FID '1', IID '3') and 6 (FID '1', IID '3')",
            "list the same individual",
        ),
    ],
    ids=["fid_iid-collision", "listed-twice"],
)
def test_individuals_whose_fid_iid_ids_repeat_are_an_error_naming_the_fam(
    tmp_path, capsys, fam, pairs, what
):
    path = fileset(tmp_path, fam=fam)
    with pytest.raises(DataError) as caught:
        read_dataset(path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'test.fam'}: {pairs} {what}")
    assert "its own IID in the .fam's second column" in message and "AnnData" not in message
    out = tmp_path / "m"
    rc = main(["fit", str(path), "--likelihood", "genotype", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and pairs in err and not out.exists()
