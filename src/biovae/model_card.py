"""What a model card says: the intended use of each kind of model, what it was trained on and
how, its limits, and the checks to run before its map, scores or samples are used elsewhere.

One home for the card's content: a saved model folder's ``MODEL_CARD.md`` (written with every
model, :func:`latent_card`) and the HTML reports' model card section
(``biovae.reports.model_card``) are both made from it.
"""

from __future__ import annotations

from typing import Any

from biovae.config import kind_name
from biovae.data.card import Card
from biovae.latent_usage import FIT_USAGE_MORE, STRUCTURE_USAGE_MORE, usage_text
from biovae.training.history import kept_epoch, unfinished_warmup

#: what each likelihood family's model is for (plain text)
INTENDED_USE = {
    "nb": "Count profiles such as single-cell RNA: a low-dimensional map of cells for "
    "clustering and trajectories, batch integration (condition on the batch), denoised "
    "expression, and log-likelihoods of counts given each cell's library size.",
    "gaussian": "Continuous tables: a latent map of the records and a density model of records "
    "like them.",
    "bernoulli": "Binary tables: a latent map of the records and a density model of records "
    "like them.",
    "categorical": "Sequence families: a map of the family and log-likelihoods of sequences; "
    "differences of log-likelihood between a mutant and its wild type rank variant effects "
    "relative to this family only (biovae variants is the dedicated pipeline).",
    "dirichlet_multinomial": "Microbial community compositions: a latent map of samples and "
    "log-likelihoods of their taxon counts.",
    "genotype": "Genotypes: the population structure of the individuals and anomaly scores "
    "(−ELBO per locus, biovae score's elbo_per_locus) for individuals unlike the training "
    "populations.",
    "ca_chain": "Conformational ensembles of one protein: a map of conformations, "
    "interpolation between them and sampled Cα traces.",
}
INTENDED_USE["zinb"] = INTENDED_USE["poisson"] = INTENDED_USE["nb"]
INTENDED_USE["hurdle_dirichlet"] = (
    "Relative abundances with many zeros (profiler output): a latent map of samples and "
    "log-likelihoods of which taxa were detected and how the detected community is split."
)

#: family-specific cautions
CAUTIONS = {
    "genotype": "Genotypes identify people and their relatives: do not share the model, its "
    "scores or its samples beyond the consent the data were given under.",
    "ca_chain": "Sampled traces are Cα coordinates that satisfy bond and clash constraints, "
    "not validated structures; check them before any use as models.",
    "dirichlet_multinomial": "Study and sequencing batch usually dominate microbiome data: "
    "audit the map for them before reading biology off it.",
}
CAUTIONS["hurdle_dirichlet"] = CAUTIONS["dirichlet_multinomial"]
CAUTIONS["categorical"] = (
    "Sampled sequences can resemble genes or proteins of concern: screen them before any "
    "synthesis (biovae sample --screen-against FASTA or --screen-command CMD; flagged samples "
    "are withheld)."
)

GENERAL_LIMITS = (
    "The latent axes have no fixed meaning: the prior N(0, I) does not change under rotations "
    "and reflections, so another seed can give a rotated or mirrored map; interpret "
    "neighbourhoods and the directions of known covariates, not single axes.",
    "The map places records by whatever varies most in the training data — technical batch "
    "included. Before reading biology off it, run biovae audit MODEL DATA --covariates ... "
    "(how well each covariate is predicted from the map).",
    "Distances on the map are meaningful locally; far-apart groups are different, but how far "
    "is not a calibrated quantity.",
    "Scores (ELBO, IWAE) rank records relative to the training distribution; records unlike "
    "it get low scores, and the scores are not probabilities of any outcome.",
    "Before generated records leave this analysis, check them for copies of training records: "
    "biovae novelty MODEL TRAIN HELD_OUT.",
)

