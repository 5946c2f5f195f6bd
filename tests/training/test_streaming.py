"""Training on a matrix left on disk is the same computation as training on it in memory:
identical batches, identical weights for a seed, identical embeddings; bad values on disk are
reported by record, and the command line's ``--stream`` works end to end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from biovae import VAE, SemiSupervisedVAE
from biovae.cli.main import main
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.data import ondisk
from biovae.data.readers import read_dataset
from biovae.errors import DataError
from biovae.training import InMemorySource, StreamSource, make_source, prefetched
from biovae.training.sources import epoch_batches

anndata = pytest.importorskip("anndata")
CELLBENCH = "cellbench_100x200.h5ad"


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(ondisk, "BLOCK_ROWS", 16)


def _config(**data) -> FitConfig:
    return FitConfig(
        model=ModelConfig(n_latent=3, network=NetworkConfig(hidden=(16,), dropout=0.1)),
        train=TrainConfig(epochs=3, batch_size=16, seed=4),
        data=DataConfig(**data),
    )


def test_stream_source_batches_equal_the_in_memory_ones(fixtures):
    whole = read_dataset(fixtures / CELLBENCH)
    streamed = read_dataset(fixtures / CELLBENCH, stream=True)
    c = torch.arange(100.0)[:, None]
    a, b = InMemorySource(whole.x, c), make_source(streamed.x, c)
    assert isinstance(b, StreamSource)
    sub = torch.tensor([90, 2, 2, 41, 17, 63])
    for x, y in ((a, b), (a.subset(sub), b.subset(sub))):
        idx = torch.tensor([4, 0, 3])
        got, want = y.batch(idx), x.batch(idx)
        assert torch.equal(got.x, want.x) and torch.equal(got.c, want.c)


def test_prefetched_keeps_order_and_raises_read_errors(fixtures):
    source = make_source(read_dataset(fixtures / CELLBENCH, stream=True).x)
    order = [torch.tensor([3, 1]), torch.tensor([7]), torch.tensor([0, 2, 4])]
    got = list(prefetched(source, iter(order)))
    assert [i.tolist() for i, _ in got] == [o.tolist() for o in order]
    assert all(torch.equal(b.x, source.batch(i).x) for i, b in got)

    class Broken:
        streaming = True

        def batch(self, idx):
            raise DataError("disk gone")

    with pytest.raises(DataError, match="disk gone"):
        list(prefetched(Broken(), iter(order)))


def _counted_checks(monkeypatch) -> list[np.ndarray]:
    """The file rows of every block checked for a repeated entry, one array per check."""
    checked, real = [], ondisk.check_single_entries

    def counted(block, ids, features, source, rows=None):
        checked.append(np.array(rows))
        real(block, ids, features, source, rows)

    monkeypatch.setattr(ondisk, "check_single_entries", counted)
    return checked


def test_a_streamed_block_is_checked_for_repeats_in_the_first_epoch_only(fixtures, monkeypatch):
    """The file cannot change under its reader: each minibatch of 100 records in batches of
    16 (7 a pass) is checked once, not in every epoch, and every record was checked (the
    matrix opened bare: read_dataset's validation pass would check every record first)."""
    checked = _counted_checks(monkeypatch)
    source = make_source(ondisk.open_h5ad_matrix(fixtures / CELLBENCH))
    generator, per_epoch = torch.Generator().manual_seed(0), []
    for _ in range(3):
        before = len(checked)
        for idx in epoch_batches(len(source), 16, generator):
            source.batch(idx)
        per_epoch.append(len(checked) - before)
    assert per_epoch == [7, 0, 0]
    assert sorted(np.concatenate(checked).tolist()) == list(range(100))


def test_a_streamed_fit_checks_each_record_for_repeats_once(fixtures, monkeypatch):
    """Validation, library sizes and the fingerprint read the file in row order before 3
    epochs of minibatches and held-out scoring: each record is checked on its first read."""
    checked = _counted_checks(monkeypatch)
    VAE(likelihood="nb", config=_config()).fit(read_dataset(fixtures / CELLBENCH, stream=True))
    rows = np.concatenate(checked)
    assert sorted(rows.tolist()) == list(range(100))  # each once: none skipped, none again
    checked.clear()
    VAE(likelihood="nb", config=_config()).fit(read_dataset(fixtures / CELLBENCH, stream=True))
    assert len(np.concatenate(checked)) == 100  # a file opened again is checked again


@pytest.mark.parametrize("kind", ["vae", "ssvae"])
def test_a_streamed_fit_is_the_in_memory_fit(fixtures, kind):
    whole = read_dataset(fixtures / CELLBENCH)
    streamed = read_dataset(fixtures / CELLBENCH, stream=True)
    if kind == "vae":
        cfg = _config(batch_key="batch")
        fits = [VAE(likelihood="nb", config=cfg).fit(ds) for ds in (whole, streamed)]
    else:
        cfg = _config(batch_key="batch", labels_key="cell_line")
        fits = [SemiSupervisedVAE(likelihood="nb", config=cfg).fit(ds) for ds in (whole, streamed)]
    a, b = fits
    for key, value in a.model_.state_dict().items():
        assert torch.equal(value, b.model_.state_dict()[key]), key
    untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in f.history_] for f in fits]
    assert untimed[0] == untimed[1]
    np.testing.assert_array_equal(a.transform(whole), b.transform(streamed))
    assert a.fingerprint_ == b.fingerprint_


