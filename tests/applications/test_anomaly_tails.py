"""Conformal tail probabilities of anomaly scores against reference records: the p-value
formula (ties included) and its validity, P(p <= alpha) <= alpha, for exchangeable scores."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.applications.anomaly import (
    expected_false_positive_rate,
    main_score,
    tail_columns,
    tail_probabilities,
)
from biovae.errors import ConfigError


def test_p_values_count_ties_against_the_record_by_hand():
    reference = np.array([2.0, 2.0, 1.0, 5.0, np.nan])  # m = 4 scored: 1, 2, 2, 5
    scores = np.array([0.0, 1.0, 2.0, 3.0, 6.0, np.nan])
    # (1 + #{r <= s}) / 5: #{} = 0, 1, 3, 3, 4
    expected = [1 / 5, 2 / 5, 4 / 5, 4 / 5, 5 / 5, np.nan]
    np.testing.assert_allclose(tail_probabilities(scores, reference), expected)


def _flag_rate(draw, m: int, alpha: float, reps: int, seed: int) -> float:
    """The share of ``reps`` records flagged (p <= alpha), each scored against m reference
    scores drawn with it, i.i.d. (exchangeable)."""
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(reps):
        x = draw(rng, m + 1)
        flagged += bool(tail_probabilities(x[-1:], x[:-1])[0] <= alpha)
    return flagged / reps


def test_exchangeable_continuous_scores_are_flagged_at_the_stated_rate():
    m, alpha, reps = 19, 0.1, 4000
    rate = _flag_rate(lambda rng, n: rng.normal(size=n), m, alpha, reps, 0)
    expected = expected_false_positive_rate(alpha, m)
    assert expected == pytest.approx(2 / 20)  # floor(0.1 * 20) / 20
    assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / reps)


def test_tied_scores_keep_the_rate_below_alpha():
    """Scores of a few values (ties everywhere): a tie counts against the record, so the
    rate stays <= alpha (counting only r < s would flag about a third here)."""
    m, alpha, reps = 19, 0.2, 4000
    rate = _flag_rate(lambda rng, n: rng.integers(0, 4, n).astype(float), m, alpha, reps, 1)
    assert rate <= alpha + 4 * np.sqrt(alpha * (1 - alpha) / reps)


def test_the_main_score_is_per_unit_where_present_and_iwae_where_computed():
    x = np.zeros(3)
    assert main_score({"elbo": x}) == "elbo"
    assert main_score({"elbo": x, "iwae_50": x}) == "iwae_50"
    assert main_score({"elbo": x, "elbo_per_locus": x, "observed_loci": x}) == "elbo_per_locus"
    both = {"elbo": x, "iwae_5": x, "elbo_per_locus": x, "iwae_5_per_locus": x}
    assert main_score(both) == "iwae_5_per_locus"


def test_tail_columns_flag_at_alpha_and_refuse_a_bad_level_or_empty_reference():
    ref = {"elbo": np.arange(1.0, 21.0)}  # 20 reference records
    cols = tail_columns({"elbo": np.array([0.5, 1.0, 10.0, np.nan])}, ref, 0.1)
    np.testing.assert_allclose(cols["tail_elbo"], [1 / 21, 2 / 21, 11 / 21, np.nan])
    assert cols["anomaly"].tolist() == [True, True, False, False]
    assert set(tail_columns({"elbo": np.zeros(2)}, ref)) == {"tail_elbo"}
    for bad in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="--flag-below"):
            tail_columns({"elbo": np.zeros(2)}, ref, bad)
    with pytest.raises(ConfigError, match="no record with a score in elbo"):
        tail_columns({"elbo": np.zeros(2)}, {"elbo": np.array([np.nan])})


def test_a_small_reference_warns_of_its_smallest_p_value():
    with pytest.warns(UserWarning, match=r"smallest attainable p-value is 1/6"):
        tail_columns({"elbo": np.zeros(2)}, {"elbo": np.arange(5.0)})
