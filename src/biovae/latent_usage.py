"""How many latent dimensions a freshly fitted model uses, and the warning ``fit`` gives when
it uses none (posterior collapse: the map carries almost no information about the records).

Measured once, after training, as ``biovae diagnose`` measures active units
(:func:`biovae.diagnostics.active_dimensions`), in one encoder pass without gradients over the
validation records the fit held out, or the first training records when fewer than 2 were held
out; at most :data:`MAX_RECORDS` of them. The records are the fit's own, already checked (and
their caveats already told): they are not read or checked again. Nothing here touches the
weights or the training computation.

A collapse is told with the remedies of the command that fitted the model (``remedies``:
:data:`FIT_REMEDIES`, :data:`STRUCTURE_REMEDIES`) that apply to its objective (the IWAE bound
refuses β, KL warm-up and free bits), or, when the fit ended before it settled
(:func:`unsettled`), with the advice to train longer: a VAE's codes often first shrink to the
prior and only later grow as its decoder learns to use them. A fit whose loss was not finite
(NaN or ±∞) in most epochs (:func:`diverged`) is told so instead, with the trainer's remedies
for a diverged fit: more epochs would not mend it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from biovae.errors import warn_at_caller
from biovae.structure_config import STRUCTURE_WORDING
from biovae.training.divergence import FIT_DIVERGED, divergence_remedies
from biovae.training.history import MIN_TREND_EPOCHS, LossTrend, loss_trend, unfinished_warmup

#: the most records the check encodes (one pass, no gradients)
MAX_RECORDS = 2000


@dataclass(frozen=True)
class Remedies:
    """What a command that fits models offers against a collapse: ``elbo``, for a fit on the
    ELBO, and ``iwae``, for a fit on the IWAE-k bound (``objective.iwae_samples`` > 1), which
    has no KL term, so training refuses β, KL warm-up and free bits with it; ``diverged``, what
    else than the learning rate to try for a fit whose loss was not finite (:func:`diverged`);
    ``longer``, how to train for more epochs."""

    elbo: str
    iwae: str
    diverged: str = FIT_DIVERGED
    longer: str = "more --epochs (Python: epochs= or TrainConfig epochs)"

    def of(self, objective: Any) -> str:
        """The remedies that apply to a fit under ``objective`` (an ``ObjectiveConfig``)."""
        return self.iwae if objective.iwae_samples > 1 else self.elbo


_ELBO_REMEDIES = (
    "a smaller β (--beta, e.g. 0.5), KL warm-up (--kl-warmup 50) or free bits (--free-bits 0.1)"
)
#: the IWAE bound refuses β, warm-up and free bits: fewer dimensions, or the ELBO with them
_IWAE_REMEDIES = (
    "fewer latent dimensions (--latent), or on the ELBO (--iwae-samples 1; the IWAE bound has "
    "no KL term to weigh) with " + _ELBO_REMEDIES
)
#: what ``biovae fit`` and :class:`biovae.VAE` offer against a collapse
FIT_REMEDIES = Remedies(
    elbo=f"See biovae diagnose MODEL DATA; refit with {_ELBO_REMEDIES}, or use --model pca "
    "(Python: beta=, ObjectiveConfig kl_warmup_epochs / free_bits, biovae.PCA)",
    iwae=f"See biovae diagnose MODEL DATA; refit with {_IWAE_REMEDIES}, or use --model pca "
    "(Python: n_latent=, ObjectiveConfig iwae_samples=1 with beta / kl_warmup_epochs / "
    "free_bits, biovae.PCA)",
)
#: what ``biovae structure fit`` offers (no --model, and biovae diagnose reads no structures)
STRUCTURE_REMEDIES = Remedies(
    elbo="See the latent usage in biovae structure report MODEL STRUCTURES --out HTML; refit "
    f"with {_ELBO_REMEDIES} (Python: ConformationVAE(config=...) with ObjectiveConfig beta / "
    "kl_warmup_epochs / free_bits)",
    iwae="See the latent usage in biovae structure report MODEL STRUCTURES --out HTML; refit "
    f"with {_IWAE_REMEDIES} (Python: ConformationVAE(config=...) with ModelConfig n_latent, "
    "or ObjectiveConfig iwae_samples=1 with beta / kl_warmup_epochs / free_bits)",
    diverged=STRUCTURE_WORDING.diverged,
    longer="more --epochs (Python: ConformationVAE(config=...) with TrainConfig epochs)",
)
#: where a model card's "Latent usage" row points for more: ``biovae fit``'s models, and
#: ``biovae structure fit``'s (which biovae diagnose refuses)
FIT_USAGE_MORE = "; biovae diagnose measures more"
STRUCTURE_USAGE_MORE = (
    "; biovae structure report MODEL STRUCTURES shows each dimension's activity and KL"
)


class PosteriorCollapseWarning(UserWarning):
    """A fitted model none of whose latent dimensions is active."""


def latent_usage(est: Any, source: Any, train_idx: Any, val_idx: Any) -> dict[str, Any] | None:
    """Active units of the fitted ``est`` on records of ``source`` (the fit's
    :class:`~biovae.training.BatchSource` of all records; ``train_idx``/``val_idx``: its sorted
    training and validation indices): ``{"n_active", "n_latent", "records",
    "split", "threshold"}``, or None where it is not measured (a plain autoencoder has no prior
    to collapse to; fewer than 2 records have no variance)."""
    if not est.model_.stochastic:
        return None
    return measured(lambda idx: est._posterior_means(source.subset(idx)), train_idx, val_idx)


def measured(
    means_of: Callable[[Any], np.ndarray], train_idx: Any, val_idx: Any
) -> dict[str, Any] | None:
    """:func:`latent_usage` of any model whose posterior means E_q[z|x] of the records at
    indices ``idx`` are ``means_of(idx)`` (n, k): measured on ``val_idx`` when it holds at
    least 2 records, else on ``train_idx``; None when neither does."""
    from biovae.diagnostics import ACTIVE_THRESHOLD, active_dimensions

    held_out = len(val_idx) >= 2
    idx = (val_idx if held_out else train_idx)[:MAX_RECORDS]
    if len(idx) < 2:
        return None
    active, _ = active_dimensions(means_of(idx))
    return {
        "n_active": int(active.sum()),
        "n_latent": len(active),
        "records": len(idx),
        "split": "validation" if held_out else "training",
        "threshold": ACTIVE_THRESHOLD,
    }


def warn_if_collapsed(est: Any, remedies: Remedies = FIT_REMEDIES) -> None:
    """Warn (once, at the user's line) when the fitted ``est``'s ``latent_usage_`` has no
    active dimension, with those of ``remedies`` that apply to its objective, the advice to
    train longer where its fit had not settled (:func:`unsettled`), or the remedies for a
    diverged fit where its loss was not finite (:func:`diverged`)."""
    usage = getattr(est, "latent_usage_", None)
    if usage and usage["n_active"] == 0:
        history = list(getattr(est, "history_", []) or [])
        bad = diverged(history, est.config_, remedies.diverged)
        ended = "" if bad else unsettled(history, est.config_)
        text = remedies.of(est.config_.objective)
        message = collapse_message(usage, text, ended, bad, remedies.longer)
        warn_at_caller(message, PosteriorCollapseWarning)


def _trend(history: Sequence[dict], config: Any) -> LossTrend:
    """The loss trend of ``history`` under ``config`` (the loss it trained: :func:`loss_trend`)."""
    objective = config.objective
    metric = config.train.early_stopping
    return loss_trend(history, objective.beta, metric, free_bits=objective.free_bits)


def diverged(history: Sequence[dict], config: Any, others: str = FIT_DIVERGED) -> str:
    """``"training diverged: its validation loss was not finite (NaN or ∞) in 8 of 8 epochs;
    lower the learning rate ..."`` (the trainer's remedies, :func:`~biovae.training.divergence.
    divergence_remedies`) where the loss :func:`unsettled` reads was not finite in so many
    epochs of ``history`` that its trend says nothing (:attr:`LossTrend.diverged`), else ``""``;
    ``others``: the command's remedies besides the learning rate (:attr:`Remedies.diverged`).
    """
    trend = _trend(history, config) if history else None
    if trend is None or not trend.diverged:
        return ""
    counted = trend.left_out + trend.read
    return (
        f"training diverged: its {trend.split} loss was not finite (NaN or ∞) in "
        f"{trend.left_out} of {counted} epochs; {divergence_remedies(others)}"
    )


def unsettled(history: Sequence[dict], config: Any) -> str:
    """How the fit of ``history`` (one row per epoch) under ``config`` (a
    :class:`~biovae.config.FitConfig`) ended before it settled (``"after only 30 epochs, its
    validation loss still falling (down 0.52 % over its last 6 epochs)"``), or ``""`` when it
    settled: it ended in its KL warm-up (its last epoch trained below the target β), its loss
    was still falling by the trend rule of :func:`~biovae.training.history.loss_trend`, or it
    ran fewer epochs than that rule can read (too few to tell). Epochs whose loss was not finite
    are left out of the trend and counted in its words; a loss not finite in most epochs is
    :func:`diverged`'s to tell (``""`` here: more epochs would not mend it)."""
    if not history:
        return ""
    n, beta, last = len(history), config.objective.beta, history[-1]
    epochs = f"after only {n} epoch{'s' * (n != 1)}"
    trend = _trend(history, config)
    if trend.diverged:
        return ""
    if unfinished_warmup(history, beta):
        return f"{epochs}, in its KL warm-up (β {last['beta']:.3g} of {beta:g})"
    if trend.falling is None:
        return (
            f"{epochs}, too few to tell whether its {trend.split} loss had settled (its "
            f"trend needs {MIN_TREND_EPOCHS})"
        )
    if not trend.falling:
        return ""
    skipped = (
        f"; {trend.left_out} of {n} epochs left out, their loss not finite"
        if trend.left_out
        else ""
    )
    return (
        f"{epochs}, its {trend.split} loss still falling (down {_fall(trend)} over its last "
        f"{trend.epochs} epochs{skipped})"
    )


def collapse_message(
    usage: dict[str, Any],
    remedies: str = FIT_REMEDIES.elbo,
    ended: str = "",
    bad: str = "",
    longer: str = FIT_REMEDIES.longer,
) -> str:
    """The one-line warning of a model none of whose latent dimensions is active: with
    ``remedies``, for a fit that ``ended`` before it settled (:func:`unsettled`) the advice to
    train longer (``longer``: how), or, for one whose loss was not finite (``bad``:
    :func:`diverged`), that."""
    head = (
        f"posterior collapse: 0 of {usage['n_latent']} latent dimensions active (variance of "
        f"the posterior mean E_q[z_k] over {usage['records']:,} {usage['split']} records "
        f"≤ {usage['threshold']:g} in every dimension)"
    )
    advice = collapse_remedy(remedies, ended, bad, longer)
    if bad:
        return f"{head}; {advice}"
    if ended:
        return f"{head} {advice}"
    return f"{head}; the map carries almost no information about the records. {advice}"


def collapse_remedy(
    remedies: str = FIT_REMEDIES.elbo,
    ended: str = "",
    bad: str = "",
    longer: str = FIT_REMEDIES.longer,
) -> str:
    """What to do about a collapse, in this order: for a fit whose loss was not finite
    (``bad``: :func:`diverged`), that with the trainer's remedies (more epochs would not mend
    it); for one that ``ended`` before it settled (:func:`unsettled`), how it ended and the
    advice to train longer (``longer``: how); else ``remedies`` (:meth:`Remedies.of`)."""
    if bad:
        return bad
    if ended:
        return (
            f"{ended}; longer fits often recover (a VAE's codes often first shrink to the "
            f"prior, then grow as its decoder learns to use them): refit with {longer} before "
            "changing the model"
        )
    return remedies


def usage_text(usage: dict[str, Any], more: str = FIT_USAGE_MORE) -> str:
    """A model card's words for ``usage`` (:func:`measured`); ``more``: where to look further."""
    k, n = usage["n_latent"], usage["n_active"]
    text = (
        f"{n} of {k} latent dimensions active at the end of training (variance of the posterior "
        f"mean E_q[z_k] > {usage['threshold']:g} over {usage['records']:,} {usage['split']} "
        f"records{more})"
    )
    if n == 0:
        text += "; posterior collapse: the map carries almost no information about the records"
    return text


@contextmanager
def collapse_told(est: Any, remedies: Remedies) -> Iterator[None]:
    """Around a fit of ``est`` (a :class:`biovae.VAE` inside another command's estimator): its
    collapse warning told, once the fit succeeded, with the other command's ``remedies``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        yield
    warn_if_collapsed(est, remedies)


def _fall(trend: LossTrend) -> str:
    """The trend's fall as a share of the loss, or in nats where the loss is near zero (a
    Gaussian loss may be; a share of it would read as thousands of per cent)."""
    if abs(trend.change) <= 1:
        return f"{-100 * trend.change:.2g} %"
    return f"{trend.fall:.3g} nats"
