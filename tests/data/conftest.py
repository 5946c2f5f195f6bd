"""Fixtures for the data-layer tests: the small files in tests/fixtures and the shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """Folder with the small real fixtures (see tests/fixtures/README.md)."""
    return FIXTURES


@pytest.fixture
def shared_data() -> Path:
    """``$BIOVAE_DATA_DIR`` or ``<repo>/../shared/data``; skips the test when it is absent."""
    path = Path(os.environ.get("BIOVAE_DATA_DIR", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set BIOVAE_DATA_DIR to run this test)")
    return path


@pytest.fixture
def write(tmp_path: Path):
    """``write(name, text)`` -> path of a new text file in a temporary folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
