"""What a fit derives from its config and data before training: the number of batches of a
per-batch dispersion, the label settings refused without labels, validated record weights,
the MMD penalty's level indicators, the validation split (shared by the estimators and
reference mapping) and what a checkpoint records for a resume to match."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from biovae.config import FitConfig, to_dict
from biovae.errors import ConfigError, DataError
from biovae.levels import level_text
from biovae.models import CovariateSpec
from biovae.setting_names import setting


def refuse_labels(cfg: FitConfig) -> None:
    """Refuse the label settings of ``cfg`` that only the semi-supervised VAE uses."""
    if cfg.data.labels_key:
        raise ConfigError(
            f"labels_key {cfg.data.labels_key!r} is only used by the semi-supervised VAE; "
            "add --model ssvae (biovae.SemiSupervisedVAE) or drop --labels-key (labels_key)"
        )
    if cfg.data.unlabeled_category is not None:
        raise ConfigError(
            f"unlabeled_category {cfg.data.unlabeled_category!r} is only used by the "
            "semi-supervised VAE (with labels_key); add --model ssvae "
            "(biovae.SemiSupervisedVAE) or drop it"
        )


def n_batches(cfg: FitConfig, cov: CovariateSpec) -> int:
    """Levels of ``data.batch_key`` when the likelihood's dispersion is per batch, else 0."""
    if cfg.model.likelihood.dispersion != "gene-batch":
        return 0
    if not cfg.data.batch_key:
        raise ConfigError(
            "likelihood.dispersion 'gene-batch' needs the batch column: pass --batch-key COL "
            "(batch_key=...)"
        )
    return len(cov.categories[0])


def batch_levels(obs: dict[str, np.ndarray] | None, batch_key: str | None) -> np.ndarray | None:
    """Each record's level of the batch key (as covariate levels are spelled), or None without
    one: count likelihoods keep their library-size prior per batch."""
    if not batch_key or obs is None or batch_key not in obs:
        return None
    return np.asarray(level_text(obs[batch_key]), dtype=object)


def record_weights(sample_weight: Any, n: int, source: str) -> torch.Tensor | None:
    """Validated per-record weights as a float32 tensor (None when not given)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).ravel()
    bad = np.flatnonzero(~(w >= 0) | ~np.isfinite(w))
    if w.shape != (n,) or len(bad) or w.sum() <= 0:
        problem = (
            f"has {w.size} values for {n} records"
            if w.shape != (n,)
            else f"is {w[bad[0]]:g} at position {bad[0]}"
            if len(bad)
            else "is zero for every record"
        )
        raise DataError(
            f"{source}: sample_weight {problem}; give each record a finite weight >= 0, "
            "some of them positive"
        )
    # Σ w_i loss_i / Σ w_i does not change with the weights' scale, but float32 does: weights
    # all below 2^-64 became 0 (the loss 0, a silently untrained model), above 2^64 made the
    # loss overflow to NaN; a power of two brings the largest to [1, 2) without rounding
    top = w.max()
    if not 2.0**-64 <= top <= 2.0**64:
        w = w * 2.0 ** -np.floor(np.log2(top))
    return torch.from_numpy(w).float()


def mmd_levels(cfg: FitConfig, cov: CovariateSpec, c: torch.Tensor | None):
    """Level indicators for the MMD penalty (None when it is off); it needs a categorical
    covariate to make the latent map independent of."""
    if cfg.objective.mmd_batch <= 0:
        return None
    g = cov.level_indicators(c)
    if g is None:
        raise ConfigError(
            "the MMD penalty (objective.mmd_batch, --mmd-batch) removes a categorical covariate "
            f"from the latent map; name it with {setting('data.categorical_covariates')} or "
            f"{setting('data.batch_key')}, e.g. batch"
        )
    return g


def validation_split(
    n: int, fraction: float, seed: int, y: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation record indices (each sorted): ``round(n * fraction)`` records
    held out at random by ``seed`` (none of fewer than 10 records). A fraction that would hold
    out every record is refused (nothing would train, and the untrained model was saved).

    With label codes ``y`` (−1: unlabelled) a level whose labelled records were all drawn for
    validation keeps the first of them in training: its classifier would otherwise never see
    the level (a class with two labels, both held out, was never predicted)."""
    n_val = round(n * fraction) if n >= 10 else 0
    if n_val >= n:
        raise ConfigError(
            f"train.validation_fraction {fraction:g} holds out all {n} records, leaving none to "
            f"train on; lower it (--validation-fraction) below {(n - 0.5) / n:.3g}, e.g. to 0.1"
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    train, val = order[n_val:], order[:n_val]
    if y is not None and n_val:
        y_val = y[val]
        lost = (y_val >= 0) & ~torch.isin(y_val, y[train])
        first = {int(y_val[j]): int(val[j]) for j in reversed(lost.nonzero().ravel().tolist())}
        train = torch.cat([train, torch.tensor(list(first.values()), dtype=order.dtype)])
        val = val[~torch.isin(val, train)]
    return train.sort().values, val.sort().values


def resume_identity(data_fingerprint: str, cfg: FitConfig, *tensors: Any) -> dict[str, Any]:
    """What a resumed fit must share with its checkpoint (besides the training settings the
    loop adds): the data, the model and data settings, and the covariate / label / weight
    values given (``tensors``; None for an absent one), as a SHA-256. Whether the data are
    streamed from disk is left out: a streamed fit is the in-memory fit (tested), so a fit
    stopped for want of memory resumes with ``--stream``."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(b"-" if t is None else torch.as_tensor(t).cpu().contiguous().numpy().tobytes())
    return {
        "data": data_fingerprint,
        "model": to_dict(cfg.model),
        "covariates": {k: v for k, v in to_dict(cfg.data).items() if k != "stream"},
        "covariates, labels, weights": h.hexdigest(),
    }
