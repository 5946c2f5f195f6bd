"""The audit page: its latent maps show each covariate as the audit read it."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.reports import audit_page, plots
from biovae.reports.analysis import is_categorical


@pytest.fixture
def drawn(monkeypatch) -> dict[str, np.ndarray]:
    """The values each latent map of a rendered audit page is coloured by, by name."""
    seen: dict[str, np.ndarray] = {}

    def latent_map(proj, values, name) -> bytes:
        seen[name] = values
        return b""

    monkeypatch.setattr(plots, "latent_map", latent_map)
    return seen


def _render(columns: dict[str, np.ndarray], kinds: dict[str, str]) -> None:
    n = len(next(iter(columns.values())))
    z = np.random.default_rng(0).normal(size=(n, 3))
    result = {"covariates": {name: {"kind": kind} for name, kind in kinds.items()}}
    panel = audit_page.AuditPanel("model", result, z, columns)
    audit_page._maps(panel)


def test_a_batch_coded_by_numbers_is_mapped_by_level_not_on_a_colour_scale(drawn) -> None:
    batch = np.array([1.0, 2.0, 3.0, np.nan, 1.0, 2.0])
    _render({"batch": batch}, {"batch": "categorical"})
    assert is_categorical(drawn["batch"])  # was a colour bar 1.0..3.0: the table has 3 levels
    assert list(drawn["batch"]) == ["1", "2", "3", "", "1", "2"]  # NaN missing, not "nan"


def test_values_the_audit_left_out_are_missing_on_its_map(drawn) -> None:
    sex = np.array(["male", "unknown", "female", "NA"], dtype=object)
    _render({"sex": sex}, {"sex": "categorical"})
    assert list(drawn["sex"]) == ["male", "", "female", ""]  # was levels "unknown" and "NA"


def test_a_continuous_covariate_keeps_its_colour_scale(drawn) -> None:
    age = np.array(["64", "unknown", "70"], dtype=object)
    _render({"age": age}, {"age": "continuous"})
    assert drawn["age"].dtype == np.float64 and np.isnan(drawn["age"][1])
