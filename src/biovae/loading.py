"""The estimator class of each model kind, and loading any saved model folder as one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biovae import persistence
from biovae.config import FitConfig, ModelConfig, kind_name
from biovae.errors import ConfigError


def estimator_class(kind: str) -> type:
    """The estimator of model kind ``kind`` (:data:`biovae.config.MODEL_KINDS`)."""
    from biovae.estimator import VAE, Autoencoder
    from biovae.pca_estimator import PCA
    from biovae.ssvae_estimator import SemiSupervisedVAE

    return {"vae": VAE, "ae": Autoencoder, "pca": PCA, "ssvae": SemiSupervisedVAE}[kind]


def check_kind(config: FitConfig, kind: str) -> FitConfig:
    """``config`` for the estimator of model ``kind``, refused (a ConfigError) when its
    ``model.kind`` names another kind: that estimator would train its own kind unseen, not the
    model the config names. The default kind (``vae``, what ``FitConfig()`` holds) is taken as
    naming none."""
    given = config.model.kind
    if given in (kind, ModelConfig().kind):
        return config
    own, other = estimator_class(kind).__name__, estimator_class(given).__name__
    raise ConfigError(
        f"config.model.kind is {given!r} but biovae.{own} fits a {kind_name(kind)}; fit this "
        f"config with biovae.{other}, or set model.kind = {kind!r}"
    )


def load_model(path: str | Path) -> Any:
    """Load any saved biovae model (VAE, Autoencoder, PCA, SemiSupervisedVAE) from its folder."""
    return model_from_saved(persistence.load(path))


def model_from_saved(saved: persistence.SavedModel) -> Any:
    """The estimator of the kind a read model folder holds; a structure model's folder is
    refused (as a bare VAE it would take coordinates not superposed on its reference frame)."""
    if "structure" in saved.metadata:
        raise ConfigError(
            f"{saved.folder or 'this folder'} is a structure model: use 'biovae structure "
            "report|embed|sample|interpolate' with its structure files (in Python: "
            "biovae.structure_estimator.ConformationVAE.load)"
        )
    return estimator_class(saved.config.model.kind).from_saved(saved)