def test_backed_anndata_streams_through_tl(fixtures):
    from biovae import tl

    mem = anndata.read_h5ad(fixtures / CELLBENCH)
    backed = anndata.read_h5ad(fixtures / CELLBENCH, backed="r")
    for adata in (mem, backed):
        tl.vae(adata, config=_config())
    np.testing.assert_array_equal(mem.obsm["X_biovae"], backed.obsm["X_biovae"])


def test_a_view_of_a_backed_anndata_is_its_own_rows_and_genes(fixtures):
    mem = anndata.read_h5ad(fixtures / CELLBENCH)
    backed = anndata.read_h5ad(fixtures / CELLBENCH, backed="r")
    est = VAE(config=_config()).fit(mem)
    order = mem.obs.sort_values("cell_line").index  # rows reordered, not the file's order
    np.testing.assert_array_equal(est.transform(backed[order]), est.transform(mem[order].copy()))
    some = (mem.obs["batch"] == mem.obs["batch"].iloc[0]).to_numpy()
    np.testing.assert_array_equal(est.transform(backed[some]), est.transform(mem[some].copy()))
    with pytest.raises(DataError, match="feature 1 is"):  # genes reordered: refused, not misread
        est.transform(backed[:, backed.var_names[::-1]])


def test_a_bad_count_on_disk_names_its_cell(fixtures, tmp_path):
    adata = anndata.read_h5ad(fixtures / CELLBENCH)
    x = adata.X.toarray()
    x[57, 9] = -2.0
    adata.X = sp.csr_matrix(x)
    adata.write_h5ad(tmp_path / "bad.h5ad")
    cell = str(adata.obs_names[57])
    with pytest.raises(DataError, match=f"value -2 in record '{cell}', feature"):
        VAE(likelihood="nb", config=_config()).fit(read_dataset(tmp_path / "bad.h5ad", stream=True))


