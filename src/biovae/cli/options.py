"""Command-line options that map onto :class:`~biovae.config.FitConfig` fields.

Each option names the config field it sets, so the CLI, TOML config files and the Python API
build the same config objects: defaults < ``--config FILE`` < explicit flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from biovae.cli.id_files import id_file
from biovae.config import FitConfig, to_dict
from biovae.likelihood_names import LIKELIHOOD_NAMES
from biovae.setting_names import FLAGS


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1 (epochs, sizes), refused while parsing otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
    return value == "yes"


@dataclass(frozen=True)
class Option:
    """The flag of a dotted config field (its name: :data:`biovae.setting_names.FLAGS`)."""

    field: str
    type: Callable[[str], Any] | None
    help: str
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return FLAGS[self.field]


#: the --obs table's id column: joined to the data's record ids (or naming --obs samples)
OBS_ID_COLUMN = Option(
    "data.obs_id_column",
    str,
    "column of the --obs table holding the record ids (default: its first column); ids are "
    "compared as text, so '007' is not '7'",
    "COL",
)
MODEL_OPTIONS = (
    Option(
        "model.kind",
        str,
        "vae, ae (plain autoencoder), pca or ssvae (semi-supervised) (default {default})",
        "KIND",
    ),
    Option(
        "model.likelihood.name",
        str,
        "p(x|z) family: " + ", ".join(LIKELIHOOD_NAMES) + " (default {default})",
        "NAME",
    ),
    Option(
        "model.likelihood.variance",
        str,
        "Gaussian variance: feature, shared, observation, fixed (default {default})",
        "MODE",
    ),
    Option("model.n_latent", int, "latent dimensions (default {default})", "K"),
    Option("model.network.hidden", _ints, "hidden widths (default {default})", "W,W"),
    Option("model.network.dropout", float, "dropout rate (default {default})", "P"),
    Option(
        "model.network.decoder_dropout",
        float,
        "dropout rate of the decoder (default {default}; 0: p(x|z) is not thinned, as in scVI)",
        "P",
    ),
    Option("model.network.norm", str, "layer, batch or none (default {default})", "KIND"),
    Option(
        "model.network.decoder",
        str,
        "mlp (default) or linear: p(x|z) affine in z, one loading per feature and latent "
        "factor (LDVAE; `biovae loadings`)",
        "KIND",
    ),
    Option(
        "model.network.encode_covariates",
        _yes_no,
        "yes (default): the encoder reads the covariates too; no: q(z|x) reads the record "
        "alone and only the decoder is conditioned (scVI's default)",
        "yes|no",
    ),
    Option(
        "model.classifier_input",
        str,
        "--model ssvae: q(y|·) reads z (default), x (encoder features), clr (log-ratios), "
        "clr_residual (log-ratios centred within each covariate level) or clr_std "
        "(log-ratios standardised per feature)",
        "IN",
    ),
    Option(
        "model.likelihood.dispersion",
        str,
        "NB/ZINB inverse dispersion θ: gene (default) or gene-batch (per --batch-key level)",
        "MODE",
    ),
)
OBJECTIVE_OPTIONS = (
    Option("objective.beta", float, "weight of the KL term (β-VAE; default {default})", "B"),
    Option(
        "objective.kl_warmup_epochs",
        int,
        "epochs of linear KL warm-up (default {default})",
        "N",
    ),
    Option(
        "objective.free_bits",
        float,
        "free bits per latent dim (nats; default {default})",
        "λ",
    ),
    Option(
        "objective.iwae_samples",
        int,
        "train on the IWAE-K bound (default {default})",
        "K",
    ),
    Option(
        "objective.classification_weight",
        float,
        "weight α of −log q(y|x) on labelled records (--model ssvae; default {default})",
        "A",
    ),
    Option(
        "objective.mmd_batch",
        float,
        "weight λ of an MMD penalty that removes the --categorical-covariates from the latent "
        "map (posterior means of each level vs the rest; trVAE/scVI style; default 0 = off)",
        "W",
    ),
)
TRAIN_OPTIONS = (
    Option("train.epochs", int, "maximum epochs (default {default})", "N"),
    Option("train.batch_size", int, "minibatch size (default {default})", "N"),
    Option("train.lr", float, "Adam learning rate (default {default})", "LR"),
    Option(
        "train.patience",
        int,
        "epochs without a better validation loss before stopping (KL warm-up epochs, which "
        "train below the target β, do not count); 0 = train every epoch (the best validation "
        "epoch's weights are kept either way; default {default})",
        "N",
    ),
    Option(
        "train.validation_fraction",
        float,
        "held-out fraction for early stopping (default {default})",
        "F",
    ),
    Option("train.seed", int, "random seed (default {default})", "S"),
    Option(
        "train.early_stopping",
        str,
        "validation quantity for early stopping: elbo (default) or classification (ssvae)",
        "ON",
    ),
    Option(
        "train.compile",
        str,
        "fuse the NB/ZINB kernels with torch.compile: auto (default: where compiling pays, "
        "e.g. >= 2,000 steps of 128 x 2,000 counts), on, off",
        "MODE",
    ),
    Option(
        "train.device",
        str,
        "where to train: cpu (default), cuda, cuda:1, ...; saved for the CPU either way",
        "DEV",
    ),
    Option(
        "train.checkpoint_every",
        int,
        "write a resumable checkpoint every N epochs",
        "N",
    ),
)
#: PLINK's sample and variant selection of a PLINK fileset or VCF (data/genotype_select.py)
SELECT_OPTIONS = tuple(
    Option(f"data.{name}", id_file, f"PLINK/VCF input: {what}", "FILE")
    for name, what in (
        ("keep", "keep only the samples FILE lists (one id, or FID IID, per line)"),
        ("remove", "leave out the samples FILE lists (one id, or FID IID, per line)"),
        ("extract", "keep only the variants FILE lists (variant ids, or a .bim file)"),
        ("exclude", "leave out the variants FILE lists (variant ids, or a .bim file)"),
    )
)
#: how DATA is read (every command that reads data)
READ_OPTIONS = (
    Option(
        "data.format",
        str,
        "input format: csv, tsv, npy, h5ad, fasta, 10x-mtx, 10x-h5, biom, plink (.bed), vcf",
        "FMT",
    ),
    Option("data.id_column", str, "table column holding record ids", "COL"),
    Option(
        "data.metadata_columns",
        _names,
        "table columns that are metadata, not features (with --transpose: columns annotating "
        "the features, e.g. taxonomy, left out)",
        "A,B",
    ),
    Option(
        "data.sequence_column",
        str,
        "table column holding sequences (DNA/protein)",
        "COL",
    ),
    Option(
        "data.alphabet",
        str,
        "sequences: dna, rna or protein instead of the detected alphabet (e.g. a protein "
        "family of nucleotide letters)",
        "NAME",
    ),
    Option("data.layer", str, "h5ad layer holding counts (default X)", "NAME"),
    Option("data.obs_path", str, "metadata table joined on record id", "FILE"),
    OBS_ID_COLUMN,
    *SELECT_OPTIONS,
)
#: which metadata columns a model is conditioned on or learns (set when a model is fitted)
COVARIATE_OPTIONS = (
    Option(
        "data.batch_key",
        str,
        "batch column (e.g. platform, donor): conditioned on, and the batch of "
        "--dispersion gene-batch",
        "COL",
    ),
    Option(
        "data.categorical_covariates",
        _names,
        "metadata columns to condition on (one-hot), e.g. batch",
        "A,B",
    ),
    Option(
        "data.continuous_covariates",
        _names,
        "numeric metadata columns to condition on",
        "A,B",
    ),
    Option(
        "data.labels_key",
        str,
        "label column (cell type, condition): --model ssvae treats missing/unknown (and -1 in a "
        "column or categorical of numbers) as unlabelled and refuses non-integer numbers "
        "(0.5: a measurement, not a class; write such class names as text)",
        "COL",
    ),
    Option(
        "data.unlabeled_category",
        str,
        "label value meaning 'no label' besides empty/NaN/NA/none/unknown (--model ssvae), "
        "e.g. Unassigned; it must occur in the column. Without it a column of numbers' -1 is "
        "unlabelled; with it, -1 is a class",
        "VALUE",
    ),
)
DATA_OPTIONS = READ_OPTIONS + COVARIATE_OPTIONS
FIT_OPTIONS = MODEL_OPTIONS + OBJECTIVE_OPTIONS + TRAIN_OPTIONS + DATA_OPTIONS


def add_options(
    parser: argparse.ArgumentParser,
    options: tuple[Option, ...],
    title: str,
    defaults: FitConfig | None = None,
) -> None:
    """Add ``options`` as a group; ``{default}`` in a help text is the field's value in
    ``defaults`` (the command's own defaults, e.g. a structure model's; default FitConfig())."""
    group = parser.add_argument_group(title)
    values = to_dict(defaults or FitConfig())
    for opt in options:
        group.add_argument(
            opt.flag,
            dest=_dest(opt),
            type=opt.type,
            default=None,
            metavar=opt.metavar,
            help=opt.help.replace("{default}", _default_text(values, opt.field)),
        )


def _default_text(values: dict[str, Any], field: str) -> str:
    """The value of a dotted config ``field`` as a user would type it (``256,128``, ``0.002``)."""
    for part in field.split("."):
        values = values[part]
    if isinstance(values, (list, tuple)):
        return ",".join(str(v) for v in values)
    return "none" if values is None else str(values)


def _dest(opt: Option) -> str:
    return "cfg__" + opt.field.replace(".", "__")


#: on/off data options: flag, DataConfig field, help
DATA_FLAGS = tuple(
    (FLAGS[f"data.{name}"], name, help_)
    for name, help_ in (
        ("transpose", "tables are features × records (genes or taxa as rows)"),
        ("drop_invalid", "drop sequences with unknown letters instead of failing"),
        (
            "stream",
            "h5ad/npy/10x h5: leave the matrix on disk, read it batch by batch (larger than "
            "memory)",
        ),
        (
            "allow_missing",
            "tables: empty fields, .h5ad/.npy: NaN entries are missing genotypes (with "
            "--likelihood genotype)",
        ),
    )
)
#: --allow-missing of a command that reads data for a fitted model (it has no --likelihood)
_ALLOW_MISSING_FOR_A_MODEL = (
    "tables: empty fields, .h5ad/.npy: NaN entries are missing genotypes (for a genotype model)"
)


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """On/off data options (only set in the config when given): ``--stream`` turns one on,
    ``--no-stream`` off, e.g. where a model's saved options would apply it to new data.
    A help text names only options the command has: --likelihood where it fits a model."""
    fits = "--likelihood" in parser._option_string_actions
    for flag, field, help_ in DATA_FLAGS:
        if flag == "--allow-missing" and not fits:
            help_ = _ALLOW_MISSING_FOR_A_MODEL
        parser.add_argument(
            flag,
            dest=f"cfg__data__{field}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=help_,
        )
