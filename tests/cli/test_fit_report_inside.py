"""``fit --report`` inside the model folder ``--out``: the report is listed in the folder's
SHA256SUMS, so a later fit to that folder replaces it with the model (it refused: "holds
'report.html', which is not part of a biovae model") while a file of the user's, or the
report edited since, is still refused and kept."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from biovae.data.folders import foreign_entries, restore_aside
from biovae.data.manifest import MANIFEST, add_to_manifest
from biovae.errors import ModelFileError
from biovae.persistence import MODEL_FILES, check_model_out
from tests.cli._run import run
from tests.conftest import FIXTURES

FAST = ["--epochs", "1", "--hidden", "8", "--latent", "2", "--quiet"]
REFUSED = "which is not part of a biovae model"


def _folder(path, report: bytes):
    """A folder of model files (whose manifest lists the checked ones) and a report."""
    path.mkdir()
    for name in ("config.json", "weights.safetensors", "metadata.json", "MODEL_CARD.md"):
        (path / name).write_text(name)
    lines = [
        f"{hashlib.sha256(name.encode()).hexdigest()}  {name}\n"
        for name in ("config.json", "metadata.json", "weights.safetensors")
    ]
    (path / MANIFEST).write_text("".join(lines))
    (path / "report.html").write_bytes(report)
    return path


def test_a_listed_unchanged_report_is_the_folders_own_and_nothing_else_is(tmp_path):
    folder = _folder(tmp_path / "m", b"<html>page</html>")
    assert foreign_entries(folder, MODEL_FILES) == ["report.html"]  # not listed: foreign
    add_to_manifest(folder, folder / "report.html")
    expected = hashlib.sha256(b"<html>page</html>").hexdigest()
    assert f"{expected}  report.html\n" in (folder / MANIFEST).read_text()
    assert foreign_entries(folder, MODEL_FILES) == []
    assert check_model_out(folder) == folder
    (folder / "notes.txt").write_text("mine")  # a user's file beside it
    assert foreign_entries(folder, MODEL_FILES) == ["notes.txt"]
    (folder / "notes.txt").unlink()
    (folder / "report.html").write_bytes(b"<html>edited</html>")  # changed since: the user's
    with pytest.raises(ModelFileError, match=f"'report.html', {REFUSED}"):
        check_model_out(folder)


def test_a_model_left_aside_with_its_listed_report_is_put_back(tmp_path):
    folder = _folder(tmp_path / "m", b"<html>page</html>")
    add_to_manifest(folder, folder / "report.html")
    aside = folder.rename(tmp_path / ".m.old-0123abcd")  # a save killed between its renames
    assert restore_aside(tmp_path / "m", MODEL_FILES) == aside
    assert (tmp_path / "m" / "report.html").read_bytes() == b"<html>page</html>"


def test_fit_writes_its_report_inside_the_model_folder_and_refits_over_it(
    tmp_path, capsys, monkeypatch
):
    pytest.importorskip("matplotlib")
    # the folder's handling is tested, not the drawing: a page stands in for the report's
    monkeypatch.setattr("biovae.reports.html.report_page", lambda est, data: "<html></html>")
    data = shutil.copy(FIXTURES / "crc_abundance_60x50.tsv", tmp_path / "in.tsv")
    out, report = tmp_path / "m", tmp_path / "m" / "report.html"
    rc, stdout, err = run(capsys, "fit", data, *FAST, "--out", out, "--report", report)
    assert rc == 0, err  # the folder did not exist yet: "folder m does not exist"
    assert stdout.splitlines() == [str(out), str(report)] and report.is_file()
    rc, _, err = run(capsys, "fit", data, *FAST, "--out", out, "--report", report)
    assert rc == 0, err  # re-written over the report of the last fit (it was refused)
    rc, stdout, err = run(capsys, "fit", data, *FAST, "--out", out)
    assert rc == 0, err  # replaced with the folder (it was refused as not part of a model)
    assert not report.exists() and stdout.splitlines() == [str(out)]
    rc, _, err = run(capsys, "embed", out, data, "--out", tmp_path / "z.csv", "--quiet")
    assert rc == 0, err  # the model folder loads (its SHA256SUMS checked)
