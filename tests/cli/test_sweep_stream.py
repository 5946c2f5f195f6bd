"""``biovae sweep --stream``: the training and held-out records stay on disk (each β's fit
reads its minibatches, the held-out numbers are summed batch by batch) and the curve is the
in-memory one."""

from __future__ import annotations

import json

import numpy as np
import pytest

import biovae.estimator
from biovae.data import ondisk
from tests.cli._run import run

ROWS = 16  # rows per block, minibatch and evaluation batch: far fewer than either split


def test_a_streamed_sweep_is_the_in_memory_one_read_a_batch_at_a_time(
    tmp_path, monkeypatch, capsys
):
    # the sweep split the records with Dataset.subset, which read both splits (all 240
    # records) into memory: the largest read was the 192 training records
    x = np.random.default_rng(1).poisson(3.0, size=(240, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    monkeypatch.setattr(ondisk, "BLOCK_ROWS", ROWS)
    monkeypatch.setattr(biovae.estimator, "_EVAL_BATCH", ROWS)
    reads: list[int] = []
    read = ondisk.NpyReader.read
    monkeypatch.setattr(
        ondisk.NpyReader, "read", lambda s, rows: reads.append(len(rows)) or read(s, rows)
    )
    args = ["sweep", tmp_path / "x.npy", "--likelihood", "poisson", "--beta", "0.5,4"]
    args += ["--epochs", "2", "--batch-size", ROWS, "--hidden", "8", "--latent", "2"]
    results = {}
    for flag in ("--no-stream", "--stream"):
        out = tmp_path / flag.strip("-")
        rc, _, err = run(capsys, *args, "--fidelity", "--quiet", flag, "--out", out)
        assert rc == 0, err
        results[flag] = json.loads((out / "sweep.json").read_text())
    assert reads and max(reads) <= ROWS  # all of them by the streamed run
    memory, streamed = results["--no-stream"], results["--stream"]
    assert [p["n"] for p in streamed["sweep"]] == [48, 48]
    for a, b in zip(memory["sweep"], streamed["sweep"]):
        assert b == pytest.approx(a, rel=1e-5)
    # the PCA of the fidelity comparison is fitted from passes over the file: its directions
    # are the in-memory SVD's, signs included, so it draws the same samples
    for name, scores in memory["fidelity"].items():
        assert streamed["fidelity"][name] == pytest.approx(scores, rel=1e-5, abs=1e-9), name