#: the notes on the axes and the scores (the first and fourth above) for models that are not
#: VAEs: probabilistic PCA has the same prior but fixed principal axes and an exact
#: likelihood; the autoencoder has no prior, no density and no ELBO
KIND_LIMITS = {
    "pca": (
        "The axes are the principal directions, ordered by the variance they explain; each "
        "axis's sign is arbitrary, and axes of nearly equal variance can swap or mix from one "
        "data set to another; interpret neighbourhoods and the directions of known covariates.",
        "Scores are the exact probabilistic-PCA log-likelihood of the encoder features{raw}: "
        "they rank records relative to the training distribution, and are not probabilities "
        "of any outcome.",
    ),
    "ae": (
        "The latent axes have no fixed meaning: an autoencoder's code has no prior, so any "
        "invertible reshaping of it that the decoder undoes fits as well, and another seed can "
        "give a rotated, stretched or bent map; interpret neighbourhoods, not single axes.",
        "Scores are reconstruction log-likelihoods log p(x | z = f(x)): they rank records by "
        "how well the autoencoder reconstructs them. It has no density, so they are not "
        "log-likelihoods of the records, and not probabilities of any outcome.",
    ),
}

#: intended use of the models that are not VAEs, by model kind ({name}: likelihood family)
KIND_USE = {
    "pca": "A linear baseline: a latent map of the records and the exact probabilistic-PCA "
    "log-likelihood of their {name} encoder features{raw}.",
    "ae": "A non-probabilistic baseline: a latent map of the records (one point code each) and "
    "their reconstructions through a {name} decoder, to compare a VAE against. It has no prior, "
    "no density and no ELBO; records decoded from random codes are not samples of a model of "
    "the data.",
}


def general_limits(kind: str, name: str = "gaussian") -> tuple[str, ...]:
    """The notes of the card of a model of ``kind`` (``vae``, ``ssvae``, ``ae``, ``pca``) and
    likelihood family ``name``."""
    if kind not in KIND_LIMITS:
        return GENERAL_LIMITS
    axes, scores = KIND_LIMITS[kind]
    scores = scores.format(raw=_not_raw(name, ""))
    return (axes, *GENERAL_LIMITS[1:3], scores, *GENERAL_LIMITS[4:])


def _not_raw(name: str, family: str) -> str:
    """ " (not of the raw data)" unless the family's encoder features are the raw values."""
    return "" if raw_features(name) else f" (not of the raw {family + ' ' if family else ''}data)"


def raw_features(name: str) -> bool:
    """Whether likelihood ``name``'s encoder features are the raw values (Gaussian data),
    not a transform of them (log1p of counts, one-hot letters, ...)."""
    from biovae import likelihoods
    from biovae.likelihoods.base import Likelihood

    return likelihoods.get(name).featurize is Likelihood.featurize


def intended_use(kind: str, name: str) -> str:
    """What a model of ``kind`` and likelihood family ``name`` is for."""
    if kind in KIND_USE:
        return KIND_USE[kind].format(name=name, raw=_not_raw(name, name))
    return INTENDED_USE.get(name, "A latent map and density model of records.")


#: a conformational VAE's intended use (``biovae structure``)
STRUCTURE_USE = (
    "A conformational ensemble of one protein (MD trajectory, NMR models): a map of its "
    "conformations, interpolation between them and sampled traces like its frames."
)

#: a conformational VAE's notes: biovae audit and biovae novelty read tables, not structures,
#: so the checks before reuse are the ones its report and ``biovae structure validate`` make
STRUCTURE_LIMITS = (
    GENERAL_LIMITS[0],
    "The map places frames by whatever differs most between them — how the ensemble was made "
    "included (force field, replica, NMR model, length of the run). Before reading mechanism "
    "off it, compare the map with what is known of each frame (its time, replica or state).",
    GENERAL_LIMITS[2],
    "ELBOs rank frames relative to the training ensemble; conformations unlike it get low "
    "values, and they are not probabilities or free energies of any conformation.",
    "Before sampled structures leave this analysis, check them for copies of frames and for "
    "validity: the RMSD to the nearest training frame and the checks in the validity table, "
    "or biovae structure validate SAMPLES --training FRAMES on what biovae structure sample "
    "wrote.",
)


def structure_caution(loss: str, ca_only: bool) -> str:
    """What the samples of a conformational VAE are, by its loss and atoms (the report's
    validity table measures how far they hold)."""
    atoms = "Cα traces" if ca_only else "backbone coordinates"
    if loss == "geometry":
        held = (
            "whose bonds and spacing the geometry likelihood's projection pushes toward "
            "valid values, without guaranteeing them"
        )
    else:
        held = "of a plain Gaussian: nothing keeps their bonds or keeps atoms apart"
    return (
        f"Samples are {atoms} {held} (the validity table measures both); they are not "
        "validated structures — check them before any use as models."
    )


