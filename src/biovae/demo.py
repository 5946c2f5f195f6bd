"""``biovae demo``: a negative-binomial VAE of the shipped PBMC counts, with a report."""

from __future__ import annotations

from pathlib import Path

from biovae.config import (
    FitConfig,
    LikelihoodConfig,
    ModelConfig,
    NetworkConfig,
    ObjectiveConfig,
    TrainConfig,
)
from biovae.data.registry import load_builtin
from biovae.estimator import VAE

DEMO_DATA = "pbmc68k_reduced"


def demo_config(epochs: int) -> FitConfig:
    """scVI-like settings for 700 cells: NB counts, 10 latent dims, one 128-unit layer."""
    return FitConfig(
        model=ModelConfig(
            kind="vae",
            n_latent=10,
            likelihood=LikelihoodConfig(name="nb"),
            network=NetworkConfig(hidden=(128,), dropout=0.1, norm="layer"),
        ),
        objective=ObjectiveConfig(beta=1.0, kl_warmup_epochs=max(0, min(20, epochs))),
        train=TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, patience=20, seed=0),
    )


def run_demo(out: Path, epochs: int = 150, progress: bool = True) -> tuple[Path, Path]:
    """Fit the demo model, save it under ``out/model``, write ``out/report.html`` and return
    the paths of both, in that order."""
    from biovae.reports.html import write_report

    ds = load_builtin(DEMO_DATA)
    est = VAE(config=demo_config(epochs), progress=progress).fit(ds)
    out.mkdir(parents=True, exist_ok=True)
    model = est.save(out / "model")
    report = write_report(
        est,
        out / "report.html",
        data=ds,
        color_by=("bulk_labels", "phase"),
        title="biovae demo: PBMC 68k (700 cells, 765 genes), NB-VAE",
    )
    return model, report
