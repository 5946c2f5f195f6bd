"""scikit-learn's estimator conventions, without depending on scikit-learn.

The estimators' parameters are the keyword arguments of ``__init__`` (listed in ``_params``):
``get_params`` / ``set_params`` read and write them, so ``sklearn.base.clone`` and grid searches
work; ``fit_transform`` is ``fit`` then ``transform``; ``__sklearn_tags__`` describes a
transformer (of sparse input too; float32 output) when scikit-learn (≥ 1.6, e.g. a ``Pipeline``)
asks, importing scikit-learn only then.
"""

from __future__ import annotations

from typing import Any, ClassVar

from biovae.errors import ConfigError


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
    """Mixin for estimators with ``fit(X, obs)`` and ``transform(X, obs)``: ``fit_transform``."""

    def fit_transform(self, X: Any, obs: Any = None, **fit_params: Any) -> Any:
        """``fit(X, obs, **fit_params)``, then the fitted model's ``transform(X, obs)``."""
        return self.fit(X, obs, **fit_params).transform(X, obs)