def structure_card(loss: str, ca_only: bool) -> dict[str, Any]:
    """The keyword arguments of :func:`latent_card` for a conformational VAE of ``loss`` on Cα
    traces (``ca_only``) or backbones: its use, caution, limits, records (frames), and its
    latent usage shown by ``biovae structure report`` (biovae diagnose refuses structures)."""
    return {
        "use": STRUCTURE_USE,
        "caution": structure_caution(loss, ca_only),
        "records": "frames",
        "summary": False,
        "limits": STRUCTURE_LIMITS,
        "usage_more": STRUCTURE_USAGE_MORE,
    }


def latent_card(
    est: Any,
    use: str | None = None,
    caution: str | None = None,
    records: str = "records",
    summary: bool = True,
    limits: tuple[str, ...] | None = None,
    training: bool = False,
    usage_more: str = FIT_USAGE_MORE,
) -> Card:
    """The card of a fitted estimator (VAE, semi-supervised VAE, autoencoder, PCA): ``use``
    and ``caution`` replace those its likelihood family implies; ``records`` names the
    records; ``summary``: a page beside it holds the data fingerprint; ``limits`` replace the
    notes of :func:`general_limits`; ``training``: add the model, its training, its latent
    usage (``usage_more``: where to measure more) and the data fingerprint (the card of a model
    folder, read without a report)."""
    cfg = est.config_
    name = cfg.model.likelihood.name
    n_train = getattr(est, "n_train_", 0)
    counted = f"{n_train:,} {records}" if n_train else f"its training {records}"
    unit = "positions" if est.schema_.alphabet else "features"  # as the report's summary says
    trained_on = f"{counted} × {len(est.schema_.features):,} {unit}" + (
        " (data fingerprint in the model summary)" if summary else ""
    )
    rows = [
        ("Intended use", use or intended_use(cfg.model.kind, name)),
        ("Trained on", trained_on + ". The model describes that population only."),
    ]
    if training:
        rows += _training_rows(est, usage_more)
    rows += _mapping_rows(getattr(est, "mapping_", None))
    if cfg.model.network.decoder == "linear":
        rows.append(
            (
                "Linear decoder",
                "p(x|z) is linear in z (LDVAE), so each axis has one loading per feature "
                "(biovae loadings). Any rotation of the axes with the inverse rotation of the "
                "loadings fits the data exactly as well: the loadings are one basis of the "
                "factor space, not unique programmes.",
            )
        )
    caution = caution or CAUTIONS.get(name)
    if caution:
        rows.append(("Caution", caution))
    return Card(
        "Model card",
        "What this model is for, what it was trained on, what it cannot tell you, and the "
        "checks to run before its map, scores or samples are used elsewhere.",
        tuple(rows),
        limits or general_limits(cfg.model.kind, name),
    )


def _training_rows(est: Any, usage_more: str = FIT_USAGE_MORE) -> list[tuple[str, str]]:
    """What the model is, how it was trained, how many latent dimensions it uses (and
    ``usage_more``: where to measure more) and on which data (by fingerprint)."""
    cfg, schema = est.config_, est.schema_
    net, train = cfg.model.network, cfg.train
    kind = kind_name(cfg.model.kind)
    model = f"{kind}, {cfg.model.likelihood.name} likelihood, {cfg.model.n_latent}-d latent space"
    if cfg.model.kind != "pca":
        model += f", hidden layers {tuple(net.hidden)}, {net.decoder} decoder"
    conditioned = [*schema.covariates.categorical, *schema.covariates.continuous]
    if conditioned:
        model += f"; conditioned on {', '.join(conditioned)}"
    if schema.labels.key:
        model += f"; labels '{schema.labels.key}' ({', '.join(schema.labels.levels)})"
    rows = [("Model", model)]
    history = list(getattr(est, "history_", []) or [])
    if history:
        rows.append(("Training", _training_text(cfg, history, getattr(est, "n_validation_", 0))))
    elif cfg.model.kind != "pca":
        rows.append(("Training", f"seed {train.seed}"))
    usage = getattr(est, "latent_usage_", None)  # None: not measured (models saved before)
    if usage:
        rows.append(("Latent usage", usage_text(usage, usage_more)))
    if cfg.model.kind == "ssvae":
        rows.append(("Label probabilities", _temperature_text(est)))
    fingerprint = getattr(est, "fingerprint_", "")
    if fingerprint:
        rows.append(("Data fingerprint", f"{fingerprint} (biovae's digest of the data read)"))
    return rows


