"""Reading inputs and writing outputs for CLI commands (atomic, no partial output)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from biovae.cli.config_args import build_config
from biovae.config import DataConfig, FitConfig, load_toml
from biovae.errors import ConfigError, DataError, MissingFileError

if TYPE_CHECKING:  # the data layer loads pandas: imported where used, not for the parser
    from biovae.data.dataset import Dataset


def read_input(path: str, data: DataConfig, quiet: bool = False) -> Dataset:
    """Read DATA with the data options of a config (``quiet``: no line on what
    ``--keep``/``--remove``/``--extract``/``--exclude`` kept)."""
    from biovae.data.genotype_select import GenotypeSelection
    from biovae.data.readers import read_dataset

    return read_dataset(
        path,
        fmt=data.format,
        id_column=data.id_column,
        metadata_columns=data.metadata_columns,
        sequence_column=data.sequence_column,
        layer=data.layer,
        transpose=data.transpose,
        obs_path=data.obs_path,
        obs_id_column=data.obs_id_column,
        drop_invalid=data.drop_invalid,
        stream=data.stream,
        allow_missing=data.allow_missing,
        alphabet=data.alphabet,
        select=GenotypeSelection(data.keep, data.remove, data.extract, data.exclude),
        note=(lambda _: None) if quiet else None,
    )


def read_same_cells(path: str, ds: Dataset, id_column: str | None):
    """The AnnData of ``path`` (an .h5ad file DATA was read from), to be annotated with results
    of ``ds``; a one-line error unless its cells, named by obs names or ``id_column``, are the
    records of ``ds`` in their order."""
    from biovae.data._columns import as_text
    from biovae.errors import require

    adata = require("anndata", "singlecell").read_h5ad(path)
    names = as_text(adata.obs[id_column]) if id_column else adata.obs_names
    if list(map(str, names)) != list(map(str, ds.ids)):
        raise DataError(f"{path}: its cells were read in another order; write .csv instead")
    return adata


def model_name(path: str | os.PathLike) -> str:
    """A model folder's name without its folders, for a page heading (``.`` is named by the
    folder it is); the full path belongs in the page's text, not its title."""
    return Path(path).resolve().name or str(path)


def data_name(ds: Dataset, path: str | os.PathLike) -> str:
    """The data's file names without their folders, for a page heading, as the model report
    names them (:func:`~biovae.data.readers.source_name`); ``path`` when ``ds`` has no source."""
    from biovae.data.readers import source_name

    return source_name(ds.source or str(path))


def input_files(
    ds: Dataset, path: str | os.PathLike, model: str | os.PathLike | None = None
) -> tuple[tuple[str, str], ...]:
    """(what, full path) rows naming a page's inputs in its summary: the model folder (when
    ``model``) and the data as read (its metadata file too), beside :func:`model_name` and
    :func:`data_name` in the title."""
    rows = (("model folder", str(model)),) if model is not None else ()
    return (*rows, ("data", ds.source or str(path)))


def _family(fmt: str) -> str:
    """Formats a file name cannot tell apart (a ``.txt`` table is csv or tsv)."""
    return "table" if fmt.lower() in ("csv", "tsv") else fmt.lower()


def model_data_config(est, args, path: str | None = None, *, reads_obs: bool = True) -> DataConfig:
    """A fitted model's saved data options, overridden by explicit flags. Saved options that
    do not apply to the new input's format (a TSV's ``sequence_column`` for a FASTA file,
    ``--stream`` for a table, the saved ``--format`` for a file whose name tells its own) are
    dropped; a flag given now is checked as usual. ``path``: the input (default ``args.data``).
    ``reads_obs=False``: the command uses no metadata of its own (``score``, ``embed``), so the
    saved ``--obs`` table is read only for a model that needs it (covariates, labels): new
    records, absent from the training metadata, are scored without one. A saved ``--keep`` or
    ``--remove`` is not applied (new data's samples are those named now); a saved
    ``--extract``/``--exclude`` is (the model's variants), to a PLINK fileset or VCF."""
    from biovae.data.genotype_select import GENOTYPE_FORMATS
    from biovae.data.readers import OPTION_FORMATS, infer_format

    data = build_config(args, base=est.config_).data

    def given(name: str) -> bool:
        return getattr(args, f"cfg__data__{name}", None) is not None

    asked = given("obs_path") or given("obs_id_column")
    if data.obs_path and not (reads_obs or asked or _needs_obs(est.schema_)):
        data = replace(data, obs_path=None, obs_id_column=None)
    # the samples of new data are those given now; the saved variants are the model's
    data = replace(data, **{k: None for k in ("keep", "remove") if not given(k)})
    try:
        fmt = (data.format or "").lower() if given("format") else infer_format(path or args.data)
    except DataError:
        return data  # no format from the name: the saved options stand (or fail clearly)
    changes = {}
    if fmt not in GENOTYPE_FORMATS:  # saved for a PLINK/VCF input, not this one
        changes.update({k: None for k in ("extract", "exclude") if not given(k)})
    if not given("format") and data.format:
        if _family(data.format) == _family(fmt):  # e.g. a comma-separated .txt: keep csv
            fmt = data.format.lower()
        else:
            changes["format"] = None
    defaults = {f.name: f.default for f in fields(DataConfig)}
    for name, formats in OPTION_FORMATS.items():
        if getattr(data, name) and not given(name) and fmt not in formats:
            changes[name] = defaults[name]
    return replace(data, **changes)


