"""scikit-learn style estimator of the semi-supervised VAE (:mod:`biovae.models.semisupervised`).

Fits on all records; those whose ``labels_key`` entry (or entry of scikit-learn's ``y``) is
missing, "unknown" or ``data.unlabeled_category`` (when it is not given, −1 too: in ``y``, and in
a ``labels_key`` column of numbers or a categorical one of numeric categories) are unlabelled.
``predict_proba`` gives q(y|x) for any records (labelled or not), temperature-scaled on the
labelled records of the fit's validation split (:mod:`biovae.calibration`), ``predict`` the
most likely level, ``transform`` the label-guided latent map.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from biovae import calibration, persistence
from biovae._conventions import refuse_table_as_y
from biovae.config import DataConfig, FitConfig
from biovae.data._messages import preview
from biovae.data.dataset import Dataset
from biovae.errors import ConfigError, DataError, model_phrase
from biovae.estimator import _LatentEstimator
from biovae.fit_inputs import validation_split
from biovae.inputs import as_dataset, without_target
from biovae.levels import find_level
from biovae.models import LabelSpec
from biovae.models.labels import (
    LABEL_DTYPES,
    check_classes,
    target_dtype,
    target_labels,
    typed_levels,
    unlabelled_mask,
)
from biovae.objectives import iwae_chunks, iwae_streamed
from biovae.record_noise import checked_draws
from biovae.training import InMemorySource, seeded

#: The obs column of the labels given as ``y`` when ``labels_key`` names none.
TARGET_KEY = "y"


class SemiSupervisedVAE(_LatentEstimator):
    """VAE whose latent map is guided by (partial) labels and which predicts them.

    Examples
    --------
    >>> est = biovae.SemiSupervisedVAE(labels_key="cell_type", likelihood="nb")  # doctest: +SKIP
    >>> est.fit(counts, obs).predict_proba(counts)                               # doctest: +SKIP
    """

    _kind = "ssvae"
    _params = (*_LatentEstimator._params, "labels_key")

    # a classifier to scikit-learn < 1.6 (``is_classifier``); newer ones read the tags
    _estimator_type = "classifier"

    def __init__(  # spelled out: scikit-learn reads the parameters from this signature
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
        labels_key: str | None = None,
    ) -> None:
        super().__init__(
            likelihood, n_latent, hidden, beta, epochs, seed, config=config, progress=progress
        )
        self.labels_key = labels_key

    def __sklearn_tags__(self):
        """A transformer's tags (:class:`~biovae._conventions.EstimatorConventions`) that also
        make it a classifier: ``is_classifier`` is True, so ``cross_val_score`` stratifies its
        folds and scorers such as ``roc_auc`` take the positive class's ``predict_proba``
        column."""
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True  # without labels_key, fit needs y
        return tags

    def get_config(self) -> FitConfig:
        cfg = super().get_config()
        if self.labels_key is not None:
            cfg = dataclasses.replace(
                cfg, data=dataclasses.replace(cfg.data, labels_key=self.labels_key)
            )
        if cfg.objective.iwae_samples > 1:
            raise ConfigError(
                "the semi-supervised VAE trains on its ELBO; set objective.iwae_samples to 1"
            )
        return cfg

    def fit(
        self,
        X: Any,
        obs: Any = None,
        y: Any = None,
        *,
        sample_weight: Any = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> SemiSupervisedVAE:
        """Fit as :meth:`VAE.fit`, with the labels in ``obs``'s column ``labels_key`` or in ``y``
        (scikit-learn's ``fit(X, y)``; an array, list or Series in ``obs``'s place is ``y``):
        one per record, None, NaN, a spelling of "unknown" or −1 (or, when it is given,
        ``unlabeled_category`` in −1's place: −1 is then a class, as in an obs column of
        numbers) where a record is unlabelled. ``y`` fills obs column ``labels_key`` (default
        ``"y"``); a categorical ``y``'s categories give the class order, whatever ``obs`` is.
        Labels are classes: non-integer numbers (a regression target, scikit-learn's type
        "continuous") in ``y`` or the column are refused, unless a categorical declares them;
        whole floats (1.0) are classes, and a 2-D ``y`` other than a column is refused.

        Then the temperature of :meth:`predict_proba`: the T that
        minimises the negative log-likelihood of q(y|x) / T on the labelled records of the
        validation split (held out of training), weighted by ``sample_weight`` as the
        validation loss is; T = 1 with fewer than :data:`biovae.calibration.MIN_RECORDS` of
        them of positive weight, or all of one label. ``temperature_`` holds T and
        ``n_calibration_`` the number of records it was fitted on (0: none)."""
        cfg = self.get_config()
        obs, y = _target(obs, y)
        obs, key = _labelled(X, obs, y, cfg.data)
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, labels_key=key))
        self._fit(X, obs, cfg, sample_weight, checkpoint_dir, resume)
        self.label_dtype_ = None if y is None else target_dtype(y)
        return self

    def _fitted(self, ds: Dataset, w: torch.Tensor | None) -> SemiSupervisedVAE:
        """The temperature of :meth:`fit`, from the data and record weights just fitted."""
        held, codes = self._held_out(ds)
        given = codes[held]
        weights = None if w is None else w.numpy()[held]
        if not calibration.can_fit(given, weights):
            self.temperature_, self.n_calibration_ = 1.0, 0
            return self
        logits = self._logits(ds.subset(held), None)
        self.temperature_ = calibration.fit_temperature(logits, given, weights)
        self.n_calibration_ = len(held) if weights is None else int((weights > 0).sum())
        return self

    def held_out_labelled(self, X: Any, obs: Any = None, y: Any = None) -> np.ndarray:
        """Indices of the labelled records of the fit's validation split (those ``temperature_``
        was fitted on), ``X`` (Dataset, AnnData, array... with ``obs`` or ``y``, as given to
        :meth:`fit`) being the records the model was fitted on, in the same order (the split is
        recomputed from its seed and labels)."""
        self._check_fitted()
        obs = _labelled(X, *_target(obs, y), self.config_.data)[0]
        ds = as_dataset(X, obs, layer=self.config_.data.layer)
        n = (self.n_train_ or 0) + (self.n_validation_ or 0)  # 0: saved without the counts
        if n and len(ds) != n:  # indices of another data set's split would mean nothing
            raise DataError(
                f"{ds.source or 'data'}: {len(ds):,} records, but the model was fitted on "
                f"{n:,}; pass the records it was fitted on, in the same order"
            )
        return self._held_out(ds)[0]

    def _held_out(self, ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`held_out_labelled` and the label codes of every record (−1: none)."""
        train = self.config_.train
        given = self.schema_.labels.encode(ds.obs, ds.source)
        _, val = validation_split(len(ds), train.validation_fraction, train.seed, given)
        val, codes = val.numpy(), given.numpy()
        return val[codes[val] >= 0], codes

    def _prepare_model(self, model: torch.nn.Module, train: InMemorySource) -> None:
        """The covariate offsets of a ``clr_residual`` classifier input, from the training
        records (labelled or not)."""
        model.fit_input_offset(self._batches(train))

    def _fit_labels(self, ds: Dataset, cfg: FitConfig) -> LabelSpec:
        if not cfg.data.labels_key:
            raise ConfigError(
                "a semi-supervised VAE needs the label column: pass --labels-key COL "
                "(labels_key=..., or the labels as y: fit(X, y)); missing or 'unknown' entries "
                "are unlabelled"
            )
        if cfg.model.classifier_input.startswith("clr"):
            _check_composition(ds, cfg.model.classifier_input)
        key = cfg.data.labels_key
        declared = ds.categories.get(key, ())
        return LabelSpec.fit(ds.obs, key, ds.source, cfg.data.unlabeled_category, declared)

    @property
    def classes_(self) -> np.ndarray:
        """The label levels, in the column order of :meth:`predict_proba`: an array of text
        (object), or of numbers when the model was fitted on a numeric ``y``, as scikit-learn's
        classifiers give (its scorers compare ``classes_ == pos_label`` elementwise)."""
        self._check_fitted()
        typed = getattr(self, "label_dtype_", None)  # None: text, as an object array
        levels = typed_levels(self.schema_.labels.levels, typed)
        return np.asarray(levels, dtype=typed or object)

    @torch.no_grad()
    def sample(self, n: int, obs: Any = None, seed: int = 0, label: Any = None) -> np.ndarray:
        """``n`` records decoded from z ~ p(z) = Σ_y N(μ_y, I) / C, as :meth:`VAE.sample`; with
        ``label`` (one of ``classes_``) from that label's prior z ~ N(μ_y, I): records of one
        class (M2's class-conditional generation; the label acts on x through z)."""
        model = self._check_fitted()
        if label is None:
            return super().sample(n, obs, seed)
        return self._decoded_draws(model.class_prior(self._label_code(label)), n, obs, seed)

    def _label_code(self, label: Any) -> int:
        """The index of ``label`` in ``classes_`` (``1`` names level "1"), or a ConfigError."""
        self._check_fitted()
        levels = self.schema_.labels.levels
        level = find_level(label, levels)
        if level is None:
            raise ConfigError(
                f"label {label!r} is none of this model's {len(levels)} classes "
                f"({preview(levels)}); pick one of them"
            )
        return levels.index(level)

    def predict_proba(self, X: Any, obs: Any = None, *, calibrated: bool = True) -> np.ndarray:
        """Label probabilities of every record, shape (n, levels), columns ordered as
        ``classes_``: q(y|x) with its logits divided by ``temperature_`` (see :meth:`fit`);
        ``calibrated=False``: q(y|x) as the classifier gives it."""
        logits = self._logits(X, obs)
        t = getattr(self, "temperature_", 1.0) if calibrated else 1.0
        return calibration.probabilities(logits, t)

    @torch.no_grad()
    def _logits(self, X: Any, obs: Any) -> np.ndarray:
        """The classifier's logits of q(y|x), shape (n, levels), float64."""
        _, source = self._source(X, obs)
        model = self.model_
        if not len(source):
            return np.zeros((0, len(self.classes_)))
        logits = [model.label_distribution(b.x, b.c).logits for b in self._batches(source)]
        return torch.cat(logits).double().numpy()

    def predict(self, X: Any, obs: Any = None) -> np.ndarray:
        """Most likely label level of every record."""
        return self.classes_[self.predict_proba(X, obs).argmax(1)]

    def score(self, X: Any, y: Any = None, obs: Any = None) -> float:
        """Accuracy of :meth:`predict` on the labelled records of ``y`` (scikit-learn's
        classifier ``score``, what ``GridSearchCV`` maximises): records whose label is missing,
        "unknown" or the unlabelled marker (as in :meth:`fit`) are left out, an unfitted level
        counts as wrong. ``y=None``: the labels of ``obs``'s (or an AnnData's) ``labels_key``
        column; a table goes by keyword (``obs=``). Per record: :meth:`score_samples`."""
        refuse_table_as_y(y, type(self).__name__)  # unlike fit's, score's 2nd argument is y
        codes, ds = self._label_codes(X, obs, y)
        labelled = np.flatnonzero(codes != -1)
        if not len(labelled):
            raise DataError(
                f"{ds.source or 'data'}: none of the {len(ds):,} records has a label, so there "
                "is no accuracy to measure; pass labels as y (score_samples gives log p(x))"
            )
        predicted = self.predict_proba(ds.subset(labelled)).argmax(1)
        return float(np.mean(predicted == codes[labelled]))

    def _label_codes(self, X: Any, obs: Any, y: Any) -> tuple[np.ndarray, Any]:
        """The codes of the labels of ``X``'s records (from ``y`` or column ``labels_key``):
        −1 unlabelled, −2 a level not in ``classes_``; and ``X`` as a Dataset."""
        self._check_fitted()
        obs, y = _target(obs, y)
        key = self.schema_.labels.key
        obs = _labelled(X, obs, y, self.config_.data)[0]
        ds = as_dataset(X, obs, layer=self.config_.data.layer)
        if key not in ds.obs:
            raise ConfigError(
                f"{type(self).__name__}.score(X, y) is the accuracy of predict on labelled "
                f"records: pass their labels as y (or obs with column {key!r}); "
                "score_samples(X) gives each record's log-likelihood bound"
            )
        return self.schema_.labels.encode(ds.obs, ds.source, unseen=-2).numpy(), ds

    @torch.no_grad()
    def score_samples(
        self, X: Any, obs: Any = None, iwae: int = 1, n_samples: int = 1, seed: int = 0
    ) -> np.ndarray:
        """Per-record bound on log p(x): the unlabelled ELBO, or IWAE-K with the marginal prior
        (draws keyed to ``seed`` and each record's id, as :meth:`VAE.score_samples`)."""
        model = self._check_fitted()
        iwae, n_samples = checked_draws(iwae, n_samples, model.stochastic, model_phrase(self))
        ds, source = self._source(X, obs)
        out = []
        if not len(source):
            return np.zeros(0)
        batches = self._scoring_batches(ds, source, seed)
        with seeded(seed):
            for b in batches:
                if iwae > 1:
                    out.append(iwae_streamed(iwae_chunks(model, b, iwae))[0])
                    continue
                runs = [model.loss(b, self.config_.objective).elbo_n for _ in range(n_samples)]
                out.append(torch.stack(runs).mean(0))
        return torch.cat(out).double().numpy()

    def save(self, path: Any, metadata: dict | None = None, card: Any = None) -> Any:
        """As :meth:`VAE.save`, with the temperature of :meth:`predict_proba`."""
        own = {
            "label_temperature": getattr(self, "temperature_", 1.0),
            "n_calibration": getattr(self, "n_calibration_", 0),
            "label_dtype": getattr(self, "label_dtype_", None),
        }
        return super().save(path, {**(metadata or {}), **own}, card)

    @classmethod
    def from_saved(cls, saved: persistence.SavedModel) -> SemiSupervisedVAE:
        est = super().from_saved(saved)
        t = saved.metadata.get("label_temperature", 1.0)  # models saved before: q(y|x) as is
        where = saved.folder / persistence.METADATA if saved.folder else persistence.METADATA
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 < t < float("inf"):
            raise DataError(
                f"{where}: label_temperature {t!r} is not a positive number; the model "
                "folder is damaged: refit or restore it"
            )
        dtype = saved.metadata.get("label_dtype")  # None: text (and models saved before)
        if dtype not in (None, *LABEL_DTYPES):
            raise DataError(
                f"{where}: label_dtype {dtype!r} is none of {', '.join(LABEL_DTYPES)}; the "
                "model folder is damaged: refit or restore it"
            )
        # n_calibration's type is checked on reading (persistence); None counts as absent
        est.temperature_ = float(t)
        est.n_calibration_ = int(saved.metadata.get("n_calibration") or 0)
        est.label_dtype_ = dtype
        return est


