"""``--keep``/``--remove``/``--extract``/``--exclude`` on the command line: PLINK's sample and
variant selection for ``fit`` and for the commands that read data for a fitted model."""

from __future__ import annotations

import json

import pandas as pd

from tests.cli._run import run
from tests.data.test_plink import fileset

FIT = ("--likelihood", "genotype", "--latent", "2", "--epochs", "1")


def test_fit_and_embed_select_samples_and_variants(tmp_path, capsys):
    bed = fileset(tmp_path)
    (tmp_path / "keep.txt").write_text("1 1\n1 3\n2 3\n9 9\n")
    (tmp_path / "exclude.txt").write_text("snp2\n")
    model = tmp_path / "m"
    rc, _, err = run(
        capsys, "fit", bed, *FIT, "--keep", tmp_path / "keep.txt",
        "--exclude", tmp_path / "exclude.txt", "--out", model,
    )  # fmt: skip
    assert rc == 0, err
    assert "kept 3 of 6 samples and 2 of 3 variants" in err and "1 id(s) not in the data" in err
    config = json.loads((model / "config.json").read_text())
    assert config["data"]["keep"] == str(tmp_path / "keep.txt")
    # the model's variants are selected again; the samples are those asked for now (all)
    rc, _, err = run(capsys, "embed", model, bed, "--quiet", "--out", tmp_path / "z.csv")
    assert rc == 0 and err == "", err
    assert list(pd.read_csv(tmp_path / "z.csv")["id"]) == ["1_1", "1_2", "1_3", "2_1", "2_2", "2_3"]
    (tmp_path / "remove.txt").write_text("1_2\n2_1\n")
    rc, _, err = run(
        capsys,
        "embed",
        model,
        bed,
        "--remove",
        tmp_path / "remove.txt",
        "--out",
        tmp_path / "r.csv",
    )
    assert rc == 0 and "kept 4 of 6 samples and 2 of 3 variants" in err
    assert list(pd.read_csv(tmp_path / "r.csv")["id"]) == ["1_1", "1_3", "2_2", "2_3"]


def test_an_empty_selection_exits_2_without_output(tmp_path, capsys):
    bed = fileset(tmp_path)
    (tmp_path / "keep.txt").write_text("7 7\n")
    rc, _, err = run(
        capsys, "fit", bed, *FIT, "--keep", tmp_path / "keep.txt", "--out", tmp_path / "m"
    )
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "no sample of the 6" in lines[0]
    assert not (tmp_path / "m").exists()


def test_without_the_options_nothing_is_said(tmp_path, capsys):
    rc, _, err = run(capsys, "fit", fileset(tmp_path), *FIT, "--out", tmp_path / "m")
    assert rc == 0 and "kept" not in err


def test_plink_positional_ranges_are_refused_clearly(tmp_path, capsys):
    (tmp_path / "r.bed").write_text("1\t0\t10\n")
    for flag in ("--extract", "--exclude"):
        rc, _, err = run(
            capsys, "fit", fileset(tmp_path), *FIT, flag, "range", tmp_path / "r.bed",
            "--out", tmp_path / "m",
        )  # fmt: skip
        assert rc == 2, err
        assert f"argument {flag}: 'range': PLINK's positional ranges are not supported" in err
        assert not (tmp_path / "m").exists()


def test_an_iid_of_several_families_exits_2_without_output(tmp_path, capsys):
    bed = fileset(tmp_path)  # IIDs 1, 2, 3 in families 1 and 2
    (tmp_path / "keep.txt").write_text("1 1\n2\n")
    rc, _, err = run(
        capsys, "fit", bed, *FIT, "--keep", tmp_path / "keep.txt", "--out", tmp_path / "m"
    )
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert "keep.txt: line 2: the IID '2' names 2 individuals" in lines[0]
    assert "'1_2', '2_2'" in lines[0] and "FID IID pair" in lines[0]
    assert not (tmp_path / "m").exists()
