"""Data sets shipped inside the package (``biovae/datasets/<name>/``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from biovae.data._messages import preview
from biovae.data.dataset import Dataset
from biovae.data.download import file_sha256
from biovae.data.tables import read_table
from biovae.errors import DataError


@dataclass(frozen=True)
class BuiltinSpec:
    """Where a shipped data set lives and how its table is read.

    Parameters
    ----------
    filename
        File inside ``biovae/datasets/<name>/``.
    metadata_columns
        Table columns kept as ``obs`` (not features).
    text_columns
        Metadata columns kept as text although they look numeric (cluster labels).
    description
        One line for listings.
    """

    filename: str
    metadata_columns: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()
    description: str = ""
    sha256: str = ""  #: of the shipped file (its README gives it too); checked on loading


DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets"

BUILTINS: dict[str, BuiltinSpec] = {
    "pbmc68k_reduced": BuiltinSpec(
        filename="counts.tsv.gz",
        metadata_columns=("bulk_labels", "phase", "n_counts"),
        text_columns=("louvain",),
        description="700 PBMCs x 765 genes, integer UMI counts (10x Genomics, Zheng et al. 2017)",
        sha256="1f9a81d993bd28f6ca7774fb055bd565f8743b5501306f8b089f5e2282880872",
    ),
}


def builtin_names() -> tuple[str, ...]:
    """Names accepted by :func:`load_builtin`, sorted."""
    return tuple(sorted(BUILTINS))


def builtin_path(name: str) -> Path:
    """Path of the shipped file of data set ``name``."""
    spec = _spec(name)
    path = DATASETS_DIR / name / spec.filename
    if not path.is_file():
        raise DataError(
            f"built-in data set '{name}': file {path} is missing; reinstall biovae "
            "(the package data was not installed)"
        )
    if spec.sha256 and file_sha256(path) != spec.sha256:
        raise DataError(
            f"built-in data set '{name}': file {path} is damaged (its SHA-256 differs from the "
            "shipped one); reinstall biovae"
        )
    return path


def load_builtin(name: str) -> Dataset:
    """Load a data set shipped with biovae.

    Parameters
    ----------
    name
        One of :func:`builtin_names`, e.g. ``"pbmc68k_reduced"``.

    Returns
    -------
    Dataset
        With ``source`` set to ``name``.
    """
    spec = _spec(name)
    ds = read_table(
        builtin_path(name),
        metadata_columns=spec.metadata_columns,
        text_columns=spec.text_columns,
    )
    return Dataset(x=ds.x, ids=ds.ids, features=ds.features, obs=ds.obs, source=name)


def _spec(name: str) -> BuiltinSpec:
    if name not in BUILTINS:
        raise DataError(
            f"unknown built-in data set '{name}'; available: {preview(builtin_names())}"
        )
    return BUILTINS[name]
