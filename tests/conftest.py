"""Shared test fixtures: paths to the repository's fixtures and the shared data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def shared_data_dir() -> Path:
    """``$BIOVAE_DATA_DIR`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data sets not found at {path} (set BIOVAE_DATA_DIR)")
    return path


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def ubiquitin(fixtures):
    """Cα coordinates ``(12, 76, 3)`` (float64) of 12 models of the 2K39 ubiquitin ensemble."""
    pytest.importorskip("MDAnalysis", reason="needs the structure extra (MDAnalysis)")
    from biovae.data.structure import read_structures

    return read_structures(fixtures / "ubiquitin_2k39_ca_12.pdb").coords.astype(np.float64)


@pytest.fixture(scope="session", autouse=True)
def single_thread_session():
    """One thread for module- and session-scoped fixtures too: a fit in such a fixture and the
    same fit inside a test must see the same thread count, since torch's CPU kernels may split
    sums differently over more than two threads (seen on a 16-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def single_thread():
    """Test models are tiny: one thread avoids OpenMP start-up and contention costs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def needs_anndata() -> None:
    """Skip the calling test (or fixture) where the optional package anndata is missing: it
    reads or writes .h5ad files (a core install, or pandas 3, which anndata 0.12 refuses)."""
    pytest.importorskip(
        "anndata",
        reason="reads .h5ad files: needs the optional package anndata (biovae[singlecell])",
    )


def interrupt_when_made(monkeypatch, prefix: str) -> None:
    """Ctrl-C as soon as a folder whose name starts with ``prefix`` exists (``os.mkdir``, and
    ``Path.mkdir``, which Python 3.10 binds to the real ``os.mkdir`` at import)."""
    real, real_path = os.mkdir, Path.mkdir

    def mkdir(path, *args, **kwargs):
        real(path, *args, **kwargs)
        if os.path.basename(path).startswith(prefix):
            raise KeyboardInterrupt

    def path_mkdir(self, *args, **kwargs):
        real_path(self, *args, **kwargs)
        if self.name.startswith(prefix):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(Path, "mkdir", path_mkdir)
