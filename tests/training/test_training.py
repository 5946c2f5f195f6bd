"""Training loop: determinism, resume, early stopping, NaN errors, free bits, β."""

from __future__ import annotations

import dataclasses
import os
import stat

import numpy as np
import pytest
import torch

from biovae import VAE
from biovae.config import FitConfig, ModelConfig, NetworkConfig, ObjectiveConfig, TrainConfig
from biovae.errors import ConfigError, ModelFileError, TrainingError
from tests.conftest import interrupt_when_made


def _data(n=300, f=12, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return (z @ rng.normal(size=(2, f)) + 0.3 * rng.normal(size=(n, f))).astype(np.float32)


def _cfg(epochs=6, seed=0, **train):
    return FitConfig(
        model=ModelConfig(n_latent=3, network=NetworkConfig(hidden=(16,), dropout=0.1)),
        train=TrainConfig(epochs=epochs, batch_size=32, seed=seed, patience=0, **train),
    )


def _weights(est):
    return {k: v.clone() for k, v in est.model_.state_dict().items()}


def test_same_seed_gives_identical_weights_and_outputs():
    x = _data()
    a, b = VAE(config=_cfg()).fit(x), VAE(config=_cfg()).fit(x)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    np.testing.assert_array_equal(a.transform(x), b.transform(x))
    np.testing.assert_array_equal(a.sample(5, seed=1), b.sample(5, seed=1))
    np.testing.assert_array_equal(a.score_samples(x, seed=2), b.score_samples(x, seed=2))


def test_different_seed_gives_different_weights():
    x = _data()
    a, b = VAE(config=_cfg(seed=0)).fit(x), VAE(config=_cfg(seed=1)).fit(x)
    assert not torch.equal(_weights(a)["encoder.loc.weight"], _weights(b)["encoder.loc.weight"])


def test_fit_leaves_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    VAE(config=_cfg(epochs=1)).fit(_data())
    assert torch.equal(torch.rand(3), expected)


def test_resume_continues_exactly(tmp_path):
    x = _data()
    full = VAE(config=_cfg(epochs=6, checkpoint_every=3)).fit(x, checkpoint_dir=tmp_path / "a")
    VAE(config=_cfg(epochs=3, checkpoint_every=3)).fit(x, checkpoint_dir=tmp_path / "b")
    resumed = VAE(config=_cfg(epochs=6, checkpoint_every=3)).fit(
        x, checkpoint_dir=tmp_path / "b", resume=True
    )
    wf, wr = _weights(full), _weights(resumed)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4, 5, 6]
    assert resumed.history_[-1]["loss"] == full.history_[-1]["loss"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_fit_resumes_exactly(tmp_path):
    # the GPU's own random state (reparameterisation draws, dropout) travels in the checkpoint
    x = _data()

    def cfg(epochs):
        return _cfg(epochs=epochs, checkpoint_every=3, device="cuda")

    full = VAE(config=cfg(6)).fit(x, checkpoint_dir=tmp_path / "a")
    VAE(config=cfg(3)).fit(x, checkpoint_dir=tmp_path / "b")
    resumed = VAE(config=cfg(6)).fit(x, checkpoint_dir=tmp_path / "b", resume=True)
    assert resumed.history_[-1]["loss"] == full.history_[-1]["loss"]
    wf, wr = _weights(full), _weights(resumed)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)


def test_resume_keeps_the_best_weights_and_a_finished_fit_stays_finished(tmp_path):
    """Early stopping with checkpoints: the best epoch comes before the checkpoint a fit is
    resumed from, or the checkpoint is that of the stopping epoch."""
    x = _data()

    def cfg(epochs):
        return FitConfig(
            model=ModelConfig(n_latent=3, network=NetworkConfig(hidden=(16,), dropout=0.1)),
            objective=ObjectiveConfig(kl_warmup_epochs=0),
            train=TrainConfig(
                epochs=epochs, batch_size=32, seed=0, patience=3, lr=0.05, checkpoint_every=1
            ),
        )

    full = VAE(config=cfg(50)).fit(x, checkpoint_dir=tmp_path / "full")
    stop = len(full.history_)  # 26 on torch 2.13 (best 23); torch 2.2's Adam rounds otherwise
    scores = [h["val_recon"] + h["val_kl"] for h in full.history_]  # β = 1
    best = scores.index(min(scores)) + 1
    assert 3 < stop < 50 and best == stop - 3  # stopped 3 epochs (patience) after the best
    for cut in (stop - 1, stop):
        VAE(config=cfg(cut)).fit(x, checkpoint_dir=tmp_path / f"cut{cut}")
        resumed = VAE(config=cfg(50)).fit(x, checkpoint_dir=tmp_path / f"cut{cut}", resume=True)
        assert [h["epoch"] for h in resumed.history_] == list(range(1, stop + 1))
        wf, wr = _weights(full), _weights(resumed)
        assert all(torch.equal(wf[k], wr[k]) for k in wf), cut


