"""The estimator class of each model kind, and loading any saved model folder as one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biovae import persistence


def estimator_class(kind: str) -> type:
    """The estimator of model kind ``kind`` (:data:`biovae.config.MODEL_KINDS`)."""
    from biovae.estimator import VAE, Autoencoder
    from biovae.pca_estimator import PCA
    from biovae.ssvae_estimator import SemiSupervisedVAE

    return {"vae": VAE, "ae": Autoencoder, "pca": PCA, "ssvae": SemiSupervisedVAE}[kind]


def load_model(path: str | Path) -> Any:
    """Load any saved biovae model (VAE, Autoencoder, PCA, SemiSupervisedVAE) from its folder."""
    return model_from_saved(persistence.load(path))


def model_from_saved(saved: persistence.SavedModel) -> Any:
    """The estimator of the kind a read model folder holds; a structure model's folder is
    refused (as a bare VAE it would take coordinates not superposed on its reference frame)."""
    from biovae.errors import ConfigError

    if "structure" in saved.metadata:
        raise ConfigError(
            f"{saved.folder or 'this folder'} is a structure model: use 'biovae structure "
            "report|embed|sample|interpolate' with its structure files (in Python: "
            "biovae.structure_estimator.ConformationVAE.load)"
        )
    return estimator_class(saved.config.model.kind).from_saved(saved)
