"""Per-individual genotype QC (plink --het's F, missing rate) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.applications.anomaly import QcLimits, qc_flags
from biovae.errors import ConfigError
from biovae.likelihoods.genotype_qc import heterozygosity

NAN = np.nan


def test_f_of_an_allele_count_table_by_hand():
    # locus A: alleles a1 a2; locus B: b1 b2 b3; diploid; the third individual misses B
    x = np.array(
        [
            [2, 0, 1, 1, 0],  # A hom, B het
            [1, 1, 0, 2, 0],  # A het, B hom
            [1, 1, NAN, NAN, NAN],  # A het, B missing
            [0, 2, 0, 0, 2],  # A hom, B hom
        ]
    )
    qc = heterozygosity(lambda: [x[:2], x[2:]], np.array([0, 2]), 2, False)
    # A: p = (4/8, 4/8), E(hom) = 1/2; B (3 individuals): p = (1/6, 3/6, 2/6), E(hom) = 14/36
    e_b = 14 / 36
    np.testing.assert_allclose(qc["observed_loci"], [2, 2, 1, 2])
    np.testing.assert_allclose(qc["missing_rate"], [0, 0, 0.5, 0])
    np.testing.assert_allclose(qc["het_observed"], [0.5, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(
        qc["het_expected"], [1 - (0.5 + e_b) / 2] * 2 + [0.5] + [1 - (0.5 + e_b) / 2]
    )
    e = 0.5 + e_b  # F = (O - E) / (N - E)
    np.testing.assert_allclose(qc["het_f"], [(1 - e) / (2 - e), (1 - e) / (2 - e), -1.0, 1.0])


def test_f_of_a_dosage_table_by_hand():
    x = np.array([[0.0, 2], [1, NAN], [2, 1]])  # SNP 1: p = 3/6; SNP 2: p = 3/4
    qc = heterozygosity(lambda: [x], np.array([0, 1]), 2, True)
    e1, e2 = 0.5**2 + 0.5**2, 0.75**2 + 0.25**2
    np.testing.assert_allclose(qc["het_observed"], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(
        qc["het_f"],
        [(2 - e1 - e2) / (2 - e1 - e2), (0 - e1) / (1 - e1), (1 - e1 - e2) / (2 - e1 - e2)],
    )


def test_flags_name_each_limit_past():
    qc = {"missing_rate": np.array([0.0, 0.5, 0.0, 1.0]), "het_f": np.array([0.0, -0.5, -0.5, NAN])}
    flags = qc_flags(qc, QcLimits(max_missing=0.1, min_het_f=-0.2))
    assert flags.tolist() == ["", "missing;heterozygosity", "heterozygosity", "missing"]
    with pytest.raises(ConfigError, match="--qc-max-missing"):
        QcLimits(max_missing=1.5)


def test_f_of_one_individual_with_training_frequencies_by_hand():
    from biovae.config import LikelihoodConfig
    from biovae.likelihoods.genotype import Genotype

    # loci A (a1 a2), B (b1 b2 b3: b3 never in training), C (c1 c2: unobserved in training)
    train = np.array(
        [
            [2, 0, 1, 1, 0, NAN, NAN],
            [1, 1, 2, 0, 0, NAN, NAN],
            [1, 1, 0, 2, 0, NAN, NAN],
        ]
    )
    lik = Genotype((7,), LikelihoodConfig(name="genotype", loci=(2, 3, 2)))
    stats = lik.context_stats(train)
    assert stats["allele_frequencies"] == pytest.approx([4 / 6, 2 / 6, 0.5, 0.5, 0.0, None, None])
    one = np.array([[1, 1, 0, 0, 2, 1, 1]])  # A het, B homozygous for b3, C het
    qc = lik.record_qc(lambda: [one], stats)
    # N = 2 (A, B; C has no training frequency), O = 1 (B), E = 5/9 (A) + 1/2 (B; b3 adds 0)
    n, o, e = 2, 1, 5 / 9 + 1 / 2
    np.testing.assert_allclose(qc["observed_loci"], [3])
    np.testing.assert_allclose(qc["missing_rate"], [0])
    np.testing.assert_allclose(qc["het_observed"], [1 - o / n])
    np.testing.assert_allclose(qc["het_expected"], [1 - e / n])
    np.testing.assert_allclose(qc["het_f"], [(o - e) / (n - e)])  # -1/17
    # its own frequencies (no training ones): A 1/2, B b3 = 1, C 1/2: F = (1 - 2) / (3 - 2)
    np.testing.assert_allclose(lik.record_qc(lambda: [one])["het_f"], [-1.0])


def test_f_of_one_dosage_with_training_frequencies_by_hand():
    from biovae.config import LikelihoodConfig
    from biovae.likelihoods.genotype import Genotype

    lik = Genotype((1,), LikelihoodConfig(name="genotype"))
    stats = lik.context_stats(np.array([[0.0], [1], [2], [2]]))  # p = 5/8
    e = (5 / 8) ** 2 + (3 / 8) ** 2
    qc = lik.record_qc(lambda: [np.array([[1.0]])], stats)
    np.testing.assert_allclose(qc["het_f"], [(0 - e) / (1 - e)])
    np.testing.assert_allclose(qc["het_expected"], [1 - e])
