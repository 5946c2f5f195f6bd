"""``biovae audit``: can technical or biological covariates be read off a model's latent map?"""

from __future__ import annotations

import argparse
from pathlib import Path

from biovae.cli.io import check_parent, model_data_config, model_name, read_input
from biovae.cli.notes import note, print_paths
from biovae.cli.options import READ_OPTIONS, _names, add_data_flags, add_options
from biovae.errors import ConfigError, DataError, require

HELP = "Audit which covariates the latent map of MODEL predicts (batch vs biology)."
EXAMPLES = (
    "  biovae audit model abundance.tsv --obs metadata.tsv \\\n"
    "      --covariates studyID,study_condition --technical studyID \\\n"
    "      --biological study_condition --out audit/\n"
    "  biovae audit model abundance.tsv --obs metadata.tsv --obs-id-column sample_id \\\n"
    "      --covariates studyID --out audit/   # ids in the table's column sample_id\n"
)


def add_audit_parser(sub, make_parser) -> None:
    """Register ``audit`` on the subcommand set ``sub`` (``make_parser`` adds --quiet etc.)."""
    p = make_parser(sub, "audit", HELP, EXAMPLES)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--covariates",
        type=_names,
        required=True,
        metavar="A,B,C",
        help="metadata columns to audit: how well the latent map predicts each",
    )
    p.add_argument(
        "--technical",
        type=_names,
        default=[],
        metavar="A,B",
        help="which of --covariates are technical, e.g. the batch (with --biological: a verdict)",
    )
    p.add_argument(
        "--biological",
        type=_names,
        default=[],
        metavar="A,B",
        help="which of --covariates are biological, e.g. disease (with --technical: a verdict)",
    )
    p.add_argument(
        "--categorical",
        type=_names,
        default=[],
        metavar="A,B",
        help="audit these as categorical even when numbers (technical covariates coded by "
        "whole numbers already are)",
    )
    p.add_argument(
        "--continuous",
        type=_names,
        default=[],
        metavar="A,B",
        help="audit these as numbers (R²) even when they take few distinct values (numbers "
        "with at most min(50, records/10) values are otherwise categories)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for audit.json (+ html)")
    p.add_argument("--html", action="store_true", help="also write audit.html with latent maps")
    p.add_argument(
        "--folds",
        type=int,
        default=5,
        metavar="K",
        help="stratified cross-validation folds (default 5; fewer when a category has fewer "
        "records or, with --group-column, lies in fewer groups)",
    )
    p.add_argument(
        "--group-column",
        default=None,
        metavar="COL",
        help="metadata column of the subject/donor each record belongs to: the folds keep all "
        "records of a group together, so repeated samples of a subject do not leak into the "
        "test fold (default: record-wise folds)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the cross-validation folds (default 0)",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_audit)


