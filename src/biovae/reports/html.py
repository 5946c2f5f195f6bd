"""``write_report``: one self-contained HTML file describing a fitted model.

Every figure is embedded as a base64 PNG data URI and the style sheet is inline, so the file
opens offline and can be mailed around; it references no external URL. It is written
atomically: a failed run never leaves a half-written report behind.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from biovae.config import kind_name
from biovae.data.dataset import Dataset
from biovae.errors import ConfigError
from biovae.reports import sections, sections_data
from biovae.reports.analysis import fitted_on, project_2d
from biovae.reports.content import Highlight, Plot, Section, Table
from biovae.reports.model_card import model_card_section
from biovae.reports.sections_labels import labels_section
from biovae.reports.sections_loadings import loadings_section
from biovae.reports.sections_markers import marker_section
from biovae.reports.style import CSS, ON_LOAD_SCRIPT


def write_report(
    est: Any,
    path: str | Path,
    data: Dataset | None = None,
    color_by: Sequence[str] = (),
    title: str | None = None,
) -> Path:
    """Write an HTML report of a fitted estimator to ``path``.

    Parameters
    ----------
    est
        A fitted :class:`biovae.VAE`, :class:`biovae.Autoencoder` or :class:`biovae.PCA`.
    path
        The ``.html`` file to write (parent folders are created; an existing file is replaced
        only once the new one is complete).
    data
        Records to diagnose (usually the training data): a Dataset or anything the estimator
        accepts. Without data the report shows the model summary and training curves only.
    color_by
        Metadata columns to colour the latent map by; by default up to three text columns of
        ``data`` with at most 30 categories.
    title
        Page title; by default it names the model and the data.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_page(path, report_page(est, data, color_by, title))


def report_page(
    est: Any,
    data: Dataset | None = None,
    color_by: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """The HTML text :func:`write_report` writes, drawn without writing anything (``biovae fit
    --report`` draws it before saving the model, so that a report that fails leaves no model)."""
    from biovae.inputs import as_dataset

    if not hasattr(est, "config_"):
        raise ConfigError(
            f"this {type(est).__name__} is not fitted yet; call fit() before writing a report"
        )
    ds = as_dataset(data) if data is not None else None
    same = fitted_on(est, ds)
    return render_page(est, build_sections(est, ds, color_by, same), ds, title, same)


def build_sections(
    est: Any, ds: Dataset | None, color_by: Sequence[str] = (), same: bool | None = None
) -> list[Section]:
    """The report's sections in reading order; ``same``: whether ``ds`` is the fitted data
    (:func:`~biovae.reports.analysis.fitted_on`)."""
    z_mean = np.asarray(est.transform(ds)) if ds is not None else None
    order = np.argsort(project_2d(z_mean).xy[:, 0]) if z_mean is not None else None
    markers = marker_section(est, ds, tuple(color_by) or None)
    factors = loadings_section(est)
    labels = labels_section(est, ds, same)
    return [
        sections.training_section(est),
        sections.usage_section(est, ds, z_mean),
        sections.map_section(est, ds, z_mean, tuple(color_by) or None),
        *([labels] if labels is not None else []),
        *([markers] if markers is not None else []),
        *([factors] if factors is not None else []),
        sections_data.reconstruction_section(est, ds, order),
        sections_data.samples_section(est, ds),
        model_card_section(est),
    ]


def render_page(
    est: Any, parts: list[Section], ds: Dataset | None, title: str | None, same: bool | None = None
) -> str:
    """The complete HTML document; ``same`` as in :func:`build_sections`."""
    title = title or _default_title(est, ds)
    cfg = est.config_
    tagline = (
        f"{kind_name(cfg.model.kind, capital=True)} · "
        f"{sections.likelihood_text(est)}"
        f"{'' if cfg.model.kind == 'pca' else ' likelihood'} · {cfg.model.n_latent}-D latent space"
    )
    overview = _overview(sections.summary_facts(est, ds, same), parts, ds, cfg.model.kind)
    return render_document(title, tagline, overview, parts)


def write_sections_page(
    path: str | Path, title: str, tagline: str, parts: list[Section], files: Facts = ()
) -> Path:
    """A self-contained page of ``parts`` under a table of contents, written atomically."""
    return write_page(path, sections_page(title, tagline, parts, files))


#: (name, value) rows of a summary table, e.g. ("data", "/full/path/to/counts.h5ad").
Facts = tuple[tuple[str, str], ...]


def facts_rows(facts: Facts) -> str:
    """The ``<tr>`` rows of a summary table of (name, value) pairs, escaped."""
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)


def sections_page(title: str, tagline: str, parts: list[Section], files: Facts = ()) -> str:
    """The HTML text of :func:`write_sections_page`, drawn without writing anything; ``files``:
    (what, full path) rows of an "Inputs" card, the files a ``title`` names without folders."""
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in parts)
    inputs = (
        f'<div class="card summary"><h2>Inputs</h2><table>{facts_rows(files)}</table></div>'
        if files
        else ""
    )
    overview = (
        f'<section class="overview" id="summary">{inputs}<nav class="card toc" '
        f'aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav></section>'
    )
    return render_document(title, tagline, overview, parts)


