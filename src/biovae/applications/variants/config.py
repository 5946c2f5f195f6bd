"""Settings of a family model for variant effects (frozen, validated, saved as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

from biovae.config import is_device
from biovae.errors import ConfigError


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass(frozen=True)
class AlignmentConfig:
    """How an alignment is read: focus record, gap threshold, alphabet, weighting cut-off θ,
    and ``max_column_gaps``: drop match columns with a larger fraction of gaps (EVE's focus
    column filter, 0.3 in EVE; None, the default, keeps every column)."""

    focus: str | None = None
    max_gap_fraction: float = 0.5
    alphabet: str | None = None
    theta: float = 0.2
    max_column_gaps: float | None = None

    def __post_init__(self) -> None:
        _check(0 < self.max_gap_fraction <= 1, "alignment.max_gap_fraction must be in (0, 1]")
        _check(
            self.max_column_gaps is None or 0 <= self.max_column_gaps <= 1,
            "alignment.max_column_gaps must be in [0, 1] (EVE uses 0.3)",
        )
        _check(0 <= self.theta < 1, "alignment.theta must be in [0, 1)")


@dataclass(frozen=True)
class FamilyModelConfig:
    """DeepSequence's published architecture by default (encoder 1500-1500, decoder 100-500,
    30 latent dimensions, a 40-pattern output dictionary, sparsity gates in groups of 4), with
    a narrower last layer: DeepSequence tiles its 500 gate rows over 4 × 500 = 2,000 units (and
    puts a logit-normal sparsity prior on the gates); here 500 units share 125 gate rows.

    ``bayesian`` learns a Gaussian q(θ) over the decoder weights (variational Bayes, as
    DeepSequence) instead of a MAP point estimate; scoring averages the ELBO over draws of θ
    (or uses the posterior means on request). ``weight_noise`` is how a training step draws
    them: ``shared`` = one draw for the minibatch (DeepSequence); ``local`` = the output weights
    (the bulk of them) drawn independently for every record through the exact distribution of
    their product with the hidden layer (local reparameterisation, Kingma et al. 2015), which
    estimates the same ELBO with less gradient noise.
    """

    n_latent: int = 30
    encoder_hidden: tuple[int, ...] = (1500, 1500)
    decoder_hidden: tuple[int, int] = (100, 500)
    rank: int = 40
    group: int = 4
    bayesian: bool = False
    weight_noise: str = "shared"

    def __post_init__(self) -> None:
        _check(
            self.weight_noise in ("shared", "local"),
            f"model.weight_noise must be shared or local, not {self.weight_noise!r}",
        )
        _check(self.n_latent >= 1, "model.n_latent must be >= 1")
        _check(all(h > 0 for h in self.encoder_hidden), "model.encoder_hidden widths must be > 0")
        _check(
            len(self.decoder_hidden) == 2 and min(self.decoder_hidden) > 0,
            "model.decoder_hidden must be two widths > 0",
        )
        _check(self.rank >= 1 and self.group >= 1, "model.rank and model.group must be >= 1")


@dataclass(frozen=True)
class FamilyTrainConfig:
    """Adam on the weighted ELBO with minibatches drawn ∝ sequence weight (as DeepSequence).

    Training stops after ``steps`` updates or ``max_minutes`` of wall time, whichever comes
    first (0 = no time limit). ``prior_scale`` is σ of the N(0, σ²) prior on decoder weights,
    whose negative log density / Neff is added to the per-record loss (MAP estimate).
    ``precision = "bfloat16"`` runs the training forward pass under CPU autocast (matrix products
    in bfloat16, parameters, optimiser state and scoring stay float32): about 1.2× more updates
    in the same wall time on CPUs with native bfloat16 (AVX512-BF16, AMX; benchmarks/RESULTS.md,
    issue #3, run 3), slower on CPUs without.
    ``validation_fraction`` of the sequences (random, by seed) is held out; every
    ``eval_every`` updates the held-out weighted ELBO is computed and the best model is the one
    returned; ``patience`` evaluations without improvement stop training (0 = never). Long
    runs overfit the family (the held-out ELBO and the mutation ranking both get worse), so
    this is the label-free guard against it. ``device`` is where training runs (``cpu``,
    ``cuda``, ``cuda:1``, ...); the returned model is on it. Weights are initialised on the CPU
    from the seed, so a seed fixes them on every device, but training noise on a GPU comes from
    that device's generator and is not bit-reproducible there. ``compile`` fuses the draw of
    variational decoder weights and its gradient with ``torch.compile`` (float32 on the CPU):
    ``auto`` where the seconds of compiling pay (≳ 2·10⁹ weight values drawn over the planned
    steps, e.g. 400 updates of DeepSequence's decoder), ``on``, ``off``.
    ``lr_schedule = "linear"`` lowers the learning rate linearly from ``lr`` to 0 over the
    budget (the share of ``steps`` done or of ``max_minutes`` spent, whichever is further
    along; with a time limit the schedule follows wall time): under a fixed budget a decay to
    zero ends at a lower loss than a constant rate (Li, Yumer & Ramanan 2020, "Budgeted
    training").
    """

    steps: int = 6000
    max_minutes: float = 0.0
    batch_size: int = 100
    lr: float = 1e-3
    lr_schedule: str = "constant"
    prior_scale: float = 1.0
    seed: int = 0
    precision: str = "float32"
    validation_fraction: float = 0.05
    eval_every: int = 200
    patience: int = 10
    device: str = "cpu"
    compile: str = "auto"

    def __post_init__(self) -> None:
        _check(self.steps >= 1, "train.steps must be >= 1")
        _check(0 <= self.seed < 2**63, "train.seed must be in 0 .. 2**63 - 1")
        _check(self.compile in ("auto", "on", "off"), "train.compile must be auto, on or off")
        _check(
            self.lr_schedule in ("constant", "linear"),
            f"train.lr_schedule must be constant or linear, not {self.lr_schedule!r}",
        )
        _check(is_device(self.device), f"train.device {self.device!r} is not a torch device")
        _check(self.max_minutes >= 0, "train.max_minutes must be >= 0")
        _check(self.batch_size >= 1, "train.batch_size must be >= 1")
        _check(self.lr > 0, "train.lr must be > 0")
        _check(self.prior_scale > 0, "train.prior_scale must be > 0")
        _check(0 <= self.validation_fraction < 0.5, "train.validation_fraction must be in [0, 0.5)")
        _check(self.eval_every >= 1, "train.eval_every must be >= 1")
        _check(self.patience >= 0, "train.patience must be >= 0")
        _check(
            self.precision in ("float32", "bfloat16"),
            f"train.precision must be float32 or bfloat16, not {self.precision!r}",
        )


@dataclass(frozen=True)
class VariantsConfig:
    """Everything ``biovae variants fit`` needs; ``ensemble`` members differ only in seed."""

    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    model: FamilyModelConfig = field(default_factory=FamilyModelConfig)
    train: FamilyTrainConfig = field(default_factory=FamilyTrainConfig)
    ensemble: int = 1

    def __post_init__(self) -> None:
        _check(self.ensemble >= 1, "ensemble must be >= 1")
        _check(  # member i trains with seed + i
            self.train.seed + self.ensemble <= 2**63,
            "train.seed + ensemble - 1 must be < 2**63 (member i uses seed + i)",
        )
