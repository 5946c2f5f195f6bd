"""The output contract: an output never replaces an input or another output, unusable paths
are one-line errors before any work, and .gz names are compressed."""

from __future__ import annotations

import gzip
import resource
import shutil

import pytest

from biovae.cli.main import main
from tests.cli._run import run

FAST = ["--epochs", "1", "--hidden", "8", "--latent", "2", "--quiet"]


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    from tests.conftest import FIXTURES

    folder = tmp_path_factory.mktemp("outputs")
    data = shutil.copy(FIXTURES / "crc_abundance_60x50.tsv", folder / "in.tsv")
    assert main(["fit", str(data), "--out", str(folder / "m"), *FAST]) == 0
    return folder / "m", folder / "in.tsv"


def test_an_output_that_is_an_input_or_another_output_is_refused(table_model, capsys):
    model, data = table_model
    before = data.read_bytes()
    for args in (
        ["embed", model, data, "--out", data],
        ["embed", model, data, "--out", data.parent / "." / data.name],
        ["score", model, data, "--out", model.parent / "s.tsv", "--obs", model.parent / "s.tsv"],
    ):
        rc, _, err = run(capsys, *args)
        assert rc == 2 and "is also" in err and len(err.strip().splitlines()) == 1
    assert data.read_bytes() == before  # the data survive
    table = model.parent / "pt.csv"
    rc, _, err = run(capsys, "trajectory", model, data, "--out", table, "--report", table)
    assert rc == 2 and "--report" in err and "is also --out" in err and not table.exists()


def test_unusable_output_paths_fail_before_any_work(table_model, tmp_path, capsys):
    model, data = table_model
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    rc, _, err = run(capsys, "fit", data, "--out", a_file / "m", *FAST)
    assert rc == 2 and "is a file, not a folder" in err
    long_name = tmp_path / ("a" * 246 + ".csv")  # fine itself, too long as its temp name
    rc, _, err = run(capsys, "embed", model, data, "--out", long_name)
    assert rc == 2 and "name is too long" in err and not list(tmp_path.glob(".a*"))
    (tmp_path / "d" / "diagnostics.html").mkdir(parents=True)
    rc, _, err = run(capsys, "diagnose", model, data, "--out", tmp_path / "d")
    assert rc == 2 and "diagnostics.html: it is an existing folder" in err
    assert not (tmp_path / "d" / "diagnostics.json").exists()  # nothing half-written


def test_a_fit_keeps_a_checkpoint_named_folder_of_other_files(table_model, tmp_path, capsys):
    _, data = table_model
    mine = tmp_path / "m.checkpoint"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["fit", str(data), "--out", str(tmp_path / "m"), *FAST]) == 0
    assert (mine / "notes.txt").read_text() == "mine"


def test_no_room_for_the_model_is_one_line_and_leaves_nothing(table_model, tmp_path, capsys):
    """A full disk, a quota or (here) a 2 KiB file size limit met while writing the weights
    (safetensors names the I/O error only in its own error's text) is one line, not a
    traceback, and no temporary folder is left."""
    _, data = table_model
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))  # config.json fits, weights not
    try:
        rc, _, err = run(capsys, "fit", data, "--out", tmp_path / "m", *FAST)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert rc == 2 and "weights.safetensors: file too large; free some space" in err, err
    # (one epoch leaves the code collapsed, which fit warns of before it saves)
    errors = [line for line in err.splitlines() if not line.startswith("biovae: warning:")]
    assert len(errors) == 1 and list(tmp_path.iterdir()) == []


def test_structures_and_verdicts_follow_their_gz_names(fixtures, tmp_path):
    from biovae.cli.screen_opts import verdict_path

    assert verdict_path(tmp_path / "d.FA.GZ").name == "d.screening.tsv"
    assert verdict_path(tmp_path / "q.fasta.gz").name == "q.screening.tsv"
    pytest.importorskip("MDAnalysis")
    model = tmp_path / "s"
    args = ["structure", "fit", str(fixtures / "ubiquitin_2k39_ca_12.pdb"), "--epochs", "2"]
    assert main([*args, "--out", str(model), "--quiet"]) == 0
    out = tmp_path / "samples.pdb.gz"
    assert main(["structure", "sample", str(model), "-n", "2", "--out", str(out)]) == 0
    assert gzip.decompress(out.read_bytes()).decode().count("MODEL") == 2


def test_screening_never_writes_over_its_sequences(fixtures, tmp_path, capsys):
    seqs = shutil.copy(fixtures / "blat_ecolx_first40.a2m", tmp_path / "x.fasta")
    before = seqs.read_bytes()
    verdicts = tmp_path / "v.tsv"
    args = ["screen", seqs, "--screen-against", seqs, "--out", verdicts, "--passed", seqs]
    rc, _, err = run(capsys, *args)
    assert rc == 2 and "--passed" in err and "is also an input" in err
    assert seqs.read_bytes() == before and not verdicts.exists()


