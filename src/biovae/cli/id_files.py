"""The file argument of ``--keep``/``--remove``/``--extract``/``--exclude`` (PLINK's sample and
variant selection, :mod:`biovae.data.genotype_select`)."""

from __future__ import annotations

import argparse
from pathlib import Path

#: PLINK's modifiers of --extract/--exclude that make FILE a list of positional ranges
RANGE_MODIFIERS = ("range", "bed0", "bed1", "ibed0", "ibed1")


def id_file(text: str) -> str:
    """An argparse type: the id file of --keep/--remove/--extract/--exclude; PLINK's
    ``--extract range FILE`` (positional ranges) is refused, since variants are selected by
    id only, unless a file of that name exists."""
    if text in RANGE_MODIFIERS and not Path(text).exists():
        raise argparse.ArgumentTypeError(
            f"'{text}': PLINK's positional ranges are not supported, variants are selected "
            "by id; list the ids of the variants in the ranges (plink2 --bfile DATA --extract "
            "bed1 RANGES --write-snplist) and give that file"
        )
    return text
