"""The tutorials in docs/tutorials run as written, so that they cannot silently rot.

Each tutorial's ```python and ```bash blocks run in order in a fresh folder (``tmp_path``) that
holds a link ``tests`` to the repository's tests, so ``tests/fixtures/...`` paths read as from
the repository root: python blocks in one namespace per tutorial, bash blocks through ``bash``
with a leading ``biovae`` replaced by ``python -m biovae`` (this interpreter, PYTHONPATH
inherited). Everything runs on one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``),
as the tutorials say their outputs were made. The numbers a tutorial shows depend on the
machine, so only shapes, columns and files are checked here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests._markdown import fenced_blocks
from tests.conftest import REPO

TUTORIALS = REPO / "docs" / "tutorials"


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of every ```python and ```bash block of ``text``, in order."""
    return [(language, code + "\n") for language, code in fenced_blocks(text, ("python", "bash"))]


def shell_script(code: str) -> str:
    """``code`` with each command's leading ``biovae`` run as ``python -m biovae``."""
    return re.sub(r"^(\s*)biovae(?= |$)", r'\1"$BIOVAE_PYTHON" -m biovae', code, flags=re.M)


def _environment() -> dict[str, str]:
    import biovae

    env = dict(os.environ, OMP_NUM_THREADS="1", BIOVAE_PYTHON=sys.executable)
    src = str(Path(biovae.__file__).resolve().parents[1])  # the biovae this test imported
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def run_tutorial(name: str, folder: Path) -> dict:
    """Run the blocks of tutorial ``name`` in ``folder``; the python blocks' namespace."""
    path = TUTORIALS / name
    if not path.exists():
        pytest.skip(f"no {path.relative_to(REPO)} beside the tests (an sdist?)")
    (folder / "tests").symlink_to(REPO / "tests", target_is_directory=True)
    namespace: dict = {"__name__": "__tutorial__"}
    env, cwd, threads = _environment(), os.getcwd(), torch.get_num_threads()
    os.chdir(folder)
    torch.set_num_threads(1)
    try:
        for i, (language, code) in enumerate(code_blocks(path.read_text(encoding="utf-8"))):
            where = f"{name}, block {i + 1} ({language})"
            if language == "python":
                exec(compile(code, where, "exec"), namespace)  # the tutorial's code, as written
                continue
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", shell_script(code)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"{where} failed:\n{code}\n{done.stderr[-3000:]}"
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
    return namespace


def _needs(*modules: str) -> None:
    for module in modules:
        pytest.importorskip(module, reason=f"the tutorial needs {module} (biovae's extras)")


def test_code_blocks_are_found_in_order():
    text = "a\n```python\nx = 1\n```\n```toml\n[a]\n```\n```bash\nbiovae fit a\n  biovae x\n```\n"
    assert code_blocks(text) == [("python", "x = 1\n"), ("bash", "biovae fit a\n  biovae x\n")]
    script = shell_script("biovae fit a --out biovae_model\necho biovae\n")
    assert script == '"$BIOVAE_PYTHON" -m biovae fit a --out biovae_model\necho biovae\n'


def test_singlecell_tutorial_runs(tmp_path):
    _needs("anndata", "matplotlib", "sklearn")
    ns = run_tutorial("singlecell.md", tmp_path)
    adata = ns["adata"]
    assert adata.obsm["X_biovae"].shape == (700, 10)
    assert adata.layers["denoised"].shape == (700, 765)
    assert {"X_biovae_label", "X_biovae_label_probability"} <= set(adata.obs.columns)
    assert {"proba_de", "lfc_mean", "is_de_fdr_0.05"} <= set(ns["de"].columns)
    assert (tmp_path / "latent_map.png").stat().st_size > 0
    assert (tmp_path / "pbmc_model" / "config.json").exists()


def test_variants_tutorial_runs(tmp_path):
    ns = run_tutorial("variants.md", tmp_path)
    scores = ns["scores"]  # dms_scores.csv as the tutorial read it
    assert len(scores) == 1000
    assert {"score", "se", "status", "class", "p_damaging", "2500"} <= set(scores.columns)
    designs = pd.read_csv(tmp_path / "designs.csv")
    assert {"mutant", "score", "sequence"} <= set(designs.columns) and len(designs) > 0
    assert (designs["mutant"].str.count(":") == 1).all()  # -k 2
    assert (tmp_path / "designs.screening.tsv").exists()
    verdicts = pd.read_csv(tmp_path / "verdicts.tsv", sep="\t")
    assert {"id", "flagged", "reason"} <= set(verdicts.columns)


def test_diagnostics_tutorial_runs(tmp_path):
    _needs("anndata", "matplotlib", "sklearn")
    run_tutorial("diagnostics.md", tmp_path)
    sweep = json.loads((tmp_path / "rd" / "sweep.json").read_text())
    diag = json.loads((tmp_path / "diag" / "diagnostics.json").read_text())
    audit = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert [p["beta"] for p in sweep["sweep"]] == [0.25, 1.0, 4.0]
    assert len(diag["collapse"]["kl_per_dim"]) == 10 and diag["records"] == 20
    assert {"log_likelihood", "amortization", "predictive"} <= set(diag)
    assert {"covariates", "verdict"} <= set(audit)
    assert (tmp_path / "diag" / "diagnostics.html").exists()
