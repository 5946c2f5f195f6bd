"""The collapse verdict's remedies fit the model's objective: training on the IWAE-k bound
refuses β, KL warm-up and free bits (the bound has no KL term), so `biovae diagnose` must not
offer them as they are to such a model."""

from __future__ import annotations

from biovae.config import FitConfig, ObjectiveConfig
from biovae.diagnostics.collapse import _remedies


def test_an_iwae_trained_model_is_told_its_bound_has_no_kl_term_to_weigh():
    iwae = _remedies(FitConfig(objective=ObjectiveConfig(iwae_samples=5)), n_active=0)
    text = " | ".join(iwae)
    assert "IWAE-5 bound" in text and "--iwae-samples 1" in text
    assert not any(r.startswith(("KL warm-up", "free bits", "lower β")) for r in iwae)


def test_an_elbo_trained_model_keeps_the_elbo_levers():
    elbo = _remedies(FitConfig(objective=ObjectiveConfig(beta=4.0)), n_active=0)
    assert [r.split(" ")[0] for r in elbo[:3]] == ["lower", "KL", "free"]
    assert not any("IWAE" in r for r in elbo)
