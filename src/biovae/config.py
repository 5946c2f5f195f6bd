"""Frozen, typed configuration objects shared by the Python API and the command line.

Every config is a frozen dataclass validated on construction. :func:`from_dict` (in
:mod:`biovae.config_io`, re-exported here) builds one from plain data (JSON or TOML) and
rejects unknown keys, so a typo is an error, never ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from biovae.config_io import from_dict as from_dict
from biovae.config_io import is_device as is_device
from biovae.config_io import load_toml as load_toml
from biovae.config_io import merge as merge
from biovae.config_io import to_dict as to_dict
from biovae.config_io import typed
from biovae.errors import ConfigError

ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "elu")
NORMS = ("none", "batch", "layer")
DECODERS = ("mlp", "linear")
MODEL_KINDS = ("vae", "ae", "pca", "ssvae")
#: How messages, reports and model cards name each ``model.kind`` (the one place they are worded).
MODEL_KIND_NAMES = {
    "vae": "VAE",
    "ssvae": "semi-supervised VAE",
    "ae": "plain autoencoder",
    "pca": "probabilistic PCA",
}
DISPERSIONS = ("gene", "gene-batch")


def kind_name(kind: str, *, capital: bool = False) -> str:
    """``"semi-supervised VAE"`` for ``"ssvae"`` (``capital``: ``"Semi-supervised VAE"``)."""
    name = MODEL_KIND_NAMES.get(kind, f"{kind} model")
    return name[:1].upper() + name[1:] if capital else name


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


#: the section name of each config class in messages (``train.lr``) and config files
SECTIONS = {
    "LikelihoodConfig": "likelihood",
    "NetworkConfig": "network",
    "ModelConfig": "model",
    "ObjectiveConfig": "objective",
    "TrainConfig": "train",
    "DataConfig": "data",
}


def _typed(cfg: Any) -> None:
    """:func:`biovae.config_io.typed` for a config, named by its section (``FitConfig``'s fields
    are the sections themselves: ``model``, not ``FitConfig.model``)."""
    name = type(cfg).__name__
    typed(cfg, "" if type(cfg) is FitConfig else SECTIONS.get(name, name))


@dataclass(frozen=True)
class LikelihoodConfig:
    """Which p(x|z) family to use and its options.

    ``name`` is a key of the likelihood registry (``biovae.likelihoods.available()``).
    ``variance`` applies to the Gaussian: ``"feature"`` (learned per feature), ``"shared"``
    (one learned value), ``"observation"`` (decoder output) or ``"fixed"`` (``fixed_scale``).
    ``dispersion`` applies to NB and ZINB: ``"gene"`` (one θ per gene) or ``"gene-batch"`` (one θ
    per gene and level of ``data.batch_key``, as scVI's ``dispersion="gene-batch"``).
    ``cis_bonds`` applies to ``ca_chain``: indices i of the virtual bonds i → i+1 that are cis
    peptides in the training frames (their length is learned near 2.9 Å instead of 3.8 Å);
    ``chain_breaks`` the indices i where atoms i and i+1 are not bonded (another chain, or
    residues missing in between): no bond is enforced there.
    ``loci`` and ``ploidy`` apply to ``genotype``: the number of allele columns of each locus in
    column order (empty: every column is a dosage of one biallelic locus; read from
    ``<locus>.<allele>`` feature names when not given) and the copies per locus.
    ``missing_indicators`` (``genotype``): the encoder also sees, per column, whether the call
    is observed — needed in a dosage table, where a missing call read as 0 would be a
    reference homozygote. Unset, a fit decides: on for dosage tables, off for allele-count
    tables (whose zero counts already mark a missing locus); models saved before it existed
    read as off.
    """

    name: str = "gaussian"
    variance: str = "feature"
    fixed_scale: float = 1.0
    dispersion: str = "gene"
    cis_bonds: tuple[int, ...] = ()
    chain_breaks: tuple[int, ...] = ()
    loci: tuple[int, ...] = ()
    ploidy: int = 2
    missing_indicators: bool | None = None

    def __post_init__(self) -> None:
        _typed(self)
        _check(
            self.variance in ("feature", "shared", "observation", "fixed"),
            f"likelihood.variance must be feature, shared, observation or fixed, "
            f"not {self.variance!r}",
        )
        _check(self.fixed_scale > 0, "likelihood.fixed_scale must be > 0")
        _check(
            self.dispersion in DISPERSIONS,
            f"likelihood.dispersion must be one of {DISPERSIONS}, not {self.dispersion!r}",
        )
        _check(all(int(i) >= 0 for i in self.cis_bonds), "likelihood.cis_bonds must be >= 0")
        _check(all(int(i) >= 0 for i in self.chain_breaks), "likelihood.chain_breaks must be >= 0")
        _check(all(int(k) >= 1 for k in self.loci), "likelihood.loci sizes must be >= 1")
        _check(self.ploidy >= 1, "likelihood.ploidy must be >= 1")


@dataclass(frozen=True)
class NetworkConfig:
    """MLP shape shared by encoder and decoder (the decoder uses ``hidden`` reversed).

    ``hidden=()`` gives linear maps (the linear-Gaussian VAE of probabilistic PCA).
    ``activation`` follows each hidden layer; ``inject_covariates`` feeds the covariates to
    every hidden layer (as in scVI), not only to the first.
    ``dropout`` applies to the encoder (and classifier) layers, ``decoder_dropout`` to the
    decoder's. The decoder defines p(x|z); dropout there trains a randomly thinned generative
    network that is never the one evaluated, so it is off by default (as in scVI).
    ``encode_covariates=False`` keeps the covariates out of the encoder: q(z|x) reads the record
    alone while the decoder p(x|z, c) still sees them (scVI's default ``encode_covariates=False``).
    An encoder that reads the batch can put one cell type at batch-specific places of z and let
    the decoder undo it; one that cannot must place alike cells alike whatever their batch.
    ``decoder="linear"`` makes the decoder one affine map of (z, c) to the likelihood's raw
    parameters, the encoder keeping ``hidden`` (scvi-tools' LDVAE, Svensson et al. 2020): each
    latent dimension is then a factor with one loading per feature
    (:func:`biovae.applications.loadings.loadings`).
    """

    hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    dropout: float = 0.1
    decoder_dropout: float = 0.0
    norm: str = "layer"
    inject_covariates: bool = True
    encode_covariates: bool = True
    decoder: str = "mlp"

    def __post_init__(self) -> None:
        _typed(self)
        _check(all(int(h) > 0 for h in self.hidden), "network.hidden widths must be > 0")
        _check(self.activation in ACTIVATIONS, f"network.activation must be one of {ACTIVATIONS}")
        _check(0.0 <= self.dropout < 1.0, "network.dropout must be in [0, 1)")
        _check(0.0 <= self.decoder_dropout < 1.0, "network.decoder_dropout must be in [0, 1)")
        _check(self.norm in NORMS, f"network.norm must be one of {NORMS}")
        _check(self.decoder in DECODERS, f"network.decoder must be one of {DECODERS}")


#: What the semi-supervised classifier q(y|·) reads (see :class:`ModelConfig`).
CLASSIFIER_INPUTS = ("z", "x", "clr", "clr_residual", "clr_std")


@dataclass(frozen=True)
class ModelConfig:
    """The model: kind (``vae``, ``ae`` plain autoencoder, ``pca``, ``ssvae`` semi-supervised
    VAE), latent size, likelihood. ``classifier_input`` (ssvae): q(y|z) on the latent (``z``,
    as scANVI), q(y|x) on the encoder's input features (``x``, as M2) or on the centred
    log-ratios of the record's composition (``clr``; for abundances and counts, see
    :func:`biovae.models.semisupervised.clr`) or those log-ratios with the covariates' linear
    effects removed (``clr_residual``: centred within each batch level) or standardised per
    feature over the training records (``clr_std``, SIAMCAT's ``log.std``; both fitted by
    :meth:`biovae.models.semisupervised.SemiSupervisedVAE.fit_input_offset`)."""

    kind: str = "vae"
    n_latent: int = 10
    likelihood: LikelihoodConfig = field(default_factory=LikelihoodConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    classifier_input: str = "z"

    def __post_init__(self) -> None:
        _typed(self)
        _check(self.kind in MODEL_KINDS, f"model.kind must be one of {MODEL_KINDS}")
        _check(
            self.classifier_input in CLASSIFIER_INPUTS,
            f"model.classifier_input must be one of {CLASSIFIER_INPUTS}",
        )
        _check(self.n_latent >= 1, "model.n_latent must be >= 1")


@dataclass(frozen=True)
class ObjectiveConfig:
    """Training objective: ELBO with β, linear KL warm-up and free bits, or IWAE-k.

    loss = −E_q[log p(x|z)] + β_t · Σ_k max(λ, KL_k), with β_t = β · min(1, (epoch + 1) / warmup)
    for the epoch counted from 0, so the first epoch trains at β / warmup and the ``warmup``-th at
    β (λ = ``free_bits`` nats per latent dimension, KL_k averaged over the batch); with
    ``iwae_samples`` k > 1 the loss is the negative IWAE-k bound instead (it has no KL term:
    training refuses β ≠ 1, warm-up or free bits with it).
    ``classification_weight`` α weighs −log q(y|x) of labelled records (semi-supervised VAE).
    ``mmd_batch`` λ adds λ · MMD² between the posterior means of each level of the categorical
    covariates and those of the other levels (de-confounding of a conditional model; 0 = off;
    see :func:`biovae.objectives.batch_mmd`).
    """

    beta: float = 1.0
    kl_warmup_epochs: int = 0
    free_bits: float = 0.0
    iwae_samples: int = 1
    classification_weight: float = 50.0
    mmd_batch: float = 0.0

    def __post_init__(self) -> None:
        _typed(self)
        _check(self.beta >= 0, "objective.beta must be >= 0")
        _check(self.kl_warmup_epochs >= 0, "objective.kl_warmup_epochs must be >= 0")
        _check(self.free_bits >= 0, "objective.free_bits must be >= 0")
        _check(self.iwae_samples >= 1, "objective.iwae_samples must be >= 1")
        _check(self.classification_weight >= 0, "objective.classification_weight must be >= 0")
        _check(self.mmd_batch >= 0, "objective.mmd_batch must be >= 0")
        _check(
            self.mmd_batch == 0 or self.iwae_samples == 1,
            "objective.mmd_batch needs the ELBO objective; set objective.iwae_samples to 1",
        )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. ``patience=0`` trains every epoch (no early stop); with a
    validation split the best validation epoch's weights are kept either way. ``weight_decay`` is
    Adam's (coupled) L2 penalty on every parameter (biases, norm gains and the likelihood's own,
    such as the NB log θ, included); ``grad_clip`` > 0 clips each update's gradient of the loss
    to that total norm (0 = off), before the decay term is added.

    ``early_stopping`` is the validation quantity that picks the best epoch and counts patience:
    ``elbo`` (the loss at the target β) or ``classification`` (−log q(y|x) of the labelled
    validation records; semi-supervised VAE only). Epochs of KL warm-up that train below the
    target β (the first ``objective.kl_warmup_epochs`` − 1) do not count toward ``patience``.

    ``compile`` fuses the NB/ZINB log-density kernels with ``torch.compile`` (float32 on CPU):
    ``auto`` where the seconds of compiling pay back (batches of ≥ 32,768 values and ≥ 5·10⁸
    values over the planned steps, e.g. 2,000 steps of 128 cells × 2,000 genes); ``on``;
    ``off``. See :mod:`biovae.likelihoods.fused`.

    ``device`` is where training runs (``cpu``, ``cuda``, ``cuda:1``, ...); the fitted model
    comes back on the CPU, where scoring, reports and saving run. Under ``torchrun`` with several
    processes, ``cuda`` means each process's own GPU (``cuda:$LOCAL_RANK``). A seed fixes the
    weights exactly on the CPU with a given number of torch threads (another number can change
    the last bits); GPU kernels may round differently from run to run.
    """

    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    validation_fraction: float = 0.1
    patience: int = 20
    seed: int = 0
    checkpoint_every: int = 0
    grad_clip: float = 0.0
    early_stopping: str = "elbo"
    compile: str = "auto"
    device: str = "cpu"

    def __post_init__(self) -> None:
        _typed(self)
        _check(self.epochs >= 1, "train.epochs must be >= 1")
        _check(
            is_device(self.device),
            f"train.device {self.device!r} is not a torch device; use cpu, cuda or cuda:N",
        )
        _check(self.batch_size >= 1, "train.batch_size must be >= 1")
        _check(self.lr > 0, "train.lr must be > 0")
        _check(0 <= self.seed < 2**63, "train.seed must be in 0 .. 2**63 - 1")
        _check(self.weight_decay >= 0, "train.weight_decay must be >= 0")
        _check(0.0 <= self.validation_fraction < 1.0, "train.validation_fraction must be in [0, 1)")
        _check(self.patience >= 0, "train.patience must be >= 0")
        _check(self.checkpoint_every >= 0, "train.checkpoint_every must be >= 0")
        _check(self.grad_clip >= 0, "train.grad_clip must be >= 0")
        _check(
            self.early_stopping in ("elbo", "classification"),
            "train.early_stopping must be elbo or classification",
        )
        _check(self.compile in ("auto", "on", "off"), "train.compile must be auto, on or off")


@dataclass(frozen=True)
class DataConfig:
    """How records become a data set: columns, format, and covariates to condition on.

    ``batch_key`` names the batch column: conditioned on like a categorical covariate (it is
    the first one) and the batch of ``likelihood.dispersion = "gene-batch"``.
    ``labels_key`` names the label column of a semi-supervised model; missing entries, "unknown"
    and ``unlabeled_category`` (when given; a number such as -1 is kept as its level's text,
    "-1") are unlabelled, and, when it is not given, the -1 of a column (or categorical) of
    numbers (text's "-1" is a label; with it given, -1 is a class, in scikit-learn's ``y`` too);
    one that names no entry of the column (but a spelling of "unknown") is refused as a typo.
    ``stream`` leaves an ``.h5ad``, ``.npy`` or 10x ``.h5`` matrix on disk and reads it batch by
    batch (data larger than memory; the same fit as reading it whole). ``allow_missing`` reads
    empty table fields, and NaN entries of an ``.h5ad`` or ``.npy`` matrix, as missing values
    (NaN) for the genotype likelihood. ``alphabet`` (``dna``, ``rna``, ``protein``) reads
    sequences in that alphabet instead of the detected one. ``obs_id_column`` names the column
    of the ``obs_path`` table holding the record ids (default: its first column); ids are joined
    as text, so ``007`` is not ``7``. ``keep``/``remove`` (samples) and ``extract``/``exclude``
    (variants) name id files that select the records and features of a PLINK fileset or VCF as
    PLINK's options of those names do.
    """

    format: str | None = None
    id_column: str | None = None
    metadata_columns: tuple[str, ...] = ()
    sequence_column: str | None = None
    layer: str | None = None
    transpose: bool = False
    obs_path: str | None = None
    obs_id_column: str | None = None
    drop_invalid: bool = False
    stream: bool = False
    allow_missing: bool = False
    alphabet: str | None = None
    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    categorical_covariates: tuple[str, ...] = ()
    continuous_covariates: tuple[str, ...] = ()
    labels_key: str | None = None
    batch_key: str | None = None
    unlabeled_category: str | None = None

    @property
    def categorical(self) -> tuple[str, ...]:
        """Categorical covariates to condition on: ``batch_key`` first, then the others."""
        first = (self.batch_key,) if self.batch_key else ()
        return first + tuple(c for c in self.categorical_covariates if c != self.batch_key)

    def __post_init__(self) -> None:
        unlabeled = self.unlabeled_category
        if unlabeled is not None and not isinstance(unlabeled, str):
            from biovae.levels import level_text  # a number names a level: -1 and -1.0 -> "-1"

            object.__setattr__(self, "unlabeled_category", str(level_text([unlabeled])[0]))
        _typed(self)
        if self.alphabet is not None and self.alphabet.lower() not in ("dna", "rna", "protein"):
            raise ConfigError(f"data.alphabet must be dna, rna or protein, got {self.alphabet!r}")
        if self.obs_id_column is not None and self.obs_path is None:
            raise ConfigError(
                "data.obs_id_column (--obs-id-column) names the id column of a metadata table, "
                "but no table is given; give it with data.obs_path (--obs), or leave it out"
            )
        if self.batch_key and self.batch_key in self.continuous_covariates:
            raise ConfigError(
                f"batch key {self.batch_key!r} is also a continuous covariate; drop it there"
            )
        if self.labels_key and self.labels_key in (*self.categorical, *self.continuous_covariates):
            raise ConfigError(
                f"labels key {self.labels_key!r} is also a covariate (or the batch key): the "
                "encoder would read the label it is to predict; drop it from the covariates"
            )
        for key in ("categorical_covariates", "continuous_covariates"):
            # a batch listed twice has two one-hot blocks; a counterfactual set only the first
            names = getattr(self, key)
            twice = next((n for n in names if names.count(n) > 1), None)
            if twice is not None:
                raise ConfigError(
                    f"covariate {twice!r} is listed twice in data.{key}; list it once"
                )
        both = sorted(set(self.categorical_covariates) & set(self.continuous_covariates))
        if both:
            raise ConfigError(
                f"covariate {both[0]!r} is both categorical and continuous; "
                "list it under one of them"
            )


@dataclass(frozen=True)
class FitConfig:
    """Everything ``biovae fit`` needs; saved as ``config.json`` beside the weights."""

    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        _typed(self)


def given_config(config: Any, default: FitConfig | None = None) -> FitConfig:
    """An estimator's ``config`` parameter, or ``default`` (``FitConfig()``) when it is None;
    anything else (a dict, a path) is a one-line ConfigError, not an AttributeError in fit."""
    if config is None:
        return default or FitConfig()
    if not isinstance(config, FitConfig):
        raise ConfigError(
            f"config must be a biovae.config.FitConfig, got {type(config).__name__}; build one "
            "with FitConfig(...) or from_dict(FitConfig, d) (d e.g. from load_toml(path))"
        )
    return config
