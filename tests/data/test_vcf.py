"""VCF genotypes as ALT dosages, against values read by hand from the raw text of the fixtures
(tests/fixtures/README.md: a 64-sample cut of pyvcf3's 1000 Genomes ``1kg.vcf.gz`` and the
VCF 4.0 specification's example), and small hand-written files for the edge cases."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from biovae.cli.main import main
from biovae.config import LikelihoodConfig
from biovae.data.readers import infer_format, read_dataset
from biovae.errors import DataError
from biovae.likelihoods.genotype import Genotype
from tests._gzip import DAMAGED_MEMBER

NAN = np.nan
KG = "1kg_chr2_64x381.vcf.gz"
FIRST_8 = ["HG00098", "HG00122", "HG00146", "HG00159", "HG00181", "HG00239", "HG00266", "HG00361"]
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"


def vcf(samples: str, *records: str) -> str:
    """A VCF text: the header line with these samples, then the records (spaces become tabs)."""
    body = "".join(r.replace(" ", "\t") + "\n" for r in records)
    return f"{HEADER}\t{samples.replace(' ', chr(9))}\n{body}"


def test_1000_genomes_records_decode_to_alt_copies(fixtures_dir):
    ds = read_dataset(fixtures_dir / KG)
    assert ds.x.shape == (64, 381) and ds.x.dtype == np.float32
    assert list(ds.ids[:8]) == FIRST_8
    col = {name: j for j, name in enumerate(ds.features)}
    # GT (first FORMAT key) of the first 13 samples, read off the text; the GD and OG fields
    # after it (Beagle's expected dosage, original genotype '1/1') must not leak in
    np.testing.assert_array_equal(
        ds.x[:13, col["2:10297:G:T"]], [0, 0, 0, 1, 0, 2, 0, 0, 1, 0, 0, NAN, 0]
    )
    np.testing.assert_array_equal(ds.x[:8, col["rs6548219"]], [1, 1, 0, 0, 2, 1, 1, 1])
    np.testing.assert_array_equal(ds.x[:8, col["rs71337607"]], [0, 0, 0, 0, 1, 0, 0, 0])
    assert ds.features[:2] == ("2:10038:C:A", "2:10075:C:A")  # ID '.' -> CHROM:POS:REF:ALT
    assert np.isnan(ds.x).all(axis=0).sum() == 15  # records with ./. for all 64 (awk count)
    assert (ds.obs["ploidy"] == 2).all()


def test_the_specification_example_with_multiallelic_sites(fixtures_dir):
    ds = read_dataset(fixtures_dir / "vcf_spec_example_4.0.vcf")
    assert ds.features == (
        "rs6054257",
        "20:17330:T:A",
        "rs6040355:G",  # A -> G,T: one column of copies per ALT allele
        "rs6040355:T",
        "20:1230237:T:_",  # no ALT ('.'): zero copies; the dot is not kept in the name
        "20:1231234:AT:A",
        "microsat1:G",
        "microsat1:GTACT",
    )
    expected = [
        [0, 0, 1, 1, 0, 2, NAN, NAN],  # 0|0 0|0 1|2 0|0 1|1 ./.
        [1, 1, 1, 1, 0, 0, 0, 1],  # 1|0 0|1 2|1 0|0 0|0 0/2
        [2, 0, 0, 2, 0, 0, 2, 0],  # 1/1 0/0 2/2 0/0 0|0 1/1
    ]
    np.testing.assert_array_equal(ds.x, np.array(expected, dtype=np.float32))
    # every column stays a binomial dosage for the genotype likelihood (no <locus>.<allele>)
    assert Genotype.configure(LikelihoodConfig("genotype"), ds.features).loci == ()


def test_haploid_and_triploid_calls_count_their_own_alleles(fixtures_dir):
    ds = read_dataset(fixtures_dir / "vcf_ploidy_example_4.1.vcf")
    # rs186434315: 0, 1|0, 1/1/1; rs185512268: 0, 1, 0
    np.testing.assert_array_equal(ds.x, np.array([[0, 0], [1, 1], [3, 0]], dtype=np.float32))
    np.testing.assert_array_equal(ds.obs["ploidy"], [1, 2, 3])


def test_phased_and_unphased_calls_read_alike(write):
    records = [
        "1 10 rs1 A G . . . GT 0{s}1 1{s}1 0{s}0 1{s}0",
        "1 20 rs2 C T . . . GT 0{s}0 .{s}. 1{s}1 0{s}1",
    ]
    phased = read_dataset(write("p.vcf", vcf("a b c d", *(r.format(s="|") for r in records))))
    unphased = read_dataset(write("u.vcf", vcf("a b c d", *(r.format(s="/") for r in records))))
    expected = np.array([[1, 0], [2, NAN], [0, 2], [1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(phased.x, expected)
    np.testing.assert_array_equal(unphased.x, expected)


def test_missing_alleles_make_the_call_missing(write):
    text = vcf("a b c d e", "1 10 rs1 A G . . . GT:DP ./1:3 1|.:4 .:2 1:7 0/1:.")
    ds = read_dataset(write("m.vcf", text))
    np.testing.assert_array_equal(ds.x[:, 0], [NAN, NAN, NAN, 1, 1])


def test_haploid_file_and_alleles_with_two_digits(write):
    ds = read_dataset(write("h.vcf", vcf("a b c", "M 1 . A G . . . GT 0 1 .")))
    np.testing.assert_array_equal(ds.x[:, 0], [0, 1, NAN])
    assert list(ds.obs["ploidy"]) == [1, 1, 0]  # c has no allele called: no ploidy seen
    alts = ",".join("CGTN"[i % 4] * (i // 4 + 1) for i in range(11))  # 11 distinct ALTs
    ds = read_dataset(write("d.vcf", vcf("a b", f"1 5 m A {alts} . . . GT 0/10 11|11")))
    assert ds.x.shape == (2, 11) and ds.features[9] == "m:GGG"
    assert ds.x[0].tolist() == [0] * 9 + [1, 0] and ds.x[1].tolist() == [0] * 10 + [2]


def test_haploid_calls_beside_diploid_ones_are_warned_of(write, tmp_path, capsys):
    male_x = write("x.vcf", vcf("f m", "1 5 . A G . . . GT 0/1 0/1", "X 9 . A G . . . GT 0/1 1"))
    ds = read_dataset(male_x)
    assert ds.x[1].tolist() == [1, 1]  # the haploid ALT is one copy, as the docs say
    assert list(ds.obs["ploidy"]) == [2, 2] and list(ds.obs["ploidy_min"]) == [2, 1]
    fit = ["fit", str(male_x), "--likelihood", "genotype", "--epochs", "1", "--quiet"]
    assert main([*fit, "--out", str(tmp_path / "m")]) == 0
    assert "1 of 2 individuals mix calls of 1 and 2 alleles" in capsys.readouterr().err
    same = write("a.vcf", vcf("f m", "1 5 . A G . . . GT 0/1 ./.", "2 9 . A G . . . GT 1/1 1/1"))
    assert main([*fit[:1], str(same), *fit[2:], "--out", str(tmp_path / "a")]) == 0
    assert "mix calls" not in capsys.readouterr().err  # a missing call is no haploid one


def test_dots_in_names_become_underscores(write):
    ds = read_dataset(
        write("r.vcf", vcf("a", *(f"NC_000001.11 {p} . A G . . . GT 0/1" for p in (5, 9))))
    )
    assert ds.features == ("NC_000001_11:5:A:G", "NC_000001_11:9:A:G")
    assert Genotype.configure(LikelihoodConfig("genotype"), ds.features).loci == ()


def test_plain_gzip_and_bgzf_read_alike(tmp_path, fixtures_dir):
    text = (fixtures_dir / "vcf_spec_example_4.0.vcf").read_bytes()
    plain = read_dataset(fixtures_dir / "vcf_spec_example_4.0.vcf")
    cut = len(text) // 2  # BGZF is a series of gzip members
    (tmp_path / "b.vcf.gz").write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    (tmp_path / "g.vcf").write_bytes(gzip.compress(text))  # compressed despite the name
    for name in ("b.vcf.gz", "g.vcf"):
        ds = read_dataset(tmp_path / name)
        np.testing.assert_array_equal(ds.x, plain.x)
        assert ds.features == plain.features


def test_the_format_comes_from_the_suffix(write):
    assert infer_format("x.vcf") == "vcf" and infer_format("cohort.chr2.VCF.GZ") == "vcf"
    assert infer_format("gnomad.genomes.chr21.vcf.bgz") == "vcf"  # gnomAD's BGZF suffix
    path = write("calls.txt", vcf("a", "1 1 rs1 A G . . . GT 1/1"))
    assert read_dataset(path, fmt="vcf").x.tolist() == [[2.0]]
    implied = read_dataset(write("c.vcf", path.read_text()), allow_missing=True)  # always NaN
    assert implied.x.tolist() == [[2.0]]
    with pytest.raises(DataError, match="id_column does not apply to vcf"):
        read_dataset(write("d.vcf", path.read_text()), id_column="a")


SITES_ONLY = HEADER.removesuffix("\tFORMAT") + "\n1\t1\t.\tA\tG\t.\t.\t.\n"
REC = "1 1 . A G . . . GT"
BAD = {
    "no_header": ("##fileformat=VCFv4.2\n##source=x\n", "no '#CHROM' header line in 2 lines"),
    "no_samples": (SITES_ONLY, "line 2: no samples"),
    "no_variants": (vcf("a b"), "no variant records"),
    "header_names": (
        HEADER.replace("FILTER", "FILT") + "\ta\n",
        "starts '#CHROM POS ID REF ALT QUAL FILT",
    ),
    "late_header": (vcf("a", f"{REC} 0/1", "##INFO=<ID=X>"), "line 4: a header line after"),
    "record_first": ("1\t1\t.\tA\tG\t.\t.\t.\tGT\t0/1\n", "line 1: expected the '#CHROM"),
    "columns": (
        vcf("a b c", f"{REC} 0/1 1/1 0/0", f"{REC} 0/1 1/1"),
        "line 4 has 11 tab-separated columns, expected 12",
    ),
    "no_gt": (
        vcf("a", f"{REC} 0/1", "1 2 . A G . . . DP:GT 3:0/1"),
        "line 4: FORMAT 'DP:GT' does not start with GT",
    ),
    "beyond_alt": (
        vcf("a b", f"{REC} 0/1 0/2"),
        "sample 'b' has allele index 2 but the record has 1 ALT",
    ),
    "not_integer": (vcf("a b", f"{REC} 0/1 0/A"), "sample 'b' has GT '0/A' with allele 'A'"),
    "empty_call": (vcf("a b", f"{REC} 0/1 "), "sample 'b' has GT '' with allele ''"),
    "same_sample": (
        vcf("a b a", f"{REC} 0/1 0/1 0/1"),
        "sample id 'a' appears in columns 10 and 12",
    ),
    "empty_sample": (vcf("a ", f"{REC} 0/1"), "line 2: column 11 of the #CHROM line has no sample"),
    "gvcf": (  # GATK's reference blocks: every record a site of 0/0 calls, <NON_REF> zeros
        vcf(
            "a b",
            "1 1 . A <NON_REF> . . END=9 GT:DP 0/0:3 0/0:5",
            "1 10 . C T,<NON_REF> . . . GT 0/1 1/1",
        ),
        "line 3: ALT holds the symbolic allele <NON_REF>, so this is a gVCF",
    ),
    "mpileup": (  # bcftools mpileup before calling
        vcf("a", f"{REC} 0/1", "1 2 . A G,<*> . . . GT 0/1"),
        "line 4: ALT holds the symbolic allele <\\*>, .* bcftools call -mv",
    ),
    # POS must be a whole number, whether or not the column's name uses it (ID given)
    "pos_text": (vcf("a", f"{REC} 0/1", "1 12x . C T . . . GT 1/1"), "line 4: POS '12x' is not a"),
    "pos_decimal": (vcf("a", "1 1.5 rs1 C T . . . GT 1/1"), "line 3: POS '1.5' is not a position"),
    "pos_negative": (vcf("a", "1 -3 rs1 C T . . . GT 1/1"), "line 3: POS '-3' is not a position"),
    "pos_empty": (vcf("a", "1  rs1 C T . . . GT 1/1"), "line 3: POS '' is not a position"),
    "same_variant": (
        vcf(
            "a", "1 1 rs1 A G . . . GT 0/1", "1 2 rs2 A G . . . GT 0/1", "1 3 rs1 C T . . . GT 1/1"
        ),
        "line 5: variant name 'rs1' repeats line 3",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_one_line_error_naming_the_file(write, case):
    text, match = BAD[case]
    path = write(f"bad_{case}.vcf", text)
    with pytest.raises(DataError, match=match) as info:
        read_dataset(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_whole_number_positions_read_as_before(write):
    """0 (a telomere, as the specification allows) and large positions read; names keep them."""
    path = write("ok.vcf", vcf("a", "1 0 . A G . . . GT 0/1", "X 2147483647 . C T . . . GT 1/1"))
    ds = read_dataset(path)
    assert ds.features == ("1:0:A:G", "X:2147483647:C:T") and ds.x.tolist() == [[1.0, 2.0]]


def test_empty_and_broken_files(tmp_path):
    (tmp_path / "empty.vcf").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.vcf: the file is empty"):
        read_dataset(tmp_path / "empty.vcf")
    (tmp_path / "void.vcf.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match=r"void\.vcf\.gz: no '#CHROM' header line"):
        read_dataset(tmp_path / "void.vcf.gz")
    whole = gzip.compress(vcf("a", f"{REC} 0/1").encode())
    (tmp_path / "cut.vcf.gz").write_bytes(whole[:-12])  # the end of the stream is lost
    with pytest.raises(DataError, match=r"cut\.vcf\.gz: could not read the file"):
        read_dataset(tmp_path / "cut.vcf.gz")


def test_the_cli_fits_a_genotype_model_on_a_vcf(fixtures_dir, tmp_path, capsys):
    model = tmp_path / "model"
    args = ["fit", str(fixtures_dir / KG), "--likelihood", "genotype"]
    assert main([*args, "--latent", "2", "--epochs", "3", "--out", str(model), "--quiet"]) == 0
    likelihood = json.loads((model / "config.json").read_text())["model"]["likelihood"]
    assert likelihood["name"] == "genotype" and likelihood["loci"] == []  # dosage layout


def test_triploid_calls_need_the_ploidy_set(fixtures_dir, tmp_path, capsys):
    fit = ["fit", str(fixtures_dir / "vcf_ploidy_example_4.1.vcf"), "--quiet", "--epochs", "1"]
    assert main([*fit, "--likelihood", "genotype", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an allele count in 0..2" in err[0]
    config = tmp_path / "ploidy.toml"
    config.write_text('[model.likelihood]\nname = "genotype"\nploidy = 3\n')
    assert main([*fit, "--config", str(config), "--out", str(tmp_path / "m3")]) == 0
    assert "2 of 3 individuals have at most 1 allele" in capsys.readouterr().err


def test_haploid_individuals_under_a_diploid_model_are_warned_of(write, tmp_path, capsys):
    haploid = write(
        "h.vcf", vcf("a b c d", "M 1 . A G . . . GT 0 1 1 0", "M 9 . C T . . . GT 1 0 . 1")
    )
    fit = ["fit", str(haploid), "--likelihood", "genotype", "--epochs", "1", "--quiet"]
    assert main([*fit, "--latent", "2", "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "4 of 4 individuals have at most 1 allele" in err[0]
    assert "set likelihood.ploidy = 1" in err[0]
    config = tmp_path / "haploid.toml"
    config.write_text('[model.likelihood]\nname = "genotype"\nploidy = 1\n')
    assert main([*fit, "--config", str(config), "--out", str(tmp_path / "m1")]) == 0
    assert capsys.readouterr().err == ""  # the ploidy fits: nothing to say


def test_an_individual_with_every_call_missing_is_not_taken_for_a_haploid(write, tmp_path, capsys):
    # '.' is a missing call, not a haploid one: a diploid fit had warned "1 of 3 individuals
    # have at most 1 allele(s) in every call" of an individual with no call at all
    text = vcf("a b c", "1 5 rs1 A G . . . GT 0/1 . 1|1", "1 9 rs2 C T . . . GT 0/0 . ./1")
    ds = read_dataset(write("dots.vcf", text))
    assert list(ds.obs["ploidy"]) == [2, 0, 2]
    assert Genotype(ds.x.shape[1:], LikelihoodConfig("genotype")).caveat(ds.obs) is None
    fit = ["fit", str(tmp_path / "dots.vcf"), "--likelihood", "genotype", "--epochs", "1"]
    assert main([*fit, "--latent", "2", "--quiet", "--out", str(tmp_path / "m")]) == 0
    assert capsys.readouterr().err == ""


def test_a_mixed_ploidy_file_names_the_haploid_individuals_share(fixtures_dir):
    ds = read_dataset(fixtures_dir / "vcf_ploidy_example_4.1.vcf")  # ploidy 1, 2, 3
    lik = Genotype(ds.x.shape[1:], LikelihoodConfig("genotype", ploidy=3))
    assert "2 of 3 individuals have at most 1 allele" in lik.caveat(ds.obs)
    assert "read as 3-ploid dosages" in lik.caveat(ds.obs)
    diploid = read_dataset(fixtures_dir / KG)
    assert Genotype(diploid.x.shape[1:], LikelihoodConfig("genotype")).caveat(diploid.obs) is None


def test_a_missing_call_is_not_encoded_as_a_reference_homozygote(fixtures_dir):
    # one individual with every call missing, another homozygous reference everywhere: before
    # the encoder saw missing calls, both were the same input and got the same latent position
    from biovae import VAE

    ds = read_dataset(fixtures_dir / KG)
    x = ds.x.copy()
    x[0], x[1] = np.nan, 0.0
    est = VAE(likelihood="genotype", n_latent=2, epochs=5, seed=0).fit(x)
    assert est.config_.model.likelihood.missing_indicators is True
    z = est.transform(x)
    assert np.abs(z[0] - z[1]).max() > 1e-3


def test_a_record_split_by_bcftools_norm_reads_like_the_multiallelic_one(write):
    multi = vcf("a b", "1 7 rs9 A G,T . . . GT 0/1 1/2", "1 8 rs10 C T . . . GT 0/0 0/1")
    split = vcf(  # bcftools norm -m-: one line per ALT, the ID repeated, GT recoded per line
        "a b",
        "1 7 rs9 A G . . . GT 0/1 1/0",
        "1 7 rs9 A T . . . GT 0/0 0/1",
        "1 8 rs10 C T . . . GT 0/0 0/1",
    )
    one, two = read_dataset(write("multi.vcf", multi)), read_dataset(write("split.vcf", split))
    assert list(one.features) == list(two.features) == ["rs9:G", "rs9:T", "rs10"]
    np.testing.assert_array_equal(one.x, two.x)
    again = split + "1\t7\trs9\tA\tT\t.\t.\t.\tGT\t0/0\t0/1\n"  # an allele twice: refused
    with pytest.raises(DataError, match="variant name 'rs9:T' repeats line 4"):
        read_dataset(write("again.vcf", again))
    elsewhere = split + "1\t9\trs9\tG\tC\t.\t.\t.\tGT\t0/0\t0/1\n"  # the ID at another site
    with pytest.raises(DataError, match="variant name 'rs9' repeats line 3"):
        read_dataset(write("elsewhere.vcf", elsewhere))


@pytest.mark.parametrize("where", ["header", "records"])
def test_a_damaged_gzip_stream_is_a_one_line_error(tmp_path, capsys, where):
    """A .vcf.gz whose deflate data are damaged (not cut short, nor a bad CRC) raised
    zlib.error: a traceback and exit status 1 from the command line."""
    # the header lines whole, the records damaged; or the damage from the first byte on
    before = vcf("a b").encode() if where == "records" else b""
    path = tmp_path / "damaged.vcf.gz"
    path.write_bytes((gzip.compress(before) if before else b"") + DAMAGED_MEMBER)
    with pytest.raises(DataError, match=r"damaged\.vcf\.gz: could not read the file \(Error"):
        read_dataset(path)
    out = tmp_path / "m"
    assert main(["fit", str(path), "--likelihood", "genotype", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not read the file" in err[0] and not out.exists()


def test_a_gvcf_is_refused_on_the_command_line_and_symbolic_variants_are_read(
    write, tmp_path, capsys
):
    gvcf = write("sample.g.vcf", vcf("a b", "1 1 . A <NON_REF> . . END=9 GT 0/0 0/0"))
    out = tmp_path / "model"
    assert main(["fit", str(gvcf), "--likelihood", "genotype", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gatk GenotypeGVCFs" in err[0] and not out.exists()
    # a structural variant's symbolic ALT and the spanning deletion '*' are real alleles
    ds = read_dataset(
        write(
            "sv.vcf", vcf("a b", "1 5 sv1 A <DEL> . . . GT 0/1 1/1", "1 9 v A *,G . . . GT 0/1 1/2")
        )
    )
    assert ds.features == ("sv1", "v:*", "v:G")
    np.testing.assert_array_equal(ds.x, [[1, 1, 0], [2, 1, 1]])
