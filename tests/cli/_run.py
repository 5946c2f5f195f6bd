"""Run the ``biovae`` command in-process and capture what it prints."""

from __future__ import annotations

import numpy as np
import pandas as pd

from biovae.cli.main import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``biovae ARGV``; argparse exits become statuses."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def small_table(folder) -> pd.DataFrame:
    """A 30-record × 6-feature table of rank-2 data plus noise (ids r0.., features g0..),
    written to ``folder/d.tsv``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(30, 6))
    table = pd.DataFrame(x, index=[f"r{i}" for i in range(30)], columns=[f"g{j}" for j in range(6)])
    table.index.name = "id"
    table.to_csv(folder / "d.tsv", sep="\t")
    return table
