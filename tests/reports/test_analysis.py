"""The numbers behind the report's plots."""

from __future__ import annotations

import numpy as np

from biovae.data.dataset import Dataset
from biovae.reports.analysis import default_color_by, entropy, letter_probabilities, project_2d
from biovae.training.history import kept_epoch, unfinished_warmup, warmup_epochs


def test_projection_keeps_small_latents_and_uses_pca_otherwise() -> None:
    rng = np.random.default_rng(0)
    z2 = rng.normal(size=(50, 2))
    assert np.array_equal(project_2d(z2).xy, z2) and "2-D latent itself" in project_2d(z2).how
    assert project_2d(z2[:, :1]).xy.shape == (50, 2)
    # a 3-D cloud stretched along (1, 1, 0): PC 1 carries nearly all variance
    z3 = np.outer(rng.normal(size=200) * 10, [1, 1, 0]) + rng.normal(size=(200, 3)) * 0.1
    proj = project_2d(z3)
    share = proj.xy.var(0) / z3.var(0).sum()
    assert share[0] > 0.99 and proj.labels[0].startswith("PC 1 (100%")
    assert abs(np.corrcoef(proj.xy[:, 0], z3[:, 0])[0, 1]) > 0.999


def test_default_colours_are_text_columns_with_few_categories() -> None:
    n = 40
    obs = {
        "id_like": np.array([f"r{i}" for i in range(n)], dtype=object),
        "score": np.arange(n, dtype=float),
        "one": np.array(["a"] * n, dtype=object),
        "group": np.array(["x", "y"] * 20, dtype=object),
        "phase": np.array(["G1", "S", "", "G2M"] * 10, dtype=object),
    }
    ds = Dataset(np.zeros((n, 2), np.float32), np.arange(n), ("f1", "f2"), obs)
    assert default_color_by(ds) == ("group", "phase")


def test_entropy_and_letter_probabilities() -> None:
    codes = np.array([[0, 1], [0, 2], [0, 1], [0, 0]])
    freq = np.array([[1.0, 0, 0], [0.25, 0.5, 0.25]])
    np.testing.assert_allclose(entropy(freq), [0.0, 1.5 * np.log(2)])
    onehot = letter_probabilities(codes, 3)
    assert onehot.shape == (4, 2, 3) and np.array_equal(onehot.argmax(-1), codes)


def test_warmup_and_kept_epoch_from_history() -> None:
    history = [
        {"epoch": e, "beta": min(1.0, e / 3), "val_recon": 10 - e + (e > 4) * 3, "val_kl": 1.0}
        for e in range(1, 7)
    ]
    assert warmup_epochs(history) == 3  # β reaches 1 at epoch 3
    assert kept_epoch(history, beta=1.0) == 4
    assert warmup_epochs([{"epoch": 1, "beta": 1.0}]) == 0
    assert kept_epoch([{"epoch": 1, "recon": 1.0}], beta=1.0) is None
    ranked = [
        {"epoch": 1, "val_recon": 5.0, "val_kl": 1.0, "val_classification": 0.2},
        {"epoch": 2, "val_recon": 4.0, "val_kl": 1.0, "val_classification": 0.5},
    ]
    assert kept_epoch(ranked, beta=1.0) == 2  # early stopping on the ELBO
    assert kept_epoch(ranked, beta=1.0, metric="classification") == 1


def test_kept_epoch_skips_non_finite_validation_losses_as_training_does() -> None:
    """Training keeps an epoch whose validation loss beats the best so far (from ∞), so a NaN
    or ∞ loss is never kept; min() put a NaN first ahead of every later epoch, and the card
    and report named a kept epoch whose weights were not the ones saved."""
    rows = [(1, float("nan")), (2, 5.0), (3, 4.0), (4, float("inf"))]
    history = [{"epoch": e, "val_recon": v, "val_kl": 0.0} for e, v in rows]
    assert kept_epoch(history, beta=1.0) == 3
    assert kept_epoch(history[:1] + history[3:], beta=1.0) is None  # none kept: the last epoch


def test_an_unfinished_warm_up_counts_against_the_target_beta() -> None:
    history = [{"epoch": e, "beta": 0.05 * e} for e in range(1, 9)]  # 20 planned, stopped at 8
    assert warmup_epochs(history, target=1.0) == 8  # all 8 run epochs are warm-up
    assert warmup_epochs(history, target=0.2) == 4  # β reached 0.2 at epoch 4


