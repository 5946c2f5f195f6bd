"""``biovae trajectory`` and ``biovae integration`` end to end on the CellBench fixture."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from tests.conftest import FIXTURES

    data = FIXTURES / "cellbench_100x200.h5ad"
    out = tmp_path_factory.mktemp("sc") / "m"
    args = ["fit", str(data), "--likelihood", "nb", "--epochs", "3", "--out", str(out)]
    assert main([*args, "--hidden", "16", "--latent", "3", "--quiet"]) == 0
    return out, data


def test_integration_writes_every_metric(model, tmp_path, capsys):
    out, data = model
    target = tmp_path / "m.json"
    args = ["integration", str(out), str(data), "--batch-key", "batch", "--out", str(target)]
    assert main([*args, "--labels-key", "cell_line"]) == 0
    metrics = json.loads(target.read_text())
    assert set(metrics) >= {"batch_asw", "ilisi_scaled", "kbet_acceptance", "ari", "nmi"}
    assert all(np.isfinite(v) for v in metrics.values())
    capsys.readouterr()


def test_trajectory_writes_pseudotime_and_report(model, tmp_path, capsys):
    out, data = model
    table, html = tmp_path / "pt.csv", tmp_path / "t.html"
    args = ["trajectory", str(out), str(data), "--root-key", "batch", "--root-value", "celseq2"]
    assert main([*args, "--out", str(table), "--report", str(html)]) == 0
    pt = pd.read_csv(table)
    assert list(pt.columns) == ["id", "pseudotime"] and len(pt) == 100
    assert pt["pseudotime"].min() == 0.0
    assert 'data-plot="trajectory-pseudotime"' in html.read_text()
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-key", "nope", "--labels-key", "cell_line"], "'nope' not found"),
        (["--batch-key", "batch", "--labels-key", "outliers"], "only one class"),
    ],
)
def test_bad_keys_exit_2_and_write_nothing(model, tmp_path, capsys, extra, message):
    out, data = model
    target = tmp_path / "m.json"
    assert main(["integration", str(out), str(data), "--out", str(target), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not target.exists()