def test_a_checkpoint_of_an_earlier_version_resumes(tmp_path):
    from safetensors.torch import load_file, save_file

    x = _data()
    full = VAE(config=_cfg(epochs=6, checkpoint_every=3)).fit(x, checkpoint_dir=tmp_path / "a")
    VAE(config=_cfg(epochs=3, checkpoint_every=3)).fit(x, checkpoint_dir=tmp_path / "b")
    path = tmp_path / "b" / "state.safetensors"
    tensors = load_file(str(path))
    tensors["rng.torch"] = tensors.pop("rng.torch.0")  # as written before per-rank states
    tensors = {k: v for k, v in tensors.items() if not k.startswith("best.")}
    save_file(tensors, str(path))
    resumed = VAE(config=_cfg(epochs=6, checkpoint_every=3)).fit(
        x, checkpoint_dir=tmp_path / "b", resume=True
    )
    wf, wr = _weights(full), _weights(resumed)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)


def test_checkpoints_never_replace_a_folder_of_other_files(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "analysis.ipynb").write_text("{}")
    with pytest.raises(ModelFileError, match=r"analysis\.ipynb"):
        VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(_data(), checkpoint_dir=folder)
    assert [p.name for p in folder.iterdir()] == ["analysis.ipynb"]


def test_resuming_another_models_checkpoint_is_refused(tmp_path):
    x = _data()
    VAE(config=_cfg(epochs=1, checkpoint_every=1)).fit(x, checkpoint_dir=tmp_path / "c")
    with pytest.raises(ModelFileError, match=r"other data or settings: data \("):
        VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(
            x[:, :8], checkpoint_dir=tmp_path / "c", resume=True
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": 2.0}, r"data \("),  # the same shape, other values
        ({"seed": 7}, r"train\.seed \(0 there, 7 now\)"),  # another validation split
        ({"lr": 0.01}, r"train\.lr"),  # was silently the checkpoint's
        ({"beta": 5.0}, r"objective\.beta"),
        ({"epochs": 1}, r"at epoch 2, past --epochs 1"),
    ],
)
def test_a_resume_with_other_data_or_settings_is_refused(tmp_path, change, message):
    x = _data()
    VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(x, checkpoint_dir=tmp_path / "c")
    cfg = _cfg(epochs=change.get("epochs", 4), seed=change.get("seed", 0), checkpoint_every=1)
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, lr=change.get("lr", cfg.train.lr)),
        objective=dataclasses.replace(cfg.objective, beta=change.get("beta", 1.0)),
    )
    with pytest.raises(ModelFileError, match=message):
        VAE(config=cfg).fit(x * change.get("x", 1.0), checkpoint_dir=tmp_path / "c", resume=True)
    VAE(config=_cfg(epochs=4, checkpoint_every=2)).fit(  # more epochs, another interval: fine
        x, checkpoint_dir=tmp_path / "c", resume=True
    )


@pytest.mark.parametrize(
    "damage", ["empty state", "list state", "extra loop key", "text epoch", "no shuffle rng"]
)
def test_a_checkpoint_that_parses_but_is_incomplete_is_a_one_line_error(tmp_path, damage):
    import json

    from safetensors.torch import load_file, save_file

    x = _data()
    VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(x, checkpoint_dir=tmp_path / "c")
    state, tensors = tmp_path / "c" / "state.json", tmp_path / "c" / "state.safetensors"
    meta = json.loads(state.read_text())
    if damage == "empty state":
        meta = {}
    elif damage == "list state":
        meta = [meta]
    elif damage == "extra loop key":
        meta["loop"]["surprise"] = 1
    elif damage == "text epoch":
        meta["loop"]["epoch"] = "two"
    else:
        t = load_file(str(tensors))
        del t["rng.shuffle"]
        save_file(t, str(tensors))
    state.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="damaged"):
        VAE(config=_cfg(epochs=4, checkpoint_every=1)).fit(
            x, checkpoint_dir=tmp_path / "c", resume=True
        )


