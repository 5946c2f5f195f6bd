"""PCA baseline behind the estimator interface (probabilistic PCA in closed form).

PCA models the likelihood's featurisation of the data (one-hot sequences, log1p counts, raw
values for Gaussian data); ``reconstruct`` and ``sample`` map back to the nearest data-space
point (argmax letter, rounded count). ``score_samples`` is the exact PPCA log-likelihood of
each featurised record, ``score`` their mean.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biovae import likelihoods, persistence
from biovae._conventions import TransformerConventions
from biovae.config import FitConfig, given_config
from biovae.data import ondisk
from biovae.data.fingerprint import fingerprint
from biovae.errors import ConfigError, DataError, NotFittedError, model_phrase
from biovae.inputs import (
    as_dataset,
    check_features,
    check_records,
    obs_columns,
    sample_count,
    without_target,
)
from biovae.likelihoods import Likelihood
from biovae.loading import check_kind
from biovae.model_card import latent_card
from biovae.models import DataSchema
from biovae.models import pca as ppca
from biovae.record_noise import checked_draws, checked_seed
from biovae.setting_names import setting
from biovae.support import check_data
from biovae.training import epoch_batches
from biovae.training.sources import make_source, prefetched


class PCA(TransformerConventions):
    """Probabilistic PCA with ``n_latent`` components on featurised data."""

    _params = ("n_latent", "likelihood", "config")

    def __init__(
        self,
        n_latent: int | None = None,
        likelihood: str | None = None,
        *,
        config: FitConfig | None = None,
    ) -> None:
        self.n_latent = n_latent
        self.likelihood = likelihood
        self.config = config

    def get_config(self) -> FitConfig:
        cfg = check_kind(given_config(self.config), "pca")
        model = cfg.model
        if self.likelihood is not None:
            model = dataclasses.replace(
                model, likelihood=dataclasses.replace(model.likelihood, name=self.likelihood)
            )
        if self.n_latent is not None:
            model = dataclasses.replace(model, n_latent=self.n_latent)
        likelihoods.get(model.likelihood.name)
        return dataclasses.replace(cfg, model=dataclasses.replace(model, kind="pca"))

    def _blocks(self, X: Any, obs: Any) -> Iterator[torch.Tensor]:
        """Featurised blocks of the records of ``X``, validated against the fitted model (as in
        fit), read one block at a time (a streamed data set is never read whole)."""
        ds = as_dataset(X, without_target(obs), layer=self.config_.data.layer)
        check_features(ds, self.schema_)
        check_data(self.likelihood_, ds)
        return _featurised_blocks(ds, self.likelihood_)

    def _per_block(self, X: Any, obs: Any, fn) -> torch.Tensor:
        """``fn`` of each featurised block of ``X``, joined (rows stay in order)."""
        fit = self._check()
        parts = [fn(fit, block) for block in self._blocks(X, obs)]
        if parts:
            return torch.cat(parts)
        return fn(fit, torch.zeros(0, self.likelihood_.n_inputs))  # no records: (0, ...)

    def fit(self, X: Any, obs: Any = None, y: Any = None) -> PCA:
        """Fit PPCA on ``X``; returns ``self`` (scikit-learn's ``y``, given in ``obs``'s place or
        as ``y``, is ignored)."""
        cfg = self.get_config()
        ds = check_records(as_dataset(X, without_target(obs), layer=cfg.data.layer))
        lik = likelihoods.build(
            cfg.model.likelihood, ds.x.shape[1:], len(ds.alphabet) if ds.alphabet else 0
        )
        check_data(lik, ds)
        check_components(ds, lik, cfg.model.n_latent)
        if _streamed(ds):  # larger than memory: two or more passes over the file
            self.fit_ = ppca.fit_ppca_passes(
                lambda: _featurised_blocks(ds, lik), cfg.model.n_latent
            )
        else:
            self.fit_ = ppca.fit_ppca(_featurised(ds, lik), cfg.model.n_latent)
        self.config_, self.likelihood_ = cfg, lik
        self.schema_ = DataSchema(
            tuple(ds.x.shape[1:]), ds.features, ds.alphabet, alleles=ds.alleles
        )
        self.fingerprint_, self.history_, self.n_train_ = fingerprint(ds), [], len(ds)
        self.n_features_in_ = int(ds.x.shape[1])
        self._note_feature_names(X, ds.features, ds.alphabet)
        return self

    def _check(self) -> ppca.PPCAFit:
        if not hasattr(self, "fit_"):
            raise NotFittedError("this PCA is not fitted yet; call fit() first")
        return self.fit_

    def transform(self, X: Any, obs: Any = None) -> np.ndarray:
        """Posterior means E[z|x] (n, n_latent)."""
        z = self._per_block(X, obs, lambda fit, b: ppca.posterior(fit, b)[0].float())
        return self._output(z.numpy(), X)

    def reconstruct(self, X: Any, obs: Any = None) -> np.ndarray:
        lik = self.likelihood_
        return self._per_block(
            X,
            obs,
            lambda fit, b: lik.defeaturize(
                ppca.reconstruct(fit, ppca.posterior(fit, b)[0]).float()
            ),
        ).numpy()

    def sample(self, n: int, obs: Any = None, seed: int = 0) -> np.ndarray:
        """``n`` records x = W z + μ + ε, z ~ N(0, I), in data space; a PCA conditions on no
        covariates, so ``obs`` is refused, not ignored."""
        fit = self._check()
        self.schema_.covariates.for_samples(None if obs is None else obs_columns(obs, 0), n)
        gen = torch.Generator().manual_seed(checked_seed(seed))
        return self.likelihood_.defeaturize(
            ppca.sample(fit, sample_count(n, self.schema_.sample_bytes), gen).float()
        ).numpy()

    def score_samples(
        self, X: Any, obs: Any = None, iwae: int = 1, n_samples: int = 1, seed: int = 0
    ) -> np.ndarray:
        """Exact log-likelihood of each featurised record under the fitted PPCA (no draws:
        ``iwae`` > 1 is refused, ``n_samples`` and ``seed`` are checked as
        :meth:`VAE.score_samples` checks them and change nothing); :meth:`score` is their mean."""
        self._check()
        checked_draws(iwae, n_samples, False, model_phrase(self))
        checked_seed(seed)
        return self._per_block(X, obs, ppca.log_likelihood).numpy()

    def save(self, path: str | Path) -> Path:
        fit = self._check()
        weights = {
            "mean": fit.mean,
            "components": fit.components,
            "eigenvalues": fit.eigenvalues,
            "noise_variance": torch.tensor([fit.noise_variance], dtype=torch.float64),
        }
        meta = {
            "model_class": "PCA",
            "data_fingerprint": self.fingerprint_,
            "n_train": getattr(self, "n_train_", 0),
            "history": [],
        }
        card = latent_card(self, summary=False, training=True)
        saved = persistence.SavedModel(self.config_, self.schema_, weights, meta, card=card)
        return persistence.save(path, saved)

    @classmethod
    def load(cls, path: str | Path) -> PCA:
        return cls.from_saved(persistence.load(path))

    @classmethod
    def from_saved(cls, saved: persistence.SavedModel) -> PCA:
        if saved.config.model.kind != "pca":
            raise ConfigError(
                f"{saved.folder or 'this folder'} holds a '{saved.config.model.kind}' model, "
                "not a PCA; load it with biovae.load_model"
            )
        est = cls(config=saved.config)
        est.config_, est.schema_ = saved.config, saved.schema
        est.likelihood_ = likelihoods.build(
            saved.config.model.likelihood, saved.schema.data_shape, saved.schema.n_letters
        )
        est.fit_ = _saved_fit(saved, est.likelihood_.n_inputs)
        est.fingerprint_ = saved.metadata.get("data_fingerprint", "")
        est.history_, est.n_train_ = [], int(saved.metadata.get("n_train", 0))
        est._note_saved_features(saved.schema)
        return est


def _saved_fit(saved: persistence.SavedModel, n_inputs: int) -> ppca.PPCAFit:
    """The PPCA parameters of a read model folder, once each tensor is there with the shape
    the saved config and schema give it (f featurised inputs, k components)."""
    k = saved.config.model.n_latent
    shapes = {
        "mean": (n_inputs,),
        "components": (n_inputs, k),
        "eigenvalues": (k,),
        "noise_variance": (1,),
    }
    w = saved.weights
    where = saved.folder / persistence.WEIGHTS if saved.folder else persistence.WEIGHTS
    for name, shape in shapes.items():
        if name not in w or tuple(w[name].shape) != shape or not w[name].is_floating_point():
            found = "missing" if name not in w else f"{w[name].dtype} {tuple(w[name].shape)}"
            raise ConfigError(
                f"{where}: PCA tensor {name!r} is {found} where the saved config needs float "
                f"{shape}; the file is damaged or from another model: refit the model"
            )
    extra = sorted(set(w) - set(shapes))
    if extra:
        raise ConfigError(
            f"{where}: tensor {extra[0]!r} is not part of a PCA model; refit the model"
        )
    mean, comps, eig, noise = (w[name].double() for name in shapes)
    return ppca.PPCAFit(mean, comps, eig, float(noise[0]))


def check_fits(data: Any, config: FitConfig) -> None:
    """The one-line error :meth:`PCA.fit` would give for ``data`` when ``config``'s number of
    components is too large, raised before other work (a sweep trains its VAEs first)."""
    as_pca = dataclasses.replace(config, model=dataclasses.replace(config.model, kind="pca"))
    cfg = PCA(config=as_pca).get_config()
    ds = as_dataset(data, layer=cfg.data.layer)
    lik = likelihoods.build(
        cfg.model.likelihood, ds.x.shape[1:], len(ds.alphabet) if ds.alphabet else 0
    )
    check_components(ds, lik, cfg.model.n_latent)


def check_components(ds: Any, lik: Likelihood, n_latent: int) -> None:
    """A DataError unless ``n_latent`` < min(records, featurised inputs) of ``ds``: PPCA's
    sample covariance has no more directions (:func:`biovae.models.pca.fit_ppca`)."""
    width = lik.n_inputs
    if n_latent >= min(len(ds), width):
        raise DataError(
            f"{ds.source or 'data'}: PCA needs n_latent < min(records, features) = "
            f"{min(len(ds), width)}; choose a smaller {setting('model.n_latent')}"
        )


def _streamed(ds: Any) -> bool:
    """Whether the records are left on disk (``--stream``): read block by block."""
    return hasattr(ds.x, "rows") and hasattr(ds.x, "blocks")


def _featurised_blocks(ds: Any, lik: Likelihood) -> Iterator[torch.Tensor]:
    """The likelihood's featurisation of the records, in record order, in the blocks of a
    matrix left on disk (:data:`biovae.data.ondisk.BLOCK_ROWS`, 4,096 rows) or as many rows."""
    src = make_source(ds.x, dtype=lik.data_dtype)
    rows = getattr(ds.x, "block_rows", ondisk.BLOCK_ROWS)
    for _, batch in prefetched(src, epoch_batches(len(src), rows, None)):
        yield lik.featurize(batch.x)


def _featurised(ds: Any, lik: Likelihood) -> torch.Tensor:
    parts = list(_featurised_blocks(ds, lik))
    if parts:
        return torch.cat(parts)
    src = make_source(ds.x, dtype=lik.data_dtype)
    return lik.featurize(src.batch(torch.arange(0)).x)  # no records: (0, f)
