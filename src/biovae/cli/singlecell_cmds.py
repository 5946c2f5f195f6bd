"""``biovae trajectory`` and ``biovae integration``: questions asked of a model's latent map."""

from __future__ import annotations

import argparse
import json

import numpy as np

from biovae.cli.commands import TABLE_SUFFIXES, check_output
from biovae.cli.io import read_input
from biovae.cli.options import DATA_OPTIONS, add_data_flags, add_options, build_config
from biovae.data.writers import atomic_open, write_table
from biovae.errors import DataError


def add_parsers(sub, make) -> None:
    """Register both commands; ``make(sub, name, help, examples)`` builds a subparser."""
    p = make(
        sub,
        "trajectory",
        "Diffusion pseudotime of DATA along MODEL's latent map, from a root cell.",
        "  biovae trajectory model embryo.h5ad --root-key num_cells --root-value 2 "
        "--out pseudotime.csv --report trajectory.html --color-by num_cells\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="FILE", help=".csv or .tsv: id, pseudotime")
    p.add_argument("--root-key", metavar="COL", help="metadata column naming the root group")
    p.add_argument("--root-value", metavar="VALUE", help="its value (e.g. the first stage)")
    p.add_argument("--report", metavar="HTML", help="also write latent maps as HTML")
    p.add_argument("--color-by", metavar="COL", help="known stage column to compare with")
    add_options(p, DATA_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_trajectory)

    p = make(
        sub,
        "integration",
        "Batch mixing and label conservation of MODEL's latent map on DATA (JSON).",
        "  biovae integration model counts.h5ad --batch-key batch --labels-key cell_line "
        "--out metrics.json\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="JSON")
    # --batch-key and --labels-key (both required here) are the shared data options
    add_options(p, DATA_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_integration)


def _embed(args: argparse.Namespace):
    from biovae.estimator import load_model

    est = load_model(args.model)
    ds = read_input(args.data, build_config(args, base=est.config_).data)
    return ds, np.asarray(est.transform(ds))


def _column(ds, name: str) -> np.ndarray:
    if name not in ds.obs:
        raise DataError(
            f"{ds.source}: metadata column {name!r} not found (columns: "
            f"{', '.join(sorted(ds.obs)) or 'none'})"
        )
    return ds.obs[name]


def cmd_trajectory(args: argparse.Namespace) -> int:
    from biovae.applications import trajectory

    out = check_output(args.out, TABLE_SUFFIXES)
    if (args.root_key is None) != (args.root_value is None):
        raise DataError("give --root-key and --root-value together (or neither)")
    ds, z = _embed(args)
    stage = _column(ds, args.color_by) if args.color_by else None
    group = trajectory.root_mask(ds.obs, args.root_key, args.root_value) if args.root_key else None
    traj = trajectory.pseudotime(z, root_group=group)
    if args.report:
        from biovae.reports.sections_trajectory import trajectory_section, write_trajectory_report

        section = trajectory_section(z, traj, stage, args.color_by or "stage")
        write_trajectory_report(args.report, [section], f"Trajectory of {args.data}")
    write_table(out, ds.ids, {"pseudotime": traj.pseudotime})
    print(out)
    return 0


def cmd_integration(args: argparse.Namespace) -> int:
    from biovae.diagnostics.integration import integration_metrics

    labels_key = getattr(args, "cfg__data__labels_key", None)
    batch_key = getattr(args, "cfg__data__batch_key", None)
    if not labels_key or not batch_key:
        raise DataError(
            "biovae integration needs --batch-key COL and --labels-key COL "
            "(the technical and the biological column)"
        )
    ds, z = _embed(args)
    batch, labels = _column(ds, batch_key), _column(ds, labels_key)
    if len(set(map(str, labels))) < 2:
        raise DataError(f"{ds.source}: labels key {labels_key!r} has only one class")
    metrics = integration_metrics(z, batch, labels)
    with atomic_open(args.out, "w") as fh:
        json.dump(metrics, fh, indent=2)
    print(args.out)
    return 0
