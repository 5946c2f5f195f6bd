"""How a message names a setting so that both of its readers find it: the command-line flag
and the Python name (an estimator's keyword, or the :class:`~biovae.config.FitConfig` field).

This is the one home of the flag of each ``FitConfig`` field: the command line's options table
(:mod:`biovae.cli.options`) takes its flags from :data:`FLAGS`, and errors raised anywhere below
it word a setting with :func:`setting` (``--epochs (epochs)``, ``--lr (config.train.lr)``), so
that a Python user is not told of a flag only. It imports nothing, so any layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the command-line flag that sets each dotted ``FitConfig`` field
FLAGS: dict[str, str] = {
    "model.kind": "--model",
    "model.likelihood.name": "--likelihood",
    "model.likelihood.variance": "--variance",
    "model.likelihood.dispersion": "--dispersion",
    "model.n_latent": "--latent",
    "model.network.hidden": "--hidden",
    "model.network.dropout": "--dropout",
    "model.network.decoder_dropout": "--decoder-dropout",
    "model.network.norm": "--norm",
    "model.network.decoder": "--decoder",
    "model.network.encode_covariates": "--encode-covariates",
    "model.classifier_input": "--classifier-input",
    "objective.beta": "--beta",
    "objective.kl_warmup_epochs": "--kl-warmup",
    "objective.free_bits": "--free-bits",
    "objective.iwae_samples": "--iwae-samples",
    "objective.classification_weight": "--classification-weight",
    "objective.mmd_batch": "--mmd-batch",
    "train.epochs": "--epochs",
    "train.batch_size": "--batch-size",
    "train.lr": "--lr",
    "train.patience": "--patience",
    "train.validation_fraction": "--validation-fraction",
    "train.seed": "--seed",
    "train.early_stopping": "--early-stopping",
    "train.compile": "--compile",
    "train.device": "--device",
    "train.checkpoint_every": "--checkpoint-every",
    "data.format": "--format",
    "data.id_column": "--id-column",
    "data.metadata_columns": "--metadata-columns",
    "data.sequence_column": "--sequence-column",
    "data.alphabet": "--alphabet",
    "data.layer": "--layer",
    "data.obs_path": "--obs",
    "data.obs_id_column": "--obs-id-column",
    "data.keep": "--keep",
    "data.remove": "--remove",
    "data.extract": "--extract",
    "data.exclude": "--exclude",
    "data.batch_key": "--batch-key",
    "data.categorical_covariates": "--categorical-covariates",
    "data.continuous_covariates": "--continuous-covariates",
    "data.labels_key": "--labels-key",
    "data.unlabeled_category": "--unlabeled-category",
    "data.transpose": "--transpose",
    "data.drop_invalid": "--drop-invalid",
    "data.stream": "--stream",
    "data.allow_missing": "--allow-missing",
}

#: the keyword of the estimators (``biovae.VAE(epochs=...)``; ``biovae.tl.vae``'s too) that
#: sets a field; a ``data`` field in :data:`DATA_KEYWORDS` goes by its own name
KEYWORDS: dict[str, str] = {
    "model.likelihood.name": "likelihood",
    "model.n_latent": "n_latent",
    "model.network.hidden": "hidden",
    "objective.beta": "beta",
    "train.epochs": "epochs",
    "train.seed": "seed",
}


#: the ``data`` fields that are keywords of ``biovae.tl.vae`` or of the reader
#: (``biovae.data.readers.read_dataset``) by the same name (``batch_key``, ``transpose``); the
#: others (covariates, genotype selection, ``format``: the reader's ``fmt``) are ``config``'s
DATA_KEYWORDS: frozenset[str] = frozenset(
    (
        "id_column", "metadata_columns", "sequence_column", "alphabet", "layer", "obs_path",
        "obs_id_column", "batch_key", "labels_key", "unlabeled_category", "transpose",
        "drop_invalid", "stream", "allow_missing",
    )
)  # fmt: skip


def python_name(field: str, keywords: dict[str, str] = KEYWORDS) -> str:
    """The Python name of the dotted ``FitConfig`` ``field``: the estimators' keyword
    (``n_latent``; ``keywords``: another estimator's, e.g. none for ``ConformationVAE``, whose
    settings are all its ``config``'s), a data field's own name where it is a keyword too
    (``batch_key``, :data:`DATA_KEYWORDS`), else the field in full from the estimator's
    ``config`` (``config.train.lr``, ``config.data.continuous_covariates``)."""
    if field in keywords:
        return keywords[field]
    section, _, leaf = field.partition(".")
    return leaf if section == "data" and leaf in DATA_KEYWORDS else f"config.{field}"


def setting(field: str, value: object = None, keywords: dict[str, str] = KEYWORDS) -> str:
    """The dotted ``FitConfig`` ``field`` named for both audiences: ``--latent (n_latent)``,
    ``--lr (config.train.lr)``; with ``value``, as each would write it:
    ``--norm layer (config.model.network.norm='layer')``, ``--transpose (transpose=True)``.

    Raises ``KeyError`` for a field without a flag (a caller's typo, found by its tests)."""
    flag, name = FLAGS[field], python_name(field, keywords)
    if value is None:
        return f"{flag} ({name})"
    if value is True:
        return f"{flag} ({name}=True)"
    return f"{flag} {value} ({name}={value!r})"


def settings(*fields: str, keywords: dict[str, str] = KEYWORDS) -> str:
    """Several fields named by :func:`setting`, as a list in words: ``A, B and C``."""
    named = [setting(f, keywords=keywords) for f in fields]
    return ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else "".join(named)


@dataclass(frozen=True)
class Wording:
    """How the messages of a command other than ``biovae fit`` name what its users can change,
    for an error raised in the shared training code to be worded again for it (``reworded``):
    ``keywords``, its estimator's (:func:`python_name`); ``may_change``, what a resume may
    change; ``diverged``, what to try when training diverges besides a lower learning rate."""

    may_change: str
    diverged: str
    keywords: dict[str, str] = field(default_factory=dict)
