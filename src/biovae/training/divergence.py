"""What to try when training diverges (its loss became NaN or ±∞): the one home of the
remedies, worded for the command at hand, and the error of such a fit."""

from __future__ import annotations

from biovae.errors import TrainingError
from biovae.setting_names import Wording, setting

#: what else than the learning rate ``biovae fit``'s users can change against a divergence
FIT_DIVERGED = (
    f"standardise extreme inputs, or pick a likelihood that fits the data "
    f"{setting('model.likelihood.name')}"
)


def divergence_remedies(others: str = FIT_DIVERGED) -> str:
    """What to try when training diverges (a loss not finite): the one wording of the error of
    a fit whose loss became NaN or ±∞ and of the verdict on a history whose loss was not finite
    (:func:`biovae.latent_usage.diverged`); ``others``: what else than the learning rate the
    command's users can change (:attr:`~biovae.setting_names.Wording.diverged`)."""
    return f"lower the learning rate {setting('train.lr')}, {others}"


class Diverged(TrainingError):
    """A fit whose loss became NaN or ±∞ (``what``), with :func:`divergence_remedies`."""

    def __init__(self, what: str, others: str = FIT_DIVERGED):
        self.what = what
        super().__init__(f"{what}; {divergence_remedies(others)}")

    def reworded(self, wording: Wording) -> Diverged:
        """The same error with the remedies of another command (``wording.diverged``)."""
        return Diverged(self.what, wording.diverged)
