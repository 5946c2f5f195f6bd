"""Report sections comparing the model with data: reconstructions and samples from the prior."""

from __future__ import annotations

from typing import Any

import numpy as np

from biovae.data.dataset import Dataset
from biovae.diagnostics.fidelity import site_frequencies
from biovae.reports import plots_data
from biovae.reports.analysis import (
    code_name,
    dense_rows,
    display_scale,
    entropy,
    feature_moments,
    letter_probabilities,
    log_pearson,
    most_variable,
    pearson,
    subsample,
)
from biovae.reports.content import Highlight, Plot, Section, needs_data, number

#: Records used for data-space comparisons (reconstruction scatter, sample moments).
MAX_RECORDS = 2000
HEATMAP_RECORDS = 12
HEATMAP_FEATURES = 40


_RECON_LEAD = (
    "Each record is encoded to its {code} and decoded again; the reconstruction is the "
    "decoder's expected value. Good models keep the structure of the data, not its noise: "
    "expect smoother values than observed, with the same patterns."
)
#: a PCA's reconstruction is not an expected value: the projection W·E[z|x] + μ is made in
#: the likelihood's feature space and mapped back to the nearest data values
_PCA_RECON_LEAD = (
    "Each record is projected onto the principal axes at its posterior mean; the projection "
    "W·E[z|x] + μ of its features ({features}) is mapped back to the nearest data values{how}. "
    "Good models keep the structure of the data, not its noise: expect smoother values than "
    "observed, with the same patterns."
)


def reconstruction_section(est: Any, ds: Dataset | None, order: np.ndarray | None) -> Section:
    """Records next to their reconstructions; ``order`` ranks records along the latent map."""
    title = "Reconstructions"
    if ds is None:
        return needs_data("reconstruction", title, "Comparing records with their reconstructions")
    if ds.alphabet:
        return _sequence_reconstruction(est, ds)
    idx = subsample(len(ds), MAX_RECORDS)
    observed = dense_rows(ds.x, idx)
    recon = np.asarray(est.reconstruct(ds.subset(idx)), dtype=np.float64)
    drawn = display_scale(observed)
    obs_d, rec_d = drawn.apply(observed), drawn.apply(recon)
    scale, log, floor = drawn.label, drawn.log, drawn.pseudocount or None
    plots = (
        _heatmap(ds, idx, order, obs_d, rec_d, scale),
        Plot(
            "reconstruction-scatter",
            plots_data.observed_vs_reconstructed(obs_d, rec_d, scale),
            "Observed vs reconstructed values",
            f"All entries of {_records(idx, ds)}; points on the dashed line are reconstructed "
            "exactly. For counts a cloud around the line is expected (sampling noise).",
            wide=False,
        ),
        Plot(
            "reconstruction-means",
            plots_data.feature_means(observed, recon, log, floor),
            "Per-feature means of data and reconstructions",
            f"One point per feature, on the data's own scale{_log_axes(log, floor)}. "
            "Features far from the line are systematically over- or under-predicted.",
            wide=False,
        ),
    )
    r = pearson(obs_d, rec_d)
    return Section(
        "reconstruction",
        title,
        _recon_lead(est),
        plots=plots,
        highlights=(Highlight(number(r, ".2f"), "reconstruction correlation (r)"),),
    )


def _recon_lead(est: Any) -> str:
    """What a table's reconstruction is: the decoder's expected value, or for a PCA on
    transformed features the nearest data values to its projection."""
    from biovae.model_card import raw_features

    name = est.config_.model.likelihood.name
    if est.config_.model.kind != "pca" or raw_features(name):
        return _RECON_LEAD.format(code=code_name(est))
    how = " (e.g. rounded counts)" if est.likelihood_.integer_data else ""
    return _PCA_RECON_LEAD.format(features=est.likelihood_.features_text, how=how)


