"""``torchrun ... -m biovae fit``: the processes join one gloo group, train with DDP, and only
rank 0 reports and writes the model."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from biovae.data.readers import read_dataset
from biovae.estimator import load_model


def _launch(cmd: list[str], out) -> subprocess.CompletedProcess:
    """Run ``cmd`` under torchrun. gloo now and then aborts a rank while the process group is
    torn down (SIGABRT) after rank 0 has written and printed the model: that teardown abort is
    let through once the model folder is complete; anything earlier still fails."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    done = (out / "weights.safetensors").exists() and res.stdout.split() == [str(out)]
    if res.returncode != 0 and done and "SIGABRT" in res.stderr:
        res.returncode = 0
    return res


def test_fit_under_torchrun_writes_one_model(fixtures, tmp_path):
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "biovae", "fit", str(fixtures / "splice_junctions_200.tsv")]
    cmd += ["--sequence-column", "sequence", "--likelihood", "categorical"]
    cmd += ["--epochs", "2", "--out", str(out)]
    res = _launch(cmd, out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == [str(out)]  # printed by rank 0 only
    assert res.stderr.count("training on 2 processes") == 1
    assert res.stderr.count("trained 2 epochs") == 1
    data = read_dataset(fixtures / "splice_junctions_200.tsv", sequence_column="sequence")
    assert load_model(out).transform(data).shape == (200, 10)


def test_streamed_counts_under_torchrun(fixtures, tmp_path):
    pytest.importorskip("anndata")
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "biovae", "fit", str(fixtures / "cellbench_100x200.h5ad"), "--stream"]
    cmd += ["--likelihood", "nb", "--batch-key", "batch", "--epochs", "2", "--out", str(out)]
    res = _launch(cmd, out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "weights.safetensors").exists() and res.stdout.split() == [str(out)]


def _small_files() -> None:
    """Files of at most 64 KiB in this process and its children (``ulimit -f 64``): past that
    a write fails with 'File too large', as it would on a full disk or over a quota."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))


@pytest.mark.parametrize("flags", [[], ["--checkpoint-every", "1"]], ids=["model", "checkpoint"])
def test_a_write_that_fails_on_rank_0_stops_every_rank_in_one_line(fixtures, tmp_path, flags):
    """Rank 0 alone writes the model (or a checkpoint); when it cannot, it says why, and the
    other rank, which would wait for it in its next collective (gloo's traceback: 'Connection
    closed by peer'), says in one line that rank 0 stopped; nothing half-written is left."""
    work, logs = tmp_path / "work", tmp_path / "logs"
    work.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["--log-dir", str(logs), "--redirects", "2"]  # each rank's stderr in its own file
    cmd += ["-m", "biovae", "fit", str(fixtures / "splice_junctions_200.tsv")]
    cmd += ["--sequence-column", "sequence", "--likelihood", "categorical"]
    cmd += ["--epochs", "2", "--out", str(work / "m"), *flags]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, preexec_fn=_small_files)
    assert res.returncode != 0
    rank0, rank1 = (next(logs.glob(f"*/attempt_0/{r}/stderr.log")).read_text() for r in (0, 1))
    assert "biovae fit (rank 0): error: " in rank0 and "file too large" in rank0, rank0
    assert "Traceback" not in rank0 + rank1
    assert rank1.strip().splitlines() == [
        "biovae fit (rank 1): error: rank 0 failed (its message, above or in its log, says "
        "why); rank 1 stopped with it"
    ]
    assert list(work.iterdir()) == []  # no model, checkpoint or temporary folder


@pytest.mark.parametrize(("world", "rank"), [("2", None), ("2", "1"), ("x", None)])
def test_a_stray_world_size_is_one_line_from_the_process_that_meets_it(
    fixtures, tmp_path, capsys, monkeypatch, world, rank
):
    """WORLD_SIZE set outside torchrun (no MASTER_ADDR, ...): torch's rendezvous raised a
    traceback (exit status 1); each process now says what is missing, with its rank, as it
    may be the only one that meets it, and exits with status 2 having written nothing."""
    from tests.cli._run import run

    for key in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WORLD_SIZE", world)
    if rank is not None:
        monkeypatch.setenv("RANK", rank)
    out = tmp_path / "m"
    rc, _, err = run(capsys, "fit", fixtures / "crc_abundance_60x50.tsv", "--out", out)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert ("is not a number of processes" if world == "x" else "is not set") in err
    assert (f"(rank {rank}): error:" in err) if rank else err.startswith("biovae fit: error:")
    assert list(tmp_path.iterdir()) == []
