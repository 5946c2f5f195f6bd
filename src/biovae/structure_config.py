"""Default settings of a conformational VAE (:mod:`biovae.structure_estimator`), kept apart
from the estimator so that the command line can show them without importing the model stack."""

from __future__ import annotations

from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, NetworkConfig, TrainConfig
from biovae.setting_names import Wording, settings

__all__ = ["MAY_CHANGE", "STRUCTURE_DEFAULTS", "STRUCTURE_WORDING"]

#: what a resumed structure fit may change (``biovae structure fit``'s flags, the Python names:
#: ConformationVAE's keywords are ``loss``, ``config`` and ``progress``, so its ``config``'s fields)
MAY_CHANGE = settings("train.epochs", "train.device", "train.checkpoint_every", keywords={})

#: how the errors of the shared training code name ``biovae structure fit``'s settings: its
#: Python names are ``config``'s fields (no ``epochs=`` keyword), its loss is picked by --loss
STRUCTURE_WORDING = Wording(
    may_change=MAY_CHANGE,
    diverged="or try the other loss, --loss mse or --loss geometry (loss='mse' or 'geometry')",
    keywords={},
)

#: Defaults for structure ensembles (tens to hundreds of frames, hundreds of coordinates).
STRUCTURE_DEFAULTS = FitConfig(
    model=ModelConfig(
        n_latent=2,
        likelihood=LikelihoodConfig(variance="shared"),
        network=NetworkConfig(hidden=(256, 128), dropout=0.0),
    ),
    train=TrainConfig(epochs=300, batch_size=16, lr=2e-3, patience=0, validation_fraction=0.0),
)
