"""``biovae structure``: end to end on the ubiquitin fixture, and bad input → exit status 2."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from biovae.cli.main import main

pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")

FAST = ["--epochs", "3", "--hidden", "16", "--batch-size", "8", "--quiet"]


def ragged_copy(src, dest):
    """The fixture with one atom missing from model 2."""
    out, model, atom = [], 0, 0
    for line in src.read_text().splitlines(keepends=True):
        model += line.startswith("MODEL")
        atom = 0 if line.startswith("MODEL") else atom + line.startswith("ATOM")
        if not (model == 2 and atom == 3 and line.startswith("ATOM")):
            out.append(line)
    dest.write_text("".join(out))
    return dest


def test_fit_sample_interpolate_validate(fixtures, tmp_path, capsys):
    from biovae.data.structure import read_structures

    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    for loss in ("mse", "geometry"):
        model = tmp_path / loss
        assert main(["structure", "fit", str(pdb), "--loss", loss, "--out", str(model), *FAST]) == 0
        meta = json.loads((model / "metadata.json").read_text())
        assert meta["structure"]["loss"] == loss and len(meta["structure"]["reference"]) == 76
        samples = tmp_path / f"{loss}_samples.pdb"
        assert main(["structure", "sample", str(model), "-n", "4", "--out", str(samples)]) == 0
        assert read_structures(samples).coords.shape == (4, 76, 3)
        path = tmp_path / f"{loss}_path.pdb"
        args = ["structure", "interpolate", str(model), str(pdb), str(pdb), "--steps", "3"]
        assert main([*args, "--out", str(path)]) == 0
        assert read_structures(path).coords.shape == (3, 76, 3)
    report = tmp_path / "validity.json"
    args = ["structure", "validate", str(samples), "--training", str(pdb), "--out", str(report)]
    assert main(args) == 0
    numbers = json.loads(report.read_text())
    assert numbers["n_structures"] == 4 and 0 <= numbers["bonds_valid"] <= 1
    table = capsys.readouterr().out
    assert "| bonds_valid |" in table
    # lengths are stated in Å, angles in degrees
    for key, unit in (("nearest_rmsd_mean", "Å"), ("rg_mean", "Å"), ("angle_w1_deg", "°")):
        assert f"| {key} | {numbers[key]:.4g} | {unit} |" in table


def test_validate_fails_the_mirror_image_of_the_training_frames(fixtures, tmp_path, capsys):
    from biovae.data.structure import read_structures, write_pdb

    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    s = read_structures(pdb)
    mirror = tmp_path / "mirror.pdb"
    write_pdb(mirror, s.with_coords(s.coords * np.array([-1.0, 1.0, 1.0], dtype=np.float32)))
    for data, mirrored, passing in ((pdb, 0.0, 1.0), (mirror, 1.0, 0.0)):
        out = tmp_path / f"{data.stem}.json"
        args = ["structure", "validate", str(data), "--training", str(pdb), "--out", str(out)]
        assert main(args) == 0, capsys.readouterr().err
        numbers = json.loads(out.read_text())
        assert numbers["bonds_valid"] == 1.0 and numbers["clash_free"] == 1.0
        assert numbers["mirror_images"] == mirrored and numbers["passing"] == passing


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_topology", "--topology"),
        ("no_atoms", "no amino-acid atoms named CA"),
        ("ragged", "model 2 (line 86) holds other atoms than model 1: atom 3 is CA of PHE 4"),
        ("backbone_geometry", "backbone selection needs"),
        ("other_reference", "76 of 76 residues differ from"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fixtures, tmp_path, capsys, case, message):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    data, extra = str(pdb), []
    if case == "missing_topology":
        (tmp_path / "traj.dcd").write_bytes(b"\0" * 64)
        data = str(tmp_path / "traj.dcd")
    elif case == "no_atoms":
        water = "HETATM    1  O   HOH A   1       1.000   2.000   3.000  1.00  0.00           O\n"
        (tmp_path / "water.pdb").write_text(water + "END\n")
        data = str(tmp_path / "water.pdb")
    elif case == "ragged":
        data = str(ragged_copy(pdb, tmp_path / "ragged.pdb"))
    elif case == "other_reference":  # as many Cα, but of another protein
        model_1 = pdb.read_text().split("ENDMDL")[0].splitlines(keepends=True)
        trp = [
            line[:17] + "TRP" + line[20:] if line.startswith("ATOM") else line for line in model_1
        ]
        (tmp_path / "trp.pdb").write_text("".join(trp) + "ENDMDL\nEND\n")
        extra = ["--reference", str(tmp_path / "trp.pdb")]
    else:
        extra = ["--select", "backbone"]
    out = tmp_path / "model"
    assert main(["structure", "fit", data, "--out", str(out), *extra, *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_negative_refine_steps_is_one_line_and_exit_2(fixtures, tmp_path, capsys):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    model, path = tmp_path / "model", tmp_path / "path.pdb"
    assert main(["structure", "fit", str(pdb), "--out", str(model), *FAST]) == 0
    capsys.readouterr()
    args = ["structure", "interpolate", str(model), str(pdb), str(pdb), "--out", str(path)]
    assert main([*args, "--refine-steps", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--refine-steps" in err and not path.exists()


def test_fit_report_embed_against_the_model(fixtures, tmp_path, capsys):
    import re

    import numpy as np
    import pandas as pd

    from biovae.applications.structures.geometry import rmsd
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import ConformationVAE

    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    model, html = tmp_path / "model", tmp_path / "fit.html"
    assert (
        main(["structure", "fit", str(pdb), "--out", str(model), "--report", str(html), *FAST]) == 0
    )
    page = html.read_text()
    for key in ("training-curves", "latent-usage", "latent-map", "structure-reconstruction"):
        assert f'data-plot="{key}"' in page
    assert "Model card" in page and "12 frames" in page
    # the NMR models themselves are valid Cα traces: the frames column passes every check
    assert re.search(r"structures passing every check</td><td>100\.0%", page)
    est, frames = ConformationVAE.load(model), read_structures(pdb)
    median = np.median(rmsd(est.reconstruct(frames), est.align(frames)))
    assert f"Median RMSD {median:.2f} Å" in page
    assert re.search(r"worst frame (\d+) \(frame_\1, \d+\.\d\d Å\)", page)  # index and id
    table = tmp_path / "z.csv"
    assert main(["structure", "embed", str(model), str(pdb), "--out", str(table)]) == 0
    z = pd.read_csv(table)
    assert list(z.columns) == ["id", "frame", "z_1", "z_2"] and z["frame"].tolist() == list(
        range(12)
    )
    np.testing.assert_allclose(z[["z_1", "z_2"]].to_numpy(), est.encode(frames), rtol=1e-6)
    # a folder's frames are named by their files (not frame_0, ...), in natural name order
    from tests.data.test_structure import _split_models

    folder = _split_models(pdb, tmp_path / "models")
    assert main(["structure", "embed", str(model), str(folder), "--out", str(table)]) == 0
    named = pd.read_csv(table)
    assert named["id"].tolist() == [f"m{i}" for i in range(1, 13)]
    np.testing.assert_allclose(named[["z_1", "z_2"]].to_numpy(), z[["z_1", "z_2"]], atol=1e-4)
    again = tmp_path / "again.html"
    assert main(["structure", "report", str(model), str(pdb), "-n", "50", "--out", str(again)]) == 0
    assert (
        f"Median RMSD {median:.2f} Å" in again.read_text()
        and "of 50 prior samples" in again.read_text()
    )


def test_report_bad_input_and_generic_commands_are_one_line(fixtures, tmp_path, capsys):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    model, html = tmp_path / "model", tmp_path / "r.html"
    bad_out = ["structure", "fit", str(pdb), "--out", str(model), "--report", "r.txt", *FAST]
    assert main(bad_out) == 2 and not model.exists()  # refused before training
    assert main(["structure", "fit", str(pdb), "--out", str(model), *FAST]) == 0
    capsys.readouterr()
    other = tmp_path / "short.pdb"  # the same frames with one residue less
    other.write_text("".join(r for r in pdb.read_text().splitlines(True) if " 76 " not in r[20:27]))
    cases = [
        (["structure", "report", str(model), str(pdb), "-n", "0"], "-n must be >= 1"),
        (["structure", "report", str(model), str(other)], "atoms selected but the model has 76"),
        (["report", str(model), str(pdb)], "is a structure model: use 'biovae structure report"),
        (["embed", str(model), str(pdb)], "is a structure model"),
    ]
    for args, message in cases:
        out = html.with_suffix(".csv" if args[0] == "embed" else ".html")
        assert main([*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
        assert not out.exists()


def _subparser(*names):
    """The argparse parser of ``biovae NAMES...``."""
    from biovae.cli.parser import build_parser

    parser = build_parser()
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def test_fit_help_states_the_structure_defaults():
    import re

    from biovae.structure_estimator import STRUCTURE_DEFAULTS

    checked = set()
    for action in _subparser("structure", "fit")._actions:
        match = re.search(r"default (\S+?)[;)]", action.help or "")
        if match is None or not action.dest.startswith("cfg__"):
            continue
        value = STRUCTURE_DEFAULTS
        for part in action.dest[5:].split("__"):
            value = getattr(value, part)
        shown = action.type(match.group(1))
        assert (tuple(shown) if isinstance(shown, list) else shown) == value, action.dest
        checked.add(action.option_strings[0])
    differ = {"--latent", "--variance", "--dropout", "--epochs", "--batch-size", "--lr"}
    assert differ | {"--patience", "--validation-fraction", "--hidden"} <= checked


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--classifier-input", "x"),
        ("--classification-weight", "2"),
        ("--encode-covariates", "no"),
        ("--compile", "on"),
        ("--dispersion", "gene-batch"),
        ("--mmd-batch", "1"),
        ("--early-stopping", "classification"),
    ],
)
def test_fit_offers_no_options_that_cannot_act_on_structures(fixtures, tmp_path, flag, value):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    with pytest.raises(SystemExit) as exc:
        main(["structure", "fit", str(pdb), "--out", str(tmp_path / "m"), flag, value, *FAST])
    assert exc.value.code == 2 and not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[model]\nkind = "pca"\n', "remove model.kind = 'pca'"),
        ('[model.likelihood]\nname = "nb"\n', "remove likelihood name = 'nb'"),
    ],
)
def test_fit_refuses_a_config_it_would_replace(fixtures, tmp_path, capsys, toml, message):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    (tmp_path / "c.toml").write_text(toml)
    args = ["structure", "fit", str(pdb), "--config", str(tmp_path / "c.toml")]
    assert main([*args, "--out", str(tmp_path / "m"), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not (tmp_path / "m").exists()


@pytest.mark.parametrize("loss", ["mse", "geometry"])
def test_a_models_config_json_refits_it_with_its_own_loss(fixtures, tmp_path, loss):
    # --loss defaulted to geometry, which replaced the gaussian of an mse model's config.json
    from safetensors.torch import load_file

    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    fit = ["structure", "fit", str(pdb)]
    assert main([*fit, "--loss", loss, "--out", str(tmp_path / "a"), *FAST]) == 0
    again = [*fit, "--config", str(tmp_path / "a" / "config.json"), "--quiet"]
    assert main([*again, "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "metadata.json").read_text())["structure"]["loss"] == loss
    a, b = (load_file(str(tmp_path / m / "weights.safetensors")) for m in "ab")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    if loss == "mse":  # a --loss given still wins over the file's likelihood
        assert main([*again, "--loss", "geometry", "--out", str(tmp_path / "c")]) == 0
        meta = json.loads((tmp_path / "c" / "metadata.json").read_text())
        assert meta["structure"]["loss"] == "geometry"


def test_fit_reads_a_trajectory_reference_with_the_topology(fixtures, tmp_path, capsys):
    import MDAnalysis as mda

    from biovae.structure_estimator import ConformationVAE

    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    dcd = tmp_path / "ubq.dcd"
    universe = mda.Universe(str(pdb))
    with mda.Writer(str(dcd), universe.atoms.n_atoms) as writer:
        for _ in universe.trajectory[::-1]:  # the reference's first frame: the PDB's last
            writer.write(universe.atoms)
    model = tmp_path / "m"
    args = ["structure", "fit", str(pdb), "--reference", str(dcd), "--topology", str(pdb)]
    assert main([*args, "--out", str(model), *FAST]) == 0, capsys.readouterr().err
    last = universe.trajectory[-1].positions
    reference = ConformationVAE.load(model).reference_
    np.testing.assert_allclose(reference, last - last.mean(0), atol=1e-3)


def test_validate_reads_a_trajectory_with_its_topology(shared_data, tmp_path, capsys):
    from biovae.data.structure import read_structures

    folder = shared_data / "structure"
    dcd, psf, pdb = folder / "adk_dims.dcd", folder / "adk.psf", folder / "adk_closed.pdb"
    n_frames = len(read_structures(dcd, psf))
    for data, n in ((dcd, n_frames), (pdb, 1)):  # a PDB names its own atoms
        out = tmp_path / f"{data.stem}.json"
        args = ["structure", "validate", str(data), "--training", str(dcd), "--topology", str(psf)]
        assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
        assert json.loads(out.read_text())["n_structures"] == n


def test_ca_only_frames_for_a_backbone_model_name_no_missing_flag(shared_data, tmp_path, capsys):
    from biovae.data.structure import read_structures, write_pdb

    folder = shared_data / "structure"
    model = tmp_path / "bb"
    args = ["structure", "fit", str(folder / "adk_dims.dcd"), "--topology", str(folder / "adk.psf")]
    args += ["--select", "backbone", "--loss", "mse", "--out", str(model), *FAST]
    assert main(args) == 0
    ca = tmp_path / "ca.pdb"
    write_pdb(ca, read_structures(folder / "adk_closed.pdb"))
    capsys.readouterr()
    for command, out in (("embed", "x.csv"), ("report", "x.html")):
        assert main(["structure", command, str(model), str(ca), "--out", str(tmp_path / out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "whole backbone" in err and "use --select" not in err


def test_the_report_caution_follows_the_loss_and_needs_two_frames(fixtures, tmp_path, capsys):
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    model, html = tmp_path / "mse", tmp_path / "r.html"
    assert main(["structure", "fit", str(pdb), "--loss", "mse", "--out", str(model), *FAST]) == 0
    assert main(["structure", "report", str(model), str(pdb), "-n", "20", "--out", str(html)]) == 0
    page = html.read_text()
    assert "plain Gaussian: nothing keeps their bonds" in page and "satisfy bond" not in page
    one = tmp_path / "one.pdb"  # the first model only
    text = pdb.read_text()
    one.write_text(text[: text.index("ENDMDL") + len("ENDMDL")] + "\nEND\n")
    capsys.readouterr()
    again = tmp_path / "one.html"
    assert main(["structure", "report", str(model), str(one), "--out", str(again)]) == 2
    err = capsys.readouterr().err.strip()
    assert "give at least 2" in err and len(err.splitlines()) == 1 and not again.exists()


def test_the_structure_model_card_names_checks_that_read_structures(fixtures, tmp_path):
    # biovae audit and biovae novelty read tables and sequences, not PDB/DCD files: a structure
    # model's card points at the structure checks instead
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    model, html = tmp_path / "model", tmp_path / "fit.html"
    assert (
        main(["structure", "fit", str(pdb), "--out", str(model), "--report", str(html), *FAST]) == 0
    )
    page = html.read_text()
    card = page[page.index('id="model-card"') :]
    assert "biovae audit" not in card and "biovae novelty" not in card
    assert "biovae structure validate" in card and "nearest training frame" in card
    assert card.count('class="note"') == 5


def test_a_fit_whose_report_fails_writes_no_model(fixtures, tmp_path, capsys, monkeypatch):
    """The model was saved before the report was drawn: a report that failed left a model."""
    from biovae.errors import DataError
    from biovae.reports import structure_page

    def fail(*args, **kwargs):
        raise DataError("drawing failed")

    monkeypatch.setattr(structure_page, "_reconstruction_section", fail)
    pdb = fixtures / "ubiquitin_2k39_ca_12.pdb"
    model, html = tmp_path / "model", tmp_path / "fit.html"
    argv = ["structure", "fit", str(pdb), "--out", str(model), "--report", str(html), *FAST]
    assert main(argv) == 2
    assert "drawing failed" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
