"""The HTML report as a file: sections, embedded plots, no external resources, atomic writes."""

from __future__ import annotations

import base64
import importlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

import biovae
from biovae.config import DataConfig, FitConfig, TrainConfig
from biovae.data.dataset import Dataset
from biovae.data.readers import read_dataset
from biovae.errors import ConfigError
from biovae.reports import html, write_report

SECTIONS = ("training", "latent-usage", "latent-map", "reconstruction", "samples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class _Page(HTMLParser):
    """Collects tags, attributes and text of a page and checks that elements are balanced."""

    VOID: ClassVar[set[str]] = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.imgs: list[dict[str, str]] = []
        self.ids: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag, attrs) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag not in self.VOID:
            self.stack.append(tag)
        self.ids += [a["id"]] if "id" in a else []
        self.urls += [v for k, v in a.items() if k in ("src", "href", "srcset", "action")]
        if tag == "img":
            self.imgs.append(a)
        if tag == "body":
            self.body = a

    def handle_endtag(self, tag) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack[-3:]}"
        self.stack.pop()

    def handle_data(self, data) -> None:
        self.text.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.stack == [], f"unclosed elements: {page.stack}"
    return page


def plots_by_key(page: _Page) -> dict[str, int]:
    out: dict[str, int] = {}
    for img in page.imgs:
        out[img["data-plot"]] = out.get(img["data-plot"], 0) + 1
    return out


def test_report_is_complete_and_self_contained(pbmc_report: Path) -> None:
    source = pbmc_report.read_text(encoding="utf-8")
    assert source.startswith("<!DOCTYPE html>") and source.rstrip().endswith("</html>")
    page = parse(pbmc_report)
    assert all(s in page.ids for s in SECTIONS)
    assert len(page.ids) == len(set(page.ids)), "element ids must be unique"
    for url in page.urls:  # only in-page anchors and embedded images
        assert url.startswith(("#", "data:image/png;base64,")), url[:60]
    assert not re.search(r"url\(|@import|<link|<iframe", source)
    for img in page.imgs:
        assert img["class"] == "plot" and img["alt"] and img["id"].startswith("plot-")
        assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(PNG_MAGIC)
    assert int(page.body["data-plots-expected"]) == len(page.imgs)


def test_report_shows_every_part(pbmc_report: Path, pbmc) -> None:
    page = parse(pbmc_report)
    text = " ".join(page.text)
    keys = plots_by_key(page)
    assert keys == {
        "training-curves": 1,
        "latent-usage": 1,
        "latent-map": 3,
        "markers-dotplot": 1,
        "reconstruction-heatmap": 1,
        "reconstruction-scatter": 1,
        "reconstruction-means": 1,
        "samples-moments": 1,
    }
    assert "Marker genes by bulk_labels" in text  # the first categorical colour column
    for name in ("bulk_labels", "louvain", "phase"):  # default colours: text columns ≤ 30 levels
        assert f"Latent map coloured by {name}" in [i["alt"] for i in page.imgs]
    assert re.search(r"(\d+ of 6|All 6|None of the 6) latent dimensions (are|is) active", text)
    assert "PCA projection of the 6-D posterior means" in text
    for fact in (
        "Model summary",
        "nb",
        "biovae version",
        biovae.__version__,
        "6 of 6",
        "warm-up over 3 epochs",
        "same data as the report",
        "700 records × 765",
    ):
        assert fact in text, fact


def test_report_without_data_says_what_needs_data(pbmc_vae, tmp_path: Path, fast_render) -> None:
    path = write_report(pbmc_vae, tmp_path / "nodata.html", title="My <model>")
    page = parse(path)
    assert plots_by_key(page) == {"training-curves": 1}
    text = " ".join(page.text)
    assert "My <model>" in text and "My <model>" not in path.read_text()  # escaped
    assert text.count("needs data") == 4


