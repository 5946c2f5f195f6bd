"""Microbiome batch-vs-biology benchmark (issue #6) on the five CRC metagenome studies.

    python benchmarks/microbiome.py [--epochs N] [--out bench-output/microbiome]

Every acceptance measurement in one run, all settings fixed a priori (nothing is tuned on the
held-out studies):

1. unsupervised VAE (hurdle-Dirichlet likelihood) → confounding audit of studyID and
   study_condition (5-fold CV balanced accuracy / AUROC of a logistic regression on E[z|x]);
2. conditional VAE on studyID → the same audit;
3. leave-one-study-out (LOSO): for each study, a semi-supervised VAE (conditional on studyID)
   is fitted on all 551 records with that study's labels hidden and predicts them; a random
   forest (500 trees) on the relative abundances is trained on the other four studies and
   predicts the same records. AUROC per held-out study and the mean. The SSVAE's classifier
   input (z or x) and classification weight α are chosen per held-out study by an inner
   leave-one-study-out over the four training studies (their labels only); the reported
   SSVAE averages q(y|x) over 5 seeds of the chosen setting; seed 0 alone and the a-priori
   default (q(y|z), α = 50) are reported beside it.

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
            network=NetworkConfig(hidden=(128,), dropout=0.1, norm="layer"),
        ),
        objective=ObjectiveConfig(kl_warmup_epochs=20),
        train=TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, patience=20, seed=0),
    )


def with_data(cfg: FitConfig, **data) -> FitConfig:
    return dataclasses.replace(cfg, data=DataConfig(**data))


def short(study: str) -> str:
    return study.split(".")[0]


def audit_model(est, ds: Dataset) -> dict:
    z = est.transform(ds)
    cols = {STUDY: ds.obs[STUDY], CONDITION: ds.obs[CONDITION]}
    return {"z": z, "audit": audit(z, cols, [STUDY], [CONDITION])}


#: Semi-supervised settings compared by inner cross-validation: (classifier input, α).
#: The first is the a-priori default (scANVI-style q(y|z), scANVI's classification ratio 50).
CANDIDATES = (("z", 50.0), ("x", 50.0))
#: The reported SSVAE averages q(y|x) over fits with these seeds (variance reduction, fixed a
#: priori; a random forest is itself an average of 500 trees).
ENSEMBLE_SEEDS = (0, 1, 2, 3, 4)


def fit_ssvae(
    ds: Dataset, cfg: FitConfig, hidden: np.ndarray, candidate, seed: int = 0
) -> SemiSupervisedVAE:
    """Semi-supervised VAE on all records, conditional on study, labels of ``hidden`` masked."""
    source, alpha = candidate
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))
    cfg = dataclasses.replace(
        with_data(cfg, categorical_covariates=(STUDY,), labels_key="masked_condition"),
        model=dataclasses.replace(cfg.model, classifier_input=source),
        objective=dataclasses.replace(cfg.objective, classification_weight=alpha),
    )
    masked = np.where(hidden, "unknown", ds.obs[CONDITION]).astype(object)
    train = Dataset(ds.x, ds.ids, ds.features, {**ds.obs, "masked_condition": masked})
    return SemiSupervisedVAE(config=cfg).fit(train)


def crc_proba(est: SemiSupervisedVAE, ds: Dataset, rows: np.ndarray) -> np.ndarray:
    return est.predict_proba(ds.subset(np.flatnonzero(rows)))[:, est.classes_.index("CRC")]


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
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    studies = sorted(set(ds.obs[STUDY]))
    study = np.asarray(ds.obs[STUDY])
    truth = np.asarray(ds.obs[CONDITION]) == "CRC"
    inner = inner_scores(ds, cfg, studies)
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
        rf = RandomForestClassifier(n_estimators=500, random_state=0, n_jobs=1)
        rf.fit(ds.x[~test], truth[~test])
        rf_auc = float(roc_auc_score(truth[test], rf.predict_proba(ds.x[test])[:, 1]))
        rows.append(
            {
                "held_out": held,
                "n": int(test.sum()),
                "chosen": list(chosen),
                "inner_auroc": {f"{c[0]}, α={c[1]:g}": v for c, v in means.items()},
                "ssvae_auroc": aucs["ensemble"],
                "ssvae_single_seed_auroc": aucs["seed0"],
                "ssvae_default_auroc": aucs["default"],
                "rf_auroc": rf_auc,
            }
        )
        print(f"{short(held)}: SSVAE {aucs} {chosen}  RF {rf_auc:.3f}", file=sys.stderr)
    return rows, {f"{c[0]}, α={c[1]:g}|{a}|{b}": v for (c, a, b), v in inner.items()}


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
}


def loso_means(rows: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([r[key] for r in rows])) for k, (key, _) in LOSO_COLUMNS.items()}


def loso_table(rows: list[dict], means: dict[str, float]) -> str:
    table = [
        [short(r["held_out"]), r["n"], f"classifier on {r['chosen'][0]}, α={r['chosen'][1]:g}"]
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
    panels = [AuditPanel(n, r["audit"], r["z"], colours) for n, r in results.items()]
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
    fits = {
        "unsupervised VAE": VAE(config=cfg).fit(ds),
        "conditional VAE (studyID)": VAE(config=conditional).fit(ds),
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
    print(loso_table(rows, means))
    print(f"\nreport: {out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
