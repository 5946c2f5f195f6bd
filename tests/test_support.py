"""Checks of count inputs in ``check_data``: counts float32 cannot hold are warned of, on
every reader's path, and a genes x cells table read the wrong way round is refused."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from biovae import likelihoods
from biovae.config import LikelihoodConfig
from biovae.data import read_dataset
from biovae.data._columns import check_cells_are_records
from biovae.errors import DataError
from biovae.support import check_data
from tests.cli._run import run

CELLS = ["AAACCTGAGAAGGCCT-1", "AAACCTGAGACAGACC-1", "AAACCTGCAAGCCGTC-1"]
GENES = ["CD3E", "MS4A1", "ENSG00000163736"]
#: 2**25 + 3 lies between the float32 neighbours 2**25 and 2**25 + 4 (spacing 4 there):
#: it is held as 2**25 + 4 = 33554436, 1 away
BIG = 2**25 + 3


def counts(top: int) -> np.ndarray:
    x = np.array([[1, 0, 4], [0, 2, 1], [3, 1, 0]], dtype=np.int64)
    x[1, 2] = top
    return x


def write(tmp_path, kind: str, x: np.ndarray):
    """``x`` (cells x genes) written as ``kind``; the read options that read it."""
    if kind == "csv":
        path = tmp_path / "c.csv"
        pd.DataFrame(x, index=pd.Index(CELLS, name="cell"), columns=GENES).to_csv(path)
        return path, {}
    if kind == "npy-stream":
        path = tmp_path / "c.npy"
        np.save(path, x)
        return path, {"stream": True}
    if kind == "mtx":
        path = tmp_path / "tenx"
        path.mkdir()
        scipy.io.mmwrite(str(path / "matrix.mtx"), sp.coo_matrix(x.T))
        (path / "barcodes.tsv").write_text("".join(c + "\n" for c in CELLS))
        (path / "features.tsv").write_text("".join(f"{g}\t{g}\tGene Expression\n" for g in GENES))
        return path, {}
    anndata = pytest.importorskip("anndata")
    path = tmp_path / "c.h5ad"
    obs, var = pd.DataFrame(index=CELLS), pd.DataFrame(index=GENES)
    anndata.AnnData(sp.csr_matrix(x.astype(np.int32)), obs=obs, var=var).write_h5ad(path)
    return path, {"stream": kind == "h5ad-stream"}


def nb(n_features: int = 3):
    return likelihoods.build(LikelihoodConfig(name="nb"), (n_features,))


@pytest.mark.parametrize("kind", ["csv", "h5ad", "h5ad-stream", "mtx", "npy-stream"])
def test_counts_float32_cannot_hold_are_warned_of_naming_the_largest(tmp_path, kind):
    path, options = write(tmp_path, kind, counts(BIG))
    ds = read_dataset(path, **options)
    with pytest.warns(UserWarning, match=r"largest count, 33554436 as float32") as caught:
        check_data(nb(), ds)
    (message,) = [str(w.message) for w in caught if "2^24" in str(w.message)]
    names = ("1", "2") if kind.startswith("npy") else (CELLS[1], GENES[2])  # npy: positions
    assert "record '{}', feature '{}'".format(*names) in message
    assert "nearest multiple of 4, so they were rounded by up to 2" in message
    assert message.startswith(str(path)) and "\n" not in message


@pytest.mark.parametrize("kind", ["csv", "h5ad-stream"])
def test_counts_up_to_2_24_are_exact_and_not_warned_of(tmp_path, kind):
    path, options = write(tmp_path, kind, counts(2**24))
    ds = read_dataset(path, **options)
    x = ds.x.toarray() if sp.issparse(ds.x) else np.asarray(ds.x)
    assert x[1, 2] == 2**24  # held exactly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_data(nb(), ds)


def test_large_values_are_no_concern_of_a_gaussian(tmp_path):
    path, _ = write(tmp_path, "csv", counts(BIG))
    gaussian = likelihoods.build(LikelihoodConfig(name="gaussian"), (3,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_data(gaussian, read_dataset(path))


def genes_by_cells(n_cells: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    bases = np.array(list("ACGT"))
    cells = ["".join(rng.choice(bases, 16)) + "-1" for _ in range(n_cells)]
    genes = ["CD3E", "MS4A1", "LYZ", "GNLY", "NKG7", "HLA-DRA", "RPL13", "ENSG00000163736"]
    x = rng.poisson(3.0, size=(len(genes), n_cells))
    return pd.DataFrame(x, index=pd.Index(genes, name="gene"), columns=cells)


FAST = ["--likelihood", "nb", "--epochs", "1", "--hidden", "8", "--latent", "2", "--quiet"]


@pytest.mark.parametrize(("genes_as_rows", "flags"), [(True, []), (False, ["--transpose"])])
def test_a_genes_by_cells_table_read_the_wrong_way_round_is_refused(
    tmp_path, capsys, genes_as_rows, flags
):
    table = genes_by_cells()
    path, out = tmp_path / "t.csv", tmp_path / "m"
    (table if genes_as_rows else table.T.rename_axis("cell")).to_csv(path)
    rc, stdout, err = run(capsys, "fit", path, *flags, "--out", out, *FAST)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "records are named like genes (e.g. 'CD3E')" in err and "--transpose" in err
    assert not out.exists() and stdout == ""


def test_the_same_table_the_right_way_round_fits(tmp_path, capsys):
    path, out = tmp_path / "t.csv", tmp_path / "m"
    genes_by_cells().to_csv(path)
    rc, _, err = run(capsys, "fit", path, "--transpose", "--out", out, *FAST)
    assert rc == 0 and (out / "config.json").exists(), err


@pytest.mark.parametrize(
    ("ids", "features"),
    [
        (["A1", "A10", "B7"], ["ENSG00000000003", "ENSG00000000419"]),  # CellBench: plate wells
        (["CD3E", "LYZ", "GNLY"], ["cell_1", "cell_2"]),  # genes as rows, cells not barcodes
        (["AAACCTGAGAAGGCCT-1", "AAACCTGAGACAGACC-1"], ["CD3E", "LYZ"]),  # the right way
        (["CD3E", "LYZ", "GNLY", "NKG7"], ["AAACCTGAGAAGGCCT-1", "x", "y"]),  # few barcodes
    ],
)
def test_names_that_do_not_prove_a_wrong_orientation_pass(ids, features):
    check_cells_are_records(ids, features, "t.csv", "nb")


def test_the_shipped_cellbench_excerpt_is_not_taken_for_genes_by_cells(fixtures):
    pytest.importorskip("anndata")
    ds = read_dataset(fixtures / "cellbench_100x200.h5ad")
    check_data(nb(ds.n_features), ds)


def test_check_cells_are_records_refuses_ensembl_rows_and_barcode_columns():
    with pytest.raises(DataError, match=r"t\.csv: the records are named like genes .*--transpose"):
        check_cells_are_records(
            ["ENSG00000163736", "ENSMUSG00000000001.4"], ["s1_AAACCTGAGAAGGCCT"], "t.csv", "nb"
        )


def _single_warning(caught, marker: str) -> str:
    (message,) = [str(w.message) for w in caught if marker in str(w.message)]
    return message


@pytest.mark.parametrize("name", ["dirichlet_multinomial", "poisson", "nb"])
def test_records_without_counts_are_warned_of_not_refused(tmp_path, name):
    x = counts(5)
    x[[0, 2]] = 0
    path, _ = write(tmp_path, "csv", x)
    lik = likelihoods.build(LikelihoodConfig(name=name), (3,))
    with pytest.warns(UserWarning, match="no counts at all") as caught:
        check_data(lik, read_dataset(path))
    message = _single_warning(caught, "no counts at all")
    assert message.startswith(f"{path}: 2 record(s) with no counts at all")
    assert f"'{CELLS[0]}', '{CELLS[2]}')" in message and CELLS[1] not in message
    assert "the prior's (no information); drop them" in message and "\n" not in message


def test_records_without_counts_are_counted_over_every_block(tmp_path):
    """A matrix on disk is checked in blocks of 4,096 rows: the count and the first three ids
    (positions, for a .npy) run over all of them."""
    x = np.ones((5000, 3), dtype=np.int64)
    x[[1, 4100, 4200, 4999]] = 0
    np.save(tmp_path / "c.npy", x)
    ds = read_dataset(tmp_path / "c.npy", stream=True)
    lik = likelihoods.build(LikelihoodConfig(name="dirichlet_multinomial"), (3,))
    with pytest.warns(UserWarning) as caught:
        check_data(lik, ds)
    message = _single_warning(caught, "no counts at all")
    assert ": 4 record(s) with no counts at all (every feature 0: '1', '4100', '4200', ...)" in (
        message
    )


def test_zeros_are_no_concern_of_a_family_without_counts(tmp_path):
    x = counts(5)
    x[0] = 0
    path, _ = write(tmp_path, "csv", x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_data(likelihoods.build(LikelihoodConfig(name="gaussian"), (3,)), read_dataset(path))


def test_a_record_without_counts_has_the_same_likelihood_everywhere_on_the_map():
    """Why the warning is true: log p(0 | z) does not depend on z, so the posterior of an
    all-zero record is the prior. DM at depth 0: its one outcome, probability 1, for any α;
    Poisson with library ℓ: Π_j exp(−ℓ p_j) = exp(−ℓ), for any composition p."""
    torch = pytest.importorskip("torch")
    from biovae.likelihoods.dirichlet_multinomial import DirichletMultinomialDistribution

    log_alpha = torch.randn(5, 4, 6, dtype=torch.float64)  # 5 draws of z, 4 records
    zero = torch.zeros(4, 6, dtype=torch.float64)
    dm = DirichletMultinomialDistribution.from_log(log_alpha, torch.zeros(4, 1))
    assert torch.allclose(dm.log_prob(zero), torch.zeros(5, 4, dtype=torch.float64))
    lik = likelihoods.build(LikelihoodConfig(name="poisson"), (6,))
    px = lik.distribution({"rho": torch.randn(5, 4, 6)}, lik.context(zero.float()))
    assert torch.allclose(px.log_prob(zero.float()), torch.full((5, 4), -1.0))
