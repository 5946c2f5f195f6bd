"""scikit-learn's estimator conventions, without depending on scikit-learn.

The estimators' parameters are the keyword arguments of ``__init__`` (listed in ``_params``):
``get_params`` / ``set_params`` read and write them, so ``sklearn.base.clone`` and grid searches
work; ``__sklearn_tags__`` describes a transformer when scikit-learn (≥ 1.6, e.g. a
``Pipeline``) asks, importing scikit-learn only then.
"""

from __future__ import annotations

from typing import Any, ClassVar

from biovae.errors import ConfigError


class EstimatorConventions:
    """Mixin: parameters named by ``_params``; scikit-learn tags of a transformer."""

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

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator, TransformerMixin

        class _Transformer(TransformerMixin, BaseEstimator):
            pass

        return _Transformer().__sklearn_tags__()