def _needs_obs(schema) -> bool:
    """Whether a model reads metadata columns of each record: covariates or labels."""
    return bool(schema.covariates.width or schema.labels.key)


def check_parent(out: Path) -> Path:
    """``out``, once its folder is known to exist and take files (an output is written there
    only at the end, so an unusable folder must fail before any work)."""
    parent = out.parent
    if not parent.exists():
        raise MissingFileError(
            f"cannot write {out}: folder {parent} does not exist; create it first"
        )
    if not parent.is_dir():
        raise DataError(f"cannot write {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write {out}: folder {parent} is not writable")
    try:
        longest = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):  # not every system says
        longest = 255
    if len(out.name.encode()) + TEMP_NAME_EXTRA > longest:  # it is first written as a temp
        raise DataError(
            f"cannot write {out.name[:40]}…: the name is too long for its folder "
            f"(at most {longest - TEMP_NAME_EXTRA} bytes); choose a shorter name"
        )
    return out


#: bytes an output's name may grow by in the names derived from it: its temporary copy
#: (".NAME.xxxxxxxx.tmp"), a checkpoint folder's (".NAME.checkpoint.tmp-xxxxxxxx") and a
#: screening verdict table's (".NAME.screening.xxxxxxxx.tmp.tsv")
TEMP_NAME_EXTRA = 32


#: arguments naming files a command reads, and files it writes
_INPUTS = (
    "data", "model", "train", "holdout", "start", "end", "alignment", "training", "reference",
    "mutations", "obs", "cfg__data__obs_path", "screen_against", "topology", "config",
    "sequences",
)  # fmt: skip
_OUTPUTS = ("out", "report", "passed", "heatmap", "fasta")


def refuse_clobbering(args) -> None:
    """A one-line error, before any work, when an output would replace one of the command's
    inputs or another of its outputs (``--out`` = DATA destroyed the data), or lie inside a
    folder it reads (``--out MODEL/metadata.json`` destroyed the model; any file left in a
    model folder stops a later save over it)."""
    inputs = [getattr(args, a, None) for a in _INPUTS]
    outputs = [(a, getattr(args, a, None)) for a in _OUTPUTS]
    taken: dict[str, str] = {}
    folders: list[tuple[str, str]] = []  # (real path, as given) of the folders read
    for value in inputs:
        for path in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(path, (str, os.PathLike)):
                _refuse_dash(path, "standard input", "the input's path")
                taken.setdefault(os.path.realpath(path), "an input")
                if os.path.isdir(path):
                    folders.append((os.path.realpath(path), os.fspath(path)))
    for name, path in outputs:
        if not isinstance(path, (str, os.PathLike)):
            continue
        _refuse_dash(path, "standard output", f"a path for --{name}")
        real = os.path.realpath(path)
        if real in taken:
            raise ConfigError(
                f"--{name} {path} is also {taken[real]} of this command; write to another file"
            )
        for folder, given in folders:
            if real.startswith(folder.rstrip(os.sep) + os.sep):
                raise ConfigError(
                    f"--{name} {path} lies inside {given}, a folder this command reads; "
                    "write outside it"
                )
        taken[real] = f"--{name}"


def _refuse_dash(path: str | os.PathLike, stream: str, instead: str) -> None:
    """A one-line error for ``-``, which names standard input or output to many tools: here it
    would be a file called ``-`` (outputs are renamed into place, binary inputs are seeked)."""
    if os.fspath(path) == "-":
        raise ConfigError(f"'-' ({stream}) is not supported; give {instead}")


def check_output(path: str, suffixes: tuple[str, ...], in_new_folder: bool = False) -> Path:
    """Validate an output path before any work is done (``in_new_folder``: its folder is one
    the command creates first, a model folder, so that folder's own folder is checked)."""
    out = Path(path)
    name = out.name.lower().removesuffix(".gz")
    if not any(name.endswith(s) for s in suffixes):
        raise DataError(f"cannot write {out}: use a file name ending in {', '.join(suffixes)}")
    if out.is_dir():
        raise DataError(f"cannot write {out}: it is an existing folder; give a file name")
    if in_new_folder:
        check_parent(out.parent)
        return out
    return check_parent(out)


def check_plot_output(path: str, suffixes: tuple[str, ...], in_new_folder: bool = False) -> Path:
    """:func:`check_output` for a report or picture, which matplotlib draws: a missing
    ``report`` extra is said before any work, not after training with other outputs written."""
    from biovae.reports.figures import require_matplotlib

    out = check_output(path, suffixes, in_new_folder)
    require_matplotlib()
    return out


