"""What a model knows about its data: shape, alphabet, feature names, covariate encoding."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from biovae.models.covariates import CovariateSpec
from biovae.models.labels import LabelSpec


@dataclass(frozen=True)
class DataSchema:
    """Shape and encoding of the data a model was fitted on; saved in ``metadata.json``.

    ``alleles``: for genotype dosages (PLINK, VCF) the (counted, other) alleles of each
    feature, as :class:`~biovae.data.dataset.Dataset` has them; ``()`` when the data had none,
    as for models saved before they were kept.
    """

    data_shape: tuple[int, ...]
    features: tuple[str, ...] = ()
    alphabet: str | None = None
    covariates: CovariateSpec = field(default_factory=CovariateSpec)
    #: training-data summaries a likelihood needs later (:meth:`~biovae.likelihoods.base.
    #: Likelihood.context_stats`): numbers, or JSON-ready lists (genotype allele frequencies)
    context_stats: dict[str, Any] = field(default_factory=dict)
    labels: LabelSpec = field(default_factory=LabelSpec)
    alleles: tuple[tuple[str, str], ...] = ()

    @property
    def n_letters(self) -> int:
        return len(self.alphabet) if self.alphabet else 0

    @property
    def sample_bytes(self) -> int:
        """Bytes of one sampled record: float32 values, or int64 letter codes."""
        return (8 if self.alphabet else 4) * math.prod(self.data_shape)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataSchema:
        """The schema saved by :meth:`to_dict`; ``ValueError`` when its feature names (if any)
        are not one per column of ``data_shape`` (outputs are labelled by them), or a label
        level repeats (its probability column would overwrite the other's)."""
        cov = d.get("covariates") or {}
        data_shape, features = tuple(d["data_shape"]), tuple(d.get("features") or ())
        if features and len(features) != math.prod(data_shape):
            raise ValueError(f"{len(features)} feature names for {math.prod(data_shape)} columns")
        alleles = tuple((str(c), str(o)) for c, o in d.get("alleles") or ())
        if alleles and len(alleles) != math.prod(data_shape):
            raise ValueError(f"{len(alleles)} allele pairs for {math.prod(data_shape)} columns")
        schema = cls(
            data_shape=data_shape,
            features=features,
            alphabet=d.get("alphabet"),
            covariates=CovariateSpec(
                categorical=tuple(cov.get("categorical", ())),
                categories=tuple(tuple(c) for c in cov.get("categories", ())),
                continuous=tuple(cov.get("continuous", ())),
                means=tuple(cov.get("means", ())),
                stds=tuple(cov.get("stds", ())),
                lows=tuple(cov.get("lows", ())),
                highs=tuple(cov.get("highs", ())),
            ),
            context_stats=dict(d.get("context_stats") or {}),
            labels=LabelSpec(
                (d.get("labels") or {}).get("key"),
                tuple((d.get("labels") or {}).get("levels", ())),
                (d.get("labels") or {}).get("unlabeled"),
                (d.get("labels") or {}).get("numbers") is True,  # absent: saved before
            ),
            alleles=alleles,
        )
        if len(set(schema.labels.levels)) != schema.labels.n_classes:
            raise ValueError(f"label levels repeat in {list(schema.labels.levels)}")
        return schema