def test_sigterm_unwinds_like_ctrl_c(table_model, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    _, data = table_model
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "biovae", "fit", str(data), "--out", str(out), "--quiet"]
    cmd += ["--epochs", "100000", "--patience", "0", "--checkpoint-every", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "m.checkpoint").is_dir() and time.time() < deadline:
        time.sleep(0.2)  # training has started once the first checkpoint exists
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    last = err.strip().splitlines()[-1]
    assert proc.returncode == 143 and last.startswith("terminated; the checkpoint of epoch")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_iwae_of_a_model_without_posterior_names_the_model_in_words(table_model, capsys):
    _, data = table_model
    ae = data.parent / "ae"
    assert main(["fit", str(data), "--model", "ae", "--out", str(ae), *FAST]) == 0
    rc, _, err = run(capsys, "score", ae, data, "--iwae", "5", "--out", data.parent / "s.csv")
    assert rc == 2 and "--iwae needs a VAE; a plain autoencoder has no posterior" in err
    assert not (data.parent / "s.csv").exists()


def test_a_reader_that_quits_early_is_no_error(table_model, tmp_path):
    import subprocess
    import sys

    model, data = table_model
    out = tmp_path / "z.csv"
    cmd = [sys.executable, "-m", "biovae", "embed", str(model), str(data), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # `biovae embed ... | head -0`: the path printed goes nowhere
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 141 and err == ""  # as a process ended by SIGPIPE, silently
    assert out.is_file()  # the result itself was written


def test_ctrl_c_while_the_command_starts_is_one_line(monkeypatch, capsys):
    import subprocess
    import sys
    import types

    class Loading(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt  # as if Ctrl-C came while torch loads

    monkeypatch.setitem(sys.modules, "biovae.cli.parser", Loading("biovae.cli.parser"))
    rc, out, err = run(capsys, "fit", "x.tsv", "--out", "m")
    assert (rc, out, err) == (130, "", "interrupted\n")
    # the entry point's module itself loads no torch: a Ctrl-C during that is no traceback
    probe = "import sys, biovae.cli.main; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr


@pytest.mark.parametrize("where", ["data", "out"])
def test_a_dash_for_standard_input_or_output_is_refused(
    where, table_model, tmp_path, capsys, monkeypatch
):
    _, data = table_model
    monkeypatch.chdir(tmp_path)  # where a model named '-' would land
    args = {"data": "-", "out": tmp_path / "m"} if where == "data" else {"data": data, "out": "-"}
    rc, out, err = run(capsys, "fit", args["data"], "--out", args["out"], *FAST)
    stream = "standard input" if where == "data" else "standard output"
    assert rc == 2 and not out and err.count("\n") == 1 and f"'-' ({stream})" in err
    assert not (tmp_path / "m").exists() and not list(tmp_path.glob("-"))  # nothing named '-'


def test_an_output_inside_a_folder_the_command_reads_is_refused(table_model, tmp_path, capsys):
    """``--out MODEL/metadata.json`` replaced the model's metadata (the model no longer
    loaded), and any file written into a model folder stopped later saves over it."""
    model, data = table_model
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    for args in (
        ["embed", model, data, "--out", model / "metadata.json"],
        ["embed", model, data, "--out", model / "latent.csv"],
        ["sample", model, "-n", "2", "--out", model / "." / "s.tsv"],
        ["diagnose", model, data, "--out", model / "diagnostics"],
    ):
        rc, _, err = run(capsys, *args)
        assert rc == 2 and "inside" in err and "a folder this command reads" in err, err
        assert len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_a_fit_whose_report_fails_writes_no_model(table_model, tmp_path, capsys, monkeypatch):
    """The report was drawn after the model was saved: a failure to draw it ended the fit
    with status 2 but left a new model (or replaced an existing one)."""
    from biovae.errors import DataError
    from biovae.reports import html

    _, data = table_model

    def fail(*args, **kwargs):
        raise DataError("drawing failed")

    monkeypatch.setattr(html, "build_sections", fail)
    out, report = tmp_path / "m", tmp_path / "r.html"
    rc, _, err = run(capsys, "fit", data, "--out", out, "--report", report, *FAST)
    assert rc == 2 and "drawing failed" in err and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert main(["fit", str(data), "--out", str(out), *FAST]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(html, "build_sections", fail)
    rc, _, err = run(capsys, "fit", data, "--out", out, "--report", report, "--seed", "1", *FAST)
    assert rc == 2 and {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    monkeypatch.undo()
    rc, _, _ = run(capsys, "fit", data, "--out", out, "--report", report, *FAST)
    assert rc == 0 and report.is_file() and "<html" in report.read_text()[:200].lower()


def test_settings_too_large_for_memory_are_one_line_and_leave_nothing(
    table_model, tmp_path, capsys
):
    """A size far beyond memory (here a hidden layer of 10^11 units, some 18 TiB of weights)
    failed in torch's allocator with a traceback and status 1."""
    _, data = table_model
    rc, _, err = run(capsys, "fit", data, "--out", tmp_path / "m", *FAST, "--hidden", 10**11)
    assert rc == 2 and "error: out of memory (" in err and "--hidden" in err, err
    assert len(err.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []
