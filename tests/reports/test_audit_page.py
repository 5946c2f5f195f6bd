"""The audit page: its latent maps show each covariate as the audit read it."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.reports import audit_page, plots
from biovae.reports.analysis import is_categorical


@pytest.fixture
def drawn(monkeypatch) -> dict[str, np.ndarray]:
    """The values each latent map of a rendered audit page is coloured by, by name."""
    seen: dict[str, np.ndarray] = {}

    def latent_map(proj, values, name) -> bytes:
        seen[name] = values
        return b""

    monkeypatch.setattr(plots, "latent_map", latent_map)
    return seen


def _audited(kind: str, n: int, **skill: float) -> dict:
    """One covariate's audit result as :func:`~biovae.diagnostics.confounding.audit` gives it."""
    common = {"carrying_dimensions": [1], "records": n, "missing": 0, "folds": 3}
    if kind == "continuous":
        return {"kind": kind, "r2": 0.1, **common, **skill}
    level = {"balanced_accuracy": 0.9, "chance": 0.5, "auroc": 0.95}
    return {"kind": kind, **level, **common, **skill}


def _render(columns: dict[str, np.ndarray], kinds: dict[str, str]) -> None:
    n = len(next(iter(columns.values())))
    z = np.random.default_rng(0).normal(size=(n, 3))
    result = {"covariates": {name: _audited(kind, n) for name, kind in kinds.items()}}
    panel = audit_page.AuditPanel("model", result, z, columns)
    audit_page._maps(panel, "audit-1")


def test_a_batch_coded_by_numbers_is_mapped_by_level_not_on_a_colour_scale(drawn) -> None:
    batch = np.array([1.0, 2.0, 3.0, np.nan, 1.0, 2.0])
    _render({"batch": batch}, {"batch": "categorical"})
    assert is_categorical(drawn["batch"])  # was a colour bar 1.0..3.0: the table has 3 levels
    assert list(drawn["batch"]) == ["1", "2", "3", "", "1", "2"]  # NaN missing, not "nan"


def test_values_the_audit_left_out_are_missing_on_its_map(drawn) -> None:
    sex = np.array(["male", "unknown", "female", "NA"], dtype=object)
    _render({"sex": sex}, {"sex": "categorical"})
    assert list(drawn["sex"]) == ["male", "", "female", ""]  # was levels "unknown" and "NA"


def test_a_continuous_covariate_keeps_its_colour_scale(drawn) -> None:
    age = np.array(["64", "unknown", "70"], dtype=object)
    _render({"age": age}, {"age": "continuous"})
    assert drawn["age"].dtype == np.float64 and np.isnan(drawn["age"][1])


def _page(drawn) -> str:
    """A rendered audit page of a batch and a disease, the latent maps stubbed."""
    n = 12
    z = np.random.default_rng(0).normal(size=(n, 3))
    columns = {
        "studyID": np.array(["FengQ_2015", "YuJ_2015"] * (n // 2), dtype=object),
        "study_condition": np.array(["CRC", "CRC", "control"] * (n // 3), dtype=object),
        "age": np.linspace(40, 80, n),
    }
    result = {
        "covariates": {
            "studyID": _audited("categorical", n),
            "study_condition": _audited("categorical", n, balanced_accuracy=0.6),
            "age": _audited("continuous", n),
        },
        "verdict": {
            "technical": "studyID",
            "biological": "study_condition",
            "text": "'studyID' dominates 'study_condition'",
        },
    }
    panel = audit_page.AuditPanel("m", result, z, columns, ["studyID"], ["study_condition"])
    title = "biovae audit of model m: abund.tsv (metadata meta.tsv)"
    return audit_page.render_audit_page([panel], title, "Data /data/abund.tsv.", "12 records")


def test_the_audit_page_is_headed_by_what_it_audits(drawn) -> None:
    page = _page(drawn)
    title = "biovae audit of model m: abund.tsv (metadata meta.tsv)"
    assert f"<h1>{title}</h1>" in page and f"<title>{title}</title>" in page  # was "Audit"
    assert "Data /data/abund.tsv." in page and "12 records" in page


def test_the_audit_maps_are_captioned_and_counted_as_the_pages_images(drawn) -> None:
    import re

    page = _page(drawn)
    assert 'data-plots-expected="3"' in page  # the image-loaded check counts img.plot
    assert page.count('<img class="plot"') == 3
    assert "document.body.dataset.plotsLoaded" in page
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert len(captions) == 3
    study, condition, age = captions
    assert "if the points separate by studyID" in study and "(technical): a batch" in study
    assert "(biological)" in condition
    assert "if the colour runs from one side of the map to the other" in age


def test_the_verdict_is_stated_once_and_the_captions_say_what_their_maps_show(drawn) -> None:
    import re

    page = _page(drawn)
    verdict = "&#x27;studyID&#x27; dominates &#x27;study_condition&#x27;"
    assert page.count(verdict) == 1  # was 3: the verdict section and both maps' captions
    assert re.search(rf"class=\"verdict\">Verdict: {verdict}<", page)
    for caption in re.findall(r"<figcaption>(.*?)</figcaption>", page):
        # the table's numbers stay in the table (each caption repeated its row)
        assert "Verdict" not in caption and "balanced accuracy" not in caption
        assert "carried by" not in caption and "R²" not in caption
        assert caption.startswith("Coloured by ")
