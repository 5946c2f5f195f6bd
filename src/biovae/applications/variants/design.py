"""Design of multi-mutants of the focus that the family model rates best: beam search on Δ ELBO.

Round 1 scores every single substitution at the allowed positions (the scan, gaps excluded)
and keeps the ``pool`` best as building blocks. Round r (r = 2..K) adds one building block at a
position not yet mutated to each of the ``beam`` best designs of round r − 1, scores every new
combination *exactly* (Δ ELBO of the multi-mutant, not a sum of single effects, so epistasis
learned by the model counts) and keeps the ``beam`` best. Scores use the same draws (seed) for
every candidate, as :func:`~biovae.applications.variants.scoring.delta_elbo` does, so the
ranking is deterministic for a seed. With ``beam`` and ``pool`` large enough to hold every
combination the search is exhaustive (tested); otherwise it is the usual greedy beam
approximation. Every design has exactly K mutations: fewer than K allowed positions, or a pool
whose substitutions cannot extend any design of the beam, is an error (never shorter designs).

Sequences: each design is written as the whole focus (its insert residues included) with the
designed letters at their residues (:mod:`~biovae.applications.variants.focus`), so a design
of K mutations is the focus protein with K substitutions; its letters over the model's match
columns are kept too, for comparisons with the training alignment. Models saved before the
focus's whole sequence was kept give the match columns only, with a warning.

What the scores mean: higher Δ ELBO = more like the family, i.e. more likely to fold and work
as its members do. They say nothing of a new function, and the model has not seen the designs:
test them, screen them (:mod:`biovae.applications.design.screening`) and keep their distance
to the family in mind.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from biovae.applications.variants.family import Family
from biovae.applications.variants.mutations import not_a_column, parse, single_mutant_scan
from biovae.config_io import typed
from biovae.errors import ConfigError

#: the warning for models saved without the focus's whole sequence
OLD_MODEL = (
    "this model was saved without the focus's whole sequence, so its designs hold the match "
    "columns only (the focus's insert residues are missing); refit it with 'biovae variants "
    "fit' to design whole sequences"
)


#: the ``biovae variants design`` flag of each count setting, named in its error
_FLAGS = {"n_mutations": "-k", "beam": "--beam", "pool": "--pool", "n_samples": "--samples"}


@dataclass(frozen=True)
class DesignSettings:
    """Number of mutations per design, beam width, pool of single substitutions, allowed
    residue numbers (None = every match column), scoring draws and seed."""

    n_mutations: int = 3
    beam: int = 50
    pool: int = 100
    positions: tuple[int, ...] | None = None
    n_samples: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        # beam=5.5 or n_samples=2.0 failed with a traceback after the singles were scored
        typed(self, "DesignSettings")
        for name, flag in _FLAGS.items():
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"design {name.replace('_', ' ')} must be >= 1 (CLI {flag}), "
                    f"got {getattr(self, name)}"
                )
        if not 0 <= self.seed < 2**63:  # numpy's and torch's generators take no other
            raise ConfigError(f"design seed (--seed) must be in 0 .. 2**63 - 1, not {self.seed}")


def design(family: Family, settings: DesignSettings, sampled_weights: bool = True) -> dict:
    """The final beam, best first: columns ``mutant`` (``A42G:K45R``), ``n_mutations``,
    ``score``, ``se``, ``independent_site``, ``sequence`` (the whole focus, inserts included,
    with the mutations: the protein to make) and ``match_columns`` (the mutated focus over the
    model's match columns, as the training alignment has it). For a model saved without the
    focus's whole sequence, ``sequence`` is the match columns too and a warning says so."""
    singles = _singles(family, settings.positions, settings.n_mutations)
    scored = _score(family, singles, settings, sampled_weights)
    order = np.argsort(-scored["score"], kind="stable")
    pool = [singles[i] for i in order[: settings.pool]]
    beam = [(singles[i],) for i in order[: settings.beam]]
    best = {k: v[order[: settings.beam]] for k, v in scored.items()}
    for n in range(2, settings.n_mutations + 1):
        grown = _grow(beam, pool)
        if not grown:  # every pool substitution sits at a position the designs already hold
            raise ConfigError(
                f"the pool of the {len(pool)} best single substitutions has too few positions "
                f"to add mutation {n} of {settings.n_mutations} to any design; raise the pool "
                "(--pool) or allow more positions (--positions)"
            )
        scored = _score(family, [":".join(d) for d in grown], settings, sampled_weights)
        order = np.argsort(-scored["score"], kind="stable")[: settings.beam]
        beam = [grown[i] for i in order]
        best = {k: v[order] for k, v in scored.items()}
    return _table(family, beam, best)


def _singles(family: Family, positions: tuple[int, ...] | None, n_mutations: int) -> list[str]:
    """Every substitution (not the wild type, not a gap) at the allowed residue numbers, which
    must number at least ``n_mutations``."""
    allowed = set(family.positions) if positions is None else set(positions)
    unknown = sorted(allowed - set(family.positions))
    if unknown:
        dropped = {d.position: d.reason() for d in family.dropped_columns}
        raise ConfigError(
            f"{dropped.get(unknown[0]) or not_a_column(unknown[0], family.positions)} "
            f"(match columns {family.positions[0]}–{family.positions[-1]})"
        )
    gaps = {p for p, a in zip(family.positions, family.focus_sequence) if a == "-"}
    if positions is not None and allowed & gaps:  # named, so not skipped silently
        raise ConfigError(
            f"residue {min(allowed & gaps)} is a match column where the model's focus has a "
            "gap: no focus residue to substitute there; leave it out of --positions"
        )
    names = single_mutant_scan(family.focus, family.alphabet, family.positions)
    out = [m for m in names if m[0] != m[-1] and int(m[1:-1]) in allowed]
    if not out:
        raise ConfigError("no substitution to design with at the allowed positions")
    n_positions = len({int(m[1:-1]) for m in out})
    if n_positions < n_mutations:
        raise ConfigError(
            f"designs of {n_mutations} mutations need {n_mutations} positions but only "
            f"{n_positions} allowed position{'s' * (n_positions != 1)} can be mutated; allow "
            "more positions (--positions) or ask for fewer mutations (-k)"
        )
    return out


def _grow(beam: list[tuple[str, ...]], pool: list[str]) -> list[tuple[str, ...]]:
    """Each design plus one pool substitution at a new position; each set once, in a fixed
    order (positions ascending within a design)."""
    seen, out = set(), []
    for design_ in beam:
        taken = {int(m[1:-1]) for m in design_}
        for m in pool:
            if int(m[1:-1]) in taken:
                continue
            key = tuple(sorted((*design_, m), key=lambda s: (int(s[1:-1]), s)))
            if key not in seen:
                seen.add(key)
                out.append(key)
    return out


def _score(family: Family, mutants: list[str], settings: DesignSettings, sampled: bool) -> dict:
    cols = family.score(mutants, settings.n_samples, settings.seed, sampled)
    return {k: cols[k] for k in ("score", "se", "independent_site")}


def _table(family: Family, beam: list[tuple[str, ...]], best: dict) -> dict:
    index = {p: i for i, p in enumerate(family.positions)}
    focus = family.focus_sequence
    columns = []
    for design_ in beam:
        letters = list(focus)
        for _, number, new in parse(":".join(design_)):
            letters[index[number]] = new
        columns.append("".join(letters))
    return {
        "mutant": np.array([":".join(d) for d in beam], dtype=object),
        "n_mutations": np.array([len(d) for d in beam]),
        **best,
        "sequence": np.array(_whole(family, focus, columns), dtype=object),
        "match_columns": np.array(columns, dtype=object),
    }


def _whole(family: Family, focus: str, columns: list[str]) -> list[str]:
    """The designs as whole sequences of the focus (inserts included); the match columns, with
    a warning, for a model saved without the focus's whole sequence."""
    if family.focus_residues is None:
        warnings.warn(OLD_MODEL, stacklevel=4)
        return columns
    return [family.focus_residues.whole(focus, c) for c in columns]