def test_optimizer_state_of_another_shape_is_refused_not_run(tmp_path):
    from safetensors.torch import load_file, save_file

    x = _data()
    VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(x, checkpoint_dir=tmp_path / "c")
    path = tmp_path / "c" / "state.safetensors"
    t = load_file(str(path))
    key = next(k for k in t if k.startswith("opt.") and k.endswith("exp_avg"))
    t[key] = t[key].flatten()[:1].clone()
    save_file(t, str(path))
    with pytest.raises(ModelFileError, match=r"damaged.*another shape"):
        VAE(config=_cfg(epochs=4, checkpoint_every=1)).fit(
            x, checkpoint_dir=tmp_path / "c", resume=True
        )


def test_early_stopping_stops_and_restores_best():
    x = _data(n=200)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(64,))),
        train=TrainConfig(epochs=400, batch_size=32, lr=3e-3, patience=5, seed=0),
    )
    est = VAE(config=cfg).fit(x)
    assert len(est.history_) < 400
    val = [h["val_recon"] + h["val_kl"] for h in est.history_]
    best = int(np.argmin(val))
    assert len(est.history_) - 1 - best >= 5  # stopped after `patience` epochs without progress


def test_nan_loss_raises_with_epoch_and_hint():
    x = _data() * 1e30
    with pytest.raises(TrainingError, match=r"epoch 1, batch 1.*learning rate"):
        VAE(config=_cfg(epochs=2)).fit(x)


@pytest.mark.parametrize("network", [{"norm": "batch"}, {"decoder": "linear"}])
def test_batch_norm_with_one_record_per_batch_is_a_one_line_error(network):
    """torch's batch norm cannot train on one record ("Expected more than 1 value per channel
    when training"): a model that has it refuses batches of one before training starts."""
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(16,), **network)),
        train=TrainConfig(epochs=1, batch_size=1, patience=0),
    )
    with pytest.raises(
        ConfigError,
        match=r"batch norm.* batches hold 1; raise --batch-size \(config.train.batch_size\)",
    ):
        VAE(config=cfg).fit(_data(n=20))
    VAE(config=dataclasses.replace(cfg, train=TrainConfig(epochs=1, batch_size=2))).fit(_data(20))


def test_huge_beta_collapses_and_free_bits_keep_rate():
    x = _data()
    collapsed = VAE(config=_cfg(epochs=30), beta=50.0).fit(x)
    assert collapsed.history_[-1]["kl"] < 0.05
    cfg = _cfg(epochs=30)
    cfg = FitConfig(
        model=cfg.model, train=cfg.train, objective=ObjectiveConfig(beta=50.0, free_bits=0.5)
    )
    kept = VAE(config=cfg).fit(x)
    assert kept.history_[-1]["kl"] > 0.5  # free bits: no pressure below λ per dimension


def test_iwae_objective_trains():
    cfg = _cfg(epochs=3)
    cfg = FitConfig(model=cfg.model, train=cfg.train, objective=ObjectiveConfig(iwae_samples=5))
    est = VAE(config=cfg).fit(_data())
    assert np.isfinite(est.history_[-1]["loss"])


def _batch_shifted(seed: int, epochs: int, continuous: tuple[str, ...] = ()):
    """Records of batch b shifted by 3, and a VAE conditioned on the batch (and ``continuous``
    covariates, drawn at random): the data, their obs and the fitted estimator."""
    rng = np.random.default_rng(seed)
    x = _data()
    batch = np.where(rng.random(len(x)) < 0.5, "a", "b")
    x[batch == "b"] += 3.0
    cfg = _cfg(epochs=epochs)
    data = type(cfg.data)(categorical_covariates=("batch",), continuous_covariates=continuous)
    cfg = FitConfig(model=cfg.model, train=cfg.train, data=data)
    obs = {"batch": batch, **{name: rng.normal(size=len(x)) for name in continuous}}
    return x, obs, VAE(config=cfg).fit(x, obs)


def test_conditional_vae_uses_covariates():
    x, obs, est = _batch_shifted(1, epochs=5, continuous=("age",))
    assert est.schema_.covariates.categories == (("a", "b"),)
    assert est.transform(x, obs).shape == (len(x), 3)
    assert est.sample(4, obs={"batch": np.array(["a"] * 4), "age": np.zeros(4)}).shape == (4, 12)
    with pytest.raises(Exception, match="level 'c' not seen"):
        est.transform(x[:2], {"batch": np.array(["a", "c"]), "age": np.zeros(2)})


