"""PCA of data left on disk: passes over blocks give the in-memory closed-form PPCA, and the
estimator never reads a streamed matrix whole (fit, transform, score)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae import PCA
from biovae.data import read_dataset
from biovae.data.ondisk import RowStore
from biovae.models import pca as ppca


def _passes(x: np.ndarray, rows: int):
    return lambda: (torch.as_tensor(x[i : i + rows]) for i in range(0, len(x), rows))


def _decaying(n: int, f: int, seed: int) -> np.ndarray:
    """Rows with a spectrum falling geometrically (a well-separated leading subspace)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(f, f)))[0]
    scales = 3.0 * 0.8 ** np.arange(f)
    return rng.normal(size=(n, f)) * scales @ basis.T + rng.normal(size=f) * 5


@pytest.mark.parametrize(("n", "f", "k", "rows"), [(300, 12, 3, 64), (7, 10, 2, 3)])
def test_covariance_passes_equal_the_in_memory_fit(n, f, k, rows):
    x = _decaying(n, f, n)
    whole = ppca.fit_ppca(torch.as_tensor(x), k)
    passed = ppca.fit_ppca_passes(_passes(x, rows), k)
    assert passed.noise_variance == pytest.approx(whole.noise_variance, rel=1e-9)
    np.testing.assert_allclose(passed.eigenvalues, whole.eigenvalues, rtol=1e-9)
    np.testing.assert_allclose(passed.mean, whole.mean, atol=1e-12)
    np.testing.assert_allclose(passed.loadings.abs(), whole.loadings.abs(), atol=1e-8)
    xt = torch.as_tensor(x)
    np.testing.assert_allclose(
        ppca.log_likelihood(passed, xt), ppca.log_likelihood(whole, xt), rtol=1e-10
    )


def test_subspace_iteration_finds_the_leading_subspace_of_many_features():
    x = _decaying(400, 60, 1)
    whole = ppca.fit_ppca(torch.as_tensor(x), 4)
    passed = ppca.fit_ppca_passes(_passes(x, 50), 4, gram_features=10)  # forces iteration
    np.testing.assert_allclose(passed.eigenvalues, whole.eigenvalues, rtol=1e-8)
    assert passed.noise_variance == pytest.approx(whole.noise_variance, rel=1e-9)
    np.testing.assert_allclose(passed.loadings.abs(), whole.loadings.abs(), atol=1e-5)


def test_too_many_components_for_the_passes_is_a_value_error():
    with pytest.raises(ValueError, match="n_latent < min"):
        ppca.fit_ppca_passes(_passes(np.ones((3, 5)), 2), 3)


def test_a_streamed_pca_is_the_in_memory_one_without_reading_the_file_whole(tmp_path, monkeypatch):
    x = np.random.default_rng(0).poisson(3.0, size=(500, 30)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    whole = read_dataset(tmp_path / "x.npy")
    est_mem = PCA(n_latent=3, likelihood="gaussian").fit(whole)

    def refuse(*_a, **_k):
        raise AssertionError("the streamed matrix was read whole")

    monkeypatch.setattr(RowStore, "__array__", refuse)
    streamed = read_dataset(tmp_path / "x.npy", stream=True)
    est = PCA(n_latent=3, likelihood="gaussian").fit(streamed)
    z, z_mem = est.transform(streamed), est_mem.transform(whole)
    signs = np.sign(z[0] * z_mem[0])
    np.testing.assert_allclose(z * signs, z_mem, atol=1e-4)
    np.testing.assert_allclose(est.score_samples(streamed), est_mem.score_samples(whole), rtol=1e-6)
    assert est.transform(streamed.subset(np.arange(0))).shape == (0, 3)


def test_the_directions_are_the_covariance_eigenvectors_signed_by_their_largest_entry():
    """An eigenvector's sign is arbitrary, and the in-memory SVD and a streamed fit's
    eigendecomposition picked differently: a model fitted with ``--stream`` gave every record
    minus its in-memory code, and ``sweep --stream --fidelity`` other PCA samples."""
    x = _decaying(300, 12, 2)
    _, vecs = np.linalg.eigh(np.cov(x.T, bias=True))
    u = vecs[:, ::-1][:, :3]
    u = u * np.sign(u[np.abs(u).argmax(0), range(3)])
    fits = (
        ppca.fit_ppca(torch.as_tensor(x), 3),
        ppca.fit_ppca_passes(_passes(x, 64), 3),
        ppca.fit_ppca_passes(_passes(x, 50), 3, gram_features=5),  # subspace iteration
    )
    for fit in fits:
        np.testing.assert_allclose(fit.components.numpy(), u, atol=1e-8)
