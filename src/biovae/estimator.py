"""scikit-learn style estimators: :class:`VAE`, :class:`Autoencoder` (and :class:`PCA`).

``__init__`` only stores settings; ``fit`` does the work and returns ``self``; learned state ends
in ``_``; all randomness comes from the seed. The estimators build the same :class:`FitConfig`
as the command line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.distributions import Distribution

from biovae import likelihoods, persistence
from biovae._conventions import TransformerConventions
from biovae.config import FitConfig, LikelihoodConfig, given_config, to_dict
from biovae.data.card import Card
from biovae.data.dataset import Dataset
from biovae.data.fingerprint import fingerprint
from biovae.errors import ConfigError, NotFittedError, model_phrase
from biovae.fit_inputs import (
    batch_levels,
    mmd_levels,
    n_batches,
    record_weights,
    refuse_labels,
    resume_identity,
    validation_split,
)
from biovae.inputs import (
    as_dataset,
    check_features,
    check_records,
    obs_columns,
    raw_hint,
    sample_count,
    without_target,
)
from biovae.latent_usage import latent_usage, warn_if_collapsed
from biovae.loading import check_kind, load_model, model_from_saved
from biovae.model_card import latent_card
from biovae.models import CovariateSpec, DataSchema, LabelSpec, LatentVariableModel, build_model
from biovae.objectives import decoded_samples, elbo, iwae_chunks, iwae_streamed
from biovae.pca_estimator import PCA
from biovae.record_noise import checked_draws, record_keys
from biovae.support import check_data
from biovae.training import BatchPasses, BatchSource, fit_model, make_source, seeded
from biovae.training.sources import keyed_batches

_EVAL_BATCH = 1024


class _LatentEstimator(TransformerConventions):
    """Shared implementation of the neural estimators; ``_kind`` picks VAE or autoencoder."""

    _kind: ClassVar[str]
    _params: ClassVar[tuple[str, ...]] = (
        "likelihood", "n_latent", "hidden", "beta", "epochs", "seed", "config", "progress",
    )  # fmt: skip

    def __init__(
        self,
        likelihood: str | None = None,
        n_latent: int | None = None,
        hidden: tuple[int, ...] | None = None,
        beta: float | None = None,
        epochs: int | None = None,
        seed: int | None = None,
        *,
        config: FitConfig | None = None,
        progress: bool = False,
    ) -> None:
        self.likelihood = likelihood
        self.n_latent = n_latent
        self.hidden = hidden
        self.beta = beta
        self.epochs = epochs
        self.seed = seed
        self.config = config
        self.progress = progress

    # -- configuration ---------------------------------------------------------------------
    def get_config(self) -> FitConfig:
        """The full :class:`FitConfig`: ``config`` (or defaults) with explicit arguments applied
        (checked by the configs as a config file's values are: 1.5 epochs is an error)."""
        cfg = check_kind(given_config(self.config), self._kind)
        model, net, obj, train = cfg.model, cfg.model.network, cfg.objective, cfg.train
        if self.likelihood is not None:
            model = dataclasses.replace(
                model, likelihood=dataclasses.replace(model.likelihood, name=self.likelihood)
            )
        if self.hidden is not None:
            net = dataclasses.replace(net, hidden=self.hidden)
        model = dataclasses.replace(
            model,
            kind=self._kind,
            network=net,
            n_latent=self.n_latent if self.n_latent is not None else model.n_latent,
        )
        if self.beta is not None:
            obj = dataclasses.replace(obj, beta=self.beta)
        if self.epochs is not None:
            train = dataclasses.replace(train, epochs=self.epochs)
        if self.seed is not None:
            train = dataclasses.replace(train, seed=self.seed)
        likelihoods.get(model.likelihood.name)
        return dataclasses.replace(cfg, model=model, objective=obj, train=train)

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        obs: Any = None,
        y: Any = None,
        *,
        sample_weight: Any = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> _LatentEstimator:
        """Fit on ``X`` (array, sparse, DataFrame, AnnData or Dataset) with metadata ``obs``.

        Covariates named in ``config.data`` are read from ``obs`` and fed to encoder and decoder;
        an array or list there, like ``y``, is scikit-learn's y (``Pipeline.fit(X, y)``): ignored.
        ``sample_weight`` (n,) ≥ 0 weights each record's loss (Σ w_i loss_i / Σ w_i per batch,
        0 when Σ w_i = 0), e.g. sequence weights; ``history_`` and the validation loss that
        picks the kept epoch are weighted means too. ``checkpoint_dir``: a folder for a resumable
        checkpoint every ``config.train.checkpoint_every`` (> 0) epochs, kept after the fit
        (``biovae fit`` removes its own); ``resume=True`` continues from it exactly.
        """
        obs, cfg = without_target(obs), self.get_config()
        return self._fit(X, obs, cfg, sample_weight, checkpoint_dir, resume)

    def _fit(self, X, obs, cfg: FitConfig, sample_weight, checkpoint_dir, resume: bool):
        """:meth:`fit` with the metadata table ``obs`` and the config ``cfg`` as given."""
        ds = check_records(as_dataset(X, obs, layer=cfg.data.layer))
        lik_cfg = likelihoods.get(cfg.model.likelihood.name).configure(
            cfg.model.likelihood, ds.features
        )
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, likelihood=lik_cfg))
        cov = CovariateSpec.fit(
            ds.obs, cfg.data.categorical, cfg.data.continuous_covariates, ds.source, ds.ids
        )
        letters = len(ds.alphabet) if ds.alphabet else 0
        lik = likelihoods.build(cfg.model.likelihood, ds.x.shape[1:], letters, n_batches(cfg, cov))
        check_data(lik, ds, raw_hint(X, cfg.data.layer))
        labels = self._fit_labels(ds, cfg)
        context = lik.context_stats(ds.x, batch_levels(ds.obs, cfg.data.batch_key))
        schema = DataSchema(
            tuple(ds.x.shape[1:]), ds.features, ds.alphabet, cov, context, labels, ds.alleles
        )
        y = labels.encode(ds.obs, ds.source) if labels.n_classes else None
        c = cov.encode(ds.obs, len(ds), ds.source, ds.ids)
        w = record_weights(sample_weight, len(ds), ds.source)
        source = make_source(ds.x, c, w, lik.data_dtype, y=y, g=mmd_levels(cfg, cov, c))
        train_idx, val_idx = validation_split(
            len(ds), cfg.train.validation_fraction, cfg.train.seed, y
        )
        train = source.subset(train_idx)
        with seeded(cfg.train.seed, cfg.train.device):
            model = build_model(lik, cov.width, cfg.model, labels.n_classes)
            self._prepare_model(model, train)
            fp = fingerprint(ds)
            history = fit_model(
                model,
                train,
                source.subset(val_idx) if len(val_idx) else None,
                cfg.objective,
                cfg.train,
                progress=self.progress,
                checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
                resume=resume,
                identity=resume_identity(fp, cfg, c, y, w),
            )
        model.eval()
        self.config_, self.schema_, self.model_, self.history_ = cfg, schema, model, history
        self.mapping_ = None  # a fresh fit is nobody's reference mapping
        self.n_features_in_ = int(ds.x.shape[1])
        self._note_feature_names(X, ds.features, ds.alphabet)
        self.fingerprint_, self.n_train_, self.n_validation_ = fp, len(train_idx), len(val_idx)
        self.latent_usage_ = latent_usage(self, source, train_idx, val_idx)  # after training: no
        warn_if_collapsed(self)  # draw, no gradient, the weights as trained
        return self._fitted(ds, w)

    def _fitted(self, ds: Dataset, w: torch.Tensor | None) -> _LatentEstimator:
        """What a subclass learns from the fitted data ``ds`` and weights ``w``; ``self``."""
        return self

    def _prepare_model(self, model: torch.nn.Module, train: BatchSource) -> None:
        """Statistics the model takes from its training records before training (none here)."""

    def _fit_labels(self, ds: Dataset, cfg: FitConfig) -> LabelSpec:
        """Label levels learned from the training data (none for unsupervised models)."""
        refuse_labels(cfg)
        return LabelSpec()

    # -- inference -------------------------------------------------------------------------
    def _check_fitted(self) -> LatentVariableModel:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() first")
        return self.model_

    def _source(self, X: Any, obs: Any) -> tuple[Dataset, BatchSource]:
        model = self._check_fitted()
        ds = as_dataset(X, without_target(obs), layer=self.config_.data.layer)
        check_features(ds, self.schema_)
        check_data(model.likelihood, ds, raw_hint(X, self.config_.data.layer))
        c = self.schema_.covariates.encode(ds.obs, len(ds), ds.source, ds.ids)
        return ds, make_source(ds.x, c, None, model.likelihood.data_dtype)

    def _batches(self, source: BatchSource):
        return iter(BatchPasses(source, _EVAL_BATCH))

    def _scoring_batches(self, ds: Dataset, source: BatchSource, seed: int):
        """As :meth:`_batches`, with noise keyed to the records' ids (the seed is checked here,
        before any batch is read)."""
        return keyed_batches(source, record_keys(ds.ids, seed), _EVAL_BATCH)

    def batches(self, X: Any, obs: Any = None) -> BatchPasses:
        """``X`` validated against the model (once) as :class:`~biovae.objectives.Batch`es,
        read anew on each pass: only one batch at a time is in memory."""
        return BatchPasses(self._source(X, obs)[1], _EVAL_BATCH)

    def iter_batches(self, X: Any, obs: Any = None):
        """One pass over :meth:`batches`."""
        return iter(self.batches(X, obs))

    def transform(self, X: Any, obs: Any = None) -> np.ndarray:
        """Posterior means E_q[z|x], shape (n, n_latent) (a DataFrame after set_output)."""
        return self._output(self._posterior_means(self._source(X, obs)[1]), X)

    @torch.no_grad()
    def _posterior_means(self, source: BatchSource) -> np.ndarray:
        """E_q[z|x] of the (validated) records of ``source``, shape (n, n_latent)."""
        zs = [self.model_.encode(b.x, b.c).mean for b in self._batches(source)]
        n_latent = self.config_.model.n_latent
        return torch.cat(zs).numpy() if zs else np.zeros((0, n_latent), np.float32)

    @torch.no_grad()
    def reconstruct(self, X: Any, obs: Any = None) -> np.ndarray:
        """E[x | z = posterior mean] in data space (letter probabilities for sequences)."""
        _, source = self._source(X, obs)
        model, out = self.model_, []
        if not len(source):  # the shape of one decoded record, none of them
            return self._decoded_shape_of_none()
        for b in self._batches(source):
            px = model.decode(model.encode(b.x, b.c).mean, b.c, model.context(b.x))
            out.append(model.likelihood.expected(px))
        return torch.cat(out).numpy()

    def _decoded_shape_of_none(self) -> np.ndarray:
        model, cov = self.model_, self.schema_.covariates
        ctx = model.likelihood.prior_context(1, self.schema_.context_stats)
        c = torch.zeros(1, cov.width) if cov.width else None
        px = model.decode(torch.zeros(1, self.config_.model.n_latent), c, ctx)
        return model.likelihood.expected(px)[:0].numpy()

    @torch.no_grad()
    def sample(self, n: int, obs: Any = None, seed: int = 0) -> np.ndarray:
        """``n`` records decoded from z ~ p(z) (codes for sequences; ``obs``: a conditional model's
        covariates), drawn together: ``sample(2k, s)`` does not begin with ``sample(k, s)``."""
        return self._decoded_draws(self._check_fitted().prior(), n, obs, seed)

    def _decoded_draws(self, pz: Distribution, n: int, obs: Any, seed: int) -> np.ndarray:
        """:meth:`sample` with z ~ ``pz`` (the prior, or a label's prior p(z|y))."""
        model = self.model_
        n = sample_count(n, self.schema_.sample_bytes)
        columns = None if obs is None else obs_columns(obs, 0)
        c = self.schema_.covariates.for_samples(columns, n)
        batch = batch_levels(columns, self.config_.data.batch_key)  # its library sizes
        with seeded(seed):
            z = pz.sample((n,))
            ctx = model.likelihood.prior_context(n, self.schema_.context_stats, batch)
            return decoded_samples(model, z, c, ctx).numpy()

    @torch.no_grad()
    def score_samples(
        self, X: Any, obs: Any = None, iwae: int = 1, n_samples: int = 1, seed: int = 0
    ) -> np.ndarray:
        """Per-record ELBO (mean of ``n_samples`` estimates) or, with ``iwae`` K > 1, IWAE-K.

        :meth:`score` is their mean. The draws of z are keyed to ``seed`` and each record's
        id, so a record with an id of its own scores the same in any file, order or company (an
        array's records are keyed by position). For the plain autoencoder this is
        log p(x | z = f(x)) (no ELBO, no IWAE)."""
        model = self._check_fitted()
        iwae, n_samples = checked_draws(iwae, n_samples, model.stochastic, model_phrase(self))
        ds, source = self._source(X, obs)
        out = []
        if not len(source):
            return np.zeros(0)
        batches = self._scoring_batches(ds, source, seed)
        with seeded(seed):
            for b in batches:
                if not model.stochastic:
                    out.append(model.loss(b, self.config_.objective).elbo_n)
                elif iwae > 1:
                    out.append(iwae_streamed(iwae_chunks(model, b, iwae))[0])
                else:
                    runs = [elbo(model, b, beta=1.0).elbo_n for _ in range(n_samples)]
                    out.append(torch.stack(runs).mean(0))
        return torch.cat(out).double().numpy()

    # -- persistence -----------------------------------------------------------------------
    def save(
        self, path: str | Path, metadata: dict[str, Any] | None = None, card: Card | None = None
    ) -> Path:
        """Write the fitted model to folder ``path`` (config.json, safetensors, metadata.json
        and the model card MODEL_CARD.md).

        ``metadata`` adds JSON-ready entries to ``metadata.json`` (e.g. an application's state);
        ``card`` replaces the card of :func:`biovae.model_card.latent_card`.
        """
        model = self._check_fitted()
        meta = {
            "model_class": type(self).__name__,
            "data_fingerprint": self.fingerprint_,
            "n_train": self.n_train_,
            "n_validation": self.n_validation_,
            "history": self.history_,
            "latent_usage": getattr(self, "latent_usage_", None),  # None: not measured
            # the settings asked for, before fit learned anything from the data (genotype loci,
            # a structure's cis bonds): a loaded model refitted starts from these
            "given_config": to_dict(self.get_config()),
            **({"mapping": self.mapping_} if getattr(self, "mapping_", None) else {}),
        }
        clash = sorted({*meta, "mapping"} & set(metadata or {}))
        if clash:
            raise ConfigError(f"metadata key {clash[0]!r} is biovae's own; use another name")
        meta.update(metadata or {})
        card = card or latent_card(self, summary=False, training=True)
        saved = persistence.SavedModel(
            self.config_, self.schema_, model.state_dict(), meta, card=card
        )
        return persistence.save(path, saved)

    @classmethod
    def load(cls, path: str | Path) -> _LatentEstimator:
        """Load a fitted estimator from a model folder (no pickle involved)."""
        saved = persistence.load(path)
        if saved.config.model.kind != cls._kind:
            raise ConfigError(
                f"{path} holds a '{saved.config.model.kind}' model, not "
                f"'{cls._kind}'; load it with biovae.load_model"
            )
        return cls.from_saved(saved)

    @classmethod
    def from_saved(cls, saved: persistence.SavedModel) -> _LatentEstimator:
        """Rebuild a fitted estimator from the contents of a model folder."""
        est = cls(config=persistence.given_config(saved))
        schema = saved.schema
        n_batch = n_batches(saved.config, schema.covariates)
        lik = likelihoods.build(
            saved.config.model.likelihood, schema.data_shape, schema.n_letters, n_batch
        )
        width, n_classes = schema.covariates.width, schema.labels.n_classes
        build = lambda: build_model(lik, width, saved.config.model, n_classes)  # noqa: E731
        est.config_, est.schema_ = saved.config, schema
        est.model_ = persistence.load_weights(build, saved)
        est.history_ = saved.metadata.get("history", [])
        est.fingerprint_ = saved.metadata.get("data_fingerprint", "")
        est.n_train_ = saved.metadata.get("n_train", 0)
        est.n_validation_ = saved.metadata.get("n_validation", 0)
        est.mapping_ = saved.metadata.get("mapping")  # set by reference mapping (biovae.query)
        est.latent_usage_ = saved.metadata.get("latent_usage")  # None: saved before
        est._note_saved_features(schema)
        return est


class VAE(_LatentEstimator):
    """Variational autoencoder (β-VAE with ``beta``; conditional with covariates in ``config``).

    Examples
    --------
    >>> vae = biovae.VAE(likelihood="nb", n_latent=10, epochs=100).fit(counts)  # doctest: +SKIP
    >>> z = vae.transform(counts)                                              # doctest: +SKIP
    """

    _kind = "vae"


class Autoencoder(_LatentEstimator):
    """Plain deterministic autoencoder with the same networks (baseline; no ELBO, no prior fit)."""

    _kind = "ae"

    def get_config(self) -> FitConfig:
        if self.beta is not None:  # as the command line refuses --beta for --model ae
            raise ConfigError(
                f"beta={self.beta!r} has no effect on an Autoencoder (it has no KL term); "
                "leave it out, or use biovae.VAE"
            )
        return super().get_config()


__all__ = ["PCA", "VAE", "Autoencoder", "LikelihoodConfig", "load_model", "model_from_saved"]
