"""Shared fixtures of the report tests: a tiny VAE on the shipped PBMC data and its report, and
plots drawn without their PNG encoding (``fast_render``) or kept after it (``drawn``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import biovae
from biovae.config import FitConfig, ObjectiveConfig, TrainConfig
from biovae.data.dataset import Dataset
from biovae.data.registry import load_builtin
from biovae.reports import figures, write_report


@pytest.fixture(scope="session")
def pbmc() -> Dataset:
    return load_builtin("pbmc68k_reduced")


@pytest.fixture(scope="session")
def pbmc_vae(pbmc: Dataset) -> biovae.VAE:
    """Negative-binomial VAE, 6 epochs with a 3-epoch KL warm-up (about a second)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = FitConfig(
        objective=ObjectiveConfig(kl_warmup_epochs=3),
        train=TrainConfig(epochs=6, batch_size=128),
    )
    est = biovae.VAE("nb", n_latent=6, hidden=(32,), config=cfg).fit(pbmc)
    torch.set_num_threads(before)
    return est


@pytest.fixture(scope="session")
def pbmc_report(pbmc_vae: biovae.VAE, pbmc: Dataset, tmp_path_factory) -> Path:
    """The full report of ``pbmc_vae`` on its training data."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    path = write_report(pbmc_vae, tmp_path_factory.mktemp("report") / "pbmc.html", data=pbmc)
    torch.set_num_threads(before)
    return path


@pytest.fixture
def fast_render(monkeypatch) -> list:
    """Run every plot's drawing code but skip the (slow) layout and PNG encoding; the figures
    drawn, kept unrendered, in order."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kept: list = []

    def render(draw, size):
        fig = Figure(figsize=size)
        FigureCanvasAgg(fig)
        draw(fig)
        kept.append(fig)
        return b"\x89PNG\r\n\x1a\nstub"

    monkeypatch.setattr(figures, "render", render)
    return kept


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The figures the report renders, kept after they are saved (laid out as in the PNG)."""
    from matplotlib.figure import Figure

    kept: list = []
    save = Figure.savefig

    def keep(self, *args, **kwargs):
        save(self, *args, **kwargs)
        kept.append(self)

    monkeypatch.setattr(Figure, "savefig", keep)
    return kept
