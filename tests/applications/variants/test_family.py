"""Scoring with a small trained family model: synonymous = 0, determinism, save/load, baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biovae.applications.variants import family, mutations, scoring
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import (
    FamilyModelConfig,
    FamilyTrainConfig,
    VariantsConfig,
)

SMALL = VariantsConfig(
    model=FamilyModelConfig(
        n_latent=3, encoder_hidden=(32, 16), decoder_hidden=(8, 16), rank=4, group=4
    ),
    train=FamilyTrainConfig(steps=40, batch_size=16),
)


@pytest.fixture(scope="module")
def fitted():
    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    return aln, family.fit(aln, SMALL)


def test_synonymous_is_exactly_zero_and_deterministic(fitted):
    aln, fam = fitted
    wt = aln.focus_sequence
    names = [f"{wt[0]}29{wt[0]}", f"{wt[0]}29A", f"{wt[1]}30W:{wt[3]}32P", "WT", "Q29A"]
    cols = fam.score(names, n_samples=8, seed=3)
    assert cols["score"][0] == 0.0 and cols["se"][0] == 0.0 and cols["score"][3] == 0.0
    assert np.isfinite(cols["score"][1:3]).all() and (cols["se"][1:3] > 0).all()
    assert cols["status"].tolist() == ["ok"] * 4 + ["unmapped"]
    assert np.isnan(cols["score"][4]) and "mismatch" in cols["reason"][4]
    again = fam.score(names, n_samples=8, seed=3)
    assert np.array_equal(again["score"], cols["score"], equal_nan=True)
    other = fam.score(names, n_samples=8, seed=4)
    assert not np.array_equal(other["score"][1:3], cols["score"][1:3])


def test_training_is_deterministic_for_a_seed(fitted):
    aln, fam = fitted
    again = family.fit(aln, SMALL)
    for a, b in zip(fam.members[0].state_dict().values(), again.members[0].state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_save_load_round_trip(fitted, tmp_path):
    aln, fam = fitted
    family.save(tmp_path / "m", fam)
    back = family.load(tmp_path / "m")
    names = mutations.single_mutant_scan(aln.focus, aln.alphabet, aln.positions)[:40]
    a, b = fam.score(names, 4, 0), back.score(names, 4, 0)
    assert np.array_equal(a["score"], b["score"]) and back.positions == aln.positions


def test_mismatched_model_files_are_one_line_errors(fitted, tmp_path):
    import json

    from biovae.errors import ModelFileError

    _, fam = fitted
    family.save(tmp_path / "m", fam)
    (tmp_path / "m" / "SHA256SUMS").unlink()  # as saved before it was kept: the edit is read
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["model"]["n_latent"] += 1  # weights of another fit
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=r"do not match config\.json.*refit"):
        family.load(tmp_path / "m")
    config["model"]["n_latent"] -= 1
    config["ensemble"] = 2  # a member the weights do not hold
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="member 2"):
        family.load(tmp_path / "m")


def test_a_substitution_written_with_synonymous_parts_is_classed_as_it(fitted):
    aln, fam = fitted
    _, found = fam.scan(n_samples=2, seed=1)
    wt = aln.focus_sequence
    names = [f"{wt[1]}30W", f"{wt[0]}29{wt[0]}:{wt[1]}30W", f"{wt[1]}30W:{wt[3]}32P"]
    cols = fam.classify(fam.score(names, 2, 1), found)
    assert cols["score"][0] == cols["score"][1]
    assert cols["class"][1] == cols["class"][0] != "" and cols["class"][2] == ""


def test_scan_table_matches_scores_and_carries_classes(fitted):
    aln, fam = fitted
    table, found = fam.scan(n_samples=2, seed=1, uncertain_fraction=0.1)
    names = mutations.single_mutant_scan(aln.focus, aln.alphabet, aln.positions)
    assert table["mutant"].tolist() == names
    np.testing.assert_array_equal(table["score"], fam.score(names, 2, 1)["score"])
    same = table["wild_type"] == table["letter"]
    assert (table["class"][same] == "synonymous").all()
    assert (table["class"] == "uncertain").sum() == round(0.1 * (~same).sum())
    assert found.mixture.n == (~same).sum() and found.uncertain_fraction == 0.1


def test_scan_without_a_mixture_keeps_its_scores(fitted, monkeypatch):
    from biovae.applications.variants import classes
    from biovae.errors import DataError

    def too_few(*args, **kwargs):
        raise DataError("a damaging/tolerated mixture needs at least 20 scored substitutions")

    monkeypatch.setattr(classes, "classify_scan", too_few)
    table, found = fitted[1].scan(n_samples=2, seed=1)
    assert found is None and np.isfinite(table["score"]).all()
    assert (table["class"] == "").all() and np.isnan(table["p_damaging"]).all()


def test_classify_queried_mutants_by_the_scan_mixture(fitted):
    aln, fam = fitted
    table, found = fam.scan(n_samples=2, seed=1)
    wt = aln.focus_sequence
    sub = [m for m, c in zip(table["mutant"], table["class"]) if c != "synonymous"][:5]
    names = [*sub, f"{wt[0]}29{wt[0]}", f"{wt[1]}30W:{wt[3]}32P", "WT", "Q29A", "nonsense"]
    cols = fam.classify(fam.score(names, 2, 1), found)
    row = {m: i for i, m in enumerate(table["mutant"])}
    expect = [table["p_damaging"][row[m]] for m in sub]
    np.testing.assert_allclose(cols["p_damaging"][:5], expect, atol=1e-4)
    assert list(cols["class"][5:]) == ["", "", "", "", ""]
    assert np.isnan(cols["p_damaging"][5:]).all()
    assert set(cols["class"][:5]) <= {"damaging", "tolerated", "uncertain"}


def test_delta_elbo_matches_elbo_difference(fitted):
    """Δ with common random numbers = mean over draws of ELBO(mut) − ELBO(wt) computed apart."""
    aln, fam = fitted
    model = fam.members[0]
    mutant = aln.focus.copy()
    mutant[5] = (mutant[5] + 1) % 20
    mean, se = scoring.delta_elbo(model, aln.focus, mutant[None], n_samples=6, seed=1)
    eps = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    d = scoring.elbo_draws(model, torch.from_numpy(mutant[None].astype(np.int64)), eps)
    w = scoring.elbo_draws(model, torch.from_numpy(aln.focus[None].astype(np.int64)), eps)
    diff = (d - w)[:, 0].double()
    assert mean[0] == pytest.approx(float(diff.mean()), abs=1e-5)
    assert se[0] == pytest.approx(float(diff.std() / 6**0.5), abs=1e-5)


def test_independent_site_model():
    codes = np.array([[0, 1], [0, 1], [0, 2], [1, 1]])
    w = np.array([1.0, 1.0, 1.0, 0.5])
    log_f = scoring.site_log_frequencies(codes, w, 3, pseudocount=1.0)
    expected0 = np.log(np.array([3 + 1, 0.5 + 1, 0 + 1]) / (3.5 + 3))
    assert np.allclose(log_f[0], expected0)
    mut = np.array([[1, 1], [0, 1]])
    delta = scoring.independent_delta(log_f, np.array([0, 1]), mut)
    assert delta[1] == 0.0 and delta[0] == pytest.approx(np.log(1.5 / 4))


def test_bayesian_decoder_weights(tmp_path):
    from dataclasses import replace

    from tests.conftest import FIXTURES

    aln = read_alignment(FIXTURES / "blat_ecolx_first40.a2m")
    cfg = replace(SMALL, model=replace(SMALL.model, bayesian=True))
    fam = family.fit(aln, replace(cfg, train=replace(cfg.train, steps=10)))
    model = fam.members[0]
    assert model.weight_kl(1.0).item() > 0
    # training mode draws decoder weights; eval mode (scoring) uses their means
    model.train()
    z = torch.zeros(1, 3)
    assert not torch.equal(model.decode(z).base_dist.logits, model.decode(z).base_dist.logits)
    model.eval()
    assert torch.equal(model.decode(z).base_dist.logits, model.decode(z).base_dist.logits)
    family.save(tmp_path / "b", fam)
    names = ["V29A", "V29V"]
    assert np.array_equal(
        family.load(tmp_path / "b").score(names, 4)["score"], fam.score(names, 4)["score"]
    )


def test_bfloat16_training_keeps_float32_parameters_and_learns(fitted):
    """bfloat16 autocast changes only the training matmuls: parameters stay float32, the loss
    still falls, scores are computed in float32 and synonymous mutants still score 0."""
    from dataclasses import replace

    aln, _ = fitted
    cfg = replace(SMALL, train=replace(SMALL.train, steps=300, precision="bfloat16"))
    fam = family.fit(aln, cfg)
    model = fam.members[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    elbos = [h["elbo"] for h in fam.facts["history"][0] if "elbo" in h]
    assert elbos[-1] > elbos[0] + 1.0  # per-record ELBO (nats) rises over training
    scores = fam.score(["V29A", "V29V"], 4)["score"]
    assert scores.dtype == np.float64 and scores[1] == 0.0


def test_precision_is_validated():
    from biovae.errors import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        FamilyTrainConfig(precision="float16")
    with pytest.raises(ConfigError, match=r"train\.device 'gpu0' is not a torch device"):
        FamilyTrainConfig(device="gpu0")
    assert FamilyTrainConfig(device="cuda:1").device == "cuda:1"  # checked by name, not found


def test_returned_model_is_the_best_on_held_out_sequences(fitted):
    """The keeper returns the parameters whose held-out weighted ELBO was the highest seen."""
    from dataclasses import replace

    from biovae.applications.variants import train as train_mod
    from biovae.applications.variants.weights import sequence_weights

    aln, _ = fitted
    w = sequence_weights(aln.codes, aln.gap, len(aln.alphabet))
    cfg = replace(SMALL.train, steps=120, eval_every=10, validation_fraction=0.2, patience=0)
    model, history = train_mod.fit_family(aln.codes, w, len(aln.alphabet), SMALL.model, cfg)
    seen = [h["val_elbo"] for h in history if "val_elbo" in h]
    assert len(seen) == 12
    x = torch.from_numpy(aln.codes.astype(np.int64))
    _, keeper = train_mod._split(x, w, cfg)
    assert keeper.see(model) == pytest.approx(max(seen), abs=1e-6)


def test_variational_draw_and_weight_kl_against_autograd_of_the_definitions():
    from torch.distributions import Normal, kl_divergence

    from biovae.applications.variants.model import _VariationalDraw

    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(6, 5, dtype=torch.double, generator=gen).requires_grad_()
    log_sigma = (0.3 * torch.randn(6, 5, dtype=torch.double, generator=gen) - 1).requires_grad_()
    eps = torch.randn(6, 5, dtype=torch.double, generator=gen)
    probe = torch.randn(6, 5, dtype=torch.double, generator=gen)  # a downstream use of θ
    prior = Normal(torch.zeros(6, 5, dtype=torch.double), 1.7)
    ref_theta = mu + log_sigma.exp() * eps
    ref_kl = kl_divergence(Normal(mu, log_sigma.exp()), prior).sum()
    theta, kl = _VariationalDraw.apply(mu, log_sigma, eps, 1.7)
    torch.testing.assert_close(theta, ref_theta)
    torch.testing.assert_close(kl, ref_kl)
    got = torch.autograd.grad((theta * probe).sum() + 0.3 * kl, (mu, log_sigma))
    want = torch.autograd.grad((ref_theta * probe).sum() + 0.3 * ref_kl, (mu, log_sigma))
    for g, e in zip(got, want, strict=True):
        torch.testing.assert_close(g, e)
    assert torch.autograd.gradcheck(
        lambda a, b: _VariationalDraw.apply(a, b, eps, 1.7), (mu, log_sigma)
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_family_trained_on_cuda_scores_and_reloads_on_the_cpu(fitted, tmp_path):
    """``train.device = cuda``: the variational model trains there; scores from the model in
    hand and from its saved copy (loaded on the CPU) agree, and a synonymous mutant is 0."""
    from dataclasses import replace

    aln, _ = fitted
    cfg = replace(SMALL, model=replace(SMALL.model, bayesian=True))
    fam = family.fit(aln, replace(cfg, train=replace(cfg.train, steps=60, device="cuda")))
    family.save(tmp_path / "g", fam)
    back = family.load(tmp_path / "g")
    assert {p.device.type for p in back.members[0].parameters()} == {"cpu"}
    wt = aln.focus_sequence
    names = [f"{wt[0]}29{wt[0]}", f"{wt[0]}29A", f"{wt[1]}30W"]
    a, b = fam.score(names, 8, 0)["score"], back.score(names, 8, 0)["score"]
    assert a[0] == 0.0 == b[0] and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_an_ensembles_member_spread_is_the_sd_of_its_members_scores(fitted):
    import dataclasses

    aln, fam = fitted
    wt = aln.focus_sequence
    names = [f"{wt[0]}29A", f"{wt[1]}30W:{wt[3]}32P", f"{wt[0]}29{wt[0]}"]
    single = fam.score(names, n_samples=8, seed=3)
    assert np.isnan(single["member_sd"]).all()  # one model: no spread to report
    two = dataclasses.replace(fam, members=(fam.members[0], fam.members[0]))
    assert (two.score(names, n_samples=8, seed=3)["member_sd"] == 0).all()  # identical members
    other = family.fit(
        aln, dataclasses.replace(SMALL, train=dataclasses.replace(SMALL.train, seed=1))
    )
    ens = dataclasses.replace(fam, members=(fam.members[0], other.members[0]))
    cols = ens.score(names, n_samples=8, seed=3)
    each = [dataclasses.replace(fam, members=(m,)).score(names, 8, 3)["score"] for m in ens.members]
    np.testing.assert_allclose(cols["member_sd"], np.std(each, axis=0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(cols["score"], np.mean(each, axis=0), rtol=1e-6)
    assert cols["member_sd"][2] == 0.0 and cols["member_sd"][0] > 0  # synonymous: exactly 0


def test_the_card_and_metadata_carry_the_fingerprint_of_the_sequences_used(fitted, tmp_path):
    """Every other model's card names its training data by fingerprint; a family model's
    named only the alignment's file name, which says nothing of its contents."""
    import dataclasses
    import json

    from biovae.applications.variants.card import family_card
    from biovae.data.card import markdown

    aln, fam = fitted
    family.save(tmp_path / "m", fam)
    digest = json.loads((tmp_path / "m" / "metadata.json").read_text())["fingerprint"]
    assert digest.startswith("sha256:") and len(digest) == 71
    card = (tmp_path / "m" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"| data fingerprint | {digest} (biovae's digest of the sequences used) |" in card
    assert family.load(tmp_path / "m").facts["fingerprint"] == digest
    codes = aln.codes.copy()
    codes[-1, 0] = (codes[-1, 0] + 1) % len(aln.alphabet)  # one letter of one sequence
    assert family._fingerprint(dataclasses.replace(aln, codes=codes)) != digest
    old = dataclasses.replace(fam, facts={k: v for k, v in fam.facts.items() if k != "fingerprint"})
    assert "fingerprint" not in markdown(family_card(old), [])  # saved before it was kept