def _heatmap(
    ds: Dataset,
    idx: np.ndarray,
    order: np.ndarray | None,
    obs_d: np.ndarray,
    rec_d: np.ndarray,
    scale: str,
) -> Plot:
    """A few records × the most variable features, observed next to reconstructed."""
    rows = _heatmap_rows(idx, order)
    cols = np.sort(most_variable(obs_d, HEATMAP_FEATURES))
    shown = obs_d[rows][:, cols]
    missing = " Grey: missing values." if np.isnan(shown).any() else ""
    png = plots_data.reconstruction_heatmap(
        shown,
        rec_d[rows][:, cols],
        [ds.features[c] for c in cols],
        [ds.ids[idx[r]] for r in rows],
        scale,
    )
    return Plot(
        "reconstruction-heatmap",
        png,
        "Observed and reconstructed records",
        f"{len(rows)} records (ordered along the latent map) × the {len(cols)} most variable "
        f"features, on the {scale} scale. Rows should look alike on both sides.{missing}",
    )


def _heatmap_rows(idx: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """Positions in ``idx`` of a few records spread along the latent map's first axis."""
    if order is None:
        return np.arange(min(HEATMAP_RECORDS, len(idx)))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    along = np.argsort(rank[idx], kind="stable")
    picks = np.linspace(0, len(along) - 1, min(HEATMAP_RECORDS, len(along))).round()
    return along[picks.astype(np.int64)]


def _sequence_reconstruction(est: Any, ds: Dataset) -> Section:
    pca = est.config_.model.kind == "pca"  # decodes to the largest projected one-hot value
    record = ds.subset(np.array([0]))
    n_letters = len(ds.alphabet or "")
    probs = letter_probabilities(est.reconstruct(record), n_letters)[0]
    observed = np.asarray(record.x[0], dtype=np.int64)
    png = plots_data.sequence_probabilities(
        probs,
        observed,
        ds.alphabet or "",
        ds.features,
        str(record.ids[0]),
        letters_only=pca,
    )
    idx = subsample(len(ds), MAX_RECORDS)
    all_probs = letter_probabilities(est.reconstruct(ds.subset(idx)), n_letters)
    hits = float((all_probs.argmax(-1) == np.asarray(ds.x[idx], dtype=np.int64)).mean())
    lead, which = _sequence_lead(est, pca)
    alt = "Reconstructed letters" if pca else "Letter probabilities"
    caption = (
        f"Record {record.ids[0]}; rings mark its actual letters. Over {_records(idx, ds)} "
        f"{which} is the observed one at {100 * hits:.1f}% of positions."
    )
    if len(observed) > plots_data.MAX_POSITIONS:
        caption += (
            f" Only the first {plots_data.MAX_POSITIONS:,} of its {len(observed):,} positions "
            "are drawn."
        )
    return Section(
        "reconstruction",
        title="Reconstructions",
        lead=lead,
        plots=(Plot("reconstruction-sequence", png, f"{alt} of one record", caption),),
        highlights=(Highlight(f"{100 * hits:.0f}%", "positions reconstructed correctly"),),
    )


def _sequence_lead(est: Any, pca: bool) -> tuple[str, str]:
    """The lead of a sequence reconstruction and what its letter at each position is."""
    if pca:  # no probabilities: the letter of the largest projected one-hot value
        lead = (
            "Each record's one-hot letters are projected onto the principal axes at its "
            "posterior mean and mapped back to one letter per position, the one with the "
            "largest projected value: a PCA gives no letter probabilities, so every position "
            "shows a single letter."
        )
        return lead, "the reconstructed letter"
    lead = (
        f"Each record is encoded to its {code_name(est)} and decoded into letter "
        "probabilities per position. Conserved positions should be confident (dark, one "
        "letter); variable positions spread their probability over the letters seen there."
    )
    return lead, "the most probable letter"


def samples_section(est: Any, ds: Dataset | None) -> Section:
    """Records generated from the prior, compared with the data through simple statistics."""
    title = "Samples from the prior"
    if ds is None:
        return needs_data("samples", title, "Comparing samples from the prior with the data")
    idx = subsample(len(ds), MAX_RECORDS, seed=1)
    obs = {k: v[idx] for k, v in ds.obs.items()} if est.schema_.covariates.width else None
    samples = np.asarray(est.sample(len(idx), obs=obs, seed=0))
    lead = (
        "New records are generated by drawing z from the prior N(0, I) and sampling the "
        "decoder. If the model has learned the data distribution, simple statistics of the "
        "samples match those of the data."
    )
    notes: tuple[str, ...] = ()
    if est.config_.model.kind == "ae":
        notes = (
            "A plain autoencoder has no fitted prior; its codes need not follow N(0, I), "
            "so these samples are shown only for comparison.",
        )
    if obs is not None:
        notes += (
            "The model is conditional: each sample is decoded with the covariates of one of "
            "the records it is compared with, so both sides have the same mix of covariates.",
        )
    if ds.alphabet:
        plot, r = _sequence_samples(ds, idx, samples)
    else:
        plot, r = _table_samples(ds, idx, samples)
    return Section(
        "samples",
        title,
        lead,
        plots=(plot,),
        notes=notes,
        highlights=(Highlight(number(r, ".2f"), "sample vs data statistics (r)"),),
    )


def _table_samples(ds: Dataset, idx: np.ndarray, samples: np.ndarray) -> tuple[Plot, float]:
    data = dense_rows(ds.x, idx)
    samples = samples.reshape(len(samples), -1).astype(np.float64)
    drawn = display_scale(data)
    log, floor = drawn.log, drawn.pseudocount or None
    d_stats = feature_moments(data)  # missing genotypes (NaN) left out, not the whole feature
    s_stats = (samples.mean(0), samples.var(0))
    png = plots_data.moments_scatter(d_stats, s_stats, log, floor)
    if log:
        r = log_pearson(d_stats[0], s_stats[0], floor or 1e-6)
    else:
        r = pearson(d_stats[0], s_stats[0])
    caption = (
        f"One point per feature: mean and variance over {_records(idx, ds)} and "
        f"{len(samples):,} samples{_log_axes(log, floor)}. Points on the dashed "
        f"line match; the correlation of the {'log10 ' if log else ''}means is "
        f"r = {number(r, '.3f')}."
    )
    return Plot("samples-moments", png, "Feature means and variances: samples vs data", caption), r


def _sequence_samples(ds: Dataset, idx: np.ndarray, samples: np.ndarray) -> tuple[Plot, float]:
    n_letters = len(ds.alphabet or "")
    f_data = site_frequencies(np.asarray(ds.x[idx]), n_letters)
    f_samp = site_frequencies(samples.reshape(len(samples), -1), n_letters)
    png = plots_data.site_frequencies(f_data, f_samp, entropy(f_data), entropy(f_samp), ds.features)
    r = pearson(f_data, f_samp)
    caption = (
        f"Left: one point per (position, letter), frequency among {_records(idx, ds)} "
        f"vs {len(samples):,} samples (r = {number(r, '.3f')}). Right: entropy per "
        "position; conserved sites have low entropy in both."
    )
    return Plot("samples-sites", png, "Per-site letter frequencies: samples vs data", caption), r


def _log_axes(log: bool, floor: float | None) -> str:
    """Log axes in a caption, with the floor that zeros (absent taxa) are drawn at."""
    if not log:
        return ""
    return f" (log axes; values below {floor:g} drawn at {floor:g})" if floor else " (log axes)"


def _records(idx: np.ndarray, ds: Dataset) -> str:
    """The records of ``idx`` in words: all of them, or a random subset of how many."""
    if len(idx) == len(ds):
        return f"the {len(ds):,} records"
    return f"a random {len(idx):,} of the {len(ds):,} records"
