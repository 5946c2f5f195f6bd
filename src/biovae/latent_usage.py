"""How many latent dimensions a freshly fitted model uses, and the warning ``fit`` gives when
it uses none (posterior collapse: the map carries almost no information about the records).

Measured once, after training, as ``biovae diagnose`` measures active units
(:func:`biovae.diagnostics.active_dimensions`), in one encoder pass without gradients over the
validation records the fit held out, or the first training records when fewer than 2 were held
out; at most :data:`MAX_RECORDS` of them. The records are the fit's own, already checked (and
their caveats already told): they are not read or checked again. Nothing here touches the
weights or the training computation.
"""

from __future__ import annotations

from typing import Any

from biovae.errors import warn_at_caller

#: the most records the check encodes (one pass, no gradients)
MAX_RECORDS = 2000


def latent_usage(est: Any, source: Any, train_idx: Any, val_idx: Any) -> dict[str, Any] | None:
    """Active units of the fitted ``est`` on records of ``source`` (the fit's
    :class:`~biovae.training.BatchSource` of all records; ``train_idx``/``val_idx``: its sorted
    training and validation indices): ``{"n_active", "n_latent", "records",
    "split", "threshold"}``, or None where it is not measured (a plain autoencoder has no prior
    to collapse to; fewer than 2 records have no variance)."""
    from biovae.diagnostics import ACTIVE_THRESHOLD, active_dimensions

    if not est.model_.stochastic:
        return None
    held_out = len(val_idx) >= 2
    idx = (val_idx if held_out else train_idx)[:MAX_RECORDS]
    if len(idx) < 2:
        return None
    active, _ = active_dimensions(est._posterior_means(source.subset(idx)))
    return {
        "n_active": int(active.sum()),
        "n_latent": len(active),
        "records": len(idx),
        "split": "validation" if held_out else "training",
        "threshold": ACTIVE_THRESHOLD,
    }


def warn_if_collapsed(usage: dict[str, Any] | None) -> None:
    """Warn (once, at the user's line) when ``usage`` (:func:`latent_usage`) has no active
    dimension."""
    if usage and usage["n_active"] == 0:
        warn_at_caller(collapse_message(usage))


def collapse_message(usage: dict[str, Any]) -> str:
    """The one-line warning of a model none of whose latent dimensions is active."""
    return (
        f"posterior collapse: 0 of {usage['n_latent']} latent dimensions active (variance of "
        f"the posterior mean E_q[z_k] over {usage['records']:,} {usage['split']} records "
        f"≤ {usage['threshold']:g} in every dimension); the map carries almost no information "
        "about the records. See biovae diagnose MODEL DATA; refit with a smaller β (--beta, "
        "e.g. 0.5), KL warm-up (--kl-warmup 50), free bits (--free-bits 0.1), or use "
        "--model pca (Python: beta=, ObjectiveConfig kl_warmup_epochs / free_bits, biovae.PCA)"
    )
