"""``biovae structure --chain``: the chains of a fit are saved with the model and read again
by the commands that read new structure files; insertion codes reach the written PDBs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

FAST = ["--epochs", "2", "--hidden", "16", "--batch-size", "8", "--quiet", "--loss", "mse"]


def two_chains(src, dest, chains=("A", "B")):
    """The ubiquitin fixture (12 models) as chain A, residue 10 numbered 9A, and a chain B of
    its residues 1–30 moved 40 Å along x, after it in every model (``chains``: those kept)."""
    out, model = [], []
    for line in src.read_text().splitlines():
        if line.startswith("ATOM"):
            number = "   9A" if line[22:27] == "  10 " else line[22:27]
            model.append(line[:22] + number + line[27:])
        elif line.startswith("ENDMDL"):
            b = [r[:21] + "B" + r[22:30] + f"{float(r[30:38]) + 40:8.3f}" + r[38:] for r in model]
            b = [r[:22] + "  10 " + r[27:] if r[22:27] == "   9A" else r for r in b[:30]]
            out += [*(model if "A" in chains else []), *(b if "B" in chains else []), line]
            model = []
        else:
            out.append(line)
    dest.write_text("\n".join(out) + "\n")
    return dest


@pytest.fixture(scope="module")
def dimer(tmp_path_factory):
    from tests.conftest import FIXTURES

    folder = tmp_path_factory.mktemp("dimer")
    src = FIXTURES / "ubiquitin_2k39_ca_12.pdb"
    return two_chains(src, folder / "dimer.pdb"), two_chains(src, folder / "b.pdb", ("B",))


def test_the_chains_of_a_fit_are_the_default_of_every_later_command(dimer, tmp_path, capsys):
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import ConformationVAE

    pdb, only_b = dimer
    model = tmp_path / "model"
    assert main(["structure", "fit", str(pdb), "--chain", "A", "--out", str(model), *FAST]) == 0
    meta = json.loads((model / "metadata.json").read_text())
    assert meta["structure"]["chains"] == ["A"] and len(meta["structure"]["reference"]) == 76
    assert "A:GLY:9A:CA:x" in meta["schema"]["features"]
    est = ConformationVAE.load(model)
    assert est.chains() == ("A",)
    table = tmp_path / "z.csv"  # the dimer again, chain A by default
    assert main(["structure", "embed", str(model), str(pdb), "--out", str(table)]) == 0
    z = pd.read_csv(table)[["z_1", "z_2"]].to_numpy()
    np.testing.assert_allclose(z, est.encode(read_structures(pdb, chains="A")), rtol=1e-6)
    path = tmp_path / "path.pdb"
    args = ["structure", "interpolate", str(model), str(pdb), str(pdb), "--steps", "2"]
    assert main([*args, "--refine-steps", "0", "--out", str(path)]) == 0
    rows = [r for r in path.read_text().splitlines() if r.startswith("ATOM")]
    assert rows[9][21:27] == "A   9A"  # chain and insertion code of the model's atoms
    capsys.readouterr()
    cases = [  # chain B of the dimer, or a file without chain A, are not the model's atoms
        (["embed", str(model), str(pdb), "--chain", "B"], "30 atoms selected but the model"),
        (["embed", str(model), str(only_b)], "no chain 'A' among its protein chains (B)"),
        (["embed", str(model), str(pdb), "--chain", "A,"], "has an empty chain id"),
        (["report", str(model), str(pdb), "--chain", "a"], "no chain 'a' among"),
    ]
    for args, message in cases:
        out = tmp_path / ("r.html" if args[0] == "report" else "r.csv")
        assert main(["structure", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
        assert not out.exists()


def test_without_chain_every_chain_is_read_and_old_models_load(dimer, tmp_path, capsys):
    from biovae.structure_estimator import ConformationVAE

    pdb, only_b = dimer
    model = tmp_path / "model"
    assert main(["structure", "fit", str(only_b), "--out", str(model), *FAST]) == 0
    meta_file = model / "metadata.json"
    meta = json.loads(meta_file.read_text())
    assert meta["structure"]["chains"] is None and ConformationVAE.load(model).chains() is None
    table = tmp_path / "z.csv"
    assert (
        main(["structure", "embed", str(model), str(pdb), "--chain", "B", "--out", str(table)]) == 0
    )
    del meta["structure"]["chains"]  # a model saved before chains were kept: every chain
    meta_file.write_text(json.dumps(meta))
    (model / "SHA256SUMS").unlink()  # and before the manifest
    assert ConformationVAE.load(model).chains() is None
    assert main(["structure", "embed", str(model), str(only_b), "--out", str(table)]) == 0
    meta["structure"]["chains"] = ["B", 3]
    meta_file.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["structure", "embed", str(model), str(only_b), "--out", str(table)]) == 2
    assert "'chains' entry is damaged" in capsys.readouterr().err


def test_validate_and_fit_reference_read_the_chain_given(dimer, tmp_path, capsys):
    pdb, only_b = dimer
    args = ["structure", "validate", str(only_b), "--training", str(pdb), "--chain", "B"]
    assert main(args) == 0 and "| bonds_valid |" in capsys.readouterr().out
    model = tmp_path / "model"
    fit = ["structure", "fit", str(pdb), "--chain", "B", "--reference", str(only_b)]
    assert main([*fit, "--out", str(model), *FAST]) == 0
    assert json.loads((model / "metadata.json").read_text())["structure"]["chains"] == ["B"]


def test_a_model_fitted_on_a_segid_reads_its_own_samples(tmp_path):
    """A chain named by its segid (no chain id, as in CHARMM files) is the model's default
    chain: its samples carry that segid, so embed and interpolate read them back."""
    from tests.conftest import FIXTURES

    def segid_only(row):  # blank chain id (column 22), segid UBQ (columns 73-76)
        return row[:21] + " " + row[22:72].ljust(50) + "UBQ " if row.startswith("ATOM") else row

    rows = (FIXTURES / "ubiquitin_2k39_ca_12.pdb").read_text().splitlines()
    seg = tmp_path / "seg.pdb"
    seg.write_text("\n".join(map(segid_only, rows)) + "\n")
    model, samples = tmp_path / "model", tmp_path / "s.pdb"
    assert main(["structure", "fit", str(seg), "--chain", "UBQ", "--out", str(model), *FAST]) == 0
    meta_file = model / "metadata.json"
    meta = json.loads(meta_file.read_text())
    assert meta["schema"]["features"][:3] == ["UBQ:MET:1:CA:x", "UBQ:MET:1:CA:y", "UBQ:MET:1:CA:z"]
    assert main(["structure", "sample", str(model), "-n", "2", "--out", str(samples)]) == 0
    table, path = tmp_path / "z.csv", tmp_path / "path.pdb"
    assert main(["structure", "embed", str(model), str(samples), "--out", str(table)]) == 0
    args = ["structure", "interpolate", str(model), str(samples), str(seg), "--steps", "2"]
    assert main([*args, "--refine-steps", "0", "--out", str(path)]) == 0
    assert len(pd.read_csv(table)) == 2 and "UBQ" in path.read_text()
    # a model saved when such atoms were chain A in feature names loads and works alike
    meta["schema"]["features"] = [f"A:{f.partition(':')[2]}" for f in meta["schema"]["features"]]
    meta_file.write_text(json.dumps(meta))
    (model / "SHA256SUMS").unlink()  # (before the manifest, too)
    old = tmp_path / "old.pdb"
    assert main(["structure", "sample", str(model), "-n", "2", "--out", str(old)]) == 0
    assert old.read_text() == samples.read_text()  # segid UBQ, blank chain: the same file
    assert main(["structure", "embed", str(model), str(samples), "--out", str(table)]) == 0


def test_a_model_of_a_two_letter_chain_writes_its_structures_as_mmcif(
    tmp_path, capsys, monkeypatch
):
    """mmCIF chain ids (auth_asym_id) may have several letters; PDB holds one. A model fitted
    on chain 'AA' decoded every sample before its PDB was refused (with 'rename it'); now a
    .pdb is refused before any draw, naming the chain and .cif, and .cif writes mmCIF."""
    gemmi = pytest.importorskip("gemmi", reason="needs the structure extra (gemmi)")
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import ConformationVAE
    from tests.conftest import FIXTURES

    st = gemmi.read_structure(str(FIXTURES / "ubiquitin_2k39_ca_12.pdb"))
    for model in st:
        model["A"].name = "AA"
    st.setup_entities()
    cif, model = tmp_path / "aa.cif", tmp_path / "model"
    st.make_mmcif_document().write_file(str(cif))
    assert main(["structure", "fit", str(cif), "--out", str(model), *FAST]) == 0
    capsys.readouterr()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before the output was checked")

    with monkeypatch.context() as m:
        m.setattr(ConformationVAE, "decode", no_decoding)
        for args in (
            ["sample", str(model), "-n", "2"],
            ["interpolate", str(model), str(cif), str(cif)],
        ):
            out = tmp_path / "s.pdb"
            assert main(["structure", *args, "--out", str(out)]) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "chain id 'AA'" in err and ".cif" in err, err
            assert not out.exists()
    samples, path = tmp_path / "s.cif", tmp_path / "path.cif"
    assert main(["structure", "sample", str(model), "-n", "3", "--out", str(samples)]) == 0
    back = read_structures(samples)
    assert back.coords.shape == (3, 76, 3) and set(back.chain_ids) == {"AA"}
    np.testing.assert_array_equal(back.res_ids, np.arange(1, 77))
    args = ["structure", "interpolate", str(model), str(cif), str(samples), "--steps", "2"]
    assert main([*args, "--refine-steps", "0", "--out", str(path)]) == 0
    assert read_structures(path, chains="AA").coords.shape == (2, 76, 3)
