"""Semi-supervised VAE: its objective against closed forms, and a separable toy label."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from biovae import SemiSupervisedVAE, likelihoods
from biovae.config import (
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.data.dataset import Dataset
from biovae.likelihoods.base import positive
from biovae.models.semisupervised import SemiSupervisedVAE as Model
from biovae.objectives import Batch, iwae_bound, log_weights


def small_model(n_classes: int = 3) -> Model:
    torch.manual_seed(0)
    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0))
    lik = likelihoods.build(LikelihoodConfig("gaussian"), (4,))
    return Model(lik, 0, n_classes, cfg).eval()


def test_kl_terms_match_torch_and_the_label_entropy():
    model = small_model()
    x = torch.randn(5, 4)
    qz = model.encode(x)
    kl = model.kl_per_class(qz)
    for y in range(3):
        prior = Normal(model.class_means[y], torch.ones(2))
        ref = kl_divergence(qz.base_dist, prior)
        torch.testing.assert_close(kl[:, y], ref)
    # a labelled record's rate is KL to its class prior + log C (uniform p(y))
    obj = ObjectiveConfig(classification_weight=0.0)
    torch.manual_seed(1)
    out = model.loss(Batch(x, y=torch.tensor([0, 1, 2, 0, 1])), obj)
    expected = kl[torch.arange(5), torch.tensor([0, 1, 2, 0, 1])].sum(-1) + math.log(3)
    torch.testing.assert_close(out.kl_n, expected.detach())


def test_unlabelled_rate_is_expected_kl_plus_kl_of_q_y():
    model = small_model()
    x = torch.randn(6, 4)
    torch.manual_seed(2)
    out = model.loss(Batch(x, y=torch.full((6,), -1)), ObjectiveConfig())
    torch.manual_seed(2)
    qz = model.encode(x)
    q_y = model.classify(qz.rsample()).probs
    kl = model.kl_per_class(qz).sum(-1)
    expected = (q_y * kl).sum(-1) + (q_y * torch.log(q_y * 3)).sum(-1)
    torch.testing.assert_close(out.kl_n, expected.detach(), rtol=1e-5, atol=1e-5)


def test_learns_a_separable_label_from_few_labels():
    rng = np.random.default_rng(0)
    n = 240
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    x[:, :3] += 2.5 * (2 * y[:, None] - 1)
    names = np.array(["healthy", "sick"], dtype=object)[y]
    shown = np.where(rng.random(n) < 0.2, names, "unknown").astype(object)
    ds = Dataset(x, [f"r{i}" for i in range(n)], [f"f{j}" for j in range(6)], {"lab": shown})
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(16,), dropout=0.0)),
        train=TrainConfig(epochs=40, batch_size=32, seed=0, patience=0),
    )
    est = SemiSupervisedVAE(labels_key="lab", config=cfg).fit(ds)
    hidden = shown == "unknown"
    predicted = est.predict(ds)
    accuracy = float((predicted[hidden] == names[hidden]).mean())
    assert accuracy > 0.95


def test_a_class_whose_few_labels_fall_in_the_validation_split_is_still_learned():
    from biovae.fit_inputs import validation_split

    rng = np.random.default_rng(0)
    n = 240
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 6)).astype(np.float32)
    x[np.arange(n), y] += 4.0
    names = np.array(["a", "b", "c"], dtype=object)[y]
    shown = np.where(rng.random(n) < 0.2, names, "unknown").astype(object)
    shown[names == "c"] = "unknown"
    _, val = validation_split(n, 0.1, 0)  # both labels of class c drawn for validation
    shown[[i for i in val.tolist() if names[i] == "c"][:2]] = "c"
    ds = Dataset(x, [f"r{i}" for i in range(n)], [f"f{j}" for j in range(6)], {"lab": shown})
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(16,), dropout=0.0)),
        train=TrainConfig(epochs=60, batch_size=32, lr=0.01, seed=0, patience=0),
    )
    est = SemiSupervisedVAE(labels_key="lab", config=cfg).fit(ds)
    hidden_c = (shown == "unknown") & (names == "c")
    assert float((est.predict(ds)[hidden_c] == "c").mean()) > 0.5  # was 0: never trained on
    assert est.n_validation_ == len(val) - 1


def test_clr_classifier_features_against_the_definition():
    from biovae.models.semisupervised import CLR_PSEUDOCOUNT, clr

    x = torch.tensor([[0.5, 0.3, 0.2, 0.0], [10.0, 0.0, 5.0, 5.0]])
    p = x / x.sum(1, keepdim=True)
    log_p = torch.log(p + CLR_PSEUDOCOUNT)
    torch.testing.assert_close(clr(x), log_p - log_p.mean(1, keepdim=True))
    torch.testing.assert_close(clr(7 * x), clr(x))  # invariant to the record's total
    torch.testing.assert_close(clr(x).sum(1), torch.zeros(2), atol=1e-5, rtol=0)


def test_early_stopping_on_the_classification_loss_restores_its_best_epoch():
    from biovae.training import InMemorySource, fit_model
    from biovae.training.loop import evaluate

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (120,), generator=gen)
    x = torch.randn(120, 4, generator=gen) + 1.0 * y[:, None]
    y_shown = torch.where(torch.rand(120, generator=gen) < 0.5, y, -1)
    cfg = ModelConfig(
        n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0), classifier_input="x"
    )
    model = Model(likelihoods.build(LikelihoodConfig("gaussian"), (4,)), 0, 2, cfg)
    train, val = InMemorySource(x[:90], y=y_shown[:90]), InMemorySource(x[90:], y=y[90:])
    obj = ObjectiveConfig()
    history = fit_model(
        model, train, val, obj,
        TrainConfig(epochs=25, batch_size=30, lr=3e-2, patience=0, early_stopping="classification"),
        progress=False,
    )  # fmt: skip
    curve = [h["val_classification"] for h in history]
    assert np.argmin(curve) < len(curve) - 1  # lr 3e-2 overfits: the best epoch is not the last
    # q(y|x) reads x, so the validation classification loss is deterministic
    assert evaluate(model, val, obj, 0)["classification"] == pytest.approx(min(curve), rel=1e-6)


def test_early_stopping_on_classification_needs_labels():
    from biovae.errors import TrainingError
    from biovae.training import InMemorySource, fit_model

    model = small_model()
    src = InMemorySource(torch.randn(20, 4), y=torch.full((20,), -1))
    train = TrainConfig(epochs=2, early_stopping="classification")
    with pytest.raises(TrainingError, match="early_stopping"):
        fit_model(model, src, src, ObjectiveConfig(), train, progress=False)


def _hand_terms(model: Model, x: torch.Tensor, seed: int):
    """−E_q log p(x|z), the per-class KL per dimension (n, C, k) and log q(y|z) from the same
    draw of z as model.loss with ``seed``, computed from torch's own distributions."""
    torch.manual_seed(seed)
    qz = model.encode(x)
    z = qz.rsample()
    recon = -model.decode(z).log_prob(x)
    kl_nck = torch.stack(
        [kl_divergence(qz.base_dist, Normal(model.class_means[c], 1.0)) for c in range(3)], 1
    )
    log_q = torch.log_softmax(model.classifier[1](model.classifier[0](z, None)), -1)
    return recon, kl_nck, log_q


