"""The model card of a sequence-family model (``biovae variants``): the alignment, its depth,
how the model was fitted and kept, and what its scores mean. The family's model folder holds it
as ``MODEL_CARD.md``; the scan report shows the same card."""

from __future__ import annotations

from typing import Any

from biovae.data.card import Card
from biovae.latent_usage import usage_text


def kept_update(fraction: float, history: list) -> str:
    """Which update's weights each member kept (``history``: one list of records per member;
    ``fraction``: the share of sequences held out to choose them)."""
    if fraction <= 0:
        return "the last update (no held-out sequences)"
    best = [max((h for h in run if "val_elbo" in h), key=lambda h: h["val_elbo"], default=None)
            for run in history]  # fmt: skip
    if not any(best):
        return "the last update (training ended before the first held-out evaluation)"
    at = ", ".join(str(b["step"]) if b else "last" for b in best)
    return (
        f"best held-out weighted ELBO ({fraction:.0%} of the sequences used, held out from "
        f"training), at update {at}"
    )


def _scored(bayesian: bool, mean_weights: bool) -> str:
    if not bayesian:
        return "the fitted decoder weights"
    if mean_weights:
        return "the posterior-mean decoder weights"
    return "decoder weights drawn from q(θ), shared by mutant and wild type"


def _fingerprint_row(digest: str | None) -> tuple[tuple[str, str], ...]:
    """The data fingerprint's row (none for a model saved before it was kept)."""
    if not digest:
        return ()
    return (("data fingerprint", f"{digest} (biovae's digest of the sequences used)"),)


def _usage_rows(usages: list) -> tuple[tuple[str, str], ...]:
    """How many latent dimensions each member uses (none for a model saved before it was
    measured): one row for one member, one per member of an ensemble."""
    if len(usages) == 1:
        return (("latent usage", _usage(usages[0])),)
    return tuple((f"latent usage, member {i}", _usage(u)) for i, u in enumerate(usages, 1))


def _usage(usage: dict | None) -> str:
    return usage_text(usage, more="") if usage else "not measured (fewer than 2 sequences)"


def _dropped_note(dropped) -> str:
    """The match columns left out for gaps (--max-column-gaps), if any."""
    if not dropped:
        return ""
    numbers = ", ".join(str(d.position) for d in dropped)
    return f"; {len(dropped)} dropped for more than {dropped[0].threshold:g} gaps: {numbers}"


def family_card(fitted: Any, mean_weights: bool = False) -> Card:
    """The card of a fitted family model (``family.Family``): what it was fitted on, how, and
    what its scores mean; ``mean_weights``: scores from a variational decoder's posterior
    means rather than weight draws."""
    f, cfg = fitted.facts, fitted.config
    steps = [h["step"] for run in f.get("history", []) for h in run if "final" in h]
    rows = (
        ("alignment", str(f.get("source", "?"))),
        ("focus record", str(f.get("focus_id", "?"))),
        (
            "match positions",
            f"{len(fitted.positions)} ({fitted.positions[0]}–{fitted.positions[-1]})"
            + _dropped_note(getattr(fitted, "dropped_columns", ())),
        ),
        ("sequences used / read", f"{f.get('n_sequences', '?')} / {f.get('n_read', '?')}"),
        *_fingerprint_row(f.get("fingerprint")),
        (
            "dropped: invalid letters / too gappy",
            f"{f.get('n_invalid_dropped')} / {f.get('n_gappy_dropped')}",
        ),
        (
            "effective sequences Neff (θ)",
            f"{f.get('neff', float('nan')):.1f} ({cfg.alignment.theta})",
        ),
        ("ensemble members × updates", f"{cfg.ensemble} × {', '.join(map(str, steps)) or '?'}"),
        ("latent dimensions", str(cfg.model.n_latent)),
        *_usage_rows(f.get("latent_usage") or []),
        ("decoder weights", "variational (posterior q(θ))" if cfg.model.bayesian else "MAP"),
        ("model kept", kept_update(cfg.train.validation_fraction, f.get("history", []))),
        ("scored with", _scored(cfg.model.bayesian, mean_weights)),
    )
    notes = (
        "Scores are differences of the model's log-likelihood estimate (ELBO averaged over shared "
        "latent draws), not measured fitness: they rank substitutions by how unusual they are for "
        "the family. They are only as good as the alignment's depth and diversity (Neff) and say "
        "nothing about insert positions, which are not modelled.",
        "Intended use: prioritising variants for experiments, alongside other evidence. "
        "Not for clinical decisions on its own.",
        "Checks before reuse: the same family and numbering (the focus record and match "
        "positions above); on a deep mutational scan of the family, if one exists, the rank "
        "correlation with measured fitness (biovae variants score --fitness-column); the "
        "ensemble members' spread (member_sd) beside each score; and designed sequences "
        "screened (biovae variants design --screen-against) before any synthesis.",
    )
    lead = "What the family model was trained on and how to read its scores."
    return Card("Model card", lead, rows, notes)
