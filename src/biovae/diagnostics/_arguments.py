"""Checks of the arguments of the model-level diagnostics: a wrong one is one clear line."""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.errors import ConfigError


def check_latent_model(model: Any, what: str) -> None:
    """A :class:`~biovae.errors.ConfigError` unless ``model`` is a VAE's network (a model with
    a posterior q(z|x)). ``what`` names the diagnostic in the message."""
    if not callable(getattr(model, "encode", None)):  # e.g. the estimator itself
        raise ConfigError(
            f"{what} takes a fitted VAE's network and batches, not a {type(model).__name__}: "
            "pass est.model_ and est.batches(data), or call biovae.diagnose.diagnose(est, data) "
            "for every diagnostic at once"
        )
    if not getattr(model, "stochastic", True):
        raise ConfigError(
            f"{what} needs a VAE: this model has a deterministic encoder (an autoencoder) "
            "and no posterior q(z|x) to draw from"
        )


def check_count(name: str, value: Any, low: int) -> None:
    """A :class:`~biovae.errors.ConfigError` unless ``value`` is a whole number >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be a whole number >= {low}, not {value!r}")
