"""Every saved model folder holds its model card, MODEL_CARD.md: what the model is for, what it
was trained on and how, its limits and the checks before reuse — readable without biovae."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from biovae import PCA, VAE, Autoencoder, load_model
from biovae.config import (
    DataConfig,
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.data.card import Card, markdown
from biovae.data.readers import read_dataset
from biovae.model_card import GENERAL_LIMITS, INTENDED_USE
from tests.conftest import needs_anndata


def _card(folder) -> str:
    return (folder / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_a_saved_vae_carries_its_card_with_training_and_data(fixtures, tmp_path):
    needs_anndata()
    ds = read_dataset(fixtures / "cellbench_100x200.h5ad")
    cfg = FitConfig(
        model=ModelConfig(
            n_latent=3, likelihood=LikelihoodConfig("nb"), network=NetworkConfig(hidden=(16,))
        ),
        train=TrainConfig(epochs=4, batch_size=32),
    )
    est = VAE(config=cfg).fit(ds)
    card = _card(est.save(tmp_path / "m"))
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert card.startswith("# Model card\n")
    assert INTENDED_USE["nb"] in card
    assert f"| Trained on | {est.n_train_:,} records × 200 features." in card
    assert "| Model | VAE, nb likelihood, 3-d latent space, hidden layers (16,)" in card
    assert "4 of at most 4 epochs, batch 32" in card and "seed 0" in card
    assert f"{est.n_validation_:,} validation records" in card
    assert f"| Data fingerprint | {est.fingerprint_} " in card
    assert all(f"- {note}" in card for note in GENERAL_LIMITS)
    assert meta["weights_sha256"] in card  # the card names the weights it describes
    assert load_model(tmp_path / "m").transform(ds).shape == (len(ds), 3)


def test_the_card_names_the_epoch_whose_weights_were_kept(fixtures, tmp_path):
    ds = read_dataset(fixtures / "crc_abundance_60x50.tsv")
    est = VAE(likelihood="gaussian", n_latent=2, hidden=(8,), epochs=6).fit(ds)
    best = min(est.history_, key=lambda r: r["val_recon"] + r["val_kl"])
    card = _card(est.save(tmp_path / "m"))
    assert f"weights of epoch {best['epoch']} kept (highest validation ELBO" in card
    assert "lowest validation ELBO" not in card  # the kept epoch has the best ELBO, not the worst
    assert f"validation ELBO per record {best['val_elbo']:.6g}" in card


def test_an_autoencoders_card_names_no_kl_weight(fixtures, tmp_path):
    ds = read_dataset(fixtures / "crc_abundance_60x50.tsv")
    card = _card(Autoencoder(likelihood="gaussian", n_latent=2, epochs=2).fit(ds).save(tmp_path))
    assert "learning rate" in card and "β" not in card  # it has no KL term to weight


def test_pca_and_a_conditional_model_say_what_they_are(fixtures, tmp_path):
    ds = read_dataset(
        fixtures / "crc_abundance_60x50.tsv", obs_path=fixtures / "crc_metadata_60.tsv"
    )
    pca = PCA(n_latent=2, likelihood="gaussian").fit(ds)
    card = _card(pca.save(tmp_path / "p"))
    assert "| Model | probabilistic PCA, gaussian likelihood, 2-d latent space |" in card
    assert "epochs" not in card and "exact probabilistic-PCA log-likelihood" in card
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        train=TrainConfig(epochs=1),
        data=DataConfig(categorical_covariates=("studyID",)),
    )
    card = _card(VAE(config=cfg).fit(ds).save(tmp_path / "c"))
    assert "; conditioned on studyID" in card


def test_an_older_model_folder_without_a_card_still_loads_and_is_replaced(tmp_path):
    x = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    est = VAE(n_latent=2, hidden=(4,), epochs=1).fit(x)
    (est.save(tmp_path / "m") / "MODEL_CARD.md").unlink()
    assert load_model(tmp_path / "m").transform(x).shape == (30, 2)
    est.save(tmp_path / "m")  # a card-less model folder is still a model folder to replace
    assert (tmp_path / "m" / "MODEL_CARD.md").is_file()


def test_markdown_cells_stay_one_table_row():
    card = Card("Model card", "Lead.", (("Caution", "a | b\nnext line"),), ("note",))
    text = markdown(card, ["footer"])
    assert "| Caution | a \\| b next line |" in text
    assert text.endswith("- note\n\nfooter  \n")


def test_a_family_model_folder_carries_its_card(fixtures, tmp_path):
    from biovae.applications.variants import family
    from biovae.applications.variants.alignment import read_alignment
    from biovae.applications.variants.config import (
        FamilyModelConfig,
        FamilyTrainConfig,
        VariantsConfig,
    )

    aln = read_alignment(fixtures / "blat_ecolx_first40.a2m")
    small = VariantsConfig(
        model=FamilyModelConfig(n_latent=2, encoder_hidden=(8,), decoder_hidden=(4, 8), rank=2),
        train=FamilyTrainConfig(steps=2, batch_size=8),
    )
    fam = family.fit(aln, small)
    card = _card(family.save(tmp_path / "f", fam))
    assert "| effective sequences Neff (θ) |" in card and "| focus record |" in card
    assert "Not for clinical decisions on its own." in card


def test_a_structure_model_card_is_about_frames(tmp_path):
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    import dataclasses

    from biovae.data.structure import read_structures
    from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE
    from tests.conftest import FIXTURES

    structures = read_structures(FIXTURES / "ubiquitin_2k39_ca_12.pdb")
    train = dataclasses.replace(STRUCTURE_DEFAULTS.train, epochs=2)
    model = ConformationVAE("geometry", dataclasses.replace(STRUCTURE_DEFAULTS, train=train))
    card = _card(model.fit(structures).save(tmp_path / "s"))
    assert "conformational ensemble of one protein" in card and " frames × " in card
    assert "Samples are Cα traces whose bonds and spacing" in card
    assert "biovae structure validate" in card and "biovae novelty" not in card


def test_the_card_says_when_training_ended_before_the_kl_warm_up(tmp_path):
    from biovae.config import ObjectiveConfig

    x = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    cfg = FitConfig(
        model=ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,))),
        objective=ObjectiveConfig(beta=2.0, kl_warmup_epochs=10),
        train=TrainConfig(epochs=2),
    )
    card = _card(VAE(config=cfg).fit(x).save(tmp_path / "short"))
    assert "β 2 (KL warm-up over 10 epochs, not reached: the last epoch trained at β 0.4)" in card
    done = dataclasses.replace(cfg, train=TrainConfig(epochs=10, patience=0))
    card = _card(VAE(config=done).fit(x).save(tmp_path / "done"))
    assert "β 2 (KL warm-up over 10 epochs)," in card


def test_at_another_beta_the_card_says_the_kept_epoch_minimised_the_beta_loss(fixtures, tmp_path):
    """Training keeps the epoch of the lowest validation reconstruction + β·KL; at β ≠ 1 that
    need not be the highest validation ELBO, which the card claimed it was."""
    ds = read_dataset(fixtures / "crc_abundance_60x50.tsv")
    est = VAE(likelihood="gaussian", n_latent=2, hidden=(8,), epochs=6, beta=0.2).fit(ds)
    best = min(est.history_, key=lambda r: r["val_recon"] + 0.2 * r["val_kl"])
    card = _card(est.save(tmp_path / "m"))
    assert f"weights of epoch {best['epoch']} kept (lowest validation loss at β 0.2, " in card
    assert "highest validation ELBO" not in card


def test_the_card_names_free_bits_and_an_iwae_training_bound(fixtures, tmp_path):
    """The training row said β, warm-up and seed but not free bits, an IWAE-k training bound
    or an MMD penalty: a reader could not repeat (or judge) the fit from the card."""
    ds = read_dataset(fixtures / "crc_abundance_60x50.tsv")
    plain = _card(
        VAE(likelihood="gaussian", n_latent=2, hidden=(8,), epochs=2)
        .fit(ds)
        .save(tmp_path / "plain")
    )
    assert "free bits" not in plain and "bound (no KL term)" not in plain and "MMD" not in plain
    cfg = FitConfig(objective=ObjectiveConfig(free_bits=0.25))
    est = VAE(likelihood="gaussian", n_latent=2, hidden=(8,), epochs=2, config=cfg).fit(ds)
    assert "free bits 0.25 nats per latent dimension" in _card(est.save(tmp_path / "fb"))
    cfg = FitConfig(objective=ObjectiveConfig(iwae_samples=3))
    est = VAE(likelihood="gaussian", n_latent=2, hidden=(8,), epochs=2, config=cfg).fit(ds)
    assert "trained on the IWAE-3 bound" in _card(est.save(tmp_path / "iw"))
