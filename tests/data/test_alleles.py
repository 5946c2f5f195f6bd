"""Genotype dosages count one allele per variant (PLINK's A1, a VCF's ALT), which
``plink --make-bed`` picks anew for each fileset: readers keep the (counted, other) alleles,
models save them, and data counting another allele than the model's is refused in one line
instead of being scored as if its dosages were the model's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biovae import VAE
from biovae.data.alleles import check_alleles
from biovae.data.dataset import Dataset
from biovae.data.readers import read_dataset
from biovae.errors import DataError
from biovae.models.schema import DataSchema
from tests.cli._run import run

N, M = 40, 8


def write_fileset(folder, name, dosage, alleles):
    """``folder/name.bed`` (+ .bim, .fam) holding ``dosage`` (n × m copies of each variant's
    first allele in ``alleles``, its A1)."""
    folder.mkdir(exist_ok=True)
    n, m = dosage.shape
    code = np.array([3, 2, 0], dtype=np.uint8)[dosage]  # A1 copies 0, 1, 2 -> 11, 10, 00
    padded = np.zeros((m, -(-n // 4) * 4), dtype=np.uint8)
    padded[:, :n] = code.T
    packed = (padded.reshape(m, -1, 4) << np.array([0, 2, 4, 6], dtype=np.uint8)).sum(-1)
    (folder / f"{name}.bed").write_bytes(b"\x6c\x1b\x01" + packed.astype(np.uint8).tobytes())
    bim = "".join(f"1 rs{j} 0 {j + 1} {a1} {a2}\n" for j, (a1, a2) in enumerate(alleles))
    (folder / f"{name}.bim").write_text(bim)
    (folder / f"{name}.fam").write_text("".join(f"F{i} I{i} 0 0 0 -9\n" for i in range(n)))
    return folder / f"{name}.bed"


def cohort(seed=0):
    """Dosages of A1 (the first allele of each pair) for N individuals at M variants."""
    return np.random.default_rng(seed).integers(0, 3, (N, M)), [("A", "G")] * M


def recoded(dosage, alleles, swap):
    """The same genotypes, with A1/A2 swapped at the variants ``swap`` and the .bed recoded
    to count the new A1 there (2 − copies): what --make-bed of another cohort gives."""
    dosage, alleles = dosage.copy(), list(alleles)
    for j in swap:
        dosage[:, j] = 2 - dosage[:, j]
        alleles[j] = alleles[j][::-1]
    return dosage, alleles


def test_plink_and_vcf_readers_keep_counted_and_other_alleles(tmp_path):
    dosage, alleles = cohort()
    ds = read_dataset(write_fileset(tmp_path, "a", dosage, alleles))
    assert ds.alleles == (("A", "G"),) * M
    assert ds.subset(np.arange(3)).alleles == ds.alleles
    vcf = tmp_path / "v.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "1\t1\tr1\tA\tG\t.\t.\t.\tGT\t0/1\n1\t2\tr2\tC\tT,G\t.\t.\t.\tGT\t1/2\n"
    )
    assert read_dataset(vcf).alleles == (("G", "A"), ("T", "C"), ("G", "C"))


def test_a_fileset_counting_the_other_allele_is_refused_by_the_model(tmp_path):
    dosage, alleles = cohort()
    est = VAE(likelihood="genotype", n_latent=2, epochs=1).fit(
        read_dataset(write_fileset(tmp_path, "train", dosage, alleles))
    )
    assert est.schema_.alleles == (("A", "G"),) * M
    same = read_dataset(write_fileset(tmp_path, "same", *cohort(1)))
    assert np.isfinite(est.transform(same)).all()
    new = read_dataset(write_fileset(tmp_path, "new", *recoded(*cohort(1), swap=[2, 5])))
    with pytest.raises(DataError) as err:
        est.transform(new)
    msg = str(err.value)
    assert "\n" not in msg and "new.bed: variant 'rs2' counts G of alleles G/A" in msg
    assert "the model counts A of A/G" in msg and "2 of 8 variants count the other allele" in msg
    assert f"plink --bfile {tmp_path / 'new'} --a1-allele TRAIN.bim 5 2 --make-bed" in msg


@pytest.mark.parametrize(
    "pair, expected",
    [
        (("G", "A"), "counts G of alleles G/A where the model counts A of A/G (1 of 3 variants "),
        (("A", "T"), "counts A of alleles A/T where the model counts A of A/G (1 of 3 variants "),
        (("C", "T"), "1 of 3 variants differ: 0 swapped, 1 with other alleles"),
        (("G", "0"), "counts G of alleles G/0"),  # monomorphic in the new cohort
    ],
)
def test_swapped_and_other_alleles_are_told_apart(pair, expected):
    model = (("A", "G"), ("C", "T"), ("0", "G"))  # the last monomorphic in training
    ds = Dataset(np.zeros((2, 3)), ["a", "b"], ["v1", "v2", "v3"], {}, alleles=(pair, *model[1:]))
    with pytest.raises(DataError, match="v1") as err:
        check_alleles(ds, model)
    assert expected in str(err.value)
    if pair[1] == "T":
        assert "plink --flip" in str(err.value)


def test_unknown_alleles_agree_with_any_and_missing_alleles_skip_the_check():
    model = (("0", "G"), ("A", "0"), ("a", "g"))
    ours = (("A", "G"), ("A", "C"), ("A", "G"))  # 0 unknown, bases case-insensitive
    check_alleles(Dataset(np.zeros((1, 3)), ["a"], ["x", "y", "z"], {}, alleles=ours), model)
    with pytest.raises(DataError, match="'x' counts G of alleles G/A"):
        swapped = (("G", "A"), *ours[1:])  # counts the allele the model had as its other
        check_alleles(Dataset(np.zeros((1, 3)), ["a"], ["x", "y", "z"], {}, alleles=swapped), model)
    check_alleles(Dataset(np.zeros((1, 3)), ["a"], ["x", "y", "z"], {}), model)  # a table
    check_alleles(Dataset(np.zeros((1, 3)), ["a"], ["x", "y", "z"], {}, alleles=ours), ())
    with pytest.raises(DataError, match=r"alleles must be \(counted, other\) pairs"):
        Dataset(np.zeros((1, 2)), ["a"], ["x", "y"], {}, alleles=["A/G", "C/T"])


def test_schema_keeps_alleles_and_loads_without_them():
    schema = DataSchema((2,), ("v1", "v2"), alleles=(("A", "G"), ("C", "T")))
    saved = json.loads(json.dumps(schema.to_dict()))
    assert DataSchema.from_dict(saved) == schema
    del saved["alleles"]  # a model saved before alleles were kept
    assert DataSchema.from_dict(saved).alleles == ()


def test_cli_refuses_a_swapped_fileset_and_an_old_model_still_scores(tmp_path, capsys):
    dosage, alleles = cohort()
    train = write_fileset(tmp_path, "train", dosage, alleles)
    model = tmp_path / "m"
    fit = ["fit", train, "--likelihood", "genotype", "--latent", "2", "--epochs", "1"]
    assert run(capsys, *fit, "--out", model, "--quiet")[0] == 0
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["schema"]["alleles"] == [["A", "G"]] * M
    same = write_fileset(tmp_path, "same", *cohort(1))
    assert run(capsys, "score", model, same, "--out", tmp_path / "ok.csv")[0] == 0
    new = write_fileset(tmp_path, "new", *recoded(*cohort(1), swap=[3, 4, 6]))
    for command in ("score", "embed"):
        out = tmp_path / f"{command}.csv"
        rc, _, err = run(capsys, command, model, new, "--out", out)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and not out.exists()
        assert "variant 'rs3' counts G of alleles G/A" in lines[0]
        assert "3 of 8 variants count the other allele" in lines[0]
    del meta["schema"]["alleles"]  # an old model folder: no alleles, scored as before
    (model / "metadata.json").write_text(json.dumps(meta))
    (model / "SHA256SUMS").unlink()  # nor the SHA256SUMS of later versions
    assert run(capsys, "score", model, new, "--out", tmp_path / "old.csv")[0] == 0
