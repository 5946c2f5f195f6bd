"""Label probabilities of the semi-supervised VAE on records whose labels it never saw: q(y|x)
as the classifier gives it, beside the temperature-scaled probabilities of ``predict_proba``
(T fitted after training on the labelled records of the fit's validation split).

    python benchmarks/calibration.py [--out bench-output/calibration.json]

Two settings, fixed before the run: (1) the CRC microbiome cohorts, one study's labels hidden
at a time (all five), with the a-priori semi-supervised model of ``benchmarks/microbiome.py``
(classifier on z, α = 50, conditioned on study, one seed); (2) pbmc68k_reduced, ``bulk_labels``
kept for 50 % and for 30 % of the cells (drawn with seeds 0 and 1), the package defaults with
an NB likelihood and 100 epochs. Reported per fit: T, the records it was fitted on, and on the
hidden records accuracy (unchanged by T), expected calibration error (10 bins of the top
probability) and mean negative log-likelihood, raw and scaled. Nothing is chosen here: T is the
fit's own, from its validation labels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import microbiome as mb
from biovae import SemiSupervisedVAE, calibration
from biovae.config import DataConfig, FitConfig, LikelihoodConfig, ModelConfig, TrainConfig
from biovae.data import read_dataset
from biovae.data.dataset import Dataset


def scored(name: str, est: SemiSupervisedVAE, hidden: Dataset, truth: np.ndarray) -> dict:
    levels = list(est.classes_)
    y = np.array([levels.index(v) for v in truth])
    raw, scaled = est.predict_proba(hidden, calibrated=False), est.predict_proba(hidden)
    row = {
        "setting": name,
        "temperature": est.temperature_,
        "calibration_records": est.n_calibration_,
        "hidden_records": len(y),
        "accuracy": float((raw.argmax(1) == y).mean()),
        "ece_raw": calibration.expected_calibration_error(raw, y),
        "ece_scaled": calibration.expected_calibration_error(scaled, y),
        "nll_raw": float(-np.log(raw[np.arange(len(y)), y]).mean()),
        "nll_scaled": float(-np.log(scaled[np.arange(len(y)), y]).mean()),
    }
    print(
        f"| {name} | {row['temperature']:.2f} | {row['calibration_records']} | {len(y)} | "
        f"{row['accuracy']:.3f} | {row['ece_raw']:.3f} → {row['ece_scaled']:.3f} | "
        f"{row['nll_raw']:.3f} → {row['nll_scaled']:.3f} |",
        flush=True,
    )
    return row


def microbiome_rows() -> list[dict]:
    ds, cfg = mb.load(), mb.base_config(200)
    study = np.asarray(ds.obs[mb.STUDY]).astype(str)
    rows = []
    for s in np.unique(study):
        hidden = study == s
        est = mb.fit_ssvae(ds, cfg, hidden, mb.CANDIDATES[0])
        truth = np.asarray(ds.obs[mb.CONDITION]).astype(str)[hidden]
        rows.append(
            scored(f"CRC, {mb.short(s)} hidden", est, ds.subset(np.flatnonzero(hidden)), truth)
        )
    return rows


def pbmc_rows() -> list[dict]:
    ds = read_dataset(mb.data_dir() / "singlecell" / "pbmc68k_reduced_counts.h5ad")
    labels = np.asarray(ds.obs["bulk_labels"]).astype(object)
    rows = []
    for seed, share in ((0, 0.5), (1, 0.3)):
        hide = np.random.default_rng(seed).random(len(ds)) > share
        masked = np.where(hide, "unknown", labels).astype(object)
        train = Dataset(ds.x, ds.ids, ds.features, {**ds.obs, "kept_labels": masked})
        cfg = FitConfig(
            model=ModelConfig(likelihood=LikelihoodConfig("nb")),
            data=DataConfig(labels_key="kept_labels"),
            train=TrainConfig(epochs=100, seed=seed),
        )
        est = SemiSupervisedVAE(config=cfg, progress=False).fit(train)
        keep = hide & np.isin(labels, est.classes_)  # a level no kept label has is unpredictable
        name = f"pbmc68k_reduced, {share:.0%} of labels"
        rows.append(scored(name, est, ds.subset(np.flatnonzero(keep)), labels[keep]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench-output/calibration.json")
    args = parser.parse_args()
    print(
        "| fit | T | fitted on | hidden records | accuracy | ECE raw → scaled | NLL raw → scaled |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = microbiome_rows() + pbmc_rows()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
