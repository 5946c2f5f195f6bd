"""Fit flags a model kind never reads (PCA, the autoencoder, label settings of a VAE): refused,
not silently ignored."""

from __future__ import annotations

import argparse

from biovae.cli.options import FIT_OPTIONS
from biovae.errors import ConfigError

#: Config fields a model kind never reads (prefixes end in "."): flags that set them are
#: refused rather than silently ignored. PCA is fitted in closed form on the features alone;
#: an autoencoder has no KL term.
IDLE_FIELDS = {
    "pca": (
        "model.network.",
        "model.classifier_input",
        "model.likelihood.dispersion",
        "model.likelihood.variance",
        "objective.",
        "train.",
        "data.categorical_covariates",
        "data.continuous_covariates",
        "data.batch_key",
        "data.labels_key",
        "data.unlabeled_category",
    ),
    "ae": (
        "objective.beta",
        "objective.kl_warmup_epochs",
        "objective.free_bits",
        "objective.iwae_samples",
    ),
}
_WHY = {"pca": "fitted in closed form, without covariates", "ae": "it has no KL term"}
#: Fields only the semi-supervised VAE reads: the VAE and the autoencoder have no labels.
LABEL_FIELDS = (
    "model.classifier_input",
    "objective.classification_weight",
    "data.unlabeled_category",
)


def refuse_idle_flags(args: argparse.Namespace, kind: str) -> None:
    """A one-line ConfigError for an explicit flag that model ``kind`` would ignore."""
    idle = IDLE_FIELDS.get(kind, ())
    if getattr(args, "resume", False) and "train." in idle:  # nothing trains, nothing resumes
        raise ConfigError(f"--resume has no effect on --model {kind} ({_WHY[kind]}); leave it out")
    for opt in FIT_OPTIONS:
        if getattr(args, "cfg__" + opt.field.replace(".", "__"), None) is None:
            continue
        if kind in ("vae", "ae") and opt.field in LABEL_FIELDS:
            raise ConfigError(
                f"{opt.flag} has no effect on --model {kind} (it has no labels); use "
                "--model ssvae with --labels-key, or leave it out"
            )
        if any(opt.field == f or (f.endswith(".") and opt.field.startswith(f)) for f in idle):
            raise ConfigError(
                f"{opt.flag} has no effect on --model {kind} ({_WHY[kind]}); leave it out"
            )
