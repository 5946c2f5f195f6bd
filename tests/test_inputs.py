"""What Python users pass in: metadata joined to records by id, whatever its row order."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from biovae.errors import DataError
from biovae.inputs import as_dataset
from tests.conftest import needs_anndata

IDS = [f"r{i}" for i in range(6)]


def _anndata(x, **kw):
    needs_anndata()
    import anndata

    return anndata.AnnData(x, **kw)


def _frames():
    x = pd.DataFrame(np.arange(12.0).reshape(6, 2), index=IDS, columns=["g1", "g2"])
    obs = pd.DataFrame({"batch": list("aabbcc"), "depth": np.arange(6.0)}, index=IDS)
    return x, obs


@pytest.mark.parametrize("kind", ["DataFrame", "AnnData", "Dataset"])
def test_obs_rows_in_another_order_are_joined_on_record_ids(kind):
    x, obs = _frames()
    records = {
        "DataFrame": lambda: x,
        "AnnData": lambda: _anndata(x.to_numpy(np.float32), obs=pd.DataFrame(index=IDS)),
        "Dataset": lambda: as_dataset(x),
    }[kind]()
    shuffled = obs.iloc[[3, 0, 5, 1, 4, 2]]
    ds = as_dataset(records, shuffled)
    assert list(ds.obs["batch"]) == list("aabbcc") and list(ds.obs["depth"]) == list(range(6))
    more = pd.concat([obs, pd.DataFrame({"batch": ["z"], "depth": [9.0]}, index=["extra"])])
    assert list(as_dataset(records, more.iloc[::-1]).obs["batch"]) == list("aabbcc")


def test_obs_without_a_record_or_with_repeated_ids_is_refused():
    x, obs = _frames()
    with pytest.raises(DataError, match=r"no row for record 'r5' \(1 of 6"):
        as_dataset(x, obs.iloc[:5])
    with pytest.raises(DataError, match="repeats record id 'r1'"):
        as_dataset(x, obs.iloc[[0, 1, 1, 2, 3, 4, 5]])


def test_a_default_index_or_unnamed_records_are_taken_in_order():
    x, obs = _frames()
    ds = as_dataset(x, obs.iloc[::-1].reset_index(drop=True))  # 0..n−1: by position
    assert list(ds.obs["batch"]) == list("ccbbaa")
    ds = as_dataset(x.to_numpy(), obs.iloc[::-1])  # an array has no ids to join on
    assert list(ds.obs["batch"]) == list("ccbbaa")


def test_no_records_fit_is_an_error_and_scoring_none_gives_empty_outputs():
    import biovae

    x = np.random.default_rng(0).poisson(2.0, (40, 6)).astype(float)
    for est in (biovae.VAE(epochs=1, n_latent=2), biovae.PCA(n_latent=2)):
        with pytest.raises(DataError, match="0 records; fitting needs at least 2"):
            est.fit(x[:0])
    with pytest.raises(DataError, match="1 record; fitting needs at least 2"):
        biovae.VAE(epochs=1).fit(x[:1])
    vae = biovae.VAE(likelihood="poisson", epochs=1, n_latent=2).fit(x)
    pca = biovae.PCA(n_latent=2).fit(x)
    assert vae.transform(x[:0]).shape == (0, 2) and pca.transform(x[:0]).shape == (0, 2)
    assert vae.score_samples(x[:0]).shape == (0,) and vae.score_samples(x[:0], iwae=4).shape == (0,)
    assert vae.reconstruct(x[:0]).shape == (0, 6) and pca.score_samples(x[:0]).shape == (0,)


def test_placeholder_record_names_are_matched_by_position():
    # AnnData(X) names its records '0'..'n-1'; a sorted obs keeps its old integer index, which
    # must not reorder the records (review probe: A A B B became A B A B)
    df = pd.DataFrame({"g": [5.0, 0, 6, 1], "batch": list("ABAB")}).sort_values("batch")
    x, obs = df[["g"]].to_numpy(np.float32), df[["batch"]]
    kinds = [x, pd.DataFrame(x), as_dataset(x)]
    if importlib.util.find_spec("anndata") is not None:
        kinds.append(_anndata(x))
    for records in kinds:
        with pytest.warns(UserWarning, match="by position although its index is 0..n−1"):
            assert list(as_dataset(records, obs).obs["batch"]) == list("AABB")


def test_a_semi_supervised_model_predicts_and_scores_no_records():
    import biovae

    x = np.random.default_rng(1).poisson(2.0, (40, 6)).astype(float)
    obs = {"y": np.array(["a", "b", "unknown", "a"] * 10, dtype=object)}
    ss = biovae.SemiSupervisedVAE(labels_key="y", epochs=1, n_latent=2).fit(x, obs)
    none = {"y": np.array([], dtype=object)}
    assert ss.predict_proba(x[:0], none).shape == (0, 2) and ss.predict(x[:0], none).shape == (0,)
    assert ss.score_samples(x[:0], none).shape == (0,) and ss.score_samples(
        x[:0], none, iwae=3
    ).shape == (0,)


def test_ids_read_from_a_file_are_joined_even_when_they_are_0_to_n(tmp_path):
    # a table whose own ids are 0..n−1 (pandas to_csv of a default index): the file named
    # them, so a sorted obs is joined on them, not paired by position (review probe)
    from biovae.data.readers import read_dataset

    path = tmp_path / "x0.csv"
    pd.DataFrame(np.arange(36.0).reshape(12, 3), columns=["g1", "g2", "g3"]).to_csv(path)
    meta = pd.DataFrame({"b": [f"rec{i}" for i in range(12)]}).sort_values("b")
    ds = as_dataset(read_dataset(path), meta)
    assert list(ds.obs["b"]) == [f"rec{i}" for i in range(12)]
    # an Int64 index of its own, as pandas 2's read_csv(index_col=0) gives (pandas 3 gives a
    # RangeIndex, a default index: see the next test)
    indexed = pd.read_csv(path, index_col=0).set_axis(pd.Index(np.arange(12)))
    assert list(as_dataset(indexed, meta).obs["b"]) == [f"rec{i}" for i in range(12)]


def test_pairing_by_position_warns_of_an_obs_index_in_another_order():
    # pandas 3 reads an index column of 0..n−1 (and set_index of one) as a RangeIndex, which
    # cannot be told from a default index: records so named are paired with obs by position,
    # and a warning says so when obs's own 0..n−1 labels are in another order
    x = pd.DataFrame(np.arange(36.0).reshape(12, 3), index=pd.RangeIndex(12))
    meta = pd.DataFrame({"b": [f"rec{i}" for i in range(12)]}).sort_values("b")
    with pytest.warns(UserWarning, match="by position although its index is 0..n−1 in another"):
        assert list(as_dataset(x, meta).obs["b"]) == list(meta["b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(as_dataset(x, meta.sort_index()).obs["b"]) == [f"rec{i}" for i in range(12)]
        named = meta.set_axis([f"s{i}" for i in range(12)])
        assert list(as_dataset(x, named).obs["b"]) == list(meta["b"])


def test_an_anndatas_own_obs_never_warns_and_a_multiindex_obs_pairs_by_position():
    needs_anndata()
    import anndata

    x = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    names = [str(i) for i in range(4)]  # what AnnData(x) names its cells
    adata = anndata.AnnData(x, obs=pd.DataFrame({"b": list("abab")}, index=names))
    shuffled = adata[["2", "0", "3", "1"]].copy()  # as scanpy users reorder cells
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(as_dataset(shuffled).obs["b"]) == list("aabb")
        multi = pd.DataFrame(
            {"b": list("abab")}, index=pd.MultiIndex.from_product([[0, 1], [0, 1]])
        )
        assert list(as_dataset(x, multi).obs["b"]) == list("abab")


@pytest.mark.parametrize(
    ("x", "problem"),
    [
        ([["a", "b"], ["c", "d"]], "not a table of numbers .could not convert string"),
        ([[1.0, 2.0], [3.0]], "not a table of numbers .setting an array element"),
        (np.ones((3, 2)) + 1j, "holds complex numbers; pass real values"),
        (sp.csr_matrix(np.ones((3, 2)) + 1j), "holds complex numbers; pass real values"),
        (np.full((3, 2), np.datetime64("2020-01-01")), r"dates or durations \(datetime64"),
        ("counts.tsv", r"file name \('counts.tsv'\), not data; read it first"),
    ],
    ids=["text", "ragged", "complex", "sparse-complex", "dates", "file-name"],
)
def test_text_ragged_or_complex_records_are_a_one_line_error(x, problem):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's ComplexWarning included: never turned real
        with pytest.raises(DataError, match=problem):
            as_dataset(x)


class _ArrayLike:
    """Only ``__array__``, as scikit-learn's checks pass X and y (numpy's other protocols
    raise)."""

    def __init__(self, values):
        self.values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __array_function__(self, *args, **kwargs):
        raise TypeError("not an array")


def test_an_array_like_is_read_as_x_and_as_sklearns_y_in_obs_place():
    import biovae

    x = np.random.default_rng(0).normal(size=(20, 3))
    vae = biovae.VAE(n_latent=2, epochs=1, hidden=(4,)).fit(_ArrayLike(x), _ArrayLike(x[:, 0]))
    assert vae.transform(_ArrayLike(x)).shape == (20, 2)


@pytest.mark.parametrize("x", [np.zeros((10, 0)), sp.csr_matrix((10, 0)), pd.DataFrame(index=IDS)])
def test_records_without_features_are_refused_by_fit(x):
    """They fitted a model of nothing that embedded and scored every record alike."""
    import biovae

    for est in (biovae.VAE(epochs=1, n_latent=2), biovae.PCA(n_latent=2)):
        with pytest.raises(DataError, match=r"the records have no features \(shape \(\d+, 0\)\)"):
            est.fit(x)


def _sequences(letters: str, n: int = 30, length: int = 8, seed: int = 0):
    from biovae.data.dataset import Dataset
    from biovae.data.sequences import ALPHABETS

    alphabet = next(a for a in ALPHABETS if set(letters) <= set(a))
    codes = np.random.default_rng(seed).integers(0, len(letters), (n, length)).astype(np.uint8)
    ids = [f"s{i}" for i in range(n)]
    return Dataset(codes, ids, tuple(map(str, range(1, length + 1))), {}, alphabet=alphabet)


@pytest.mark.parametrize("model", ["VAE", "PCA"])
@pytest.mark.parametrize("likelihood", ["gaussian", "poisson"])
def test_sequences_are_refused_by_a_likelihood_that_reads_letter_codes_as_numbers(
    model, likelihood
):
    import biovae

    est = getattr(biovae, model)(likelihood=likelihood, n_latent=2)
    if model == "VAE":
        est.set_params(epochs=1)
    with pytest.raises(DataError, match=r"sequences .*--likelihood categorical"):
        est.fit(_sequences("ACGT"))


@pytest.mark.parametrize("model", ["VAE", "PCA"])
def test_records_in_another_alphabet_are_refused_by_a_sequence_model(model):
    """RNA, or protein whose codes fall in the DNA range, would be read as other letters."""
    import biovae

    est = getattr(biovae, model)(likelihood="categorical", n_latent=2)
    if model == "VAE":
        est.set_params(epochs=1)
    est.fit(_sequences("ACGT"))
    for other in (_sequences("ACGU", seed=1), _sequences("ACDEF", seed=2)):
        with pytest.raises(DataError, match=r"fitted on sequences over 'ACGT-'"):
            est.transform(other)
    with pytest.raises(DataError, match=r"records are values \(no alphabet\)"):
        est.transform(np.zeros((3, 8)))


def test_an_rna_models_records_without_u_are_not_refused_as_dna(tmp_path):
    """Records holding neither T nor U are detected as DNA, yet are RNA too: an RNA model
    refused to embed or score them ('records are sequences over ACGT-')."""
    import biovae
    from biovae.data import read_dataset

    est = biovae.VAE(likelihood="categorical", n_latent=2, epochs=1).fit(_sequences("ACGU"))
    (tmp_path / "q.fa").write_text(">q1\nACGACGGC\n>q2\nGGGCCCAA\n")
    (tmp_path / "t.fa").write_text(">t\nACGACGGT\n")
    queries = read_dataset(tmp_path / "q.fa")
    assert queries.alphabet == "ACGT-"
    assert est.transform(queries).shape == (2, 2) and np.isfinite(est.score_samples(queries)).all()
    with pytest.raises(DataError, match=r"fitted on sequences over 'ACGU-'"):
        est.transform(read_dataset(tmp_path / "t.fa"))


def test_samples_that_would_not_fit_in_memory_are_refused_before_drawing(monkeypatch):
    """-n 100000000 ended in torch's allocation traceback; it is a one-line error now."""
    import biovae
    from biovae import inputs
    from biovae.errors import ConfigError

    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    vae = biovae.VAE(n_latent=2, hidden=(4,), epochs=1).fit(x)
    pca = biovae.PCA(n_latent=2).fit(x)
    monkeypatch.setattr(inputs, "available_memory", lambda: 10 * 2 * 6 * 4)  # 10 samples
    for est in (vae, pca):
        assert est.sample(10).shape == (10, 6)
        with pytest.raises(ConfigError, match=r"n = 11 samples need about .* GiB of memory"):
            est.sample(11)
    monkeypatch.setattr(inputs, "available_memory", lambda: None)  # unknown: no check
    assert vae.sample(11).shape == (11, 6)
    assert inputs.sample_count(5, 1 << 60) == 5