def test_samples_are_decoded_in_pieces_with_their_covariates(monkeypatch):
    """Many samples are decoded a few rows at a time: the same z and covariates per row as one
    piece (decoder means equal), and the same samples for a seed."""
    from biovae import objectives

    _, _, est = _batch_shifted(2, epochs=40)
    obs = {"batch": np.array(["a", "b"] * 50)}
    whole = est.sample(100, obs=obs, seed=3)
    monkeypatch.setattr(objectives, "DECODE_ROWS", 7)  # 14 pieces of 7 rows and one of 2
    pieces = est.sample(100, obs=obs, seed=3)
    assert pieces.shape == whole.shape == (100, 12)
    np.testing.assert_array_equal(pieces, est.sample(100, obs=obs, seed=3))
    # rows of covariate b are shifted as the training records of b are, in every piece (a
    # piece given another piece's covariates would cancel the shift in half the pieces)
    shift = [float(s[1::2].mean() - s[0::2].mean()) for s in (whole, pieces)]
    assert shift[0] > 0.5 and abs(shift[1] - shift[0]) < 0.3, shift


def test_weights_made_non_finite_by_the_last_update_are_never_kept():
    # one batch per epoch: the loss is checked before the update, so only a final-weights check
    # can see that the one update of lr 1e39 (beyond float32) left NaN or infinite weights
    x = _data(n=32)
    cfg = _cfg(epochs=1, lr=1e39, validation_fraction=0.0)
    with pytest.raises(TrainingError, match=r"weights became non-finite by epoch 1.*--lr"):
        VAE(config=cfg).fit(x)
    assert VAE(config=_cfg(epochs=1, validation_fraction=0.0)).fit(x).model_ is not None


def test_an_interrupted_checkpoint_leaves_no_temporary_folder(tmp_path, monkeypatch):
    interrupt_when_made(monkeypatch, ".ck")  # as soon as the temporary folder exists
    with pytest.raises(KeyboardInterrupt):
        VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(_data(), checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_checkpoints_remove_leftovers_of_killed_runs_but_not_users_files(tmp_path):
    leftover = tmp_path / ".ckpt-ab_d1234"  # a temporary folder of a run killed mid-checkpoint
    leftover.mkdir()
    (leftover / "state.json").write_text("{}")
    mine = tmp_path / ".ckpt-notes123"  # the same kind of name, holding a user's file
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    VAE(config=_cfg(epochs=2, checkpoint_every=1)).fit(_data(), checkpoint_dir=tmp_path / "ck")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ckpt-notes123", "ck"]
    assert (mine / "notes.txt").read_text() == "mine"


def test_checkpoint_folders_get_the_umasks_modes(tmp_path):
    old = os.umask(0o022)
    try:
        VAE(config=_cfg(epochs=1, checkpoint_every=1)).fit(_data(), checkpoint_dir=tmp_path / "c")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "c").iterdir()}
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o755
    assert modes == {"state.json": 0o644, "state.safetensors": 0o644}


@pytest.mark.parametrize(("n", "fraction"), [(10, 0.96), (50, 0.99), (10, 0.95)])
def test_a_validation_fraction_that_holds_out_every_record_is_refused(n, fraction):
    # it trained on no record and kept the untrained model ("ELBO/record 0")
    with pytest.raises(ConfigError, match=rf"holds out all {n} records.*--validation-fraction"):
        VAE(config=_cfg(epochs=1, validation_fraction=fraction)).fit(_data(n=n))
    assert VAE(config=_cfg(epochs=1, validation_fraction=0.9)).fit(_data(n=11)).n_train_ == 1


@pytest.mark.parametrize("setting", [{"beta": 10.0}, {"kl_warmup_epochs": 5}, {"free_bits": 2.0}])
def test_kl_settings_with_the_iwae_objective_are_refused_not_ignored(setting):
    # the IWAE bound has no KL term: β 10 gave the very weights of β 1 (a β sweep, one model)
    cfg = dataclasses.replace(_cfg(epochs=1), objective=ObjectiveConfig(iwae_samples=5, **setting))
    name = next(iter(setting))
    with pytest.raises(ConfigError, match=rf"objective\.{name} .* IWAE-5 bound"):
        VAE(config=cfg).fit(_data(n=40))


@pytest.mark.parametrize(("norm", "trained"), [("layer", 33), ("batch", 32)])
def test_a_last_batch_of_one_record_is_trained_on_unless_the_network_has_batch_norm(norm, trained):
    """33 records in batches of 32: the 33rd was skipped every epoch although only batch norm
    needs two records in a batch (layer norm is the default). Only training passes count (the
    fit's collapse check encodes records once more, in eval mode)."""
    rows = []

    def count(module, args):
        if module.training:
            rows.append(len(args[0]))

    class Counting(VAE):
        def _prepare_model(self, model, train):
            model.encoder.register_forward_pre_hook(count)

    cfg = _cfg(epochs=1, validation_fraction=0.0)
    net = dataclasses.replace(cfg.model.network, norm=norm)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, network=net))
    Counting(config=cfg).fit(_data(n=33))
    assert sum(rows) == trained
