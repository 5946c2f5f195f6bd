"""The confounding audit's verdict: does a technical covariate dominate the biological one?

It compares chance-corrected skills (κ for categories, cross-validated R² for numbers) of the
best-predicted technical and biological covariates, and speaks only where the numbers allow:

* *confounded*: every level of one covariate holds a single level of the other (each batch
  one condition), so a map that separates the batches separates the conditions too and no
  audit of the map can tell which of the two it carries;
* *dominates*: the technical skill exceeds the biological one (taken as 0, chance, when
  below it) by ``margin`` and by twice the standard error of the difference (the two errors
  taken as independent), and is itself beyond chance (more than twice its standard error
  above 0). The standard errors are the binomial sampling errors of the held-out predictions;
  they leave out the variation between training sets (on pure noise the spread of κ over
  repeats is about a quarter larger), which the stricter test of the gap absorbs;
* otherwise it says which of these failed: neither covariate is predicted beyond chance, the
  gap is within sampling noise, or the technical covariate does not dominate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Standard errors a difference (or a skill) must exceed to count as beyond sampling noise.
Z_NOISE = 2.0


def _skill(result: Mapping[str, Any]) -> tuple[float, float]:
    """Chance-corrected skill and its standard error."""
    if result["kind"] == "categorical":
        return float(result["kappa"]), float(result["kappa_se"])
    return float(result["r2"]), float(result["r2_se"])


def _text(tech: str, bio: str, t: tuple, b: tuple, state: str, confounded: str | None) -> str:
    skills = f"chance-corrected skill {t[0]:.2f} ± {t[1]:.2f} vs {b[0]:.2f} ± {b[1]:.2f}"
    if state == "confounded":
        return (
            f"{tech!r} and {bio!r} are confounded ({confounded}): the audit cannot tell which "
            f"of the two the map carries ({skills}); audit records where they vary apart"
        )
    if state == "dominates":
        return (
            f"technical covariate {tech!r} dominates the map ({skills} for {bio!r}); condition "
            "on it or guide the map with labels"
        )
    if state == "chance":
        return f"neither {tech!r} nor {bio!r} is predicted beyond chance from the map ({skills})"
    if state == "noise":
        return (
            f"{tech!r} does not clearly dominate {bio!r} ({skills}): the gap is within twice its "
            "standard error; audit more records"
        )
    return f"{tech!r} does not dominate {bio!r} ({skills})"


def verdict(
    results: Mapping[str, Mapping[str, Any]],
    technical: Sequence[str],
    biological: Sequence[str],
    margin: float = 0.1,
    confounded: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """Does the best-predicted technical covariate dominate the best biological one?

    ``confounded`` maps (technical, biological) pairs whose levels nest to a sentence saying
    how (:func:`biovae.diagnostics.confounding.nested_levels`).
    """
    tech = max(technical, key=lambda n: _skill(results[n])[0])
    bio = max(biological, key=lambda n: _skill(results[n])[0])
    t, b = _skill(results[tech]), _skill(results[bio])
    # a skill below chance is chance: a biological κ of −0.1 must not widen the gap
    gap, gap_se = t[0] - max(b[0], 0.0), float(np.hypot(t[1], b[1]))
    nesting = (confounded or {}).get((tech, bio))
    if nesting:
        state = "confounded"
    elif t[0] <= Z_NOISE * t[1] and b[0] <= Z_NOISE * b[1]:
        state = "chance"
    elif gap > margin and gap > Z_NOISE * gap_se and t[0] > Z_NOISE * t[1]:
        state = "dominates"
    elif gap > margin:
        state = "noise"
    else:
        state = "no"
    shared = sorted(
        set(results[tech]["carrying_dimensions"]) & set(results[bio]["carrying_dimensions"])
    )
    return {
        "technical": tech,
        "biological": bio,
        "technical_skill": t[0],
        "technical_skill_se": t[1],
        "biological_skill": b[0],
        "biological_skill_se": b[1],
        "technical_dominates": state == "dominates",
        "confounded": state == "confounded",
        "shared_dimensions": shared,
        "text": _text(tech, bio, t, b, state, nesting),
    }