def test_an_anndata_without_x_names_its_layers():
    # AnnData(obs=..., var=...) with the counts in a layer: "data must be 2-D ..., got shape ()"
    needs_anndata()
    import anndata

    adata = anndata.AnnData(obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["g"]))
    adata.layers["counts"] = np.ones((2, 1), np.float32)
    with pytest.raises(DataError, match=r"^AnnData has no X \(layers: counts\); pass the layer"):
        as_dataset(adata)
    assert as_dataset(adata, layer="counts").x.shape == (2, 1)


def test_a_count_just_off_a_whole_number_is_shown_as_it_is():
    """A float count stored as 1.0000001 was reported as 'value 1 ... is not a whole number'."""
    from biovae import likelihoods
    from biovae.config import LikelihoodConfig
    from biovae.data import Dataset
    from biovae.support import check_data

    nb = likelihoods.build(LikelihoodConfig(name="nb"), (2,))
    ds = Dataset(np.array([[1.0000001, 2.0], [0.0, 3.0]]), ["c1", "c2"], ["g1", "g2"], {})
    with pytest.raises(DataError, match=r"value 1\.0000001 in record 'c1', feature 'g1' is not a"):
        check_data(nb, ds)
    ds = Dataset(np.array([[1.0, -2.0]]), ["c1"], ["g1", "g2"], {})
    with pytest.raises(DataError, match=r"value -2 in record 'c1', feature 'g2' is negative"):
        check_data(nb, ds)


