"""What :mod:`biovae.tl` checks of the AnnData and names it is given, before any work."""

from __future__ import annotations

import warnings
from typing import Any

from biovae.errors import ConfigError, DataError


def check_target(adata: Any, key_added: Any) -> None:
    """Refuse, before any work, an ``adata`` that cannot take results (:func:`check_writable`)
    or a ``key_added`` h5ad cannot hold (:func:`check_key`)."""
    check_writable(adata)
    check_key(key_added)


def make_own(adata: Any) -> None:
    """Make a view (``adata[mask]``) an AnnData of its own, with a warning, as scanpy's tools
    do, just before results are written to it: they go to that copy of the subset, never to
    the AnnData it was taken from, and a view passed inline (``tl.vae(adata[mask])``) lost
    them without a word. Called by the ``tl`` function the user called (the warning points at
    their line), after every check and computation, so a refused call leaves the view as is."""
    if getattr(adata, "is_view", False):
        from anndata import ImplicitModificationWarning

        warnings.warn(
            "biovae.tl got a view of an AnnData (adata[mask]); it is made an AnnData of its "
            "own and the results go to it, not to the AnnData it was taken from: keep the "
            "subset as its own object (sub = adata[mask].copy()) and pass that",
            ImplicitModificationWarning,
            stacklevel=3,  # the caller of the tl function
        )
        adata._init_as_actual(adata.copy())  # as scanpy's view_to_actual


def check_writable(adata: Any) -> None:
    """``adata`` is an AnnData that can take results: not an array (which has nowhere to put
    them), nor a view of a backed AnnData (anndata refuses new entries): said before fitting
    rather than after."""
    if not all(hasattr(adata, slot) for slot in ("obs", "obsm", "uns")):
        raise ConfigError(
            f"biovae.tl writes results into an AnnData, not a {type(adata).__name__}; wrap the "
            "data in anndata.AnnData(X, obs=...), or use biovae.VAE(...).fit(X) for arrays"
        )
    if getattr(adata, "isbacked", False) and getattr(adata, "is_view", False):
        raise DataError(
            "this AnnData is a view of a backed file, which cannot take results; call "
            ".to_memory() on the subset first (adata[mask].to_memory())"
        )


def check_key(key_added: Any, flag: str | None = None) -> None:
    """A one-line ConfigError, before any work, for a ``key_added`` that h5ad cannot hold as
    written: not text (``write_h5ad`` failed on it after the fit), empty, with a ``/``
    (stored as nested groups: read back, ``obsm["a/b"]`` was a dict), ``.`` (the group itself:
    the file was written but could not be read back) or a NUL (the name ends there: read back,
    ``obsm["X\\0b"]`` was ``obsm["X"]``; in an obs column name ``write_h5ad`` refused it).
    ``write_zarr`` (anndata's other format) failed, after the fit, on ``..`` and on the names
    of zarr's own metadata files (``.zattrs``, ``zarr.json``, ...), and read a ``\\`` back as
    nested groups (a dict), as h5ad does ``/``: these are refused too.
    ``flag``: the command-line option that gave it (``--key-added``), named in the error."""
    held = isinstance(key_added, str) and key_added not in _UNHELD_NAMES
    if held and not _UNHELD & set(key_added):
        return
    name, example = (flag, f"{flag} X_cvae") if flag else ("key_added", "key_added='X_biovae'")
    raise ConfigError(
        f"{name} must be a non-empty name without '/' (nor '\\', a NUL character, '.' or '..' "
        f"alone, or a zarr metadata name such as '.zattrs': h5ad and zarr keys cannot hold "
        f"them), got {key_added!r}; e.g. {example}"
    )


#: characters no h5ad or zarr key may hold: group separators and the end of a C string
_UNHELD = frozenset("/\\\0")

#: whole names that are not a key: the group itself, its parent (zarr) and zarr's metadata files
_UNHELD_NAMES = frozenset(
    ("", ".", "..", ".zattrs", ".zgroup", ".zarray", ".zmetadata", "zarr.json")
)


def check_name(name: Any, what: str, example: str) -> None:
    """A one-line ConfigError for an obs column or obsm key that is not text (a list, as in
    ``groupby=["cell_type"]``, failed with TypeError: unhashable type)."""
    if not isinstance(name, str):
        raise ConfigError(f"{what} names one key, {example}; got {name!r}")


def probability_column(key_added: str, level: object) -> str:
    """The obs column of q(y = level | x): ``<key_added>_p_<level>``, a ``/`` in the level made
    ``_`` (h5ad files are to refuse ``/`` in names; e.g. pbmc68k's ``CD4+/CD25 T Reg``)."""
    return f"{key_added}_p_{str(level).replace('/', '_')}"


def probability_columns(key_added: str, levels: tuple[str, ...]) -> list[str]:
    """:func:`probability_column` of every level; levels that would share a column ("A/B" and
    "A_B") are refused before anything is written, since one would overwrite the other."""
    columns = [probability_column(key_added, level) for level in levels]
    for j, column in enumerate(columns):
        if columns.index(column) != j:
            raise DataError(
                f"label levels {levels[columns.index(column)]!r} and {levels[j]!r} would both "
                f"be written to obs column {column!r} ('/' becomes '_'); rename one of them "
                "in the label column and fit again"
            )
    return columns