def test_report_without_data_tells_a_command_line_user_how_to_give_it(
    pbmc_vae, tmp_path: Path, fast_render
) -> None:
    text = " ".join(parse(write_report(pbmc_vae, tmp_path / "nodata.html")).text)
    assert text.count("biovae report MODEL DATA") == 5  # the summary and each section


def test_color_by_numeric_column_and_unknown_column(pbmc_vae, pbmc, tmp_path, fast_render):
    part = pbmc.subset(np.arange(150))
    path = write_report(pbmc_vae, tmp_path / "r.html", data=part, color_by=["n_counts"])
    page = parse(path)
    assert [i["alt"] for i in page.imgs if i["data-plot"] == "latent-map"] == [
        "Latent map coloured by n_counts"
    ]
    assert "colour bar" in " ".join(page.text)
    with pytest.raises(biovae.errors.DataError, match="no metadata column 'nope'"):
        write_report(pbmc_vae, tmp_path / "bad.html", data=part, color_by=["nope"])
    assert not (tmp_path / "bad.html").exists()


def test_failed_report_leaves_old_file_and_no_temp(pbmc_vae, tmp_path, monkeypatch) -> None:
    path = tmp_path / "report.html"
    path.write_text("old report")

    def boom(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(html, "build_sections", boom)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_report(pbmc_vae, path)
    assert path.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_unfitted_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not fitted"):
        write_report(biovae.VAE(), tmp_path / "r.html")


def test_autoencoder_and_pca_reports(pbmc, tmp_path, fast_render) -> None:
    part = pbmc.subset(np.arange(200))  # sparse counts, as read from an .h5ad file
    small = Dataset(sp.csr_matrix(part.x), part.ids, part.features, part.obs, source="pbmc")
    ae = biovae.Autoencoder("poisson", n_latent=2, hidden=(16,), epochs=2).fit(small)
    page = parse(write_report(ae, tmp_path / "ae.html", data=small))
    text = " ".join(page.text)
    assert "Plain autoencoder" in text and "has no fitted prior" in text
    assert "the 2-D latent itself" in text and "KL per" not in text
    # an autoencoder has codes, not posteriors (its pages said "posterior mean")
    assert "posterior mean" not in text and "placed at its code f(x)" in text
    pca = biovae.PCA(n_latent=3, likelihood="nb").fit(small)
    page = parse(write_report(pca, tmp_path / "pca.html", data=small))
    text = " ".join(page.text)
    assert "fitted in closed form" in text and "training-curves" not in plots_by_key(page)
    assert "latent-map" in plots_by_key(page)
    assert "markers-dotplot" not in plots_by_key(page)  # no posterior to sample
    assert "probabilistic PCA" in text and "200 records" in text  # not "nb likelihood"
    assert "β (KL weight)" not in " ".join(parse(write_report(ae, tmp_path / "a2.html")).text)


def test_sequence_report(tmp_path: Path, fast_render) -> None:
    seqs = read_dataset(
        FIXTURES / "splice_junctions_200.tsv",
        sequence_column="sequence",
        id_column="id",
        metadata_columns=["class"],
    )
    est = biovae.VAE("categorical", n_latent=3, hidden=(16,), epochs=3).fit(seqs)
    page = parse(write_report(est, tmp_path / "seq.html", data=seqs))
    assert plots_by_key(page) == {
        "training-curves": 1,
        "latent-usage": 1,
        "latent-map": 1,
        "reconstruction-sequence": 1,
        "samples-sites": 1,
    }
    text = " ".join(page.text)
    assert "Latent map coloured by class" in [i["alt"] for i in page.imgs]
    assert re.search(r"the most probable letter is the observed one at \d+\.\d% of positions", text)
    assert "60 positions" in text


def _conditioned_on(pbmc, column: str):
    """300 PBMC cells and a one-epoch NB VAE conditioned on obs ``column``."""
    cfg = FitConfig(
        data=DataConfig(categorical_covariates=(column,)),
        train=TrainConfig(epochs=1, batch_size=256),
    )
    part = pbmc.subset(np.arange(300))
    return part, biovae.VAE("nb", n_latent=2, hidden=(16,), config=cfg).fit(part)


def test_marker_genes_are_not_of_the_batch_the_model_is_conditioned_on(
    pbmc, tmp_path, fast_render
) -> None:
    # the first text column is the covariate here; markers of batches are not cell types
    part, est = _conditioned_on(pbmc, "bulk_labels")
    text = " ".join(parse(write_report(est, tmp_path / "c.html", data=part)).text)
    assert "Marker genes by louvain" in text and "Marker genes by bulk_labels" not in text
    page = parse(write_report(est, tmp_path / "b.html", data=part, color_by=("bulk_labels",)))
    assert "Marker genes by bulk_labels" in " ".join(page.text)  # asked for: as asked


def test_the_samples_caption_says_what_is_correlated_and_how_a_conditional_model_sampled(
    pbmc, tmp_path, fast_render
) -> None:
    # counts are compared on log axes and r is that of the log10 means, as the plot says;
    # a conditional model's samples take the covariates of the records they are set against
    part, est = _conditioned_on(pbmc, "phase")
    text = " ".join(parse(write_report(est, tmp_path / "c.html", data=part)).text)
    assert "(log axes)" in text and "the correlation of the log10 means is r = " in text
    assert "The model is conditional: each sample is decoded with the covariates" in text
    plain = biovae.VAE("nb", n_latent=2, hidden=(16,), epochs=1).fit(part)
    text = " ".join(parse(write_report(plain, tmp_path / "p.html", data=part)).text)
    assert "The model is conditional" not in text


def test_a_semi_supervised_report_shows_its_label_predictions(
    pbmc, tmp_path, fast_render, monkeypatch
):
    part = pbmc.subset(np.arange(300))
    labels = np.asarray(part.obs["bulk_labels"], dtype=object).copy()
    labels[::2] = "unknown"  # half the records without a label
    part = Dataset(part.x, part.ids, part.features, {**part.obs, "bulk_labels": labels})
    cfg = FitConfig(data=DataConfig(labels_key="bulk_labels"), train=TrainConfig(epochs=2))
    est = biovae.SemiSupervisedVAE("nb", n_latent=2, hidden=(16,), config=cfg).fit(part)
    fp = importlib.import_module("biovae.data.fingerprint")
    reads, hash_of = [], fp.fingerprint
    monkeypatch.setattr(fp, "fingerprint", lambda ds: reads.append(ds) or hash_of(ds))
    text = " ".join(parse(write_report(est, tmp_path / "s.html", data=part)).text)
    predicted = np.asarray(est.predict(part), dtype=object)
    given = labels != "unknown"
    agree = (predicted[given] == labels[given]).mean()
    assert "Label predictions" in text and f"{agree:.1%} of the 150 labelled records" in text
    assert "150 of 300 records labelled" in text
    assert "Marker genes by bulk_labels" in text  # the labels, not the first text column
    # the probabilities are checked on the labelled records the fit held out (validation)
    from biovae.fit_inputs import validation_split

    codes = est.schema_.labels.encode(part.obs, "data")
    _, val = validation_split(300, 0.1, 0, codes)
    held = val.numpy()[codes.numpy()[val.numpy()] >= 0]
    hits = (predicted[held] == labels[held]).mean()
    top = est.predict_proba(part)[held].max(1).mean()
    assert reads == [part]  # the report reads the data's fingerprint once, not per section
    assert f"On the {len(held)} labelled records held out of training (validation), " in text
    assert f"{hits:.1%} are predicted as given, with a mean top probability of {top:.1%}" in text
    named = f"the probabilities' temperature, T = {est.temperature_:.3g}, was fitted on these"
    assert (named in text) == bool(est.n_calibration_)
    other = part.subset(np.arange(299))  # not the data it was fitted on: no held-out check
    text = " ".join(parse(write_report(est, tmp_path / "o.html", data=other)).text)
    assert "held out of training" not in text
    plain = biovae.VAE("nb", n_latent=2, hidden=(16,), epochs=1).fit(part)
    assert "Label predictions" not in " ".join(
        parse(write_report(plain, tmp_path / "p.html", data=part)).text
    )


def test_markers_by_a_semi_supervised_models_labels_leave_unlabelled_records_out(pbmc):
    from biovae.reports.sections_markers import marker_section

    part = pbmc.subset(np.arange(300))
    labels = np.asarray(part.obs["bulk_labels"], dtype=object).copy()
    labels[::2] = "Unknown"  # half the records without a label: not a group of cells
    part = Dataset(part.x, part.ids, part.features, {**part.obs, "bulk_labels": labels})
    cfg = FitConfig(data=DataConfig(labels_key="bulk_labels"), train=TrainConfig(epochs=1))
    est = biovae.SemiSupervisedVAE("nb", n_latent=2, hidden=(16,), config=cfg).fit(part)
    section = marker_section(est, part, None)
    rows = {row[0]: int(row[1]) for row in section.tables[0].rows}
    given = labels[labels != "Unknown"]
    assert rows == {level: int((given == level).sum()) for level in set(given)}
    assert "Records without a label are left out." in section.lead


def test_the_held_out_check_flags_probabilities_above_the_agreements_upper_bound():
    from biovae.reports.sections_labels import _held_out_check

    flat = _held_out_check(np.array([True] * 7 + [False] * 3), np.full(10, 0.75))
    assert "70.0% are predicted as given" in flat and "overconfident" not in flat
    sure = _held_out_check(np.array([True] * 14 + [False] * 6), np.full(20, 0.99))
    assert "overconfident" in sure  # 0.99 beyond the Wilson bound of 14/20 (0.85)
    assert "No labelled record was held out" in _held_out_check(np.array([], bool), np.array([]))


def test_a_label_the_model_never_saw_leaves_the_other_labels_counted(pbmc):
    from biovae.reports.sections_labels import labels_section

    part = pbmc.subset(np.arange(300))
    labels = np.asarray(part.obs["bulk_labels"], dtype=object).copy()
    labels[::2] = "unknown"
    part = Dataset(part.x, part.ids, part.features, {**part.obs, "bulk_labels": labels})
    cfg = FitConfig(data=DataConfig(labels_key="bulk_labels"), train=TrainConfig(epochs=1))
    est = biovae.SemiSupervisedVAE("nb", n_latent=2, hidden=(16,), config=cfg).fit(part)
    labels = labels.copy()
    labels[1] = "B cell (new)"  # one labelled record relabelled with a level never trained on
    new = Dataset(part.x, part.ids, part.features, {**part.obs, "bulk_labels": labels})
    section = labels_section(est, new, same=True)  # was: "None of the 300 records carries a label"
    assert "of the 149 labelled records are predicted as given" in section.verdict
    assert "1 record carries a label the model was not trained on" in section.verdict
    assert section.tables[0].caption == "149 of 300 records labelled"
    assert "held out of training" not in section.verdict  # not the labels it was fitted on


def test_the_heading_names_the_files_and_the_summary_keeps_their_paths(pbmc_vae, pbmc) -> None:
    from dataclasses import replace

    from biovae.reports import html, sections

    source = "/work/data/crc_abundance.tsv (metadata /work/data/crc_metadata.tsv)"
    ds = replace(pbmc, source=source)
    title = html._default_title(pbmc_vae, ds)  # was the full paths of both files
    assert title == "biovae report: VAE of crc_abundance.tsv (metadata crc_metadata.tsv)"
    assert source in dict(sections.summary_facts(pbmc_vae, ds, True))["Report data"]
    assert html._default_title(pbmc_vae, replace(pbmc, source="AnnData")).endswith(" of AnnData")
