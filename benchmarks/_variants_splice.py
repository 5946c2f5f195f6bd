"""Splice junctions (issue #3, DNA): k-NN class accuracy of VAE posterior means vs PCA of one-hot.

5-fold stratified cross-validation; within each fold the VAEs and PCA see only the training
sequences, and a 15-nearest-neighbour classifier on the 10-d representation of the training
fold predicts the test fold's classes.

The VAE is chosen by nested model selection (RESULTS.md, issue #3, run 4; the candidate list was
fixed before the run). Inside each outer fold a fixed 15 % of the training sequences is held
out; every candidate setting × seed is fitted on the other 85 %, and the model kept is (a) the
one with the highest held-out ELBO (label-free best-of-K restarts; the primary result) or (b)
the one with the highest inner 15-NN accuracy (labels of the 85 % predict the 15 %). The kept
model encodes all training and test sequences of the outer fold; the outer test fold is used
for the final score only. Run 3's single VAE (KL warm-up 20, seed 0, all training sequences)
is reported beside it.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import markdown_table

#: Representations compared, in table order.
LABELS = {
    "vae_nested_elbo": "VAE, nested selection by held-out ELBO (primary, label-free) (10-d)",
    "vae_nested_knn": "VAE, nested selection by inner 15-NN accuracy (10-d)",
    "vae_warmup": "VAE, KL warm-up 20, seed 0, all training sequences (run 3's setting) (10-d)",
    "pca": "PCA of one-hot (10-d)",
}
#: Fraction of each outer fold's training sequences held out for the choice.
INNER_HOLDOUT = 0.15
#: ELBO samples per held-out sequence for the label-free criterion.
ELBO_SAMPLES = 10


def _base(quick: bool):
    from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, ObjectiveConfig, TrainConfig

    return FitConfig(
        model=ModelConfig(n_latent=10, likelihood=LikelihoodConfig(name="categorical")),
        objective=ObjectiveConfig(kl_warmup_epochs=20),
        train=TrainConfig(epochs=10 if quick else 100, patience=10, seed=0),
    )


def candidates(quick: bool) -> dict:
    """The a-priori candidate settings (each fitted with every seed of :func:`seeds`)."""
    base = _base(quick)
    net = replace(base.model.network, hidden=(256, 256))
    return {
        "warm-up 20": base,
        "warm-up 20, hidden 256": replace(base, model=replace(base.model, network=net)),
        "warm-up 50, ≤ 300 epochs": replace(
            base,
            objective=replace(base.objective, kl_warmup_epochs=50),
            train=replace(base.train, epochs=10 if quick else 300),
        ),
        "warm-up 20, free bits 0.25": replace(
            base, objective=replace(base.objective, free_bits=0.25)
        ),
    }


def seeds(quick: bool) -> range:
    return range(2 if quick else 5)


def _knn_accuracy(z_tr, y_tr, z_te, y_te) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float((KNeighborsClassifier(15).fit(z_tr, y_tr).predict(z_te) == y_te).mean())


def inner_split(tr: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices: a label-free random 15 % of the outer training fold."""
    perm = np.random.default_rng(fold).permutation(tr)
    n_out = round(INNER_HOLDOUT * len(tr))
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def _candidate_fits(ds, y, tr, te, fold: int, quick: bool) -> tuple[list[dict], dict]:
    """Fit every candidate × seed on the inner 85 %; score it on the 15 % and the outer fold."""
    from biovae import VAE

    fit_idx, out_idx = inner_split(tr, fold)
    rows, models = [], {}
    for name, cfg in candidates(quick).items():
        for seed in seeds(quick):
            vae = VAE(config=replace(cfg, train=replace(cfg.train, seed=seed)))
            vae.fit(ds.subset(fit_idx))
            heldout = vae.score_samples(ds.subset(out_idx), n_samples=ELBO_SAMPLES, seed=0)
            z = {
                part: vae.transform(ds.subset(idx))
                for part, idx in (("fit", fit_idx), ("out", out_idx), ("tr", tr), ("te", te))
            }
            rows.append(
                {
                    "candidate": name,
                    "seed": seed,
                    "epochs": len(vae.history_),
                    "heldout_elbo": float(np.mean(heldout)),
                    "inner_acc": _knn_accuracy(z["fit"], y[fit_idx], z["out"], y[out_idx]),
                    "outer_acc": _knn_accuracy(z["tr"], y[tr], z["te"], y[te]),
                }
            )
            models[(name, seed)] = vae
    return rows, models


def _select(rows: list[dict], key: str) -> dict:
    """The first row with the highest ``key`` (ties keep candidate-list order)."""
    return max(rows, key=lambda r: r[key])


