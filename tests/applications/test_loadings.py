"""Linear decoder (LDVAE) loadings: recovery of a known factor model, and their contract."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

import biovae
from biovae.applications.loadings import loadings, top_features
from biovae.config import DataConfig, FitConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.errors import ConfigError
from biovae.estimator import load_model

K = 3


def simulate(seed: int = 0, n: int = 2000, g: int = 100):
    """NB counts whose gene shares are softmax(W z + b), z ~ N(0, I): an LDVAE with known W."""
    rng = np.random.default_rng(seed)
    w, b = rng.normal(0, 0.8, (g, K)), rng.normal(0, 1, g)
    t = rng.normal(size=(n, K)) @ w.T + b
    h = np.exp(t - t.max(1, keepdims=True))
    h /= h.sum(1, keepdims=True)
    library = np.exp(rng.normal(np.log(3000), 0.3, n))
    x = rng.poisson(rng.gamma(10.0, h * library[:, None] / 10.0)).astype(np.float32)
    return x, w


def _config(epochs: int, decoder: str = "linear", **data) -> FitConfig:
    return FitConfig(
        model=ModelConfig(n_latent=K, network=NetworkConfig(hidden=(64,), decoder=decoder)),
        train=TrainConfig(epochs=epochs, batch_size=128, seed=0),
        data=DataConfig(**data),
    )


@pytest.fixture(scope="module")
def fitted():
    x, w = simulate()
    return x, w, biovae.VAE(likelihood="nb", config=_config(400)).fit(x)


def test_linear_decoder_recovers_the_true_factor_space(fitted):
    x, w, est = fitted
    table = loadings(est)
    assert table.shape == (x.shape[1], K) and list(table.columns) == ["z_1", "z_2", "z_3"]
    np.testing.assert_allclose(table.mean(axis=0), 0.0, atol=1e-9)  # centred: identifiable
    # z is identified up to rotation: compare spans (true W centred over genes, as softmax is)
    angles = np.degrees(sl.subspace_angles(w - w.mean(0), table.to_numpy()))
    assert angles.max() < 4.0, angles
    rng = np.random.default_rng(1)
    assert np.degrees(sl.subspace_angles(w, rng.normal(size=w.shape))).max() > 45  # scale


def test_loadings_survive_save_and_load(fitted, tmp_path):
    _, _, est = fitted
    est.save(tmp_path / "m")
    np.testing.assert_allclose(loadings(load_model(tmp_path / "m")), loadings(est))
    top = top_features(loadings(est), n=5)
    assert set(top) == {"z_1", "z_2", "z_3"} and all(len(a) == len(b) == 5 for a, b in top.values())


def test_covariate_columns_are_not_loadings():
    x, _ = simulate(n=200, g=30)
    batch = np.where(np.arange(len(x)) % 2 == 0, "a", "b")
    cfg = _config(2, categorical_covariates=("batch",))
    est = biovae.VAE(likelihood="nb", config=cfg).fit(x, {"batch": batch})
    assert loadings(est).shape == (30, K)
    assert est.model_.decoder.heads["rho"].linear.weight.shape == (30, K + 2)  # z, one-hot


def test_effective_weight_is_the_head_in_evaluation():
    import torch

    from biovae.nn.decoder import LinearHead

    head = LinearHead(4, 6)
    head.train()
    for _ in range(20):  # running statistics away from their start
        head(torch.randn(64, 4) * 2 + 1)
    with torch.no_grad():
        head.norm.weight.uniform_(0.5, 2.0)
        head.norm.bias.normal_()
    head.eval()
    h = torch.randn(9, 4)
    with torch.no_grad():
        offset = head(h) - h @ head.effective_weight().T
    torch.testing.assert_close(offset, offset[:1].expand_as(offset))  # affine: W_eff, then b


def test_pca_loadings_are_ppca_w():
    x, _ = simulate(n=300, g=20)
    pca = biovae.PCA(n_latent=2, likelihood="gaussian").fit(np.log1p(x))
    w = loadings(pca).to_numpy()
    np.testing.assert_allclose(w, pca.fit_.loadings.numpy())


def test_no_loadings_without_a_linear_decoder():
    x, _ = simulate(n=200, g=30)
    est = biovae.VAE(likelihood="nb", config=_config(1, decoder="mlp")).fit(x)
    with pytest.raises(ConfigError, match="--decoder linear"):
        loadings(est)
    linear = biovae.VAE(likelihood="nb", config=_config(1)).fit(x)
    with pytest.raises(ConfigError, match="no decoder output 'loc'"):
        loadings(linear, output="loc")
    with pytest.raises(ConfigError, match="unfitted"):
        loadings(biovae.VAE(likelihood="nb"))
    with pytest.raises(ConfigError, match=r"network\.decoder must be one of"):
        NetworkConfig(decoder="sparse")


def test_tl_vae_writes_loadings_to_varm():
    anndata = pytest.importorskip("anndata")
    x, _ = simulate(n=200, g=30)
    adata = anndata.AnnData(x)
    est = biovae.tl.vae(adata, n_latent=K, config=_config(2))
    assert adata.varm["X_biovae_loadings"].shape == (30, K)
    np.testing.assert_allclose(adata.varm["X_biovae_loadings"], loadings(est).to_numpy())


def test_tl_map_query_keeps_the_reference_loadings_in_varm():
    anndata = pytest.importorskip("anndata")
    x, _ = simulate(n=200, g=30)
    batch = np.repeat(["a", "b", "c"], [80, 80, 40])
    ref = anndata.AnnData(x[:160], obs={"batch": batch[:160]})
    est = biovae.tl.vae(ref, batch_key="batch", config=_config(2))
    query = anndata.AnnData(x[160:], obs={"batch": batch[160:]})
    mapped = biovae.tl.map_query(query, est, epochs=1)
    np.testing.assert_allclose(query.varm["X_biovae_loadings"], loadings(mapped).to_numpy())
    np.testing.assert_allclose(query.varm["X_biovae_loadings"], ref.varm["X_biovae_loadings"])


def test_only_the_softmax_output_is_centred_by_default():
    import torch

    x, _ = simulate(n=200, g=30)
    est = biovae.VAE(likelihood="zinb", config=_config(2)).fit(x)
    decoder = est.model_.decoder.eval()
    z = torch.randn(5, K)
    with torch.no_grad():
        base = decoder.params(z, None)
        steps = [decoder.params(z + torch.eye(K)[k], None) for k in range(K)]
    # a unit step along z_k moves each gene's zero-inflation logit by its loading
    pi = np.stack([(s["pi_logits"] - base["pi_logits"])[0].double().numpy() for s in steps], 1)
    np.testing.assert_allclose(loadings(est, output="pi_logits"), pi, atol=1e-4)
    # ... and rho by its loading plus a constant per factor, which the softmax ignores
    rho = np.stack([(s["rho"] - base["rho"])[0].double().numpy() for s in steps], 1)
    np.testing.assert_allclose(loadings(est), rho - rho.mean(0), atol=1e-4)
    np.testing.assert_allclose(loadings(est, "rho", centre=False), rho, atol=1e-4)
    centred = loadings(est, output="pi_logits", centre=True)
    np.testing.assert_allclose(centred, pi - pi.mean(0), atol=1e-4)  # on request


def test_a_pca_has_no_decoder_output_to_choose():
    import numpy as np

    import biovae
    from biovae.applications.loadings import loadings
    from biovae.errors import ConfigError

    pca = biovae.PCA(n_latent=2).fit(np.random.default_rng(0).normal(size=(30, 4)))
    assert loadings(pca).shape == (4, 2)
    with pytest.raises(ConfigError, match="no decoder output 'foo'"):
        loadings(pca, output="foo")


def test_a_sequence_model_has_one_loading_per_position_and_letter():
    import torch

    from biovae.data.dataset import Dataset

    codes = np.random.default_rng(0).integers(0, 4, (40, 6)).astype(np.uint8)
    ds = Dataset(codes, [f"s{i}" for i in range(40)], tuple("123456"), {}, alphabet="ACGT-")
    est = biovae.VAE(likelihood="categorical", config=_config(2)).fit(ds)
    table = loadings(est)
    assert table.shape == (6 * 5, K)
    assert list(table.index[:6]) == ["1:A", "1:C", "1:G", "1:T", "1:-", "2:A"]
    decoder = est.model_.decoder.eval()
    z = torch.randn(5, K)
    with torch.no_grad():
        base = decoder.params(z, None)["logits"]
        steps = [decoder.params(z + torch.eye(K)[k], None)["logits"] - base for k in range(K)]
    # a unit step along z_k moves each letter's logit by its loading (position, letter order)
    raw = np.stack([s[0].double().numpy() for s in steps], -1)  # (positions, letters, K)
    centred = (raw - raw.mean(axis=1, keepdims=True)).reshape(-1, K)
    np.testing.assert_allclose(table, centred, atol=1e-4)  # softmax per position: centred
    np.testing.assert_allclose(loadings(est, centre=False), raw.reshape(-1, K), atol=1e-4)
    assert all(len(up) == 5 for up, _ in top_features(table, 5).values())


def test_top_features_keep_positive_and_negative_loadings_apart():
    import pandas as pd

    table = pd.DataFrame({"z_1": [1.0, 2.0, 3.0, -1.0], "z_2": [-2.0, -1.0, -3.0, -0.5]})
    table.index = ["a", "b", "c", "d"]
    top = top_features(table, n=3)
    assert top["z_1"] == (["c", "b", "a"], ["d"])  # 'a' (+1) is not among the negative ones
    assert top["z_2"] == ([], ["c", "a", "b"])
