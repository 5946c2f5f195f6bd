"""scikit-learn's estimator conventions, without depending on scikit-learn.

The estimators' parameters are the keyword arguments of ``__init__`` (listed in ``_params``):
``get_params`` / ``set_params`` read and write them, so ``sklearn.base.clone`` and grid searches
work; ``fit_transform`` is ``fit`` then ``transform``; ``score_samples`` gives per-record
log-likelihoods and ``score`` their mean, one number (as scikit-learn's density models
GaussianMixture and PCA do: what ``GridSearchCV`` and ``cross_val_score`` maximise);
``set_output`` / ``get_feature_names_out`` / ``feature_names_in_`` follow scikit-learn's;
``__sklearn_tags__`` describes a transformer (of sparse input too; float32 output) when
scikit-learn (≥ 1.6, e.g. a ``Pipeline``) asks, importing scikit-learn only then.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from biovae.data.dataset import names_already_warned
from biovae.errors import ConfigError, NotFittedError
from biovae.inputs import made_up_names, without_target


class EstimatorConventions:
    """Mixin: parameters named by ``_params``, shown by ``repr``; scikit-learn tags of a
    transformer."""

    _params: ClassVar[tuple[str, ...]] = ()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._params}

    def set_params(self, **params: Any):
        for key, value in params.items():
            if key not in self._params:
                raise ConfigError(
                    f"unknown parameter {key!r} for {type(self).__name__}; parameters are: "
                    f"{', '.join(self._params)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        """``VAE(likelihood='nb', n_latent=10)``: the parameters given (those not None or False)."""
        given = (
            f"{k}={v!r}" for k, v in self.get_params().items() if v is not None and v is not False
        )
        return f"{type(self).__name__}({', '.join(given)})"

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator, TransformerMixin

        class _Transformer(TransformerMixin, BaseEstimator):
            pass

        tags = _Transformer().__sklearn_tags__()
        # as the estimators are: sparse input is taken, and the output is float32 (torch's)
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class TransformerConventions(EstimatorConventions):
    """Mixin for estimators with ``fit(X, obs)`` and ``transform(X, obs)``: ``fit_transform``,
    ``get_feature_names_out``, ``set_output(transform="pandas")`` and ``feature_names_in_``.

    Subclasses return ``self._output(Z, X)`` from ``transform``, give ``_n_features_out`` and
    ``score_samples(X, obs, iwae, n_samples, seed)`` (one value per record), whose mean
    :meth:`score` is.
    """

    def score(
        self,
        X: Any,
        y: Any = None,
        obs: Any = None,
        iwae: int = 1,
        n_samples: int = 1,
        seed: int = 0,
    ) -> float:
        """The mean of :meth:`score_samples` over the records of ``X`` (higher is better), one
        number as scikit-learn's density models give (``GridSearchCV`` and ``cross_val_score``
        maximise it); ``y`` is scikit-learn's target, ignored as ``fit`` ignores it; NaN for
        no records. The metadata table goes by keyword (``obs=``): second, it would be ``y``."""
        refuse_table_as_y(y, type(self).__name__)
        return mean_score(self.score_samples(X, obs, iwae=iwae, n_samples=n_samples, seed=seed))

    def fit_transform(self, X: Any, obs: Any = None, **fit_params: Any) -> Any:
        """``fit(X, obs, **fit_params)``, then the fitted model's ``transform(X, obs)`` (which
        does not warn again of the repeated feature names fit warned of)."""
        fitted = self.fit(X, obs, **fit_params)
        with names_already_warned():
            return fitted.transform(X, obs)

    def set_output(self, *, transform: str | None = None):
        """scikit-learn's output API: ``"pandas"`` makes ``transform`` (and ``fit_transform``)
        return a DataFrame with columns :meth:`get_feature_names_out` and the index of ``X`` (a
        DataFrame's index, an AnnData's ``obs_names``); ``"default"`` returns arrays; ``None``
        keeps the current choice. A ``Pipeline``'s or ``ColumnTransformer``'s ``set_output``
        calls this."""
        if transform is None:
            return self
        if transform not in _OUTPUTS:
            raise ConfigError(
                f"set_output(transform={transform!r}) is not supported by "
                f"{type(self).__name__}; use one of {', '.join(map(repr, _OUTPUTS))}"
            )
        config = dict(getattr(self, "_sklearn_output_config", {}))
        self._sklearn_output_config = {**config, "transform": transform}
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: the lower-cased class name and the latent dimension
        (``vae0``, ``vae1``, …), as scikit-learn names a decomposition's components."""
        n_out = self._n_features_out  # raises NotFittedError before fit
        if input_features is not None:
            given = [str(name) for name in input_features]
            known = getattr(self, "feature_names_in_", None)
            if len(given) != self.n_features_in_ or (known is not None and given != list(known)):
                raise ConfigError(
                    f"input_features ({len(given)} names) are not the {self.n_features_in_} "
                    f"features {type(self).__name__} was fitted on; pass None or those names"
                )
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(n_out)], dtype=object)

    @property
    def _n_features_out(self) -> int:
        """The latent dimensions of the fitted model (the columns ``transform`` returns)."""
        if not hasattr(self, "config_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() first")
        return int(self.config_.model.n_latent)

    def _note_feature_names(self, X: Any, features: tuple[str, ...], alphabet: Any) -> None:
        """``feature_names_in_``: set when ``X`` names its columns (a DataFrame whose column
        names are all strings, or an AnnData), as scikit-learn does, or for a Dataset when its
        ``features`` are names (as :meth:`_note_saved_features` has them); removed otherwise."""
        columns = getattr(X, "columns", None)
        if columns is None and hasattr(X, "var_names"):
            columns = X.var_names
        if columns is None:  # a Dataset, or an array (whose names f0, f1, … are made up)
            self._note_names(features, alphabet)
        elif len(columns) and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(features, dtype=object)
        else:
            self.__dict__.pop("feature_names_in_", None)

    def _note_saved_features(self, schema: Any) -> None:
        """``n_features_in_`` and ``feature_names_in_`` of a loaded or reference-mapped model
        (``schema``: its :class:`~biovae.models.DataSchema`), which had neither name before."""
        self.n_features_in_ = int(schema.data_shape[0])
        self._note_names(tuple(schema.features), schema.alphabet)

    def _note_names(self, features: tuple[Any, ...], alphabet: Any) -> None:
        """``feature_names_in_`` = ``features`` unless they are sequence positions (a model
        with an ``alphabet``), not all text, or made up for a bare array (``f0, f1, …``)."""
        named = all(isinstance(name, str) for name in features) and not made_up_names(features)
        if alphabet is None and named:
            self.feature_names_in_ = np.asarray(features, dtype=object)
        else:
            self.__dict__.pop("feature_names_in_", None)

    def _output(self, Z: np.ndarray, X: Any) -> Any:
        """``Z`` as chosen by :meth:`set_output`: the array, or a DataFrame indexed like ``X``."""
        if getattr(self, "_sklearn_output_config", {}).get("transform", "default") != "pandas":
            return Z
        import pandas as pd

        index = getattr(X, "obs_names", None) if hasattr(X, "var_names") else None
        if isinstance(X, pd.DataFrame):
            index = X.index
        if index is not None and len(index) != len(Z):
            index = None
        return pd.DataFrame(Z, index=index, columns=self.get_feature_names_out())


_OUTPUTS = ("default", "pandas")


def mean_score(per_record: np.ndarray) -> float:
    """``score``: the mean of the per-record values (NaN for none, without numpy's warning)."""
    return float(np.mean(per_record)) if len(per_record) else float("nan")


def refuse_table_as_y(y: Any, name: str) -> None:
    """A ConfigError when ``score``'s ``y`` is a metadata table (a DataFrame or dict), as
    ``score(X, obs)`` passed it before ``score`` became one number: silently ignored, a
    conditional model's covariates would be lost."""
    if y is not None and without_target(y) is not None:
        raise ConfigError(
            f"{name}.score(X, y, obs=...) takes scikit-learn's target y second, but got a "
            "metadata table there; pass it by keyword, score(X, obs=obs) (or "
            "score_samples(X, obs) for one value per record)"
        )