def splice_section(path: Path, quick: bool, out_dir: Path) -> dict:
    from sklearn.decomposition import PCA as SkPCA
    from sklearn.model_selection import StratifiedKFold

    from biovae import VAE
    from biovae.data.readers import read_dataset

    ds = read_dataset(path, sequence_column="sequence")
    y = np.asarray(ds.obs["class"])
    onehot = np.eye(len(ds.alphabet))[ds.x].reshape(len(ds), -1)
    acc: dict[str, list[float]] = {k: [] for k in LABELS}
    fits, chosen = [], []
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(onehot, y)
    for k, (tr, te) in enumerate(folds):
        rows, models = _candidate_fits(ds, y, tr, te, k, quick)
        by_elbo, by_knn = _select(rows, "heldout_elbo"), _select(rows, "inner_acc")
        acc["vae_nested_elbo"].append(by_elbo["outer_acc"])
        acc["vae_nested_knn"].append(by_knn["outer_acc"])
        fits.append(rows)
        chosen.append({"elbo": by_elbo, "knn": by_knn})
        if k == 0:
            best = models[(by_elbo["candidate"], by_elbo["seed"])]
            _latent_map(best.transform(ds), y, out_dir / "splice_latent_map.png")
        vae = VAE(config=_base(quick)).fit(ds.subset(tr))
        z_tr, z_te = vae.transform(ds.subset(tr)), vae.transform(ds.subset(te))
        acc["vae_warmup"].append(_knn_accuracy(z_tr, y[tr], z_te, y[te]))
        pca = SkPCA(10, random_state=0).fit(onehot[tr])
        acc["pca"].append(
            _knn_accuracy(pca.transform(onehot[tr]), y[tr], pca.transform(onehot[te]), y[te])
        )
        print(f"splice fold {k}: {[(n, round(a[-1], 3)) for n, a in acc.items()]}", file=sys.stderr)
        print(f"splice fold {k} chosen: {chosen[-1]}", file=sys.stderr)
    return {
        "n": len(ds),
        "L": int(ds.x.shape[1]),
        "accuracy": acc,
        "mean": {n: float(np.mean(a)) for n, a in acc.items()},
        "fits": fits,
        "chosen": chosen,
    }


def _latent_map(z: np.ndarray, y: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA as SkPCA

    xy = SkPCA(2).fit_transform(z)
    fig, ax = plt.subplots(figsize=(5, 4))
    for label in np.unique(y):
        sel = y == label
        ax.scatter(xy[sel, 0], xy[sel, 1], s=4, label=label, alpha=0.6)
    ax.set_xlabel("PC1 of posterior means")
    ax.set_ylabel("PC2 of posterior means")
    ax.legend(title="class")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def splice_table(s: dict) -> list[str]:
    rows = [
        [label, ", ".join(f"{a:.3f}" for a in s["accuracy"][k]), f"{s['mean'][k]:.3f}"]
        for k, label in LABELS.items()
    ]
    lines = [
        "",
        f"### Splice junctions ({s['n']:,} × {s['L']} nt), 5-fold CV 15-NN accuracy",
        "",
        markdown_table(["representation", "accuracy per fold", "mean"], rows),
    ]
    if s.get("chosen"):
        lines += ["", *_chosen_table(s["chosen"]), "", *_candidate_table(s["fits"])]
    return lines


def _chosen_table(chosen: list[dict]) -> list[str]:
    rows = [
        [
            k,
            *(f"{c[r]['candidate']}, seed {c[r]['seed']}" for r in ("elbo", "knn")),
            f"{c['elbo']['heldout_elbo']:.2f}",
            f"{c['knn']['inner_acc']:.3f}",
        ]
        for k, c in enumerate(chosen)
    ]
    head = ["fold", "kept by held-out ELBO", "kept by inner 15-NN", "its ELBO", "its inner acc"]
    return [markdown_table(head, rows)]


def _candidate_table(fits: list[list[dict]]) -> list[str]:
    """Every candidate × seed: outer accuracy per fold (not used for any choice)."""
    rows = []
    for i, r0 in enumerate(fits[0]):
        per = [f[i] for f in fits]
        rows.append(
            [
                r0["candidate"],
                r0["seed"],
                ", ".join(f"{r['outer_acc']:.3f}" for r in per),
                f"{np.mean([r['outer_acc'] for r in per]):.3f}",
                ", ".join(f"{r['heldout_elbo']:.2f}" for r in per),
                ", ".join(f"{r['inner_acc']:.3f}" for r in per),
            ]
        )
    head = [
        "candidate",
        "seed",
        "outer acc per fold",
        "mean",
        "held-out ELBO per fold",
        "inner acc per fold",
    ]
    return [markdown_table(head, rows)]
