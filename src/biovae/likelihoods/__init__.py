"""Registry of p(x|z) families.

A name such as ``"nb"`` is turned into a likelihood object once, at the edge (config, CLI), by
:func:`build`. Adding a family = one file defining a :class:`Likelihood` subclass + one line in
``_REGISTRY``, and its name in :data:`biovae.likelihood_names.LIKELIHOOD_NAMES` (the list the
command line shows without importing torch; checked against the registry here, at import).
"""

from __future__ import annotations

from biovae.config import LikelihoodConfig
from biovae.errors import ConfigError
from biovae.likelihood_names import LIKELIHOOD_NAMES
from biovae.likelihoods.base import BadEntry, Likelihood
from biovae.likelihoods.bernoulli import Bernoulli
from biovae.likelihoods.ca_chain import CaChain
from biovae.likelihoods.categorical import Categorical
from biovae.likelihoods.dirichlet_multinomial import DirichletMultinomial
from biovae.likelihoods.gaussian import Gaussian
from biovae.likelihoods.genotype import Genotype
from biovae.likelihoods.hurdle_dirichlet import HurdleDirichlet
from biovae.likelihoods.negative_binomial import NegativeBinomial
from biovae.likelihoods.poisson import Poisson
from biovae.likelihoods.zinb import ZeroInflatedNegativeBinomial

_REGISTRY: dict[str, type[Likelihood]] = {
    cls.name: cls
    for cls in (
        Gaussian,
        Bernoulli,
        Categorical,
        Poisson,
        NegativeBinomial,
        ZeroInflatedNegativeBinomial,
        DirichletMultinomial,
        HurdleDirichlet,
        CaChain,
        Genotype,
    )
}
if tuple(sorted(_REGISTRY)) != LIKELIHOOD_NAMES:  # the torch-free list the CLI's help shows
    raise ImportError(
        f"biovae.likelihood_names.LIKELIHOOD_NAMES {LIKELIHOOD_NAMES} differs from the registered "
        f"likelihoods {tuple(sorted(_REGISTRY))}; name every registered family there"
    )


def available() -> tuple[str, ...]:
    """Registered likelihood names."""
    return tuple(sorted(_REGISTRY))


def get(name: str) -> type[Likelihood]:
    """The likelihood class registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown likelihood {name!r}; choose one of: {', '.join(available())}"
        ) from None


def build(
    config: LikelihoodConfig, data_shape: tuple[int, ...], n_letters: int = 0, n_batches: int = 0
) -> Likelihood:
    """Bind a likelihood to a data shape (and an alphabet size for sequences).

    ``n_batches`` > 0 gives per-batch shared parameters (``config.dispersion = "gene-batch"``).
    """
    lik = get(config.name)(data_shape, config, n_letters=n_letters)
    if n_batches:
        lik.bind_batches(n_batches)
    return lik


__all__ = ["BadEntry", "Likelihood", "available", "build", "get"]