def _check_args(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; give a folder for audit.json")
    check_parent(out)
    for name in ("audit.json", "audit.html"):
        if (out / name).is_dir():
            raise DataError(f"cannot write {out / name}: it is an existing folder; remove it")
    if not args.covariates:
        raise ConfigError(
            "--covariates names no column; give the metadata columns to audit, e.g. "
            "--covariates batch,disease"
        )
    if args.folds < 2:
        raise ConfigError("--folds must be >= 2")
    require("sklearn", "report")  # the audit's classifiers: before reading and embedding
    if args.html:
        from biovae.reports.figures import require_matplotlib

        require_matplotlib()
    named = args.technical + args.biological + args.categorical + args.continuous
    unknown = sorted(set(named) - set(args.covariates))
    if unknown:
        raise ConfigError(
            f"--technical/--biological/--categorical/--continuous name {unknown[0]!r}, not in "
            "--covariates"
        )
    twice = sorted(set(args.categorical) & set(args.continuous))
    if twice:
        raise ConfigError(
            f"--categorical and --continuous both name {twice[0]!r}; a covariate is audited "
            "as levels or as a number"
        )
    both = sorted(set(args.technical) & set(args.biological))
    if both:
        raise ConfigError(
            f"--technical and --biological both name {both[0]!r}; a covariate is one or the "
            "other (the verdict compares a technical with a biological covariate)"
        )
    return out


def cmd_audit(args: argparse.Namespace) -> int:
    from biovae.data.writers import atomic_open, write_json
    from biovae.diagnostics.confounding import audit
    from biovae.estimator import load_model

    out = _check_args(args)
    est = load_model(args.model)
    ds = read_input(args.data, model_data_config(est, args), quiet=args.quiet)
    columns = {name: ds.obs_column(name) for name in args.covariates}
    groups = None if args.group_column is None else _groups(ds, args.group_column)
    z = est.transform(ds)
    result = audit(
        z,
        columns,
        args.technical,
        args.biological,
        n_splits=args.folds,
        seed=args.seed,
        categorical=args.categorical,
        continuous=args.continuous,
        groups=groups,
        group_name=args.group_column or "group",
    )
    result.update(model=str(args.model), data=str(args.data))
    html = None
    if args.html:
        html = _page(args, ds.source, result, z, columns)
    out.mkdir(exist_ok=True)
    write_json(out / "audit.json", result)
    if html is not None:
        with atomic_open(out / "audit.html", "w") as fh:
            fh.write(html)
    _print_summary(args, result, columns)
    if "verdict" in result:
        note(args, result["verdict"]["text"])
    print_paths(out / "audit.json", *([out / "audit.html"] if html is not None else []))
    return 0


def _groups(ds, name: str):
    """The --group-column's labels, or a one-line error naming the file, the column (and
    close names) or the first record without a group."""
    import difflib

    from biovae.data._messages import preview
    from biovae.diagnostics.confounding_groups import group_labels

    where = f"{ds.source or 'data'}: "
    if name not in ds.obs:
        close = difflib.get_close_matches(name, list(ds.obs), n=3, cutoff=0.6)
        hint = f"close names: {preview(close)}" if close else f"columns: {preview(ds.obs)}"
        raise DataError(f"{where}no metadata column {name!r} for --group-column; {hint}")
    return group_labels(ds.obs[name], name, ds.n_obs, ds.ids, where)


def _page(args: argparse.Namespace, source: str, result: dict, z, columns: dict) -> str:
    """audit.html: headed by the model's and the files' names, their full paths below."""
    from html import escape

    from biovae.data.readers import source_name
    from biovae.reports.audit_page import AuditPanel, render_audit_page

    model = model_name(args.model)
    panel = AuditPanel(model, result, z, columns, args.technical, args.biological)
    title = f"biovae audit of model {model}: {source_name(source or str(args.data))}"
    tagline = (
        f"{result['records']:,} records · {result['latent']}-D latent space · "
        f"covariates {', '.join(args.covariates)}"
    )
    notes = f"Model {escape(str(args.model))}; data {escape(source or str(args.data))}."
    return render_audit_page([panel], title, notes, tagline)


def _print_summary(args: argparse.Namespace, result: dict, columns: dict) -> None:
    """Each covariate's skill and carrying dimensions as audit.html states them, on stderr
    unless --quiet; a numeric covariate audited as levels by the guess says how to audit it as
    a number."""
    from biovae.diagnostics.confounding_columns import as_numbers
    from biovae.diagnostics.confounding_groups import grouping_text
    from biovae.reports.audit_page import dimensions_text, skill_text

    if "grouped_by" in result:
        note(args, grouping_text(result))
    given = {*args.categorical, *args.continuous}
    for name, r in result["covariates"].items():
        notes = [r["kind"]]
        numbers = as_numbers(columns[name]).dtype.kind in "iuf"
        if r["kind"] == "categorical" and numbers and name not in given:
            notes.append(f"{len(r['levels'])} numbers read as levels: --continuous {name} for R²")
        if r["rare_levels"]:
            notes.append(f"left out levels with one record: {', '.join(r['rare_levels'])}")
        if r["missing"]:
            notes.append(f"{r['missing']} missing")
        dims = dimensions_text(r)
        note(args, f"{name}: {skill_text(r)}; carried by {dims} ({'; '.join(notes)})")
