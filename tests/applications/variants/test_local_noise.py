"""Per-record output-weight noise (local reparameterisation) against its closed form."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from biovae import likelihoods
from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.config import LikelihoodConfig
from biovae.errors import ConfigError
from biovae.nn.family import FamilyDecoder
from tests.applications.variants.test_family import SMALL


def _decoder():
    torch.manual_seed(0)
    lik = likelihoods.build(LikelihoodConfig(name="categorical"), (5,), 4)
    dec = FamilyDecoder(lik, n_latent=2, hidden=(6, 8), rank=3, group=2)
    with torch.no_grad():
        dec.gate.normal_()
        dec.raw_temperature.normal_()
    return dec


def test_local_logits_have_the_mean_and_variance_of_a_weight_draw():
    """logits = softplus(τ_l) Σ_h h_h s_hl Σ_d w_hld D_da + b_la is linear in w ~ N(μ, sd²), so
    its mean is the logits at μ and its variance softplus(τ_l)² Σ_h Σ_d h_h² s_hl² sd_hld² D_da²."""
    dec = _decoder()
    z = torch.randn(3, 2)
    sd = torch.rand_like(dec.w_hld) * 0.5 + 0.1
    with torch.no_grad():
        draws = torch.stack([dec.logits(z, sd) for _ in range(20000)]).double()
        h = torch.sigmoid(dec.trunk(z)).double()
        gate = dec._gate().double()
        var = torch.einsum("nh,hl,hld,da->nla", h**2, gate**2, sd.double() ** 2,
                           dec.dictionary.double() ** 2)  # fmt: skip
        var = var * F.softplus(dec.raw_temperature).double()[:, None] ** 2
        mean = dec.logits(z).double()
    se = (var / len(draws)).sqrt()
    assert ((draws.mean(0) - mean).abs() < 5 * se).all()
    assert torch.allclose(draws.var(0), var, rtol=0.06)
    # records are independent: two rows of the same z do not share their noise
    with torch.no_grad():
        twin = torch.stack([dec.logits(z[:1].repeat(2, 1), sd) for _ in range(2000)])
    corr = np.corrcoef(twin[:, 0, 0, 0].numpy(), twin[:, 1, 0, 0].numpy())[0, 1]
    assert abs(corr) < 0.1


@pytest.fixture(scope="module")
def aln():
    from tests.conftest import FIXTURES

    return read_alignment(FIXTURES / "blat_ecolx_first40.a2m")


def test_local_training_learns_deterministically_and_keeps_the_weight_kl(aln):
    cfg = replace(SMALL, model=replace(SMALL.model, bayesian=True, weight_noise="local"))
    cfg = replace(cfg, train=replace(cfg.train, steps=200))
    fam = family.fit(aln, cfg)
    again = family.fit(aln, cfg)
    a, b = fam.members[0].state_dict(), again.members[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    hist = [h["elbo"] for h in fam.facts["history"][0] if "elbo" in h]
    assert hist[-1] > hist[0]
    model = fam.members[0]
    model.train()  # the training-mode draw skips the output weights but not their KL term
    draws, kl = model.draw_decoder(1.0)
    assert "w_hld" not in draws and kl.item() == pytest.approx(model.weight_kl(1.0).item(), 1e-5)
    model.eval()
    assert np.isfinite(fam.score(["V29A"], 4)["score"]).all()


def test_weight_noise_is_validated():
    with pytest.raises(ConfigError, match="weight_noise"):
        replace(SMALL.model, weight_noise="per-record")