def test_the_report_says_when_training_ended_before_the_warm_up() -> None:
    from biovae.config import ObjectiveConfig
    from biovae.reports.sections import _beta_text

    history = [{"epoch": e, "beta": 2.0 * e / 100} for e in (1, 2, 3)]
    objective = ObjectiveConfig(beta=2.0, kl_warmup_epochs=100)
    assert unfinished_warmup(history, 2.0) == ", not reached: the last epoch trained at β 0.06"
    assert _beta_text(objective, history).endswith(
        "over 100 epochs, not reached: the last epoch trained at β 0.06"
    )
    done = [*history, {"epoch": 100, "beta": 2.0}]
    assert unfinished_warmup(done, 2.0) == "" and unfinished_warmup([], 2.0) == ""
    assert _beta_text(objective, done) == "2, warm-up over 100 epochs"


def test_the_usage_verdict_tells_shrunk_posteriors_from_collapse() -> None:
    from biovae.reports.sections import _verdict

    assert "collapsed to the prior" in _verdict(0, 2, True, kl_total=0.01)
    shrunk = _verdict(0, 2, True, kl_total=2.25)
    assert "collapsed" not in shrunk and "2.25 nats" in shrunk
    # some active: an inactive dimension that moved away from the prior has not collapsed
    partial = _verdict(2, 4, True, kl_total=2.95, kl_inactive=2.39)
    assert partial.startswith("2 of 4 latent dimensions are active")
    assert "collapsed" not in partial and "(2.39 nats)" in partial
    assert "the others have collapsed to the prior" in _verdict(2, 4, True, 0.6, kl_inactive=0.01)


def test_the_usage_verdict_says_train_longer_only_when_the_loss_had_not_settled() -> None:
    from biovae.reports.sections import _verdict

    # no history to read: the usual cause, as before
    assert "often a short training; train longer" in _verdict(0, 2, True, kl_total=2.25)
    ended = (
        "after only 30 epochs, its validation loss still falling (down 1 % over its last 6 epochs)"
    )
    falling = _verdict(0, 2, True, kl_total=2.25, ended=ended)
    assert f"the fit ended {ended}; train longer before reading the map." in falling
    settled = _verdict(0, 2, True, kl_total=2.25, ended="")
    assert "train longer" not in settled and "its loss had settled" in settled
    partial = _verdict(2, 4, True, kl_total=2.95, kl_inactive=2.39, ended=ended)
    assert partial.endswith(
        f"(2.39 nats) — the fit ended {ended}; train longer before reading the map."
    )


def test_missing_genotypes_leave_out_entries_not_whole_features() -> None:
    from biovae.reports.analysis import most_variable
    from biovae.reports.sections_data import _table_samples

    rng = np.random.default_rng(0)
    x = rng.binomial(2, rng.uniform(0.05, 0.95, 30), (40, 30)).astype(np.float64)
    x[0, 0] = 50.0  # the most variable column, however it is also missing below
    samples = x.copy()  # the model's draws are complete genotypes
    x[np.arange(30) + 1, np.arange(30)] = np.nan  # every feature has one missing call
    ds = Dataset(x, [f"i{i}" for i in range(40)], [f"rs{j}" for j in range(30)], {})
    _, r = _table_samples(ds, np.arange(40), samples)
    assert r > 0.99  # was NaN: every feature with a missing call was dropped
    assert most_variable(x, 1)[0] == 0


def test_missing_metadata_is_no_category_of_the_latent_map() -> None:
    from biovae.reports.analysis import n_categories
    from biovae.reports.plots import _category_labels

    # a Dataset built in Python keeps the column as given: NaN and None, not ""
    column = np.array(["u", np.nan, "v", None, "u"], dtype=object)
    labels, order = _category_labels(column)
    assert order == ["u", "v"]  # was ["nan", "None", "u", "v"]: drawn and counted as levels
    assert list(labels) == ["u", "", "v", "", "u"]  # grey "missing" points
    assert n_categories(column) == 2
    obs = {"group": np.array(["x", np.nan] * 20, dtype=object)}
    ds = Dataset(np.zeros((40, 1), np.float32), np.arange(40), ("f",), obs)
    assert default_color_by(ds) == ()  # one level: nothing to colour by


def test_an_autoencoders_map_projects_codes_in_plain_words() -> None:
    from types import SimpleNamespace

    from biovae.reports.sections import map_section

    ae = SimpleNamespace(config_=SimpleNamespace(model=SimpleNamespace(kind="ae")))
    ds = Dataset(np.zeros((30, 1), np.float32), np.arange(30), ("f",), {})
    z = np.random.default_rng(0).normal(size=(30, 3))
    lead = map_section(ae, ds, z, ()).lead
    assert "PCA projection of the 3-D codes f(x) onto" in lead  # was "3-D code f(x)s"