def test_free_bits_clamp_the_batch_mean_kl_of_z_per_dimension():
    model = small_model()
    x = torch.randn(6, 4)
    y = torch.tensor([0, 2, -1, 1, -1, -1])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 1.5])
    lab = y >= 0
    recon, kl_nck, log_q = _hand_terms(model, x, seed=3)
    resp = torch.where(lab[:, None], torch.nn.functional.one_hot(y.clamp_min(0), 3), log_q.exp())
    kl_nk = (resp[:, :, None] * kl_nck).sum(1)
    kl_y = (resp * torch.log(3 * resp.clamp_min(1e-30))).sum(-1)
    wmean = lambda v: (v * w.reshape(-1, *[1] * (v.dim() - 1))).sum(0) / w.sum()  # noqa: E731
    # λ between the two dimensions' batch means: one is clamped, the other is not
    lam = float(wmean(kl_nk).detach().mean())
    assert wmean(kl_nk).min() < lam < wmean(kl_nk).max()
    obj = ObjectiveConfig(free_bits=lam, beta=0.7, classification_weight=0.0)
    torch.manual_seed(3)
    out = model.loss(Batch(x, y=y, w=w), obj)
    rate = wmean(kl_nk).clamp_min(lam).sum() + wmean(kl_y)
    torch.testing.assert_close(out.loss, wmean(recon) + 0.7 * rate)
    # the reported ELBO keeps no free bits
    torch.testing.assert_close(out.elbo_n, -(recon + kl_nk.sum(-1) + kl_y).detach())
    torch.manual_seed(3)
    plain = model.loss(Batch(x, y=y, w=w), ObjectiveConfig(beta=0.7, classification_weight=0.0))
    torch.testing.assert_close(plain.loss, wmean(recon) + 0.7 * wmean(kl_nk.sum(-1) + kl_y))
    assert out.loss > plain.loss