def check_model_report(report: str | None, out: Path) -> Path | None:
    """The ``--report`` of a command that saves model folder ``out``, checked before any work
    (None: not asked for). It may lie in ``out``, even one the save is to create
    (:func:`write_model_report`)."""
    if not report:
        return None
    inside = _in_folder(Path(report), out)
    return check_plot_output(report, (".html",), in_new_folder=inside and not out.exists())


def write_model_report(report: Path, page: str, out: Path) -> Path:
    """Write ``page`` to ``report`` once model folder ``out`` is saved. A report in ``out`` is
    listed in the folder's ``SHA256SUMS``: a later save to ``out`` knows it for biovae's and
    replaces it with the folder (a file of the user's, or the report edited since, is still
    refused as someone else's: :func:`biovae.persistence.check_model_out`)."""
    from biovae.data.manifest import add_to_manifest
    from biovae.reports.html import write_page

    write_page(report, page)
    if _in_folder(report, out):
        add_to_manifest(out.resolve(), report)
    return report


def _in_folder(path: Path, folder: Path) -> bool:
    return path.parent.resolve() == folder.resolve()


def gap_opts(args: argparse.Namespace) -> dict[str, bool]:
    """:func:`write_samples`' ``ungapped`` (``--ungapped``) and ``quiet`` (no note on gaps)."""
    return {"ungapped": args.ungapped, "quiet": args.quiet}


def write_samples(
    path: Path,
    samples: np.ndarray,
    features: tuple[str, ...],
    alphabet: str | None,
    numbers: np.ndarray | None = None,
    integer: bool = False,
    names: list[str] | None = None,
    ungapped: bool = False,
    quiet: bool = True,
) -> None:
    """Samples as FASTA (sequences) or a table with one column per feature; ids
    ``sample_<k>`` with k = ``numbers`` + 1 (the draws' positions; gaps where screening
    withheld a sample), or ``names[k]`` (the ids of the ``--obs`` rows the draws were made
    for). ``integer``: the likelihood's data are whole numbers (counts, genotypes), written as
    such (``10``, not ``10.0``) unless a value is missing. Sequences are rows of the model's
    alignment (gaps '-' kept: a note says so unless ``quiet``), or with ``ungapped`` the
    letters alone, as they would be synthesised."""
    from biovae.data.writers import write_fasta, write_table

    numbers = np.arange(len(samples)) if numbers is None else numbers
    ids = [f"sample_{i + 1}" if names is None else names[i] for i in numbers]
    if alphabet is not None:
        seqs = ["".join(alphabet[c] for c in row) for row in samples.astype(int)]
        gapped = sum("-" in s for s in seqs)
        if ungapped:
            seqs = [s.replace("-", "") for s in seqs]
        elif gapped and not quiet:
            print(
                f"note: {gapped} of {len(seqs)} sequences hold gaps '-' (rows of the model's "
                "alignment, written as such); --ungapped writes them as they would be made",
                file=sys.stderr,
            )
        if path.name.lower().removesuffix(".gz").endswith((".csv", ".tsv")):
            write_table(path, ids, {"sequence": np.asarray(seqs, dtype=object)})
        else:
            write_fasta(path, ids, seqs)
        return
    flat = samples.reshape(len(samples), -1)
    if integer and np.isfinite(flat).all():
        flat = np.rint(flat).astype(np.int64)
    id_name = next(n for n in ("id", "sample_id", "sample", "record") if n not in features)
    write_table(path, ids, {f: flat[:, j] for j, f in enumerate(features)}, id_name=id_name)


def config_file_likelihood(args: argparse.Namespace) -> str | None:
    """The likelihood the ``--config`` file names (``[model.likelihood] name``), or None when
    there is no file or it leaves the likelihood at its default."""
    path = getattr(args, "config", None)
    model = load_toml(path).get("model", {}) if path else {}
    lik = model.get("likelihood", {}) if isinstance(model, dict) else {}
    name = lik.get("name") if isinstance(lik, dict) else None
    return name if isinstance(name, str) else None


def likelihood_given(args: argparse.Namespace) -> bool:
    """Whether the likelihood was chosen (``--likelihood``, or ``[model.likelihood] name`` in
    the ``--config`` file) rather than left at its default."""
    if getattr(args, "cfg__model__likelihood__name", None) is not None:
        return True
    return config_file_likelihood(args) is not None


def for_sequences(cfg: FitConfig, args: argparse.Namespace, alphabet: str | None) -> FitConfig:
    """``cfg`` with the categorical likelihood when the records are sequences (``alphabet``)
    and no likelihood was chosen: the default (gaussian) would read letter codes as numbers."""
    if alphabet is None or likelihood_given(args):
        return cfg
    lik = replace(cfg.model.likelihood, name="categorical")
    return replace(cfg, model=replace(cfg.model, likelihood=lik))
