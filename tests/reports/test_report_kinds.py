"""Report pages of models other than a VAE on counts: what they say must hold for the model
kind and the data type (a PCA on sequences, genotypes or abundances)."""

from __future__ import annotations

from pathlib import Path

import pytest

import biovae
from biovae.data.readers import read_dataset
from biovae.reports import write_report
from biovae.reports.sections import likelihood_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def splice():
    return read_dataset(
        FIXTURES / "splice_junctions_200.tsv",
        sequence_column="sequence",
        id_column="id",
        metadata_columns=["class"],
    )


@pytest.fixture(scope="module")
def genotypes():
    return read_dataset(
        FIXTURES / "ehgdp_70x30loci.tsv", id_column="individual", allow_missing=True
    )


def test_pca_likelihood_names_the_features_it_models(splice, genotypes) -> None:
    # the tagline said "(e.g. log1p of counts)" for every family, one-hot letters included
    seq = biovae.PCA(n_latent=2, likelihood="categorical").fit(splice)
    assert likelihood_text(seq).endswith("on categorical features (one-hot letters per position)")
    geno = biovae.PCA(n_latent=2, likelihood="genotype").fit(genotypes)
    assert "log1p" not in likelihood_text(geno) and "allele counts" in likelihood_text(geno)


def test_pca_sequence_page_shows_letters_not_probabilities(
    splice, tmp_path, fast_render, monkeypatch
) -> None:
    from biovae.reports import plots_data

    titles: list[str] = []
    draw = plots_data.sequence_probabilities

    def spy(*args, **kwargs):
        titles.append(kwargs.get("letters_only", False))
        return draw(*args, **kwargs)

    monkeypatch.setattr(plots_data, "sequence_probabilities", spy)
    pca = biovae.PCA(n_latent=3, likelihood="categorical").fit(splice)
    text = write_report(pca, tmp_path / "pca.html", data=splice).read_text()
    # a PCA decodes to one (argmax) letter per position: its one-hot reconstruction was drawn
    # and described as letter probabilities with confident and uncertain positions
    assert "decoded into letter probabilities" not in text
    assert "gives no letter probabilities" in text and "the reconstructed letter is" in text
    assert 'alt="Reconstructed letters of one record"' in text
    assert titles == [True]
    assert "200 records × 60 positions" in text and "× 60 features" not in text


def test_pca_table_page_does_not_call_its_reconstruction_an_expected_value(
    genotypes, tmp_path, fast_render
) -> None:
    pca = biovae.PCA(n_latent=3, likelihood="genotype").fit(genotypes)
    text = write_report(pca, tmp_path / "geno.html", data=genotypes).read_text()
    assert "decoder&#x27;s expected value" not in text and "decoder's expected value" not in text
    assert "mapped back to the nearest data values (e.g. rounded counts)" in text
