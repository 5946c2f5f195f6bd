"""``biovae trajectory``, ``integration``, ``de`` and ``map``: single-cell questions of a model."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from biovae.cli.commands import TABLE_SUFFIXES, check_output
from biovae.cli.io import (
    check_parent,
    check_plot_output,
    data_name,
    input_files,
    model_data_config,
    model_name,
    read_input,
)
from biovae.cli.options import READ_OPTIONS, add_data_flags, add_options, positive_int
from biovae.diagnostics.integration import METRIC_KEYS
from biovae.errors import DataError, require


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
    p.add_argument(
        "--root-value",
        metavar="VALUE",
        help="its value (e.g. the first stage); the root is the group's cell at its end of the "
        "first diffusion component (the --report names it)",
    )
    p.add_argument("--root-id", metavar="ID", help="or the id of the root cell itself")
    p.add_argument("--report", metavar="HTML", help="also write latent maps as HTML")
    p.add_argument(
        "--color-by", metavar="COL", help="known stage column to compare with (in the --report)"
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_trajectory)

    p = make(
        sub,
        "integration",
        "Batch mixing and label conservation of MODEL's latent map on DATA (JSON).",
        "  biovae integration model counts.h5ad --batch-key batch --labels-key cell_line "
        "--out metrics.json\n\nJSON keys (every metric: higher = better, but the raw clisi: "
        "lower = better):\n" + "".join(f"  {key}: {text}\n" for key, text in METRIC_KEYS.items()),
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="JSON", help=".json")
    p.add_argument("--batch-key", required=True, metavar="COL", help="technical batch column")
    p.add_argument(
        "--labels-key", required=True, metavar="COL", help="biological label column (cell type)"
    )
    p.add_argument(
        "--max-records",
        type=positive_int,
        metavar="N",
        help="score a seeded random subsample of N records (default: all; the silhouettes' "
        "time grows with the square of the records, ≈ 1-2 min at 50,000 on 2 busy cores); the JSON "
        "records it (subsampled_from)",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_integration)
    _add_de_parser(sub, make)
    _add_map_parser(sub, make)


def _add_map_parser(sub, make) -> None:
    p = make(
        sub,
        "map",
        "Map QUERY (new batches) onto a conditional reference MODEL without refitting it.",
        "  biovae map ref_model query.h5ad --out mapped_model --epochs 200\n"
        "  biovae embed mapped_model query.h5ad --out query_latent.csv\n"
        "  biovae embed mapped_model query.h5ad --out query.h5ad --key-added X_mapped"
        "   # as tl.map_query\n",
    )
    p.add_argument("model", metavar="MODEL", help="fitted conditional VAE (the reference)")
    p.add_argument(
        "data",
        metavar="QUERY",
        help="the query; a semi-supervised MODEL also trains on its labelled cells (the "
        "model's label column; unknown labels are refused)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the mapped model")
    p.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="training epochs (default: the reference's)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="seed of the new weights' training (default: the reference's)",
    )
    p.add_argument(
        "--device",
        metavar="DEV",
        help="where to train the new weights: cpu, cuda, cuda:1, ... (default: the reference's)",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_map)


def _add_de_parser(sub, make) -> None:
    p = make(
        sub,
        "de",
        "Bayesian differential expression between groups of cells (scVI's change or vanilla mode).",
        "  biovae de model counts.h5ad --groupby cell_line --group1 H1975 --group2 H2228 "
        "--out de.csv --report de.html\n"
        "  biovae de model counts.h5ad --groupby bulk_labels --out de_all.csv   # each vs rest\n"
        "  biovae de model counts.h5ad --groupby cell_line --group1 H1975 --batch-correct "
        "batch --out de.csv\n"
        "  biovae de model counts.h5ad --groupby cell_line --group1 H1975 --mode vanilla "
        "--out de_sign.csv   # P(h1 > h2), calls at |log BF| >= 3\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="FILE", help=".csv or .tsv, one row per gene")
    p.add_argument("--groupby", required=True, metavar="COL", help="metadata column of groups")
    p.add_argument("--group1", metavar="LEVEL", help="group tested (default: each level in turn)")
    p.add_argument(
        "--group2",
        metavar="LEVEL",
        help="reference group (default: all other cells with a level of --groupby)",
    )
    p.add_argument(
        "--batch-correct",
        metavar="COL",
        help="compare the groups within each level of this categorical covariate of the model",
    )
    p.add_argument(
        "--mode",
        choices=("change", "vanilla"),
        default="change",
        help="change: P(log2 fold change ≥ delta) or P(≤ −delta), the larger, calls at a "
        "posterior FDR (default); "
        "vanilla: P(group 1 > group 2), calls by Bayes factor (scvi-tools' default)",
    )
    p.add_argument(
        "--delta",
        type=float,
        default=0.25,
        metavar="D",
        help="change mode: |log2 fold change| threshold (default 0.25)",
    )
    p.add_argument(
        "--fdr",
        type=float,
        default=0.05,
        metavar="Q",
        help="change mode: target posterior expected FDR, 0 <= Q < 1 (default 0.05)",
    )
    p.add_argument(
        "--bayes-factor",
        type=float,
        default=3.0,
        metavar="B",
        help="vanilla mode: call genes with |log Bayes factor| ≥ B (default 3)",
    )
    p.add_argument(
        "--samples",
        "--n-samples",
        dest="n_samples",
        type=int,
        default=5000,
        metavar="N",
        help="posterior draws per group (5000; --samples as in score)",
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the posterior draws (default 0)"
    )
    p.add_argument("--report", metavar="HTML", help="also write volcano plots and top genes")
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_de)


def _embed(args: argparse.Namespace):
    """DATA, its points on MODEL's latent map, and what they are (posterior means or codes)."""
    from biovae.estimator import load_model
    from biovae.reports.analysis import code_name

    est = load_model(args.model)
    ds = read_input(args.data, model_data_config(est, args), quiet=args.quiet)
    return ds, np.asarray(est.transform(ds)), code_name(est, plural=True)


