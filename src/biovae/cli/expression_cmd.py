"""``biovae expression``: denoised (and batch-corrected) expression of DATA under a count model,
the command-line form of :func:`biovae.tl.expression` (scvi-tools' normalised expression)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from biovae.cli.io import check_output, model_data_config, read_input
from biovae.cli.options import READ_OPTIONS, add_data_flags, add_options
from biovae.data.readers import infer_format
from biovae.errors import ConfigError

#: what ``--out`` may end in: a table (one column per gene) or an AnnData file
SUFFIXES = (".csv", ".tsv", ".h5ad")


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
        help=".h5ad (X = the expression, obs and var from DATA) or .csv/.tsv(.gz): id, then "
        "one column per gene",
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
    check_library_size(args.library_size, "--library-size")  # before reading MODEL and DATA
    est = load_model(args.model)
    key = _batch_key(est, args)
    data = model_data_config(est, args)
    ds = read_input(args.data, data)
    values = expression(
        est,
        ds,
        library_size=args.library_size,
        batch_key=key,
        reference=args.reference_batch,
        layer=est.config_.data.layer,
    )
    settings = {
        "model": str(args.model),
        "library_size": args.library_size,
        "batch_key": key or "",
        "reference_batch": args.reference_batch or "",
    }
    fmt = (data.format or infer_format(args.data)).lower()
    source = args.data if fmt == "h5ad" else None
    _write(out, ds, est.schema_.features, values.astype(np.float32, copy=False), settings, source)
    print(out)
    return 0


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


def _write(out: Path, ds, features, values: np.ndarray, settings: dict, h5ad: str | None) -> None:
    from biovae.data.writers import atomic_write, write_frame

    if out.name.lower().removesuffix(".gz").endswith((".csv", ".tsv")):
        frame = pd.DataFrame(values, index=pd.Index(ds.ids, name="id"), columns=list(features))
        write_frame(out, frame)
        return
    from biovae.errors import require

    ad = require("anndata", "singlecell")
    obs = pd.DataFrame({k: np.asarray(v) for k, v in ds.obs.items()}, index=list(ds.ids))
    var = pd.DataFrame(index=list(features))
    if h5ad is not None:
        obs, var = _own_annotations(h5ad, ds, obs, var)
    adata = ad.AnnData(values, obs=obs, var=var)
    adata.uns["biovae_expression"] = settings
    atomic_write(out, adata.write_h5ad)


def _own_annotations(h5ad: str, ds, obs: pd.DataFrame, var: pd.DataFrame):
    """DATA's own ``obs`` and ``var`` (an .h5ad file's: dtypes, unused categories and gene
    annotations kept, which the records' metadata lose), rows in the records' order and named
    as they are; a column that ``--obs`` added or replaced is taken from the records."""
    from biovae.data._columns import to_obs
    from biovae.data.h5ad import read_annotations

    own_obs, own_var = read_annotations(h5ad)
    own_obs = own_obs[[c for c in own_obs.columns if str(c) in ds.obs]]  # not --id-column
    own_obs.columns = [str(c) for c in own_obs.columns]
    own_obs.index, own_var.index = obs.index, var.index
    for name, column in ds.obs.items():
        if name not in own_obs or not pd.Series(to_obs(own_obs[name])).equals(pd.Series(column)):
            own_obs[name] = obs[name]
    return own_obs, own_var
