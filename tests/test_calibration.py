"""Temperature scaling: the fitted T against a known one, and the semi-supervised VAE's use."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from biovae import calibration


def test_the_fitted_temperature_recovers_the_one_that_drew_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(20_000, 4))
    for true_t in (0.5, 2.5):
        p = calibration.probabilities(logits, true_t)  # labels drawn from softmax(logits / T)
        y = (rng.random((len(p), 1)) > p.cumsum(1)).sum(1)
        assert calibration.fit_temperature(logits, y) == pytest.approx(true_t, rel=0.05)


def test_too_few_records_leave_the_temperature_at_one():
    logits = np.array([[2.0, 0.0]] * (calibration.MIN_RECORDS - 1))
    assert calibration.fit_temperature(logits, np.ones(len(logits), int)) == 1.0


def test_scaling_keeps_the_most_likely_class_and_nll_is_the_closed_form():
    logits = np.array([[1.0, 3.0, 0.0], [2.0, -1.0, 0.5]])
    for t in (0.3, 1.0, 4.0):
        p = calibration.probabilities(logits, t)
        assert np.allclose(p.sum(1), 1) and (p.argmax(1) == logits.argmax(1)).all()
    z = logits[0] / 2.0
    assert calibration.nll(logits[:1], np.array([2]), 2.0) == pytest.approx(
        np.log(np.exp(z).sum()) - z[2]
    )


def test_expected_calibration_error_by_hand():
    # two bins hold records: top 0.9 (2 records, 1 right) and 0.6 (2 records, both right)
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    y = np.array([0, 1, 1, 1])
    assert calibration.expected_calibration_error(proba, y) == pytest.approx(
        0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6)
    )


@pytest.fixture(scope="module")
def ssvae():
    import biovae
    from biovae.config import DataConfig, FitConfig, TrainConfig
    from biovae.data.dataset import Dataset
    from biovae.training import seeded

    with seeded(0):
        rng = np.random.default_rng(1)
        group = rng.integers(0, 3, 400)
        x = rng.normal(size=(400, 12)) + 1.5 * np.eye(3)[group] @ rng.normal(size=(3, 12))
        labels = np.asarray(["a", "b", "c"], dtype=object)[group]
        labels[::3] = "unknown"
        ids, features = [f"r{i}" for i in range(400)], [f"g{j}" for j in range(12)]
        ds = Dataset(x.astype(np.float32), ids, features, {"y": labels})
        cfg = FitConfig(
            data=DataConfig(labels_key="y"), train=TrainConfig(epochs=15, validation_fraction=0.2)
        )
        return biovae.SemiSupervisedVAE(n_latent=2, hidden=(16,), config=cfg).fit(ds), ds


def test_a_semi_supervised_fit_scales_its_probabilities_on_held_out_labels(ssvae):
    est, ds = ssvae
    held = est.held_out_labelled(ds)
    assert est.n_calibration_ == len(held) >= calibration.MIN_RECORDS
    given = est.schema_.labels.encode(ds.obs, "").numpy()
    raw = est.predict_proba(ds, calibrated=False)
    expected_t = calibration.fit_temperature(np.log(raw[held]), given[held])
    assert est.temperature_ == pytest.approx(expected_t, rel=1e-4) and est.temperature_ != 1.0
    scaled = est.predict_proba(ds)
    assert np.allclose(scaled, calibration.probabilities(np.log(raw), est.temperature_))
    assert (scaled.argmax(1) == raw.argmax(1)).all()  # predictions unchanged
    on_held = calibration.nll(np.log(raw[held]), given[held], est.temperature_)
    assert on_held <= calibration.nll(np.log(raw[held]), given[held])


def test_the_temperature_is_saved_and_checked_on_loading(ssvae, tmp_path):
    import biovae

    est, ds = ssvae
    folder = est.save(tmp_path / "m")
    back = biovae.load_model(folder)
    assert back.temperature_ == est.temperature_ and back.n_calibration_ == est.n_calibration_
    np.testing.assert_allclose(back.predict_proba(ds), est.predict_proba(ds))
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"divided by a temperature of {est.temperature_:.3g}, fitted on the " in card
    (folder / "SHA256SUMS").unlink()  # as saved before it was kept: the edits reach the checks
    meta = json.loads((folder / "metadata.json").read_text())
    for bad in (-1.0, "2", None):
        meta["label_temperature"] = bad
        (folder / "metadata.json").write_text(json.dumps(meta))
        where = re.escape(f"{folder / 'metadata.json'}: label_temperature")
        with pytest.raises(biovae.errors.DataError, match=where):
            biovae.load_model(folder)
    meta["label_temperature"] = 0.5
    for bad in ("many", 2.5, True):
        meta["n_calibration"] = bad
        (folder / "metadata.json").write_text(json.dumps(meta))
        with pytest.raises(biovae.errors.ModelFileError, match="'n_calibration' entry is damaged"):
            biovae.load_model(folder)
    meta["n_calibration"] = None  # as absent, as the other entries
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert biovae.load_model(folder).n_calibration_ == 0
    del meta["label_temperature"], meta["n_calibration"]  # saved before temperatures
    (folder / "metadata.json").write_text(json.dumps(meta))
    old = biovae.load_model(folder)
    np.testing.assert_allclose(old.predict_proba(ds), est.predict_proba(ds, calibrated=False))


def test_records_of_one_label_leave_the_temperature_at_one():
    # all of class 0, predicted as class 1: the NLL falls as T grows, to the search's bound
    logits = np.array([[0.0, 1.0, -1.0]] * 30) + np.linspace(0, 1, 30)[:, None]
    y = np.zeros(30, int)
    assert calibration.fit_temperature(logits, y) == 1.0 and not calibration.can_fit(y)
    y[:2] = 1
    assert calibration.fit_temperature(logits, y) > 5


def test_records_of_weight_zero_do_not_move_the_temperature():
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=2.0, size=(200, 3))
    y = rng.integers(0, 3, 200)
    w = np.where(np.arange(200) % 2, 0.0, 2.5)
    assert calibration.fit_temperature(logits, y, w) == pytest.approx(
        calibration.fit_temperature(logits[w > 0], y[w > 0]), rel=1e-5
    )
    assert calibration.nll(logits, y, 1.3, w) == pytest.approx(
        calibration.nll(logits[w > 0], y[w > 0], 1.3)
    )
    assert not calibration.can_fit(y[:40], np.r_[np.ones(9), np.zeros(31)])


def test_a_weighted_fit_scales_its_probabilities_on_the_weighted_held_out_labels(ssvae):
    import biovae

    est, ds = ssvae
    held = est.held_out_labelled(ds)
    w = np.ones(len(ds))
    w[held[::2]] = 0.0  # half the held-out labels are not to count
    cfg = est.get_config()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=3))
    fitted = biovae.SemiSupervisedVAE(n_latent=2, hidden=(16,), config=cfg).fit(ds, sample_weight=w)
    kept = held[w[held] > 0]
    given = fitted.schema_.labels.encode(ds.obs, "").numpy()
    raw = fitted.predict_proba(ds, calibrated=False)
    assert fitted.n_calibration_ == len(kept)
    assert fitted.temperature_ == pytest.approx(
        calibration.fit_temperature(np.log(raw[kept]), given[kept]), rel=1e-4
    )


def test_a_temperature_at_the_edge_of_its_range_is_named_in_the_card():
    from types import SimpleNamespace

    from biovae.model_card import _temperature_text

    assert calibration.at_bound(np.exp(-3.0)) and calibration.at_bound(np.exp(3.0))
    assert not calibration.at_bound(2.26)
    edge = SimpleNamespace(temperature_=float(np.exp(-3.0)), n_calibration_=12)
    assert "reached the edge of its search range" in _temperature_text(edge)
    mapped = SimpleNamespace(temperature_=2.0, n_calibration_=40, mapping_={"x": 1})
    text = _temperature_text(mapped)
    assert "validation records of the reference fit" in text and "edge" not in text


def test_the_held_out_labelled_records_are_found_in_an_anndata_and_only_in_the_fitted_data(ssvae):
    """held_out_labelled(adata) raised AttributeError ('AnnData' object has no attribute
    'source'), and data other than the fitted records gave indices of nothing in particular."""
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    import biovae

    est, ds = ssvae
    adata = anndata.AnnData(ds.x, obs=pd.DataFrame(ds.obs, index=list(ds.ids)))
    adata.var_names = list(ds.features)
    held = est.held_out_labelled(adata)
    np.testing.assert_array_equal(held, est.held_out_labelled(ds))
    assert len(held) == est.n_calibration_ and (ds.obs["y"][held] != "unknown").all()
    with pytest.raises(biovae.errors.DataError, match=r"399 records, but .* fitted on 400"):
        est.held_out_labelled(adata[1:])
