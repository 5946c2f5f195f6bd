"""Every report ends with a model card: intended use by likelihood, the training records, the
limits of a VAE map, the checks to run before reuse, and family-specific cautions."""

from __future__ import annotations

import re

from biovae import PCA, VAE, Autoencoder
from biovae.data.readers import read_dataset
from biovae.model_card import GENERAL_LIMITS, INTENDED_USE
from biovae.reports import write_report
from biovae.reports.model_card import model_card_section


def _card(html: str) -> str:
    start = html.index('id="model-card"')
    return re.sub(r"\s+", " ", html[start : html.index("</section>", start)])


def test_the_pbmc_report_has_a_model_card(pbmc_report, pbmc_vae):
    card = _card(pbmc_report.read_text())
    assert "Model card" in card and INTENDED_USE["nb"].split(":")[0] in card
    assert f"{pbmc_vae.n_train_:,} records" in card
    assert "biovae audit" in card and "biovae novelty" in card
    assert card.count('class="note"') == len(GENERAL_LIMITS)
    assert "Caution" not in card


def test_a_genotype_report_carries_the_consent_caution(fixtures, tmp_path):
    path = fixtures / "ehgdp_70x30loci.tsv"
    ds = read_dataset(path, id_column="individual", allow_missing=True)
    est = VAE(likelihood="genotype", n_latent=2, epochs=2).fit(ds)
    card = _card(write_report(est, tmp_path / "g.html", data=ds).read_text())
    assert "population structure" in card and "identify people" in card


def test_a_sequence_model_card_asks_for_screening(fixtures, tmp_path):
    ds = read_dataset(fixtures / "splice_junctions_200.tsv", sequence_column="sequence")
    est = VAE(likelihood="categorical", n_latent=2, epochs=1).fit(ds)
    card = _card(write_report(est, tmp_path / "s.html", data=ds).read_text())
    assert "Caution" in card and "--screen-against" in card and "withheld" in card


def _section_text(section) -> str:
    rows = [" ".join(row) for table in section.tables for row in table.rows]
    return " ".join([section.lead, *rows, *section.notes])


def test_autoencoder_and_pca_cards_claim_only_what_they_have(fixtures):
    """An autoencoder has no prior, density or ELBO; PCA is probabilistic PCA: a prior
    N(0, I) and an exact likelihood (of the encoder features), but no ELBO."""
    ds = read_dataset(fixtures / "crc_abundance_60x50.tsv")
    ae = Autoencoder("gaussian", n_latent=2, hidden=(8,), epochs=1).fit(ds)
    section = model_card_section(ae)
    card = _section_text(section)
    for claim in ("density model of records", "prior N(0, I)", "ELBO, IWAE"):
        assert claim not in card
    assert "no prior, no density and no ELBO" in card and "log p(x | z = f(x))" in card
    assert len(section.notes) == len(GENERAL_LIMITS) and "biovae audit" in card
    pca = PCA(n_latent=2, likelihood="gaussian").fit(ds)
    card = _section_text(model_card_section(pca))
    assert "ELBO" not in card and "density model of records" not in card
    assert card.count("exact probabilistic-PCA log-likelihood of") == 2
    vae = VAE(likelihood="gaussian", n_latent=2, hidden=(8,), epochs=1).fit(ds)
    assert model_card_section(vae).notes == GENERAL_LIMITS


def test_a_pca_of_gaussian_data_scores_the_data_itself(tmp_path):
    import numpy as np

    from biovae.reports.sections import likelihood_text

    x = np.random.default_rng(0).normal(size=(40, 5))
    gaussian = PCA(n_latent=2, likelihood="gaussian").fit(x)
    counts = PCA(n_latent=2, likelihood="nb").fit(np.round(np.abs(x) * 10))
    text = _card_text(gaussian)
    assert "not of the raw" not in text and likelihood_text(gaussian).endswith("on the data")
    assert "not of the raw nb data" in _card_text(counts)
    page = write_report(Autoencoder(n_latent=2, epochs=2).fit(x), tmp_path / "ae.html", data=x)
    assert "a higher log p(x|z)" in page.read_text() and "a higher ELBO" not in page.read_text()


def _card_text(est) -> str:
    section = model_card_section(est)
    return " ".join([*(c for row in section.tables[0].rows for c in row), *section.notes])
