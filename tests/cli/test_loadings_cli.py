"""``biovae fit --decoder linear`` and ``biovae loadings`` end to end on the CellBench fixture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biovae.cli.main import main
from tests.conftest import needs_anndata

FIT = ["--likelihood", "nb", "--epochs", "2", "--hidden", "16", "--latent", "3", "--quiet"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    needs_anndata()
    from tests.conftest import FIXTURES

    data = FIXTURES / "cellbench_100x200.h5ad"
    root = tmp_path_factory.mktemp("ld")
    for decoder in ("linear", "mlp"):
        out = root / decoder
        assert main(["fit", str(data), *FIT, "--decoder", decoder, "--out", str(out)]) == 0
    return root


def test_loadings_table_has_a_row_per_gene(models, tmp_path, capsys):
    target = tmp_path / "loadings.tsv"
    assert main(["loadings", str(models / "linear"), "--out", str(target), "--top", "3"]) == 0
    table = pd.read_csv(target, sep="\t", index_col="feature")
    assert table.shape == (200, 3) and list(table.columns) == ["z_1", "z_2", "z_3"]
    np.testing.assert_allclose(table.mean(), 0.0, atol=1e-5)  # centred for counts
    err = capsys.readouterr().err
    assert err.count("z_") == 3 and " | − " in err


def test_loadings_of_a_nonlinear_decoder_exit_2_and_write_nothing(models, tmp_path, capsys):
    target = tmp_path / "loadings.csv"
    assert main(["loadings", str(models / "mlp"), "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--decoder linear" in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_a_negative_top_is_refused_before_anything_is_written(models, tmp_path, capsys):
    target = tmp_path / "loadings.csv"
    assert main(["loadings", str(models / "linear"), "--out", str(target), "--top", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--top must be >= 0" in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_unknown_decoder_is_a_one_line_error(tmp_path, capsys):
    from tests.conftest import FIXTURES

    out = tmp_path / "m"
    data = FIXTURES / "cellbench_100x200.h5ad"
    assert main(["fit", str(data), *FIT, "--decoder", "sparse", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "network.decoder must be one of" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_report_of_a_linear_decoder_shows_its_loadings(models, tmp_path, capsys):
    from tests.conftest import FIXTURES

    data = FIXTURES / "cellbench_100x200.h5ad"
    for decoder, present in (("linear", True), ("mlp", False)):
        html = tmp_path / f"{decoder}.html"
        assert main(["report", str(models / decoder), str(data), "--out", str(html)]) == 0
        page = html.read_text()
        assert ('data-plot="loadings-heatmap"' in page) is present
        assert ("Linear decoder" in page) is present  # the model card says what it implies
    capsys.readouterr()
