"""Microbiome batch-vs-biology benchmark (issue #6) on the five CRC metagenome studies.

    python benchmarks/microbiome.py [--epochs N] [--out bench-output/microbiome]

Every acceptance measurement in one run, all settings fixed a priori (nothing is tuned on the
held-out studies):

1. unsupervised VAE (hurdle-Dirichlet likelihood) → confounding audit of studyID and
   study_condition (5-fold CV balanced accuracy / AUROC of a logistic regression on E[z|x]);
2. conditional VAE on studyID → the same audit;
3. conditional VAE on studyID with the MMD de-confounding penalty (``objective.mmd_batch``) →
   the same audit. Its weight λ is chosen among :data:`MMD_GRID` on an inner 80/20 split
   (stratified by study, seed 0): fit on the 80 %, logistic regression on the 80 %'s latent
   means, scored on the 20 %; the rule (:func:`choose_mmd_weight`) takes the λ with the lowest
   inner study balanced accuracy among those whose inner CRC AUROC is at most
   :data:`CRC_TOLERANCE` below λ = 0's. The full-data audit is run once, with that λ;
4. leave-one-study-out (LOSO): for each study, a semi-supervised VAE (conditional on studyID)
   is fitted on all 551 records with that study's labels hidden and predicts them; a random
   forest (500 trees) on the relative abundances (and, for reference only, one on the
   study-centred log-ratios) is trained on the other four studies and predicts the same
   records. AUROC per held-out study and the mean. The SSVAE's classifier input (z, x, clr,
   clr_residual or clr_std), classification weight α, MMD weight λ on study and
   early-stopping quantity are chosen per held-out study among :data:`CANDIDATES` by an
   inner leave-one-study-out over the four training studies (their labels only); the
   reported SSVAE averages q(y|x) over 5 seeds of the chosen setting; seed 0 alone and the
   a-priori default (q(y|z), α = 50, λ = 0, stop on the ELBO) are reported beside it.

Writes results.json and report.html (latent maps by study and condition, before and after
conditioning) under --out and prints Markdown tables for benchmarks/RESULTS.md.
Reads ``$BIOVAE_DATA_DIR`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, markdown_table, write_json_atomic
from biovae import VAE, SemiSupervisedVAE
from biovae.config import (
    DataConfig,
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.data.dataset import Dataset
from biovae.data.readers import read_dataset
from biovae.diagnostics.confounding import audit
from biovae.reports.audit_page import AuditPanel, write_audit_page

REPO = Path(__file__).resolve().parents[1]
STUDY, CONDITION = "studyID", "study_condition"


def data_dir() -> Path:
    return Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))


def load() -> Dataset:
    folder = data_dir() / "microbiome"
    return read_dataset(folder / "crc_abundance.tsv", obs_path=str(folder / "crc_metadata.tsv"))


def base_config(epochs: int) -> FitConfig:
    """A priori settings (the defaults of the package, one hidden layer for 551 records)."""
    return FitConfig(
        model=ModelConfig(
            n_latent=10,
            likelihood=LikelihoodConfig("hurdle_dirichlet"),
            network=NetworkConfig(hidden=(128,), dropout=0.1, decoder_dropout=0.1, norm="layer"),
        ),
        objective=ObjectiveConfig(kl_warmup_epochs=20),
        train=TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, patience=20, seed=0),
    )


def with_data(cfg: FitConfig, **data) -> FitConfig:
    return dataclasses.replace(cfg, data=DataConfig(**data))


def short(study: str) -> str:
    return study.split(".")[0]


def with_mmd(cfg: FitConfig, weight: float) -> FitConfig:
    return dataclasses.replace(cfg, objective=dataclasses.replace(cfg.objective, mmd_batch=weight))


def heldout_predictability(z_tr, labels_tr, z_va, labels_va) -> tuple[float, float]:
    """Balanced accuracy and (macro one-vs-rest) AUROC on the validation records of a
    standardised logistic regression fitted on the training records' latent means."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(z_tr, labels_tr)
    proba = clf.predict_proba(z_va)
    bal = balanced_accuracy_score(labels_va, clf.classes_[proba.argmax(1)])
    if proba.shape[1] == 2:
        auc = roc_auc_score(labels_va == clf.classes_[1], proba[:, 1])
    else:
        auc = roc_auc_score(labels_va, proba, multi_class="ovr", average="macro")
    return float(bal), float(auc)