def _temperature_text(est: Any) -> str:
    from biovae.calibration import MIN_RECORDS, at_bound

    t, n = getattr(est, "temperature_", 1.0), getattr(est, "n_calibration_", 0)
    if not n:
        return (
            "q(y|x) as the classifier gives it (no temperature: fewer than "
            f"{MIN_RECORDS} labelled validation records, or all of one label, to fit one on)"
        )
    whose = " of the reference fit" if getattr(est, "mapping_", None) else ""
    text = (
        f"q(y|x) with its logits divided by a temperature of {t:.3g}, fitted on the {n:,} "
        f"labelled validation records{whose} (held out of training) by their negative "
        "log-likelihood (Guo et al. 2017); the most likely label is unchanged"
    )
    if at_bound(t):
        text += (
            "; T reached the edge of its search range, so those records say little about how "
            "sharp the probabilities should be (e.g. every one of them predicted right): treat "
            "probabilities near 0 or 1 with care"
        )
    return text


def _training_text(cfg: Any, history: list[dict], n_validation: int) -> str:
    obj, train = cfg.objective, cfg.train
    last = history[-1]
    what = "ELBO" if cfg.model.kind != "ae" else "log p(x|z)"  # an autoencoder has no KL
    text = (
        f"{last['epoch']} of at most {train.epochs} epochs, batch {train.batch_size}, "
        f"learning rate {train.lr:g}" + (f", β {obj.beta:g}" if what == "ELBO" else "")
    )
    if obj.kl_warmup_epochs and what == "ELBO":
        warmup = unfinished_warmup(history, obj.beta)
        text += f" (KL warm-up over {obj.kl_warmup_epochs} epochs{warmup})"
    text += _objective_extras(cfg) + f", seed {train.seed}"
    kept = kept_epoch(history, obj.beta, train.early_stopping)
    if kept is not None:
        row = next(r for r in history if r["epoch"] == kept)
        best = _kept_by(train.early_stopping, what, obj.beta)
        text += (
            f"; weights of epoch {kept} kept ({best}, {n_validation:,} "
            f"validation records), validation {what} per record {row['val_elbo']:.6g}"
        )
    else:
        text += f"; training {what} per record at the end {last['elbo']:.6g} (no validation)"
    return text


def _objective_extras(cfg: Any) -> str:
    """The objective's other settings a reader of the card needs to repeat the fit: free bits,
    an IWAE-k training bound and the MMD penalty (each said only when used)."""
    obj, parts = cfg.objective, []
    if obj.free_bits and cfg.model.kind != "ae":
        parts.append(f"free bits {obj.free_bits:g} nats per latent dimension")
    if obj.iwae_samples > 1:
        parts.append(f"trained on the IWAE-{obj.iwae_samples} bound (no KL term)")
    if obj.mmd_batch:
        names = ", ".join(cfg.data.categorical) or "the categorical covariates"
        parts.append(f"MMD penalty λ {obj.mmd_batch:g} on the latent means across {names}")
    return "".join(f", {p}" for p in parts)


def _kept_by(early_stopping: str, what: str, beta: float) -> str:
    """What the kept epoch is best at: the lowest validation loss, reconstruction + β·KL,
    which is the highest ELBO (or log p(x|z)) only at β = 1 (or without a KL term)."""
    if early_stopping == "classification":
        return "lowest validation classification loss"
    if what == "ELBO" and beta != 1:
        return f"lowest validation loss at β {beta:g}, reconstruction + β·KL (not the ELBO)"
    return f"highest validation {what}"


def _mapping_rows(mapping: dict | None) -> list[tuple[str, str]]:
    if not mapping:
        return []
    levels = "; ".join(f"{k}: {', '.join(v)}" for k, v in mapping["levels_added"].items())
    return [
        (
            "Mapped",
            f"A reference model trained on {mapping['reference_n_train']:,} records "
            f"(fingerprint {mapping['reference_fingerprint'][:12]}) was extended to new "
            f"levels ({levels}) by reference mapping; only their weights were trained, on "
            "the records above. The map is the reference's: structure the reference never "
            "saw cannot appear in it.",
        )
    ]
