"""Per-dimension tests of the confounding audit with grouped records: records of one subject
are not independent, so the tests behind "carried by" compare group means."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kruskal, spearmanr

from biovae.diagnostics.confounding import CARRY_ALPHA, audit
from biovae.diagnostics.confounding_groups import group_means
from biovae.reports.audit_page import dimensions_text

K = 16
THRESHOLD = CARRY_ALPHA / K  # Bonferroni over the dimensions, as the audit uses


def subjects(seed: int, effect: float = 0.0):
    """30 subjects × 5 records: z is the subject's random offset plus small noise; a random
    binary label and a random number constant within a subject; ``effect`` shifts dimension 0
    of the subjects labelled "b" and dimension 1 by the number (real, subject-level
    associations)."""
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(30), 5)
    label = rng.integers(0, 2, 30)
    offsets = rng.normal(size=(30, K))
    number = rng.normal(size=30)
    offsets[:, 0] += effect * label
    offsets[:, 1] += effect * number
    z = offsets[subject] + 0.1 * rng.normal(size=(150, K))
    cols = {"label": np.array(["a", "b"])[label[subject]], "number": number[subject]}
    return z, cols, np.char.add("s", subject.astype(str))


def test_group_means_are_the_means_of_each_group_and_level():
    z = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0], [7.0, 6.0], [0.0, 1.0]])
    groups = np.array(["g1", "g1", "g2", "g2", "g1"])
    # g1 spans two levels: one mean for its "a" records, one for its "b" record
    means, levels = group_means(z, np.array(["a", "a", "b", "b", "b"]), groups, True)
    assert levels.tolist() == ["a", "b", "b"]
    np.testing.assert_allclose(means, [[2.0, 1.0], [0.0, 1.0], [6.0, 5.0]])
    means, values = group_means(z, np.array([1.0, 2.0, 10.0, 20.0, 6.0]), groups, False)
    np.testing.assert_allclose(means, [[4 / 3, 1.0], [6.0, 5.0]])
    np.testing.assert_allclose(values, [3.0, 15.0])


def test_a_random_subject_label_is_carried_by_no_dimension_when_grouped():
    z, cols, subject = subjects(seed=4)
    records = audit(z, cols, continuous=["number"])["covariates"]
    grouped = audit(z, cols, continuous=["number"], groups=subject, group_name="subject")
    grouped = grouped["covariates"]
    for name in cols:
        # record-wise, 150 records of 30 subjects pass for 150 observations: noise dimensions
        # are "carried" with p over 20 times below the threshold ...
        assert records[name]["carrying_dimensions"]
        assert min(records[name]["attribution_p"]) < THRESHOLD / 20
        # ... on the 30 subject means none comes within 10 times of it
        assert grouped[name]["carrying_dimensions"] == []
        assert min(grouped[name]["attribution_p"]) > THRESHOLD * 10
        assert grouped[name]["attribution_n"] == 30 and "attribution_n" not in records[name]
    # the p-values are the plain tests on the subject means
    means, labels = group_means(z, cols["label"], subject, True)
    want = kruskal(means[labels == "a", 3], means[labels == "b", 3]).pvalue
    assert grouped["label"]["attribution_p"][3] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_real_subject_level_association_is_still_carried_when_grouped(seed):
    z, cols, subject = subjects(seed, effect=4.0)
    r = audit(z, cols, continuous=["number"], groups=subject, group_name="subject")
    label = r["covariates"]["label"]
    assert label["carrying_dimensions"] == [0] and label["attribution_p"][0] < THRESHOLD / 5
    number = r["covariates"]["number"]
    assert number["carrying_dimensions"] == [1] and number["attribution_p"][1] < THRESHOLD / 5
    assert dimensions_text(label) == "z_1 (tested on 30 group means)"


def test_without_groups_the_tests_are_those_of_the_records_bit_for_bit():
    z, cols, _ = subjects(seed=3)
    r = audit(z, cols, continuous=["number"])["covariates"]
    a = cols["label"] == "a"
    assert r["label"]["attribution_p"] == [
        float(kruskal(z[a, k], z[~a, k]).pvalue) for k in range(K)
    ]
    assert r["number"]["attribution_p"] == [
        float(spearmanr(z[:, k], cols["number"]).pvalue) for k in range(K)
    ]
    assert "tested on" not in dimensions_text(r["label"])