def test_classification_term_weighs_labelled_records_by_their_weight():
    model = small_model()
    x = torch.randn(6, 4)
    y = torch.tensor([0, 2, -1, 1, -1, 2])
    w = torch.tensor([1.0, 2.0, 0.5, 0.0, 3.0, 1.5])
    _, _, log_q = _hand_terms(model, x, seed=4)
    lab = torch.tensor([0, 1, 5])  # the labelled records of positive weight
    expected = -(w[lab] * log_q[lab, y[lab]]).sum() / w[lab].sum()
    torch.manual_seed(4)
    out = model.loss(Batch(x, y=y, w=w), ObjectiveConfig())
    torch.testing.assert_close(out.extras["classification"], expected.detach())
    torch.testing.assert_close(out.extras["labelled"], w[lab].sum())
    # labelled records of weight 0 only: no classification term (and no division by zero)
    torch.manual_seed(4)
    none = model.loss(Batch(x, y=y, w=torch.tensor([0.0, 0, 1, 0, 1, 0])), ObjectiveConfig())
    assert float(none.extras["classification"]) == 0.0 and float(none.extras["labelled"]) == 0.0


def test_labelled_records_of_weight_zero_have_no_influence_on_the_fit():
    rng = np.random.default_rng(1)
    n = 80
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    x[:, :3] += 2.0 * (2 * y[:, None] - 1)
    names = np.array(["a", "b"], dtype=object)[y]
    shown = np.where(np.arange(n) < 30, names, "unknown").astype(object)
    hidden = shown.copy()
    hidden[:10] = "unknown"  # the same records as unlabelled
    w = np.ones(n)
    w[:10] = 0.0
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,), dropout=0.0)),
        train=TrainConfig(epochs=3, batch_size=16, seed=0, patience=0),
    )
    probs = []
    for lab in (shown, hidden):
        ds = Dataset(x, [f"r{i}" for i in range(n)], [f"f{j}" for j in range(6)], {"lab": lab})
        est = SemiSupervisedVAE(labels_key="lab", config=cfg).fit(ds, sample_weight=w)
        probs.append(est.predict_proba(ds))
    np.testing.assert_array_equal(probs[0], probs[1])


def test_log_weights_use_the_mixture_prior_and_reach_the_exact_log_likelihood():
    """With a linear-Gaussian decoder, p(x) = Σ_y N(x; W μ_y + b, W Wᵀ + diag σ²) / C in
    closed form; importance sampling from a broad proposal through the model's log weights
    (log p(x|z) + log p(z) − log q(z), p(z) the marginal mixture prior) recovers it."""
    torch.manual_seed(0)
    cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(), dropout=0.0, norm="none"))
    model = Model(likelihoods.build(LikelihoodConfig("gaussian"), (4,)), 0, 3, cfg).eval()
    x = torch.randn(5, 4, dtype=torch.float64)
    model.double()
    head = model.decoder.heads["loc"]
    w, b = head.weight.detach(), head.bias.detach()
    cov = w @ w.T + torch.diag(positive(model.decoder.shared["scale"].detach()) ** 2)
    exact = torch.stack(
        [MultivariateNormal(w @ mu + b, cov).log_prob(x) for mu in model.class_means.detach()]
    ).logsumexp(0) - math.log(3)
    proposal = Independent(Normal(torch.zeros(5, 2, dtype=torch.float64), 1.5), 1)
    torch.manual_seed(1)
    with torch.no_grad():
        estimate = iwae_bound(log_weights(model, Batch(x), proposal, 100_000))
    torch.testing.assert_close(estimate, exact, rtol=0, atol=0.03)  # ≈ 5 standard errors


@pytest.mark.parametrize("validation_fraction", [0.0, 0.2])
def test_early_stopping_on_classification_of_an_unlabelled_vae_is_refused_before_training(
    validation_fraction,
):
    """A plain VAE has no classifier: without a validation split the setting was silently
    ignored, with one it failed only after the first epoch had trained."""
    from biovae import VAE
    from biovae.config import FitConfig
    from biovae.errors import ConfigError

    cfg = FitConfig(
        train=TrainConfig(
            epochs=2, early_stopping="classification", validation_fraction=validation_fraction
        )
    )
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    with pytest.raises(ConfigError, match="semi-supervised VAE's classifier"):
        VAE(likelihood="gaussian", config=cfg).fit(x)
