"""Splice junctions (issue #3, DNA): k-NN class accuracy of VAE posterior means vs PCA of one-hot.

5-fold stratified cross-validation; within each fold the VAE and PCA see only the training
sequences, and a 15-nearest-neighbour classifier on the 10-d representation of the training
fold predicts the test fold's classes. Two VAEs are reported: the library defaults, and the same
with a 20-epoch linear KL warm-up (the standard remedy for posterior collapse, chosen on a
development split inside the first fold's training sequences; the test folds were not used).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import markdown_table

#: Representations compared, in table order.
LABELS = {
    "vae_warmup": "VAE posterior means, KL warm-up 20 epochs (10-d)",
    "vae_default": "VAE posterior means, library defaults (10-d)",
    "pca": "PCA of one-hot (10-d)",
}


def _configs(quick: bool) -> dict:
    from biovae.config import FitConfig, LikelihoodConfig, ModelConfig, ObjectiveConfig, TrainConfig

    base = FitConfig(
        model=ModelConfig(n_latent=10, likelihood=LikelihoodConfig(name="categorical")),
        train=TrainConfig(epochs=10 if quick else 100, patience=10, seed=0),
    )
    return {
        "vae_warmup": replace(base, objective=ObjectiveConfig(kl_warmup_epochs=20)),
        "vae_default": base,
    }


def _knn_accuracy(z_tr, y_tr, z_te, y_te) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float((KNeighborsClassifier(15).fit(z_tr, y_tr).predict(z_te) == y_te).mean())


def splice_section(path: Path, quick: bool, out_dir: Path) -> dict:
    from sklearn.decomposition import PCA as SkPCA
    from sklearn.model_selection import StratifiedKFold

    from biovae import VAE
    from biovae.data.readers import read_dataset

    ds = read_dataset(path, sequence_column="sequence")
    y = np.asarray(ds.obs["class"])
    onehot = np.eye(len(ds.alphabet))[ds.x].reshape(len(ds), -1)
    acc: dict[str, list[float]] = {k: [] for k in LABELS}
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(onehot, y)
    for k, (tr, te) in enumerate(folds):
        for name, cfg in _configs(quick).items():
            vae = VAE(config=cfg).fit(ds.subset(tr))
            z_tr, z_te = vae.transform(ds.subset(tr)), vae.transform(ds.subset(te))
            acc[name].append(_knn_accuracy(z_tr, y[tr], z_te, y[te]))
            if k == 0 and name == "vae_warmup":
                _latent_map(vae.transform(ds), y, out_dir / "splice_latent_map.png")
        pca = SkPCA(10, random_state=0).fit(onehot[tr])
        acc["pca"].append(
            _knn_accuracy(pca.transform(onehot[tr]), y[tr], pca.transform(onehot[te]), y[te])
        )
        print(f"splice fold {k}: {[(n, round(a[-1], 3)) for n, a in acc.items()]}", file=sys.stderr)
    return {
        "n": len(ds),
        "L": int(ds.x.shape[1]),
        "accuracy": acc,
        "mean": {n: float(np.mean(a)) for n, a in acc.items()},
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
    return [
        "",
        f"### Splice junctions ({s['n']:,} × {s['L']} nt), 5-fold CV 15-NN accuracy",
        "",
        markdown_table(["representation", "accuracy per fold", "mean"], rows),
    ]
