"""``biovae variants fit`` measures how many latent dimensions each member uses, as ``biovae
fit`` does (:mod:`biovae.latent_usage`), saved in metadata.json and the model card, leaving the
weights and scores as trained."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import FamilyTrainConfig, VariantsConfig
from biovae.applications.variants.model import FamilyVAE
from biovae.errors import ModelFileError
from tests.applications.variants.test_family import SMALL
from tests.conftest import FIXTURES

TINY = dataclasses.replace(SMALL, train=dataclasses.replace(SMALL.train, steps=10))


@pytest.fixture(scope="module")
def aln():
    return read_alignment(FIXTURES / "blat_ecolx_first40.a2m")


def _encoder_moving_only(model: FamilyVAE, dims: list[int]) -> FamilyVAE:
    """``model`` whose posterior mean is 0 in every dimension but ``dims``, where it is
    10 · Σ h (h ≥ 0: the last hidden layer, which differs between sequences)."""
    with torch.no_grad():
        model.encoder.loc.weight.zero_()
        model.encoder.loc.bias.zero_()
        model.encoder.loc.weight[dims] = 10.0
    return model.eval()


def test_member_usage_counts_the_dimensions_whose_posterior_mean_varies(aln):
    from biovae.applications.variants.train import member_usage

    model = _encoder_moving_only(FamilyVAE(aln.codes.shape[1], len(aln.alphabet), SMALL.model), [])
    held_out = FamilyTrainConfig(validation_fraction=0.1)
    n = len(aln.codes)
    assert member_usage(model, aln.codes, held_out) == {
        "n_active": 0,
        "n_latent": 3,
        "records": int(n * 0.1),  # the rows the fit held out
        "split": "validation",
        "threshold": 0.01,
    }
    model = _encoder_moving_only(model, [1])
    usage = member_usage(model, aln.codes, FamilyTrainConfig(validation_fraction=0.0))
    assert usage["n_active"] == 1 and usage["split"] == "training" and usage["records"] == n
    one_held_out = FamilyTrainConfig(validation_fraction=1.5 / n)  # 1 row: no variance
    assert member_usage(model, aln.codes, one_held_out)["split"] == "training"


def test_the_usage_is_saved_in_metadata_and_card_per_member(aln, tmp_path):
    fam = family.fit(aln, dataclasses.replace(TINY, ensemble=2))
    usage = fam.facts["latent_usage"]
    assert [u["n_latent"] for u in usage] == [3, 3]
    folder = family.save(tmp_path / "m", fam)
    assert json.loads((folder / "metadata.json").read_text())["latent_usage"] == usage
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    for i, u in enumerate(usage, 1):
        row = f"| latent usage, member {i} | {u['n_active']} of 3 latent dimensions active"
        assert row in card
    assert "biovae diagnose" not in card  # it reads no family models
    assert family.load(folder).facts["latent_usage"] == usage


def test_one_member_has_one_row_and_older_or_damaged_models_are_handled(aln, tmp_path):
    from biovae.applications.variants.card import family_card
    from biovae.data.card import markdown

    fam = family.fit(aln, TINY)
    (u,) = fam.facts["latent_usage"]
    assert f"| latent usage | {u['n_active']} of 3 latent dimensions" in markdown(
        family_card(fam), []
    )
    old = dataclasses.replace(
        fam, facts={k: v for k, v in fam.facts.items() if k != "latent_usage"}
    )
    assert "latent usage" not in markdown(family_card(old), [])  # saved before it was measured
    folder = family.save(tmp_path / "m", fam)
    (folder / "SHA256SUMS").unlink()  # as saved before it was kept: the edit is read
    meta = json.loads((folder / "metadata.json").read_text())
    meta["latent_usage"] = [{"n_active": "three"}]
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=r"'latent_usage' entry is damaged.*refit"):
        family.load(folder)


def test_the_measurement_leaves_weights_and_scores_as_trained(aln, monkeypatch):
    cfg = VariantsConfig(model=SMALL.model, train=dataclasses.replace(TINY.train, steps=20))
    measured = family.fit(aln, cfg)
    monkeypatch.setattr(family, "member_usage", lambda *args: None)
    unmeasured = family.fit(aln, cfg)
    assert unmeasured.facts["latent_usage"] == [None]
    for a, b in zip(
        measured.members[0].state_dict().values(),
        unmeasured.members[0].state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
    names = ["WT", f"{aln.focus_sequence[0]}{aln.positions[0]}A"]
    a, b = measured.score(names, 4, 0), unmeasured.score(names, 4, 0)
    assert np.array_equal(a["score"], b["score"])
