"""``biovae expression``: denoised (and batch-corrected) expression of DATA under a count model,
the command-line form of :func:`biovae.tl.expression` (scvi-tools' normalised expression)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from biovae.cli.io import check_output, model_data_config, read_input
from biovae.cli.options import READ_OPTIONS, add_data_flags, add_options
from biovae.errors import ConfigError

#: what ``--out`` may end in: a table (one column per gene) or an AnnData file
SUFFIXES = (".csv", ".tsv", ".h5ad")
#: the layer and uns entry of an .h5ad output, as ``biovae.tl.expression``'s ``key_added``
KEY_ADDED = "biovae_denoised"


def add_parser(sub, make) -> None:
    """Register ``biovae expression``; ``make(sub, name, help, examples)`` builds a subparser."""
    p = make(
        sub,
        "expression",
        "Denoised expression of DATA (counts per --library-size at the posterior mean), "
        "optionally batch-corrected (every cell decoded as if from --reference-batch).",
        "  biovae expression model counts.h5ad --out denoised.h5ad\n"
        "  biovae expression model counts.h5ad --reference-batch dropseq --out corrected.csv.gz\n",
    )
    p.add_argument("model", metavar="MODEL", help="a fitted count model (nb, zinb or poisson)")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=".h5ad: a copy of DATA (of its records, for another format) with the expression "
        "in layers[KEY] and the settings in uns[KEY], as biovae.tl.expression writes them; or "
        ".csv/.tsv(.gz): id, then one column per gene",
    )
    p.add_argument(
        "--key-added",
        metavar="KEY",
        help=f"the name KEY of an .h5ad output's layer and uns entry, as tl.expression's "
        f"key_added (default {KEY_ADDED})",
    )
    p.add_argument(
        "--library-size",
        type=float,
        default=1e4,
        metavar="N",
        help="common library size the expression is scaled to (default: 10000, per 10k)",
    )
    p.add_argument(
        "--reference-batch",
        metavar="LEVEL",
        help="decode every cell as if from this level of the batch covariate (batch-corrected)",
    )
    p.add_argument(
        "--batch-key",
        metavar="COL",
        help="the covariate --reference-batch is a level of (default: the model's first "
        "categorical covariate)",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_expression)


def cmd_expression(args: argparse.Namespace) -> int:
    from biovae.applications.expression import check_library_size, expression
    from biovae.estimator import load_model

    out = check_output(args.out, SUFFIXES)
    if out.name.lower().endswith(".h5ad.gz"):
        raise ConfigError(f"cannot write {out}: an .h5ad file is not gzipped; drop the .gz")
    key = _key_added(args.key_added, out)
    check_library_size(args.library_size, "--library-size")  # before reading MODEL and DATA
    est = load_model(args.model)
    batch_key = _batch_key(est, args)
    data = model_data_config(est, args)
    ds = read_input(args.data, data, quiet=args.quiet)
    values = expression(
        est,
        ds,
        library_size=args.library_size,
        batch_key=batch_key,
        reference=args.reference_batch,
        layer=est.config_.data.layer,
    )
    if out.name.lower().removesuffix(".gz").endswith((".csv", ".tsv")):
        import pandas as pd

        from biovae.data.writers import write_frame

        features = list(est.schema_.features)
        write_frame(out, pd.DataFrame(values, index=pd.Index(ds.ids, name="id"), columns=features))
    else:
        from biovae.data.readers import infer_format

        fmt = (data.format or infer_format(args.data)).lower()
        adata = _annotated(args.data, ds, data.id_column) if fmt == "h5ad" else _from_records(ds)
        settings = (args.library_size, batch_key, args.reference_batch)
        _write_h5ad(out, adata, est, values, key, settings)
    print(out)
    return 0


def _key_added(key: str | None, out: Path) -> str:
    """The key of an .h5ad output's layer and uns entry (``--key-added``, default as
    ``tl.expression``'s), checked as ``biovae.tl`` checks it; refused for a table."""
    from biovae.tl_checks import check_key

    if key is None:
        return KEY_ADDED
    if not out.name.lower().endswith(".h5ad"):
        raise ConfigError(
            "--key-added names the layer and uns entry of an .h5ad output; a .csv or .tsv "
            "table has none: leave it out, or write .h5ad"
        )
    check_key(key, "--key-added")
    return key


def _batch_key(est, args: argparse.Namespace) -> str | None:
    """The covariate of ``--reference-batch``: ``--batch-key`` or the model's first one."""
    if args.batch_key and not args.reference_batch:
        raise ConfigError("--batch-key names the covariate of --reference-batch; give that too")
    if not args.reference_batch:
        return None
    categorical = est.schema_.covariates.categorical
    if not categorical:
        raise ConfigError(
            f"--reference-batch needs a model conditioned on a batch; {args.model} has no "
            "categorical covariate (fit it with --categorical-covariates or --batch-key)"
        )
    return args.batch_key or categorical[0]


def _annotated(h5ad: str, ds, id_column: str | None):
    """DATA's own AnnData (X, layers, obs and var with their dtypes, obsm, uns ... kept), a
    column that ``--obs`` added or replaced taken from the records."""
    import pandas as pd

    from biovae.cli.io import read_same_cells
    from biovae.data._columns import to_obs

    adata = read_same_cells(h5ad, ds, id_column)
    for name, column in ds.obs.items():
        own = adata.obs.get(name)
        if own is None or not pd.Series(to_obs(own)).equals(pd.Series(column)):
            adata.obs[name] = np.asarray(column)
    return adata


def _from_records(ds):
    """An AnnData of records read from a table, matrix or 10x folder: X the counts as read."""
    import pandas as pd
    from scipy import sparse

    from biovae.errors import require

    x = ds.x
    if hasattr(x, "blocks"):  # --stream: the blocks joined, as they were read
        parts = [b for _, b in x.blocks()]
        x = sparse.vstack(parts).tocsr() if sparse.issparse(parts[0]) else np.concatenate(parts)
    obs = pd.DataFrame({k: np.asarray(v) for k, v in ds.obs.items()}, index=list(ds.ids))
    var = pd.DataFrame(index=list(ds.features))
    return require("anndata", "singlecell").AnnData(x, obs=obs, var=var)


def _write_h5ad(out: Path, adata, est, values: np.ndarray, key: str, settings: tuple) -> None:
    """``adata`` with the expression as ``biovae.tl.expression`` writes it, atomically."""
    from biovae import tl
    from biovae.data.writers import atomic_write

    tl.write_expression(adata, est, values, key, settings)
    atomic_write(out, adata.write_h5ad)