def write_page(path: str | Path, page: str | bytes) -> Path:
    """Write a drawn page (HTML text) or picture (PNG bytes) to ``path`` atomically (a command
    that writes several outputs draws them all first, then writes: a drawing that fails leaves
    nothing behind)."""
    from biovae.data.writers import atomic_open

    with atomic_open(Path(path), "wb" if isinstance(page, bytes) else "w") as fh:
        fh.write(page)
    return Path(path)


def render_document(
    title: str, tagline: str, overview: str, parts: list[Section], appendix: str = ""
) -> str:
    """A self-contained HTML page: header, headline tiles, ``overview`` HTML, numbered sections,
    then ``appendix`` HTML (methods a reader looks up after the results)."""
    n_plots = sum(len(s.plots) for s in parts)
    highlights = [h for s in parts for h in s.highlights]
    body = "\n".join(
        [
            f'<header class="top"><h1>{escape(title)}</h1>'
            f'<p class="tagline">{escape(tagline)}</p></header>',
            _highlights(highlights),
            overview,
            *(_section(i + 1, s) for i, s in enumerate(parts)),
            *([appendix] if appendix else []),
            _footer(),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f'<body data-plots-expected="{n_plots}">\n<main>\n{body}\n</main>\n'
        f"<script>{ON_LOAD_SCRIPT}</script>\n</body>\n</html>\n"
    )


def _default_title(est: Any, ds: Dataset | None) -> str:
    kind = kind_name(sections.model_kind(est), capital=True)
    from biovae.data.readers import source_name

    # the files' names; their folders are in the summary's "Report data" line
    where = f" of {source_name(ds.source)}" if ds is not None and ds.source else ""
    return f"biovae report: {kind}{where}"


def _highlights(items: list[Highlight]) -> str:
    if not items:
        return ""
    tiles = "".join(
        f'<div class="tile{"" if h.good is None else " good" if h.good else " bad"}">'
        f'<div class="value">{escape(h.value)}</div>'
        f'<div class="label">{escape(h.label)}</div></div>'
        for h in items
    )
    return f'<section class="tiles" aria-label="Key numbers">{tiles}</section>'


def _overview(
    facts: list[tuple[str, str]], parts: list[Section], ds: Dataset | None, kind: str = "vae"
) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in parts)
    better = {
        "ae": "a higher log p(x|z) (a smaller reconstruction error)",
        "pca": "a higher log-likelihood",
    }
    hint = (
        '<p class="guide">Values are per record in nats (natural-log units); '
        f"{better.get(kind, 'a higher ELBO')} is better. The caption under each plot says what "
        "to look for.</p>"
    )
    if ds is None:
        hint += (
            '<p class="note">Written without data: give the records (<code>biovae report '
            "MODEL DATA</code>, or <code>data=</code> in Python) to see latent maps, "
            "reconstructions and samples.</p>"
        )
    return (
        '<section class="overview" id="summary">'
        f'<div class="card summary"><h2>Model summary</h2><table>{rows}</table></div>'
        f'<nav class="card toc" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol>{hint}'
        "</nav></section>"
    )


def _section(number: int, s: Section) -> str:
    parts = [
        f'<section class="report-section" id="{escape(s.id)}">',
        f'<h2><span class="num">{number}</span>{escape(s.title)}</h2>',
    ]
    if s.lead:
        parts.append(f'<p class="lead">{escape(s.lead)}</p>')
    if s.verdict:
        parts.append(f'<p class="verdict">{escape(s.verdict)}</p>')
    parts.extend(_table(t) for t in s.tables)
    parts.extend(f'<p class="note">{escape(n)}</p>' for n in s.notes)
    narrow = [p for p in s.plots if not p.wide]
    parts.extend(_figure(p, f"{s.id}-{i}") for i, p in enumerate(s.plots) if p.wide)
    if narrow:
        parts.append(
            '<div class="grid">'
            + "".join(_figure(p, f"{s.id}-n{i}") for i, p in enumerate(narrow))
            + "</div>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in table.rows
    )
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    return (
        f'<table class="numbers">{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _figure(plot: Plot, uid: str) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = f"<figcaption>{escape(plot.caption)}</figcaption>" if plot.caption else ""
    return (
        f'<figure><img class="plot" id="plot-{escape(uid)}" '
        f'data-plot="{escape(plot.key)}" alt="{escape(plot.alt)}" '
        f'src="data:image/png;base64,{data}">{caption}</figure>'
    )


def _footer() -> str:
    from biovae import __version__

    today = _dt.date.today().isoformat()
    return (
        f"<footer>Written by biovae {escape(__version__)} on {today}. This file is "
        "self-contained: it needs no network connection and no other files.</footer>"
    )
