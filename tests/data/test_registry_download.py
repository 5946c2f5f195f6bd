"""Shipped data sets and the checksum-verified download cache."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from biovae.data import builtin_names, fetch, load_builtin
from biovae.data.registry import builtin_path
from biovae.errors import DataError


def test_builtin_names():
    assert "pbmc68k_reduced" in builtin_names()


def test_pbmc68k_reduced():
    ds = load_builtin("pbmc68k_reduced")
    assert ds.x.shape == (700, 765) and ds.x.dtype == np.float32
    assert set(ds.obs) == {"bulk_labels", "louvain", "phase", "n_counts"}
    assert "n_counts" not in ds.features and ds.features[:3] == ("HES4", "TNFRSF4", "SSU72")
    assert ds.ids[0] == "AAAGCCTGGCTAAC-1" and ds.source == "pbmc68k_reduced"
    assert int((ds.x > 0).sum()) == 174400 and ds.x.max() == 259
    assert np.array_equal(ds.x, np.round(ds.x))
    assert ds.obs["n_counts"].dtype == np.float64 and ds.obs["n_counts"][0] == 2557.0
    assert ds.obs["louvain"][:3].tolist() == ["1", "1", "3"]
    labels, counts = np.unique(ds.obs["bulk_labels"], return_counts=True)
    assert dict(zip(labels, counts))["Dendritic"] == 240 and len(labels) == 10
    assert (ds.obs["phase"] == "G2M").sum() == 17
    ratio = np.median(ds.x.sum(axis=1) / ds.obs["n_counts"])
    assert 0.19 < ratio < 0.21  # README: row sums are ~20.1 % of n_counts


def test_pbmc_readme_checksum_matches_file():
    path = builtin_path("pbmc68k_reduced")
    readme = (path.parent / "README.md").read_text()
    recorded = re.search(r"([0-9a-f]{64})  counts\.tsv\.gz", readme).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded


def test_pbmc_matches_shared_h5ad(shared_data):
    anndata = pytest.importorskip("anndata")
    adata = anndata.read_h5ad(shared_data / "singlecell" / "pbmc68k_reduced_counts.h5ad")
    ds = load_builtin("pbmc68k_reduced")
    np.testing.assert_array_equal(ds.x, adata.X.toarray())
    assert list(ds.ids) == list(adata.obs_names) and ds.features == tuple(adata.var_names)
    assert ds.obs["bulk_labels"].tolist() == adata.obs["bulk_labels"].astype(str).tolist()


def test_unknown_builtin():
    with pytest.raises(DataError, match=r"unknown built-in data set 'pbmc'; available: 'pbmc68k"):
        load_builtin("pbmc")


def test_fetch_file_url(tmp_path):
    src = tmp_path / "remote" / "data.tsv"
    src.parent.mkdir()
    src.write_bytes(b"id\tg\na\t1\n")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    out = fetch(src.as_uri(), f"sha256:{digest}", cache)
    assert out == cache / "data.tsv" and out.read_bytes() == src.read_bytes()
    src.unlink()  # a valid cached copy is reused without touching the source
    assert fetch(src.as_uri(), digest, cache) == out


def test_fetch_checksum_mismatch_leaves_nothing(tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(b"payload")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"checksum mismatch \(expected sha256 0+, got"):
        fetch(src.as_uri(), "0" * 64, cache)
    assert list(cache.iterdir()) == []


def test_fetch_uses_env_cache_and_reports_missing_source(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOVAE_CACHE", str(tmp_path / "envcache"))
    with pytest.raises(DataError, match=r"missing\.tsv: download failed"):
        fetch((tmp_path / "missing.tsv").as_uri(), "0" * 64)
    src = tmp_path / "ok.txt"
    src.write_bytes(b"x")
    out = fetch(src.as_uri(), hashlib.sha256(b"x").hexdigest())
    assert out == tmp_path / "envcache" / "ok.txt"


def test_fetch_checks_its_arguments_and_cache_and_expands_home(tmp_path, monkeypatch):
    src = tmp_path / "ok.txt"
    src.write_bytes(b"x")
    digest = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(DataError, match="is not a SHA-256"):
        fetch(src.as_uri(), "d41d8cd98f00b204e9800998ecf8427e", tmp_path / "c")  # an MD5
    assert fetch(src.as_uri(), digest + "\n", tmp_path / "c").read_bytes() == b"x"  # stripped
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(DataError, match=r"cache folder .* cannot take ok\.txt"):
        fetch(src.as_uri(), digest, a_file / "sub")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIOVAE_CACHE", "~/bvcache")
    assert fetch(src.as_uri(), digest) == tmp_path / "home" / "bvcache" / "ok.txt"


def test_an_interrupted_http_body_is_a_one_line_error(tmp_path):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():  # a chunked body cut short: http.client.IncompleteRead
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/f.bin"
    with pytest.raises(DataError, match=r"f\.bin: download failed"):
        fetch(url, "0" * 64, tmp_path / "cache")
    server.close()


def test_a_damaged_shipped_data_set_is_refused(tmp_path, monkeypatch):
    import gzip

    from biovae.data import registry

    whole = gzip.decompress(builtin_path("pbmc68k_reduced").read_bytes()).splitlines(True)
    cut = tmp_path / "pbmc68k_reduced" / "counts.tsv.gz"
    cut.parent.mkdir()
    cut.write_bytes(gzip.compress(b"".join(whole[:301])))  # header + 300 whole rows: readable
    monkeypatch.setattr(registry, "DATASETS_DIR", tmp_path)
    with pytest.raises(DataError, match=r"is damaged .* reinstall biovae"):
        load_builtin("pbmc68k_reduced")


def test_demo_names_the_epochs_when_they_are_wrong(tmp_path, capsys):
    from biovae.cli.main import main

    with pytest.raises(SystemExit) as exit_:  # refused while parsing, by the flag's name
        main(["demo", "--epochs", "-1", "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.endswith("argument --epochs: must be >= 1, got -1")
    assert not (tmp_path / "d").exists()


def test_demo_refuses_an_unusable_out_before_training(tmp_path, capsys):
    from biovae.cli.main import main

    taken = tmp_path / "d"
    taken.write_text("mine")
    assert main(["demo", "--epochs", "1", "--out", str(taken)]) == 2
    assert "is a file; the demo writes a folder" in capsys.readouterr().err
    (tmp_path / "e" / "model").mkdir(parents=True)
    (tmp_path / "e" / "model" / "notes.txt").write_text("mine")
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path / "e")]) == 2
    assert "not part of a biovae model" in capsys.readouterr().err
    assert taken.read_text() == "mine" and not (tmp_path / "e" / "report.html").exists()