def choose_mmd_weight(ds: Dataset, conditional: FitConfig) -> tuple[float, dict]:
    """λ from :data:`MMD_GRID` by the rule of the module docstring, on an inner 80/20 split."""
    from sklearn.model_selection import train_test_split

    study = np.asarray(ds.obs[STUDY]).astype(str)
    crc = np.asarray(ds.obs[CONDITION]).astype(str)
    tr, va = train_test_split(np.arange(len(ds)), test_size=0.2, stratify=study, random_state=0)
    scores = {}
    for weight in MMD_GRID:
        est = VAE(config=with_mmd(conditional, weight)).fit(ds.subset(tr))
        z_tr, z_va = est.transform(ds.subset(tr)), est.transform(ds.subset(va))
        s_bal, _ = heldout_predictability(z_tr, study[tr], z_va, study[va])
        c_bal, c_auc = heldout_predictability(z_tr, crc[tr], z_va, crc[va])
        scores[weight] = {"study_balanced_accuracy": s_bal, "crc_auroc": c_auc,
                          "crc_balanced_accuracy": c_bal}  # fmt: skip
        print(f"MMD λ={weight:g}: inner {scores[weight]}", file=sys.stderr)
    floor = scores[0.0]["crc_auroc"] - CRC_TOLERANCE
    ok = [w for w in MMD_GRID if scores[w]["crc_auroc"] >= floor]
    return min(ok, key=lambda w: scores[w]["study_balanced_accuracy"]), scores


def audit_model(est, ds: Dataset) -> dict:
    z = est.transform(ds)
    cols = {STUDY: ds.obs[STUDY], CONDITION: ds.obs[CONDITION]}
    return {"z": z, "audit": audit(z, cols, [STUDY], [CONDITION])}


#: MMD weights compared for the conditional VAE (0 = conditioning alone; log-spaced, a priori).
MMD_GRID = (0.0, 10.0, 100.0, 1000.0)
#: How far (AUROC) the inner CRC prediction may fall below λ = 0's for a weight to qualify.
CRC_TOLERANCE = 0.02

#: Semi-supervised settings compared by inner cross-validation: (classifier input, α, MMD λ on
#: study, early-stopping quantity). The first is the a-priori default (scANVI-style q(y|z),
#: scANVI's classification ratio 50, no MMD, early stopping on the ELBO); the MMD candidates use
#: the classifier on z, the map the penalty acts on; "clr" feeds the classifier centred
#: log-ratios, "clr_residual" those log-ratios centred within each study, "clr_std" standardised
#: per taxon (runs 7 and 8 in RESULTS.md); "classification" stops on the labelled validation
#: records' −log q(y|x).
STOPS = ("elbo", "classification")
CANDIDATES = (
    ("z", 50.0, 0.0, "elbo"),
    ("x", 50.0, 0.0, "elbo"),
    ("z", 50.0, 100.0, "elbo"),
    ("z", 50.0, 1000.0, "elbo"),
    ("x", 50.0, 0.0, "classification"),
    *((src, 50.0, 0.0, stop) for src in ("clr", "clr_residual", "clr_std") for stop in STOPS),
)
#: The reported SSVAE averages q(y|x) over fits with these seeds (variance reduction, fixed a
#: priori; a random forest is itself an average of 500 trees).
ENSEMBLE_SEEDS = (0, 1, 2, 3, 4)


def fit_ssvae(
    ds: Dataset, cfg: FitConfig, hidden: np.ndarray, candidate, seed: int = 0
) -> SemiSupervisedVAE:
    """Semi-supervised VAE on all records, conditional on study, labels of ``hidden`` masked."""
    source, alpha, mmd, stop = candidate
    cfg = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, seed=seed, early_stopping=stop)
    )
    cfg = dataclasses.replace(
        with_data(cfg, categorical_covariates=(STUDY,), labels_key="masked_condition"),
        model=dataclasses.replace(cfg.model, classifier_input=source),
        objective=dataclasses.replace(cfg.objective, classification_weight=alpha, mmd_batch=mmd),
    )
    masked = np.where(hidden, "unknown", ds.obs[CONDITION]).astype(object)
    train = Dataset(ds.x, ds.ids, ds.features, {**ds.obs, "masked_condition": masked})
    return SemiSupervisedVAE(config=cfg).fit(train)


def crc_proba(est: SemiSupervisedVAE, ds: Dataset, rows: np.ndarray) -> np.ndarray:
    """q(y|x) of CRC as runs 1-11 measured it: before the temperature scaling of session 20
    (which would reweigh the 5-seed average, and leaves each seed's AUROC as it is)."""
    proba = est.predict_proba(ds.subset(np.flatnonzero(rows)), calibrated=False)
    return proba[:, list(est.classes_).index("CRC")]


def auroc(ds: Dataset, rows: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(ds.obs[CONDITION])[rows] == "CRC", proba))