def test_a_missing_layer_of_an_anndata_with_raw_counts_names_raw_x():
    ad = _anndata(np.log1p(np.arange(6.0, dtype=np.float32).reshape(2, 3)))
    ad.raw = _anndata(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    with pytest.raises(DataError, match=r"no layer 'raw' .*; raw\.X \(adata\.raw, 3 genes\) is"):
        as_dataset(ad, layer="raw")


def test_peptides_of_nucleotide_letters_for_a_protein_model_name_alphabet_protein(tmp_path):
    """GATTACA peptides are detected as DNA: the refusal named no way to read them as protein."""
    import biovae
    from biovae.data import read_dataset

    est = biovae.PCA(likelihood="categorical", n_latent=2).fit(_sequences("ACDEFGHIKL"))
    (tmp_path / "q.fa").write_text(">q1\nGATTACAG\n")
    with pytest.raises(DataError, match=r"read them with --alphabet protein"):
        est.transform(read_dataset(tmp_path / "q.fa"))
    assert est.transform(read_dataset(tmp_path / "q.fa", alphabet="protein")).shape == (1, 2)
    with pytest.raises(DataError, match=r"records are values \(no alphabet\)") as info:
        est.transform(np.zeros((3, 8)))
    assert "--alphabet" not in str(info.value)


def _repeated_csr(dtype=np.float32):
    """3 records x 3 features whose record 'c1', feature 'g2' is stored twice (3 + 4)."""
    data, indices, indptr = np.array([3, 4, 1, 2], dtype), [1, 1, 0, 2], [0, 2, 3, 4]
    return sp.csr_matrix((data, indices, indptr), shape=(3, 3))


def _named(x, layer=None):
    adata = _anndata(np.zeros((3, 3), np.float32) if layer else x)
    adata.obs_names, adata.var_names = ["c1", "c2", "c3"], ["g1", "g2", "g3"]
    if layer:
        adata.layers[layer] = x
    return adata


@pytest.mark.parametrize("where", ["X", "layer", "csc", "scipy", "coo", "VAE.fit", "tl.vae"])
def test_an_in_memory_sparse_entry_stored_twice_is_refused_not_summed(where):
    """As in a file (data/_entries.py): scipy would train on the sum 7 of the two entries."""
    m = _repeated_csr()
    assert m.toarray()[0, 1] == 7  # what the repeats would silently become
    named = "record 'c1', feature 'g2' has more than one entry in the sparse matrix"
    call, prefix = {
        "X": (lambda: as_dataset(_named(m)), f"AnnData: {named}"),
        "layer": (lambda: as_dataset(_named(m, "counts"), layer="counts"), "AnnData layer"),
        "csc": (lambda: as_dataset(_named(_repeated_csr().T.tocsr().T)), f"AnnData: {named}"),
        "scipy": (lambda: as_dataset(m), "array: record '0', feature 'f1' has more than one"),
        "coo": (lambda: as_dataset(m.tocoo()), "array: record '0', feature 'f1'"),
        "VAE.fit": (lambda: _fit_vae(_named(m)), f"AnnData: {named}"),
        "tl.vae": (lambda: _tl_vae(_named(m)), f"AnnData: {named}"),
    }[where]
    with pytest.raises(DataError) as err:
        call()
    assert str(err.value).startswith(prefix) and "\n" not in str(err.value)
    assert "sum_duplicates()" in str(err.value)


def _fit_vae(adata):
    from biovae import VAE

    return VAE(likelihood="nb", epochs=1).fit(adata)


def _tl_vae(adata):
    from biovae import tl

    return tl.vae(adata, likelihood="nb", epochs=1)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_a_canonical_sparse_anndata_is_not_reconverted_to_find_repeats(monkeypatch, fmt):
    """Canonical CSR/CSC (as anndata writes) costs no pass of its own: no COO copy is made."""
    m = getattr(sp, f"{fmt}_matrix")(np.arange(9, dtype=np.float32).reshape(3, 3))
    assert m.has_canonical_format
    adata = _named(m)

    def no_copy(self, *a, **k):
        raise AssertionError("tocoo called on a canonical matrix")

    monkeypatch.setattr(type(m), "tocoo", no_copy)
    ds = as_dataset(adata)
    np.testing.assert_array_equal(ds.x.toarray(), np.arange(9).reshape(3, 3))