def _column(ds, name: str) -> np.ndarray:
    if name not in ds.obs:
        raise DataError(
            f"{ds.source}: metadata column {name!r} not found (columns: "
            f"{', '.join(sorted(ds.obs)) or 'none'})"
        )
    return ds.obs[name]


def cmd_trajectory(args: argparse.Namespace) -> int:
    from biovae.applications import trajectory
    from biovae.data.writers import write_table

    out = check_output(args.out, TABLE_SUFFIXES)
    report = check_plot_output(args.report, (".html",)) if args.report else None
    require("sklearn", "report")  # the neighbour graph: before reading and embedding DATA
    if (args.root_key is None) != (args.root_value is None):
        raise DataError("give --root-key and --root-value together (or neither)")
    if args.root_id is not None and args.root_key is not None:
        raise DataError("give --root-id or --root-key/--root-value, not both")
    if args.color_by and not args.report:
        raise DataError("--color-by colours a map of the --report; give --report too")
    ds, z, points = _embed(args)
    stage = _column(ds, args.color_by) if args.color_by else None
    group = trajectory.root_mask(ds.obs, args.root_key, args.root_value) if args.root_key else None
    cell = None if args.root_id is None else trajectory.root_index(ds.ids, args.root_id)
    traj = trajectory.pseudotime(z, root=cell, root_group=group, ids=ds.ids)
    if args.report:
        from biovae.reports.sections_trajectory import trajectory_section, write_trajectory_report

        section = trajectory_section(
            z, traj, stage, args.color_by or "stage", ids=[str(i) for i in ds.ids], points=points
        )
        title = f"Trajectory of {data_name(ds, args.data)}"
        write_trajectory_report(report, [section], title, input_files(ds, args.data, args.model))
    write_table(out, ds.ids, {"pseudotime": traj.pseudotime})
    print(out)
    return 0


def cmd_integration(args: argparse.Namespace) -> int:
    from biovae.data.writers import write_json
    from biovae.diagnostics.integration import check_groups, integration_metrics

    batch_key, labels_key = args.batch_key, args.labels_key
    out = check_output(args.out, (".json",))
    require("sklearn", "report")  # neighbours, silhouettes, clusters: before embedding DATA
    ds, z, _ = _embed(args)
    batch, labels = _column(ds, batch_key), _column(ds, labels_key)
    names = (f"batch key {batch_key!r}", f"labels key {labels_key!r}")
    check_groups(batch, labels, names, ds.source or "data")
    metrics = integration_metrics(z, batch, labels, max_records=args.max_records)
    write_json(out, metrics)
    print(out)
    return 0


def cmd_de(args: argparse.Namespace) -> int:
    from biovae.applications import differential as de
    from biovae.data.writers import write_frame
    from biovae.estimator import load_model

    out = check_output(args.out, TABLE_SUFFIXES)
    report = check_plot_output(args.report, (".html",)) if args.report else None
    if args.group2 is not None and args.group1 is None:
        raise DataError("--group2 needs --group1 (leave both out for each group vs the rest)")
    settings = de.DESettings(
        mode=args.mode,
        delta=args.delta,
        fdr=args.fdr,
        bayes_factor=args.bayes_factor,
        n_samples=args.n_samples,
        seed=args.seed,
    )
    est = load_model(args.model)
    ds = read_input(args.data, model_data_config(est, args), quiet=args.quiet)
    common = {"groupby": args.groupby, "batch_key": args.batch_correct, "settings": settings}
    if args.group1 is None:
        tables = de.one_vs_rest(est, ds, **common)
    else:
        tables = [
            de.differential_expression(est, ds, group1=args.group1, group2=args.group2, **common)
        ]
    if args.report:
        from biovae.reports.de_page import write_de_report

        write_de_report(
            report,
            tables,
            (
                f"Differential expression from model {model_name(args.model)}: "
                f"{data_name(ds, args.data)}"
            ),
            input_files(ds, args.data, args.model),
        )
    table = de.stack(tables) if len(tables) > 1 else tables[0]
    write_frame(out, table)
    print(out)
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from biovae.estimator import load_model
    from biovae.persistence import check_model_out
    from biovae.query import map_query

    out = check_model_out(check_parent(Path(args.out)))
    est = load_model(args.model)
    ds = read_input(args.data, model_data_config(est, args), quiet=args.quiet)
    mapped = map_query(
        est,
        ds,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        progress=not getattr(args, "quiet", False),
    )
    mapped.save(out)
    print(out)
    return 0