def crc_auroc(est: SemiSupervisedVAE, ds: Dataset, rows: np.ndarray) -> float:
    return auroc(ds, rows, crc_proba(est, ds, rows))


def inner_scores(ds: Dataset, cfg: FitConfig, studies: list[str]) -> dict:
    """AUROC on study t of a fit with studies {s, t} hidden, for every candidate and pair.

    For outer held-out study s, the inner score of a candidate is the mean over t ≠ s: it
    never looks at labels of s. One fit per unordered pair serves both (s, t) and (t, s).
    """
    study = np.asarray(ds.obs[STUDY])
    scores: dict = {}
    for cand in CANDIDATES:
        for i, a in enumerate(studies):
            for b in studies[i + 1 :]:
                est = fit_ssvae(ds, cfg, (study == a) | (study == b), cand)
                scores[cand, a, b] = crc_auroc(est, ds, study == b)
                scores[cand, b, a] = crc_auroc(est, ds, study == a)
        print(f"inner CV of {cand} done", file=sys.stderr)
    return scores


def loso(ds: Dataset, cfg: FitConfig) -> tuple[list[dict], dict]:
    """Per held-out study: AUROC of the semi-supervised VAE (inner-CV selected settings and
    the a-priori default) and of a random forest on the relative abundances."""
    studies = sorted(set(ds.obs[STUDY]))
    study = np.asarray(ds.obs[STUDY])
    truth = np.asarray(ds.obs[CONDITION]) == "CRC"
    inner = inner_scores(ds, cfg, studies)
    centred = study_centred_clr(ds)
    rows = []
    for held in studies:
        test = study == held
        means = {
            c: float(np.mean([inner[c, held, t] for t in studies if t != held])) for c in CANDIDATES
        }
        chosen = max(CANDIDATES, key=lambda c: means[c])
        probas = [crc_proba(fit_ssvae(ds, cfg, test, chosen, s), ds, test) for s in ENSEMBLE_SEEDS]
        aucs = {"ensemble": auroc(ds, test, np.mean(probas, axis=0))}
        aucs["seed0"] = auroc(ds, test, probas[0])
        aucs["default"] = (
            aucs["seed0"]
            if chosen == CANDIDATES[0]
            else crc_auroc(fit_ssvae(ds, cfg, test, CANDIDATES[0]), ds, test)
        )
        rf_auc = forest_auroc(ds.x, truth, test)
        rf_centred_auc = forest_auroc(centred, truth, test)
        rows.append(
            {
                "held_out": held,
                "n": int(test.sum()),
                "chosen": list(chosen),
                "inner_auroc": {cand_name(c): v for c, v in means.items()},
                "ssvae_auroc": aucs["ensemble"],
                "ssvae_single_seed_auroc": aucs["seed0"],
                "ssvae_default_auroc": aucs["default"],
                "rf_auroc": rf_auc,
                "rf_study_centred_clr_auroc": rf_centred_auc,
            }
        )
        print(f"{short(held)}: SSVAE {aucs} {chosen}  RF {rf_auc:.3f}/{rf_centred_auc:.3f}",
              file=sys.stderr)  # fmt: skip
    return rows, {f"{cand_name(c)}|{a}|{b}": v for (c, a, b), v in inner.items()}


def forest_auroc(features: np.ndarray, truth: np.ndarray, test: np.ndarray) -> float:
    """AUROC on ``test`` of a 500-tree random forest trained on the other records."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    rf = RandomForestClassifier(n_estimators=500, random_state=0, n_jobs=1)
    rf.fit(features[~test], truth[~test])
    return float(roc_auc_score(truth[test], rf.predict_proba(features[test])[:, 1]))


def study_centred_clr(ds: Dataset) -> np.ndarray:
    """Centred log-ratios centred within each study (the SSVAE's ``clr_residual`` input with
    the study covariate), from every record's abundances, no labels."""
    from biovae.models.semisupervised import clr

    x = clr(torch.as_tensor(np.asarray(ds.x, dtype=np.float32))).double().numpy()
    study = np.asarray(ds.obs[STUDY])
    for s in set(study):
        x[study == s] -= x[study == s].mean(0)
    return x


def cand_name(c) -> str:
    return f"classifier on {c[0]}, α={c[1]:g}, λ={c[2]:g}, stop on {c[3]}"


def audit_rows(results: dict) -> list[list[str]]:
    rows = []
    for name, r in results.items():
        a = r["audit"]["covariates"]
        s, c = a[STUDY], a[CONDITION]
        rows.append(
            [
                name,
                f"{s['balanced_accuracy']:.3f} (chance {s['chance']:.1f})",
                f"{s['auroc']:.3f}",
                f"{c['balanced_accuracy']:.3f} (chance {c['chance']:.1f})",
                f"{c['auroc']:.3f}",
                "yes" if r["audit"]["verdict"]["technical_dominates"] else "no",
            ]
        )
    return rows


