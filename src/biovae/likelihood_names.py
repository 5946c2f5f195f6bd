"""The names of the p(x|z) families, kept apart from their registry
(:mod:`biovae.likelihoods`, which imports torch) so that the command line can list them in
its help without loading torch. The registry checks at import that it registers exactly these
names: a family added there must be named here too."""

from __future__ import annotations

__all__ = ["LIKELIHOOD_NAMES"]

#: every registered likelihood name, sorted (as :func:`biovae.likelihoods.available` lists them)
LIKELIHOOD_NAMES = (
    "bernoulli",
    "ca_chain",
    "categorical",
    "dirichlet_multinomial",
    "gaussian",
    "genotype",
    "hurdle_dirichlet",
    "nb",
    "poisson",
    "zinb",
)
