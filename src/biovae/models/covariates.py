"""Covariates to condition on: categorical (one-hot) and continuous (standardised)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from biovae.errors import ConfigError, DataError, warn_at_caller
from biovae.levels import MISSING, aliases, level_text
from biovae.setting_names import setting, settings


@dataclass(frozen=True)
class CovariateSpec:
    """Learned encoding of covariates; saved with the model so new data encode identically.

    ``categories[i]`` lists the levels of ``categorical[i]``; ``means``/``stds`` standardise
    ``continuous`` and ``lows``/``highs`` are their training ranges (a value outside one is
    encoded all the same, the network extrapolates, with a warning; models saved before the
    ranges were kept have none and are not checked). The encoded width is Σ levels + number of
    continuous covariates.
    """

    categorical: tuple[str, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()
    continuous: tuple[str, ...] = ()
    means: tuple[float, ...] = ()
    stds: tuple[float, ...] = ()
    lows: tuple[float, ...] = ()
    highs: tuple[float, ...] = ()

    @property
    def width(self) -> int:
        return sum(len(c) for c in self.categories) + len(self.continuous)

    def level_indicators(self, c: torch.Tensor | None) -> torch.Tensor | None:
        """The one-hot columns of the categorical covariates in an encoded matrix ``c`` (they
        come first), or None without categorical covariates."""
        n_onehot = sum(len(levels) for levels in self.categories)
        return c[:, :n_onehot] if c is not None and n_onehot else None

    def with_level(self, c: torch.Tensor, name: str, level: int) -> torch.Tensor:
        """A copy of the encoded matrix ``c`` with categorical covariate ``name`` set to its
        ``level``-th level in every row (the counterfactual "as if from that batch")."""
        i = self.categorical.index(name)
        start = sum(len(levels) for levels in self.categories[:i])
        out = c.clone()
        out[:, start : start + len(self.categories[i])] = 0.0
        out[:, start + level] = 1.0
        return out

    @classmethod
    def fit(
        cls, obs: dict[str, np.ndarray], categorical=(), continuous=(), source="data", ids=None
    ):
        """Learn levels and standardisation from training metadata ``obs`` (``ids``: the
        records' ids, named in errors)."""
        cats = tuple(tuple(sorted(set(_levels(obs, n, source, ids)))) for n in categorical)
        for name, levels in zip(categorical, cats):
            _warn_if_crowded(name, levels, len(_column(obs, name, source)), source)
        cont = [_numeric(_column(obs, n, source), n, source, ids) for n in continuous]
        means = tuple(float(v.mean()) for v in cont)
        stds = tuple(_scale(v) for v in cont)
        lows = tuple(float(v.min(initial=np.inf)) for v in cont)
        highs = tuple(float(v.max(initial=-np.inf)) for v in cont)
        return cls(tuple(categorical), cats, tuple(continuous), means, stds, lows, highs)

    def for_samples(self, obs: dict[str, np.ndarray] | None, n: int) -> torch.Tensor | None:
        """The covariates of ``n`` records to generate, from ``obs`` (one value per record):
        required by a conditional model, and refused by one without covariates (they would
        be ignored, and the samples would not be what was asked for)."""
        if self.width and obs is None:
            raise DataError(
                "this model is conditional; pass obs with columns "
                f"{', '.join(self.categorical + self.continuous)} for the samples"
            )
        if obs is not None and not self.width:
            raise ConfigError(
                "obs gives covariates for the samples, but this model is not conditional on "
                f"any (obs has {', '.join(obs) or 'no columns'}); leave obs out"
            )
        return self.encode(obs, n, "obs") if self.width else None

    def encode(
        self, obs: dict[str, np.ndarray], n: int, source: str = "data", ids=None
    ) -> torch.Tensor | None:
        """Covariate matrix (n, width) float32, or None when there are no covariates
        (``ids``: the records' ids, named in errors)."""
        if self.width == 0:
            return None
        parts = []
        for name, levels in zip(self.categorical, self.categories):
            shown = ", ".join(levels[:10]) + (", ..." if len(levels) > 10 else "")
            values = _levels(obs, name, source, ids, f"with a level seen in training ({shown})")
            _check_length(values, n, name, source)
            index = aliases(levels)
            unknown = np.flatnonzero([v not in index for v in values])
            if unknown.size:
                first = unknown[0]
                raise DataError(
                    f"{source}: covariate {name!r} has level '{values[first]}' not seen in "
                    f"training ({_record(first, ids)}, {unknown.size} record(s) in all; "
                    f"known: {shown}); refit the model, map it to a known level, or place its "
                    "records on this model with biovae map (biovae.tl.map_query)"
                )
            onehot = np.zeros((n, len(levels)), dtype=np.float32)
            onehot[np.arange(n), [index[v] for v in values]] = 1.0
            parts.append(onehot)
        for i, (name, mean, std) in enumerate(zip(self.continuous, self.means, self.stds)):
            values = _numeric(_column(obs, name, source).ravel(), name, source, ids)
            _check_length(values, n, name, source)
            if i < len(self.lows):
                _warn_outside(values, name, (self.lows[i], self.highs[i]), std, source, ids)
            parts.append(((values - mean) / std).astype(np.float32)[:, None])
        return torch.from_numpy(np.concatenate(parts, axis=1))


def _warn_if_crowded(name: str, levels: tuple[str, ...], n: int, source: str) -> None:
    """A warning for a categorical covariate of nearly one level per record (a number such as
    n_counts, or an id column, given as a batch): each level gets an input of its own."""
    if len(levels) > 20 and len(levels) > n / 2:
        warn_at_caller(
            f"{source}: categorical covariate {name!r} has {len(levels)} levels among {n} "
            "records (a continuous or id column?); a number belongs in "
            + setting("data.continuous_covariates"),
        )


def _warn_outside(values, name: str, span: tuple[float, float], std: float, source, ids) -> None:
    """Warn when values of continuous covariate ``name`` lie outside its training range
    ``span``: the decoder was never fitted there, so outputs of those records extrapolate."""
    low, high = span
    gap = np.maximum(low - values, values - high)
    outside = np.flatnonzero(gap > 0)
    if outside.size:
        far = outside[np.argmax(gap[outside])]
        warnings.warn(
            f"{source}: continuous covariate {name!r} is outside its training range "
            f"[{low:g}, {high:g}] for {outside.size} record(s) (furthest: {values[far]:g} in "
            f"{_record(far, ids)}, {gap[far] / std:.1f} training SDs beyond); the model "
            "extrapolates there, so treat those records' outputs with caution",
            UserWarning,
            stacklevel=3,
        )


def _scale(values: np.ndarray) -> float:
    """Standard deviation of a continuous covariate, or 1 for a constant one. The standard
    deviation of equal values comes out as rounding noise (1.4e-17 for 0.1): dividing by it
    would put any other value ~1e16 standard deviations away."""
    sd = float(values.std())
    return sd if sd > 1e-9 * float(np.abs(values).max(initial=0.0)) else 1.0


def _check_length(values: np.ndarray, n: int, name: str, source: str) -> None:
    if len(values) != n:
        raise DataError(
            f"{source}: covariate {name!r} has {len(values)} value(s) for {n} records; give one "
            "value per record (e.g. np.full(n, level) for one level)"
        )


def _record(i: int, ids) -> str:
    """Record ``i`` as the readers name it: counted from 1, with its id when known."""
    return f"record {i + 1}" + (f" ({str(ids[i])!r})" if ids is not None and i < len(ids) else "")


def _levels(
    obs: dict[str, np.ndarray], name: str, source: str, ids=None, fill: str = "(e.g. 'unknown')"
) -> np.ndarray:
    """The level spellings of categorical covariate ``name``; a missing value is an error
    (a model cannot be conditioned on "no batch") saying what to ``fill`` in: at fit any
    level, for a fitted model one it has seen ('unknown' would be a level it has not)."""
    values = level_text(_column(obs, name, source))
    missing = np.flatnonzero(values == MISSING)
    if missing.size:
        raise DataError(
            f"{source}: covariate {name!r} is missing for {_record(missing[0], ids)} "
            f"({missing.size} records in all); fill it in {fill} or drop those records"
        )
    return values


def _column(obs: dict[str, np.ndarray], name: str, source: str) -> np.ndarray:
    if name not in obs:
        avail = ", ".join(sorted(obs)[:20]) or "none"
        named = settings(
            "data.batch_key", "data.categorical_covariates", "data.continuous_covariates"
        )
        raise DataError(
            f"{source}: covariate column {name!r} not found (metadata columns: {avail}); "
            f"check {named}; "
            "in a table, a numeric column is a feature unless "
            f"{setting('data.metadata_columns')} lists it"
        )
    return np.asarray(obs[name])


def _numeric(values: np.ndarray, name: str, source: str, ids=None) -> np.ndarray:
    try:
        out = values.astype(np.float64)
    except (TypeError, ValueError):
        i = next(i for i, v in enumerate(values.ravel()) if not _is_number(v))
        raise DataError(
            f"{source}: continuous covariate {name!r} has the non-numeric value "
            f"{str(values.ravel()[i])!r} in {_record(i, ids)}; fix that value (leave a missing "
            "one empty and impute it) or declare the covariate categorical"
        ) from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise DataError(
            f"{source}: continuous covariate {name!r} is missing or not finite in "
            f"{_record(bad[0], ids)}; impute it or drop those records"
        )
    return out


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