LOSO_COLUMNS = {
    "ssvae": ("ssvae_auroc", f"SSVAE AUROC ({len(ENSEMBLE_SEEDS)} seeds)"),
    "ssvae_single_seed": ("ssvae_single_seed_auroc", "SSVAE seed 0"),
    "ssvae_default": ("ssvae_default_auroc", "SSVAE default, seed 0"),
    "random_forest": ("rf_auroc", "RF AUROC"),
    "random_forest_study_centred_clr": ("rf_study_centred_clr_auroc", "RF on study-centred clr"),
}


def loso_means(rows: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([r[key] for r in rows])) for k, (key, _) in LOSO_COLUMNS.items()}


def loso_table(rows: list[dict], means: dict[str, float]) -> str:
    table = [
        [short(r["held_out"]), r["n"], cand_name(r["chosen"])]
        + [f"{r[key]:.3f}" for key, _ in LOSO_COLUMNS.values()]
        for r in rows
    ]
    bold = ("ssvae", "random_forest")
    table.append(
        ["**mean**", sum(r["n"] for r in rows), ""]
        + [f"**{v:.3f}**" if k in bold else f"{v:.3f}" for k, v in means.items()]
    )
    headers = ["held-out study", "n", "inner-CV choice"] + [h for _, h in LOSO_COLUMNS.values()]
    return markdown_table(headers, table)


def write_report(out: Path, ds: Dataset, results: dict) -> None:
    """Latent maps by study and by condition, before and after conditioning."""
    colours = {STUDY: np.array([short(s) for s in ds.obs[STUDY]], dtype=object)}
    colours[CONDITION] = ds.obs[CONDITION]
    panels = [
        AuditPanel(n, r["audit"], r["z"], colours, [STUDY], [CONDITION]) for n, r in results.items()
    ]
    write_audit_page(out / "report.html", panels, "CRC microbiome: batch vs biology audit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default=str(REPO / "bench-output" / "microbiome"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (data_dir() / "microbiome").is_dir():
        print(f"skipped: {data_dir() / 'microbiome'} not found (set BIOVAE_DATA_DIR)")
        return 0
    t_start, info, ds = time.perf_counter(), machine_info(), load()
    cfg = base_config(args.epochs)
    conditional = with_data(cfg, categorical_covariates=(STUDY,))
    mmd_weight, mmd_inner = choose_mmd_weight(ds, conditional)
    fits = {
        "unsupervised VAE": VAE(config=cfg).fit(ds),
        "conditional VAE (studyID)": VAE(config=conditional).fit(ds),
        f"conditional VAE + MMD (studyID, λ={mmd_weight:g})": VAE(
            config=with_mmd(conditional, mmd_weight)
        ).fit(ds),
    }
    results = {name: audit_model(est, ds) for name, est in fits.items()}
    rows, inner = loso(ds, cfg)
    means = loso_means(rows)
    out = Path(args.out)
    write_report(out, ds, results)
    summary = {
        "machine": info,
        "config": dataclasses.asdict(cfg),
        "epochs_trained": {n: len(e.history_) for n, e in fits.items()},
        "audits": {n: r["audit"] for n, r in results.items()},
        "mmd_weight": mmd_weight,
        "mmd_inner_split": {f"{w:g}": v for w, v in mmd_inner.items()},
        "loso": rows,
        "loso_inner_cv": inner,
        "loso_mean": means,
        "seconds": time.perf_counter() - t_start,
    }
    write_json_atomic(out / "results.json", summary)
    print(f"## Microbiome results ({info['date']}, {summary['seconds']:.0f} s)\n")
    headers = ["model", "study bal. acc.", "study AUROC", "CRC bal. acc.", "CRC AUROC",
               "study dominates"]  # fmt: skip
    print(markdown_table(headers, audit_rows(results)))
    print()
    mmd_rows = [[f"{w:g}", f"{v['study_balanced_accuracy']:.3f}", f"{v['crc_auroc']:.3f}",
                 f"{v['crc_balanced_accuracy']:.3f}"] for w, v in mmd_inner.items()]  # fmt: skip
    print(markdown_table(["MMD λ", "inner study bal. acc.", "inner CRC AUROC",
                          "inner CRC bal. acc."], mmd_rows))  # fmt: skip
    print(f"chosen λ = {mmd_weight:g}\n")
    print(loso_table(rows, means))
    print(f"\nreport: {out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