def test_command_line_stream(fixtures, tmp_path, capsys):
    out = tmp_path / "m"
    args = ["fit", str(fixtures / CELLBENCH), "--likelihood", "nb", "--epochs", "2"]
    assert main([*args, "--stream", "--batch-key", "batch", "--out", str(out)]) == 0
    assert (out / "weights.safetensors").exists()
    table = tmp_path / "t.csv"
    table.write_text("id,a,b\nr1,1,2\nr2,3,4\n")
    assert main(["fit", str(table), "--stream", "--out", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "option stream does not apply to csv" in err[-1] and not (tmp_path / "n").exists()


@pytest.fixture
def streamed_model(fixtures, tmp_path):
    """A model fitted with ``--stream`` on CellBench (the flag saved with it), the data read
    whole, and the file."""
    model, data = tmp_path / "m", fixtures / CELLBENCH
    fit = ["fit", str(data), "--likelihood", "nb", "--epochs", "1", "--stream", "--quiet"]
    assert main([*fit, "--out", str(model)]) == 0
    return model, read_dataset(data), data


def test_a_streamed_model_embeds_other_formats(streamed_model, tmp_path, capsys):
    """``--stream`` saved with the model applies again where the format allows it, and is
    dropped (not refused) for a table the user gives without the flag."""
    model, whole, data = streamed_model
    table = tmp_path / "counts.csv"
    frame = [",".join(["id", *whole.features])]
    frame += [",".join([i, *map(str, row)]) for i, row in zip(whole.ids, whole.x.toarray())]
    table.write_text("\n".join(frame) + "\n")
    for source, out in ((data, "a.csv"), (table, "b.csv")):
        assert main(["embed", str(model), str(source), "--out", str(tmp_path / out)]) == 0
    a, b = ((tmp_path / f).read_text().splitlines() for f in ("a.csv", "b.csv"))
    assert a == b


def test_a_sequence_table_model_embeds_the_same_records_from_fasta(fixtures, tmp_path):
    """A saved ``sequence_column`` (a table option) is dropped for a FASTA file, not refused."""
    import pandas as pd

    table = fixtures / "splice_junctions_200.tsv"
    frame = pd.read_csv(table, sep="\t")
    fasta = tmp_path / "s.fasta"
    fasta.write_text("".join(f">{i}\n{s}\n" for i, s in zip(frame["id"], frame["sequence"])))
    model = tmp_path / "m"
    fit = ["fit", str(table), "--sequence-column", "sequence", "--likelihood", "categorical"]
    fit += ["--epochs", "1", "--quiet"]
    assert main([*fit, "--out", str(model)]) == 0
    for source, out in ((table, "a.csv"), (fasta, "b.csv")):
        assert main(["embed", str(model), str(source), "--out", str(tmp_path / out)]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_a_model_fitted_with_format_reads_its_own_file_again(fixtures, tmp_path):
    """A comma-separated .txt (the name says tsv) keeps the saved --format csv."""
    text = (fixtures / "crc_abundance_60x50.tsv").read_text().replace("\t", ",")
    data = tmp_path / "comma.txt"
    data.write_text(text)
    model = tmp_path / "m"
    fit = ["fit", str(data), "--format", "csv", "--id-column", "sample_id", "--epochs", "1"]
    assert main([*fit, "--quiet", "--out", str(model)]) == 0
    assert main(["embed", str(model), str(data), "--out", str(tmp_path / "z.csv")]) == 0


def test_a_streamed_model_embeds_a_10x_folder(streamed_model, tmp_path):
    """A 10x ``matrix.mtx`` folder is known by its contents, not a name: the saved
    ``--stream`` was not dropped for it, and the folder was refused for an option never given."""
    import gzip

    import scipy.io

    model, whole, data = streamed_model
    folder = tmp_path / "filtered_feature_bc_matrix"
    folder.mkdir()
    scipy.io.mmwrite(str(folder / "matrix.mtx"), sp.coo_matrix(whole.x.T), field="integer")
    with gzip.open(folder / "features.tsv.gz", "wt") as fh:
        fh.writelines(f"{f}\t{f}\tGene Expression\n" for f in whole.features)
    (folder / "barcodes.tsv").write_text("".join(f"{i}\n" for i in whole.ids))
    for source, out in ((data, "a.csv"), (folder, "b.csv")):
        assert main(["embed", str(model), str(source), "--out", str(tmp_path / out)]) == 0
    a, b = ((tmp_path / f).read_text().splitlines() for f in ("a.csv", "b.csv"))
    assert a == b


def test_a_fit_in_memory_resumes_streamed_to_the_same_weights(fixtures, tmp_path):
    whole = read_dataset(fixtures / CELLBENCH)
    streamed = read_dataset(fixtures / CELLBENCH, stream=True)

    def cfg(epochs: int, stream: bool) -> FitConfig:
        base = _config(batch_key="batch", stream=stream)
        return dataclasses.replace(
            base, train=dataclasses.replace(base.train, epochs=epochs, checkpoint_every=1)
        )

    full = VAE(likelihood="nb", config=cfg(4, False)).fit(whole)
    VAE(likelihood="nb", config=cfg(2, False)).fit(whole, checkpoint_dir=tmp_path / "c")
    resumed = VAE(likelihood="nb", config=cfg(4, True)).fit(
        streamed, checkpoint_dir=tmp_path / "c", resume=True
    )
    for key, value in full.model_.state_dict().items():
        assert torch.equal(value, resumed.model_.state_dict()[key]), key


def test_no_stream_reads_whole_what_a_streamed_model_would_stream(streamed_model, tmp_path):
    """A model fitted with ``--stream`` applies it to the data of later commands; a CSC
    .h5ad (refused for streaming) is embedded with ``--no-stream``, as its CSR copy is."""
    model, _, data = streamed_model
    adata = anndata.read_h5ad(data)
    adata.X = sp.csc_matrix(adata.X)
    adata.write_h5ad(tmp_path / "csc.h5ad")
    embed = ["embed", str(model)]
    assert main([*embed, str(tmp_path / "csc.h5ad"), "--out", str(tmp_path / "a.csv")]) == 2
    assert not (tmp_path / "a.csv").exists()
    assert (
        main([*embed, str(tmp_path / "csc.h5ad"), "--no-stream", "--out", str(tmp_path / "b.csv")])
        == 0
    )
    assert main([*embed, str(data), "--out", str(tmp_path / "c.csv")]) == 0
    assert (tmp_path / "b.csv").read_text() == (tmp_path / "c.csv").read_text()
