"""Whether a data set lies in a likelihood's support: :func:`check_data`, one pass over the
values (block by block for a matrix on disk), and the checks of count inputs by their names
and their size."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from biovae.data._columns import check_cells_are_records, check_composition
from biovae.data.dataset import Dataset
from biovae.errors import DataError
from biovae.likelihoods import Likelihood
from biovae.likelihoods.base import BadEntry, first_bad, row_blocks
from biovae.setting_names import setting

INFINITE = "is infinite (or too large for float32); replace or drop it"
MISSING = (
    "is missing (NaN), which the '{name}' likelihood cannot model; impute or drop it (only the "
    "genotype likelihood models missing entries)"
)
#: 2**24: float32, the precision biovae trains in, holds every whole number up to this one only
FLOAT32_EXACT = 2**24


def check_data(likelihood: Likelihood, ds: Dataset, hint: str = "") -> None:
    """Raise a one-line DataError if ``ds`` is outside the likelihood's support (a matrix on
    disk is checked block by block, in one pass), ending with ``hint`` (where else the data
    may be: :func:`biovae.inputs.raw_hint`); warn of counts float32 cannot hold."""
    if ds.alphabet is None and likelihood.n_letters:
        raise DataError(f"{ds.source}: the {likelihood.name} likelihood needs sequence data")
    if ds.alphabet is not None and not likelihood.sequences:
        raise DataError(
            f"{ds.source}: the records are sequences (alphabet {ds.alphabet!r}), whose letter "
            f"codes the '{likelihood.name}' likelihood would read as numbers; use the "
            f"categorical likelihood ({setting('model.likelihood.name', 'categorical')})"
        )
    if likelihood.compositional:
        check_composition(ds.ids, ds.features, ds.source, likelihood.name)
    if likelihood.counts:
        check_cells_are_records(ds.ids, ds.features, ds.source, likelihood.name)
    # one pass over the values: infinities always, NaN unless the family models missing entries
    test = np.isinf if likelihood.allows_missing else (lambda v: ~np.isfinite(v))
    blocks = row_blocks(ds.x)
    largest, empty = _Largest(), _Empty()
    for start, block in blocks:
        hit = None if ds.alphabet is not None else first_bad(block, test)
        if hit is not None:
            missing = np.isnan(float(block[hit[0], hit[1]]))
            problem = MISSING.format(name=likelihood.name) if missing else INFINITE
            raise DataError(
                f"{ds.source}: record '{ds.ids[hit[0] + start]}', feature "
                f"'{ds.features[hit[1]]}' {problem}"
            )
        bad = likelihood.validate(block)
        if bad is not None:
            _refuse(likelihood, ds, replace(bad, row=bad.row + start), block, start, hint)
        if likelihood.counts:
            largest.see(block, start)
            empty.see(block, start)
    largest.warn(ds)
    empty.warn(ds)
    caveat = likelihood.caveat(ds.obs)  # data in the support, but not what the family assumes
    if caveat:
        warnings.warn(f"{ds.source}: {caveat}", stacklevel=3)


class _Largest:
    """The largest count above :data:`FLOAT32_EXACT` over the blocks seen, and where it is.

    Every reader (tables, ``.h5ad``, 10x, ``.npy``, a matrix on disk) holds the values as
    float32, whose whole numbers beyond 2**24 are 2 apart (4 beyond 2**25, ...): a larger count
    has been rounded to the nearest of them. Tested on the float32 values, a file's 2**24 + 1
    (rounded down to 2**24) goes unseen; every larger count is seen."""

    def __init__(self) -> None:
        self.value, self.row, self.column = float(FLOAT32_EXACT), -1, -1

    def see(self, block, start: int) -> None:
        values = block.data if sp.issparse(block) else block
        top = float(values.max()) if values.size else 0.0
        if top > self.value:
            row, column = first_bad(block, lambda v: v == top)
            self.value, self.row, self.column = top, row + start, column

    def warn(self, ds: Dataset) -> None:
        if self.row < 0:
            return
        step = float(np.spacing(np.float32(self.value)))
        warnings.warn(
            f"{ds.source}: the largest count, {self.value:.0f} as float32 holds it (record "
            f"'{ds.ids[self.row]}', feature '{ds.features[self.column]}'), is above 2^24 = "
            f"16777216: float32, the precision biovae trains in, holds counts that large only "
            f"to the nearest multiple of {step:.0f}, so they were rounded by up to "
            f"{step / 2:.0f}; one count this large is unusual for one cell or sample: check "
            "that these are raw counts per record, not summed (pseudobulk) or scaled values",
            stacklevel=3,
        )


class _Empty:
    """Records of counts that are all 0, over the blocks seen: how many, and the first few.

    A count family conditions on the record's total (dirichlet_multinomial on its depth n, whose
    only outcome at n = 0 is all zeros; poisson's log p(0 | z) = −ℓ whatever z; nb's barely
    depends on z), so such a record says nothing of where it lies: its posterior is the prior.
    It is kept (hurdle_dirichlet, whose shares cannot sum to 0, refuses it), and warned of."""

    SHOWN = 3

    def __init__(self) -> None:
        self.count, self.rows = 0, []

    def see(self, block, start: int) -> None:
        rows = np.flatnonzero(np.asarray(block.sum(axis=1)).ravel() == 0)
        self.count += int(rows.size)
        self.rows += [int(r) + start for r in rows[: self.SHOWN - len(self.rows)]]

    def warn(self, ds: Dataset) -> None:
        if not self.count:
            return
        ids = ", ".join(f"'{ds.ids[r]}'" for r in self.rows)
        more = ", ..." if self.count > len(self.rows) else ""
        warnings.warn(
            f"{ds.source}: {self.count} record(s) with no counts at all (every feature 0: "
            f"{ids}{more}) say nothing of where they lie, so their positions on the map are the "
            "prior's (no information); drop them (keep records whose total count is above 0)",
            stacklevel=3,
        )


def _refuse(
    likelihood: Likelihood, ds: Dataset, bad: BadEntry, block, start: int, hint: str = ""
) -> None:
    value = block[bad.row - start, bad.column]
    feature = ds.features[bad.column] if bad.column < len(ds.features) else bad.column
    raise DataError(
        f"{ds.source}: value {_shown(value)} in record '{ds.ids[bad.row]}', feature "
        f"'{feature}' {bad.problem} for the '{likelihood.name}' likelihood; {bad.fix}{hint}"
    )


def _shown(value) -> str:
    """``value`` short (``%g``) where that reads back as it is, else in full: 1.0000001 is
    not a whole number, and printed as ``1`` the message would contradict itself."""
    short = f"{float(value):g}"
    if float(short) == float(value):
        return short
    return str(value) if isinstance(value, np.floating) else repr(float(value))  # its shortest
