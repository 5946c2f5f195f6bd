"""The report's latent-usage verdict on a collapsed VAE (KL near zero) follows the collapse
warning's order: a diverged fit is told so with the trainer's remedies, a fit that had not
settled is told to train longer, and only a settled fit gets the collapse remedies."""

from __future__ import annotations

import math
import re
import warnings

import pytest
from tests.conftest import FIXTURES, needs_anndata

from biovae import VAE, latent_usage
from biovae.config import FitConfig, ObjectiveConfig, TrainConfig
from biovae.data.readers import read_dataset
from biovae.reports.sections import usage_section

BETA = 500.0  # so strong a KL weight that the posteriors sit at the prior


@pytest.fixture(scope="module")
def collapsed():
    needs_anndata()
    ds = read_dataset(FIXTURES / "cellbench_100x200.h5ad")
    cfg = FitConfig(objective=ObjectiveConfig(beta=BETA), train=TrainConfig(batch_size=32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", latent_usage.PosteriorCollapseWarning)
        est = VAE(likelihood="poisson", n_latent=2, hidden=(8,), epochs=20, config=cfg).fit(ds)
    return est, ds, est.transform(ds)


def _history(val_losses) -> list[dict]:
    """One row per epoch at the target β; validation loss = val_recon (val_kl 0)."""
    return [
        {"epoch": i + 1, "beta": BETA, "loss": 1.0, "recon": 1.0, "kl": 0.0}
        | {"val_recon": float(v), "val_kl": 0.0, "val_loss": float(v)}
        for i, v in enumerate(val_losses)
    ]


def _verdict(collapsed, history, remedies=None) -> str:
    """The verdict of the fitted model with ``history`` (``remedies``: a command's other than
    ``biovae fit``'s, the default)."""
    est, ds, z = collapsed
    est.history_ = history
    other = {} if remedies is None else {"remedies": remedies}
    section = usage_section(est, ds, z, **other)
    kl = float(re.search(r"in total ([0-9.]+) nats per record", section.lead).group(1))
    assert kl <= 0.1 * 2  # the near-zero KL case (none active, posteriors at the prior)
    return section.verdict


def test_a_diverged_collapsed_fit_is_told_it_diverged(collapsed):
    history = _history([math.nan] * 8)
    verdict = _verdict(collapsed, history)
    bad = latent_usage.diverged(history, collapsed[0].config_)
    assert bad.startswith("training diverged: its validation loss was not finite")
    assert verdict.endswith(f"latent space; {bad}.")
    assert "collapsed" not in verdict and "β" not in verdict


def test_a_collapsed_fit_still_improving_is_told_to_train_longer(collapsed):
    verdict = _verdict(collapsed, _history([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0]))
    assert "its posteriors sit at the prior after only 8 epochs, its validation loss still " in (
        verdict
    )
    assert "refit with more --epochs (Python: epochs= or TrainConfig epochs)" in verdict
    assert "--beta" not in verdict and "collapsed" not in verdict


def test_a_settled_collapsed_fit_gets_the_collapse_remedies(collapsed):
    verdict = _verdict(collapsed, _history([5.0] * 8))
    assert verdict.endswith(
        f"the posterior has collapsed to the prior. {latent_usage.FIT_REMEDIES.elbo}."
    )


def test_a_structure_fit_is_offered_the_structure_commands_remedies(collapsed):
    verdict = _verdict(collapsed, _history([math.nan] * 8), latent_usage.STRUCTURE_REMEDIES)
    assert latent_usage.STRUCTURE_REMEDIES.diverged in verdict
    assert latent_usage.FIT_REMEDIES.diverged not in verdict
    settled = _verdict(collapsed, _history([5.0] * 8), latent_usage.STRUCTURE_REMEDIES)
    assert settled.endswith(f"{latent_usage.STRUCTURE_REMEDIES.elbo}.")