def _target(obs: Any, y: Any) -> tuple[Any, Any]:
    """``(obs, y)``, with an array, list or Series in ``obs``'s place taken as ``y``
    (``Pipeline.fit(X, y)`` and ``cross_val_score`` pass scikit-learn's ``y`` there)."""
    if obs is None or without_target(obs) is not None:
        return obs, y
    if y is not None:
        raise DataError("labels given twice: as y and in obs's place; pass y once")
    return None, obs


def _labelled(X: Any, obs: Any, y: Any, data: DataConfig) -> tuple[Any, str | None]:
    """``obs`` with the labels ``y`` (read with ``data.unlabeled_category``) in column
    ``data.labels_key`` (``"y"`` when None; ``X``'s own obs kept if it is an AnnData), and that
    key; ``obs`` and ``labels_key`` as given when there is no ``y``."""
    if y is None:
        return obs, data.labels_key
    labels = target_labels(y, data.unlabeled_category)
    if not _declares(y):  # a categorical y's categories are classes, 0.5 too
        check_classes(labels, unlabelled_mask(labels, data.unlabeled_category), "y")
    labels = _declared_order(y, labels)
    key = data.labels_key or TARGET_KEY
    if obs is None and hasattr(X, "obs") and hasattr(X, "var_names"):  # an AnnData's own obs
        obs = X.obs
    if obs is None:  # a categorical y keeps its declared order (Dataset.categories)
        return {key: labels}, key
    if key in obs:
        raise DataError(
            f"labels given twice: as y and as obs column {key!r} (labels_key); pass one of them"
        )
    if not hasattr(obs, "columns"):
        return {**obs, key: labels}, key
    if len(labels) != len(obs):
        raise DataError(
            f"y has {len(labels):,} labels but obs {len(obs):,} rows; give one label per record"
        )
    return obs.assign(**{key: labels}), key


def _declares(y: Any) -> bool:
    """Whether ``y`` is categorical (a pandas Categorical or a Series of one): its declared
    categories then order the classes, as they do a categorical obs column's."""
    return isinstance(getattr(y, "dtype", None), pd.CategoricalDtype)


def _declared_order(y: Any, labels: np.ndarray) -> Any:
    """``labels`` (:func:`target_labels` of ``y``) as a Categorical of ``y``'s categories when
    ``y`` is categorical (unlabelled entries missing), else as they are."""
    if not _declares(y):
        return labels
    return pd.Categorical(labels, categories=y.dtype.categories)


def _check_composition(ds: Dataset, classifier_input: str) -> None:
    """clr inputs take logs of shares: every value must be >= 0 (and present)."""
    from biovae.likelihoods.base import first_bad, row_blocks

    blocks = row_blocks(ds.x)
    for start, block in blocks:
        hit = first_bad(block, lambda v: ~(v >= 0))
        if hit is not None:
            raise DataError(
                f"{ds.source}: record '{ds.ids[hit[0] + start]}', feature "
                f"'{ds.features[hit[1]]}' is negative or missing, but classifier_input "
                f"{classifier_input!r} takes log-ratios of compositions; use 'z' or 'x'"
            )
