"""The genotype likelihood against closed forms (scipy's multinomial and binomial), with
missing loci, its support checks, loci read from feature names, and a real eHGDP excerpt."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import binom, multinomial

from biovae import VAE, likelihoods
from biovae.config import LikelihoodConfig
from biovae.data.readers import read_dataset
from biovae.errors import ConfigError, DataError
from biovae.likelihoods.genotype import Genotype

NAN = float("nan")
X = torch.tensor(
    [
        [1, 1, 0, 2, 0, 2],
        [0, 0, 2, 1, 1, 2],
        [NAN, NAN, NAN, 0, 2, 2],  # first locus missing
        [2, 0, 0, NAN, NAN, 2],
    ],
    dtype=torch.float64,
)
LOCI = (3, 2, 1)


def _multinomial(loci=LOCI, ploidy=2):
    cfg = LikelihoodConfig("genotype", loci=loci, ploidy=ploidy)
    return likelihoods.build(cfg, (sum(loci),))


def test_log_prob_is_the_product_of_multinomials_over_observed_loci():
    logits = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = _multinomial().distribution({"logits": logits}, {}).log_prob(X)
    for i in range(4):
        want, start = 0.0, 0
        for size in LOCI:
            counts = X[i, start : start + size].numpy()
            if not np.isnan(counts).any():
                p = torch.softmax(logits[i, start : start + size], -1).numpy()
                want += multinomial.logpmf(counts, 2, p)
            start += size
        assert float(got[i]) == pytest.approx(want, abs=1e-10)


def test_gradient_equals_autograd_of_per_locus_log_softmax():
    logits = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(
        _multinomial().distribution({"logits": logits}, {}).log_prob(X).sum(), logits
    )
    known = ~torch.isnan(X)
    c = torch.nan_to_num(X)
    parts, start = [], 0
    for size in LOCI:
        parts.append(torch.log_softmax(logits[:, start : start + size], -1))
        start += size
    ref = (c * torch.cat(parts, -1) * known).sum()
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g, g_ref)


def test_dosages_are_binomial():
    lik = likelihoods.build(LikelihoodConfig("genotype", ploidy=2), (3,))
    x = torch.tensor([[0, 1, 2], [2, NAN, 0]], dtype=torch.float64)
    logits = torch.tensor([[0.3, -1.0, 2.0], [-0.5, 0.1, 0.0]], dtype=torch.float64)
    got = lik.distribution({"logits": logits}, {}).log_prob(x)
    p = torch.sigmoid(logits).numpy()
    want = [
        sum(binom.logpmf(x[i, j], 2, p[i, j]) for j in range(3) if x[i, j] == x[i, j])
        for i in (0, 1)
    ]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dosage_samples_take_the_logits_dtype_and_have_the_binomial_mean(dtype):
    # the count tensor was float32 on the CPU whatever the logits: float64 (or CUDA) raised
    lik = likelihoods.build(LikelihoodConfig("genotype", ploidy=3), (4,))
    logits = torch.tensor([[-1.0, 0.0, 0.5, 2.0]], dtype=dtype)
    dist = lik.distribution({"logits": logits}, {})
    torch.manual_seed(0)
    s = dist.sample((20_000,))
    assert s.dtype == dtype and s.shape == (20_000, 1, 4)
    assert torch.all((s >= 0) & (s <= 3) & (s == s.round()))
    torch.testing.assert_close(s.mean(0), dist.mean, rtol=0.03, atol=0.01)


def test_samples_and_means_respect_the_loci():
    logits = torch.randn(5, 6)
    dist = _multinomial().distribution({"logits": logits}, {})
    s = dist.sample((20,))
    assert s.shape == (20, 5, 6)
    for start, stop in ((0, 3), (3, 5), (5, 6)):
        assert torch.all(s[..., start:stop].sum(-1) == 2)
    torch.testing.assert_close(dist.mean[:, :3], 2 * torch.softmax(logits[:, :3], -1))


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ([3, 0, 0, 2, 0, 2], "not an allele count in 0..2"),
        ([0.5, 1.5, 0, 2, 0, 2], "not an allele count"),
        ([1, 0, 0, 2, 0, 2], "do not sum to the ploidy"),
        ([1, NAN, 1, 2, 0, 2], "partly missing locus"),
    ],
)
def test_support_checks(row, problem):
    bad = _multinomial().validate(np.array([row], dtype=np.float64))
    assert bad is not None and problem in bad.problem and bad.row == 0
    assert _multinomial().validate(X.numpy()) is None


def test_loci_are_read_from_allele_names():
    names = ["loc-1.125", "loc-1.129", "loc-2.260", "loc-3.1", "loc-3.2", "loc-3.4"]
    assert Genotype.configure(LikelihoodConfig("genotype"), names).loci == (2, 1, 3)
    snps = ["rs1", "rs2", "rs3"]  # one column per locus: dosages
    assert Genotype.configure(LikelihoodConfig("genotype"), snps).loci == ()
    split = ["a.1", "b.1", "a.2"]  # a locus in two places: refused, not read as dosages
    with pytest.raises(ConfigError, match=r"locus 'a' are apart \(columns 1 and 3\)"):
        Genotype.configure(LikelihoodConfig("genotype"), split)
    repeated = ["rs1", "rs2", "rs1"]  # dosage names without a dot stay dosages
    assert Genotype.configure(LikelihoodConfig("genotype"), repeated).loci == ()
    given = LikelihoodConfig("genotype", loci=(6,), missing_indicators=False)
    assert Genotype.configure(given, names) is given


def test_missing_calls_of_a_dosage_table_are_told_from_reference_homozygotes():
    # a dosage of 0 is a real genotype: a fit gives dosage tables missing-call indicators
    snps, alleles = ["rs1", "rs2", "rs3"], ["a.1", "a.2", "b.1", "b.2"]
    assert Genotype.configure(LikelihoodConfig("genotype"), snps).missing_indicators is True
    assert Genotype.configure(LikelihoodConfig("genotype"), alleles).missing_indicators is False
    off = LikelihoodConfig("genotype", missing_indicators=False)  # asked for: kept
    assert Genotype.configure(off, snps).missing_indicators is False
    x = torch.tensor([[0.0, 2.0, float("nan")], [0.0, 2.0, 0.0]])
    lik = Genotype((3,), Genotype.configure(LikelihoodConfig("genotype"), snps))
    assert lik.n_inputs == 6
    assert lik.featurize(x).tolist() == [[0, 2, 0, 1, 1, 0], [0, 2, 0, 1, 1, 1]]
    assert lik.defeaturize(lik.featurize(x)).tolist() == [[0, 2, 0], [0, 2, 0]]
    legacy = Genotype((3,), LikelihoodConfig("genotype"))  # a model saved before: unset, off
    assert legacy.n_inputs == 3 and legacy.featurize(x).tolist() == [[0, 2, 0], [0, 2, 0]]


def test_ehgdp_excerpt_reads_fits_and_refuses_missing_values_elsewhere(fixtures):
    path = fixtures / "ehgdp_70x30loci.tsv"
    with pytest.raises(DataError, match="allow-missing"):
        read_dataset(path, id_column="individual")
    ds = read_dataset(path, id_column="individual", allow_missing=True)
    assert ds.x.shape == (70, 358) and np.isnan(ds.x).any()
    est = VAE(likelihood="genotype", n_latent=2, epochs=3).fit(ds)
    assert len(est.config_.model.likelihood.loci) == 30
    assert np.isfinite(est.transform(ds)).all() and np.isfinite(est.score_samples(ds)).all()
    with pytest.raises(DataError, match=r"missing \(NaN\).*only the genotype likelihood"):
        VAE(likelihood="gaussian", n_latent=2, epochs=1).fit(ds)


def test_support_check_names_the_first_bad_record_whatever_its_problem():
    rows = np.array(
        [[1, 1, 0, 2, 0, 2], [1, 0, 0, 2, 0, 2], [1, NAN, 1, 2, 0, 2]], dtype=np.float64
    )  # record 1: a locus summing to 1; record 2: a partly missing locus
    bad = _multinomial().validate(rows)
    assert (bad.row, bad.column) == (1, 0) and "do not sum to the ploidy" in bad.problem
    bad = _multinomial().validate(rows[[0, 2, 1]])
    assert (bad.row, bad.column) == (1, 0) and "partly missing" in bad.problem


def test_a_haploid_table_is_told_to_set_the_ploidy():
    haploid = np.array([[1, 0, 0, 1, 0, 1], [0, 0, 1, NAN, NAN, 1]], dtype=np.float64)
    bad = _multinomial().validate(haploid)
    assert "(they sum to 1)" in bad.problem and "set ploidy = 1 under [model.likelihood]" in bad.fix
    assert _multinomial(ploidy=1).validate(haploid) is None
    mixed = np.array([[1, 0, 0, 2, 0, 2]], dtype=np.float64)  # one locus wrong, not the ploidy
    assert "set ploidy" not in _multinomial().validate(mixed).fix
