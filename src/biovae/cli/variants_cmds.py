"""``biovae variants fit | score | scan | design``: variant effects from a sequence family."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from biovae.cli.io import check_output, check_parent, check_plot_output
from biovae.cli.variants_design import add_design_parser, add_elbo_options
from biovae.config import to_dict
from biovae.data._columns import NA_TOKENS
from biovae.data._messages import UNREADABLE, unreadable
from biovae.errors import DataError, MissingFileError

TABLES = (".csv", ".tsv")
# flag → (dotted VariantsConfig field, type, help)
_FIT_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--focus": ("alignment.focus", str, "id of the focus record (default: the first)"),
    "--theta": ("alignment.theta", float, "weights count neighbours >= 1 - T identical (0.2)"),
    "--max-gap-fraction": ("alignment.max_gap_fraction", float, "drop rows with more gaps (0.5)"),
    "--alphabet": ("alignment.alphabet", str, "protein, dna or rna (default: detected)"),
    "--latent": ("model.n_latent", int, "latent dimensions (30)"),
    "--steps": ("train.steps", int, "training updates per member (6000)"),
    "--minutes": ("train.max_minutes", float, "wall-time limit per member (0 = none)"),
    "--batch-size": ("train.batch_size", int, "records per update (100)"),
    "--lr": ("train.lr", float, "Adam learning rate (1e-3)"),
    "--lr-schedule": (
        "train.lr_schedule",
        str,
        "constant (default) or linear (decays to 0 over --steps / --minutes)",
    ),
    "--precision": ("train.precision", str, "float32 (default) or bfloat16 training matmuls"),
    "--device": ("train.device", str, "where to train: cpu (default), cuda, cuda:1, ..."),
    "--compile": (
        "train.compile",
        str,
        "with --bayesian: fuse the weight draw with torch.compile: auto (default), on, off",
    ),
    "--validation-fraction": (
        "train.validation_fraction",
        float,
        "share of sequences held out to keep the best model (0.05; 0 = keep the last)",
    ),
    "--patience": ("train.patience", int, "evaluations without improvement before stopping (10)"),
    "--seed": ("train.seed", int, "random seed (0); member i uses seed + i"),
    "--ensemble": ("ensemble", int, "number of models averaged (1)"),
    "--bayesian": ("model.bayesian", bool, "variational decoder weights instead of MAP"),
    "--weight-noise": (
        "model.weight_noise",
        str,
        "with --bayesian: shared (one weight draw per minibatch, default) or local (per record)",
    ),
}


#: how --help names each flag's value (argparse would print the field in capitals)
_METAVARS = {
    "--focus": "ID",
    "--theta": "T",
    "--max-gap-fraction": "F",
    "--alphabet": "NAME",
    "--latent": "K",
    "--steps": "N",
    "--minutes": "M",
    "--batch-size": "N",
    "--lr": "LR",
    "--lr-schedule": "KIND",
    "--precision": "KIND",
    "--device": "DEV",
    "--compile": "MODE",
    "--validation-fraction": "F",
    "--patience": "N",
    "--seed": "S",
    "--ensemble": "N",
    "--weight-noise": "MODE",
}


def _action(actions, name: str, help_: str, examples: str) -> argparse.ArgumentParser:
    """A ``biovae variants`` action whose --help describes it and shows examples."""
    return actions.add_parser(
        name,
        help=help_,
        description=help_[0].upper() + help_[1:] + ".",
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_parser(sub) -> None:
    """Register ``biovae variants`` and its three actions."""
    p = sub.add_parser(
        "variants",
        help="Variant effects from a sequence family: fit, score, scan, design.",
        description="Variant effects from a sequence family: fit, score, scan, design.",
        epilog="examples:\n"
        "  biovae variants fit family.a2m --out family_model --ensemble 3\n"
        "  biovae variants score family_model --mutations dms.csv --out scores.csv "
        "--fitness-column 2500\n"
        "  biovae variants score family_model --mutations clinvar.csv --out calls.csv --classes\n"
        "  biovae variants scan family_model --out scan.csv --heatmap scan.png "
        "--report scan.html\n"
        "  biovae variants design family_model -k 3 --out designs.csv --screen-against "
        "concern.fasta\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = _action(
        actions,
        "fit",
        "weight an alignment and train the model",
        "  biovae variants fit family.a2m --out family_model\n"
        "  biovae variants fit family.a2m --out family_model --ensemble 3 --focus BLAT_ECOLX\n",
    )
    fit.add_argument("alignment", metavar="ALIGNMENT", help="A2M, A3M, aligned FASTA, Stockholm")
    fit.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    fit.add_argument("--config", metavar="FILE", help="TOML with [alignment] [model] [train]")
    fit.add_argument("--quiet", action="store_true", help="no progress output")
    for flag, (_, type_, help_) in _FIT_FLAGS.items():
        if type_ is bool:
            fit.add_argument(flag, action="store_const", const=True, help=help_)
        else:
            fit.add_argument(flag, type=type_, metavar=_METAVARS[flag], help=help_)
    fit.set_defaults(func=cmd_fit)
    score = _action(
        actions,
        "score",
        "score mutants (A42G, A42G:K45R) of a CSV",
        "  biovae variants score family_model --mutations dms.csv --out scores.csv "
        "--fitness-column 2500\n"
        "  biovae variants score family_model --mutations clinvar.csv --out calls.csv --classes\n",
    )
    score.add_argument("model", metavar="MODEL")
    score.add_argument("--mutations", required=True, metavar="FILE", help="CSV with 'mutant'")
    score.add_argument("--out", required=True, metavar="FILE", help=".csv or .tsv")
    score.add_argument(
        "--fitness-column",
        metavar="COL",
        help="print Spearman ρ against COL and copy it to the output (as COL_measured when "
        "an output column has that name)",
    )
    score.set_defaults(func=cmd_score)
    scan = _action(
        actions,
        "scan",
        "score every letter at every match position; class substitutions damaging, "
        "tolerated or uncertain (EVE)",
        "  biovae variants scan family_model --out scan.csv --heatmap scan.png\n"
        "  biovae variants scan family_model --out scan.csv --report scan.html\n",
    )
    scan.add_argument("model", metavar="MODEL")
    scan.add_argument("--out", required=True, metavar="FILE", help=".csv or .tsv")
    scan.add_argument("--heatmap", metavar="PNG", help="also draw the scan as a heatmap")
    scan.add_argument(
        "--report",
        metavar="HTML",
        help="also write a report: model card, heatmap, extremes, classes",
    )
    scan.set_defaults(func=cmd_scan)
    add_design_parser(actions)
    score.add_argument(
        "--classes",
        action="store_true",
        help="also class single substitutions damaging / tolerated / uncertain by the mixture of "
        "the full single-mutant scan (scored first; it takes as long as 'scan')",
    )
    for action in (score, scan):
        action.add_argument("--quiet", action="store_true", help="no notes on stderr")
        action.add_argument(
            "--uncertain-fraction",
            type=float,
            default=0.25,
            metavar="F",
            help="share of the scan's substitutions whose damaging/tolerated class is least "
            "certain, classed 'uncertain' (EVE's 0.25)",
        )
        add_elbo_options(
            action,
            "variational decoders (fit --bayesian): score with the posterior-mean weights "
            "instead of averaging the ELBO over weight draws (the default, as DeepSequence)",
        )


def _config(args: argparse.Namespace):
    """VariantsConfig from its defaults, then ``--config``, then the flags given (they win);
    a bad value is blamed on the file line or the flag that set it."""
    from biovae.applications.variants.config import VariantsConfig
    from biovae.cli.config_args import layered

    flags: dict = {}  # explicit flags as nested tables
    for flag, (field, _, _) in _FIT_FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            *parents, leaf = field.split(".")
            node = flags
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
    names = {field: flag for flag, (field, _, _) in _FIT_FLAGS.items()}
    return layered(VariantsConfig, to_dict(VariantsConfig()), args.config, flags, names)


def _model_out(path: str) -> Path:
    out = Path(path)
    from biovae.persistence import check_model_out

    return check_model_out(check_parent(out))


def cmd_fit(args: argparse.Namespace) -> int:
    from biovae.applications.variants import family
    from biovae.applications.variants.alignment import read_alignment

    cfg = _config(args)
    out = _model_out(args.out)
    a = cfg.alignment
    aln = read_alignment(
        args.alignment, focus=a.focus, max_gap_fraction=a.max_gap_fraction, alphabet=a.alphabet
    )
    if len(aln) < 2:
        raise DataError(f"{args.alignment}: only {len(aln)} usable sequence; a family needs more")
    fitted = family.fit(aln, cfg, progress=not args.quiet)
    family.save(out, fitted)
    f = fitted.facts
    if not args.quiet:  # as fit: --quiet leaves the output path alone on stdout
        print(
            f"{f['n_sequences']} sequences × {len(aln.positions)} match columns "
            f"({f['n_invalid_dropped']} dropped for letters outside '{aln.alphabet}', "
            f"{f['n_gappy_dropped']} for gaps); Neff = {f['neff']:.1f}",
            file=sys.stderr,
        )
    print(out)
    return 0


def _read_mutants(path: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: mutations file not found; check the path")
    sep = "\t" if p.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # surplus fields: no index
            table = pd.read_csv(
                p, sep=sep, dtype=str, keep_default_na=False, index_col=False, encoding="utf-8-sig"
            )
    except (
        pd.errors.ParserError,
        pd.errors.ParserWarning,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
    ) as exc:
        reason = (str(exc).strip().splitlines() or ["unreadable"])[-1]
        raise DataError(
            f"{p}: cannot read the mutations table ({reason}); every row needs the header's "
            "number of fields"
        ) from exc
    except UNREADABLE as exc:  # a damaged .gz (zlib.error) is no matter of fields
        raise unreadable(p, exc, "the mutations table") from exc
    if "mutant" not in table.columns:
        raise DataError(f"{p}: no 'mutant' column (columns: {', '.join(table.columns)})")
    if not len(table):
        raise DataError(f"{p}: the table has a header but no rows; list one mutant per row")
    return table


def cmd_score(args: argparse.Namespace) -> int:
    from biovae.applications.variants import classes, family
    from biovae.data.writers import write_table

    out = check_output(args.out, TABLES)
    _check_draws(args.samples, args.seed)
    table = _read_mutants(args.mutations)
    if args.fitness_column and args.fitness_column not in table.columns:
        raise DataError(f"{args.mutations}: no column '{args.fitness_column}' for --fitness-column")
    classes.check_fraction(args.uncertain_fraction)  # before any work
    fitted = family.load(args.model)
    sampled = not args.mean_weights
    cols = fitted.score(list(table["mutant"]), args.samples, args.seed, sampled)
    if args.classes:
        _, found = fitted.scan(args.samples, args.seed, sampled, args.uncertain_fraction)
        if found is None:
            raise DataError(
                f"{args.model}: the model's scan is too small or too flat for damaging/tolerated "
                "classes; score without --classes"
            )
        cols = fitted.classify(cols, found)
    mutant = cols.pop("mutant")
    if args.fitness_column:
        given = table[args.fitness_column]
        fitness = _numbers(given)
        text = given.astype(str).str.strip()
        missing = text.isin(NA_TOKENS)  # missing values, not text to warn of
        odd = int((given.notna() & ~missing & ~np.isfinite(fitness)).sum())
        if odd:  # copied as given; left out of ρ
            print(
                f"biovae variants: warning: {odd} value(s) of '{args.fitness_column}' are not "
                "numbers; they are left out of ρ and copied as given",
                file=sys.stderr,
            )
        _print_rho(cols["score"], cols["independent_site"], fitness)
        name = args.fitness_column
        copied = given.to_numpy(dtype=object) if odd else fitness
        cols[name if name not in cols and name != "mutant" else f"{name}_measured"] = copied
    write_table(out, mutant, cols, id_name="mutant")
    if not args.quiet:  # the Spearman ρ that --fitness-column asks for is printed anyway
        _print_unmapped(mutant, cols["status"], cols["reason"])
    print(out)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from biovae.applications.variants import classes, family
    from biovae.data.writers import write_table

    out = check_output(args.out, TABLES)
    _check_draws(args.samples, args.seed)
    classes.check_fraction(args.uncertain_fraction)  # before any work
    heatmap = _extra_output("--heatmap", args.heatmap, (".png",))
    report = _extra_output("--report", args.report, (".html", ".htm"))
    fitted = family.load(args.model)
    table, found = fitted.scan(
        args.samples, args.seed, not args.mean_weights, args.uncertain_fraction
    )
    mutant = table.pop("mutant")
    if found is None and not args.quiet:
        print(
            "note: too few or too uniform substitution scores for damaging/tolerated classes; "
            "the class columns are empty",
            file=sys.stderr,
        )
    from biovae.reports.html import write_page
    from biovae.reports.variants_page import scan_outputs

    cols = {"mutant": mutant, **table}
    drawn = scan_outputs(heatmap, report, cols, fitted, args.mean_weights, found)
    write_table(out, mutant, table, id_name="mutant")
    for path, content in drawn:  # drawn before the table was written: a failure left nothing
        print(write_page(path, content))
    print(out)
    return 0


def _extra_output(flag: str, path: str | None, suffixes: tuple[str, ...]) -> Path | None:
    """Validate an optional picture or report path (suffix, existing folder, matplotlib)
    before any work is done."""
    if path is None:
        return None
    try:
        return check_plot_output(path, suffixes)
    except DataError as exc:
        raise DataError(f"{flag}: {exc}") from exc


def _check_draws(samples: int, seed: int) -> None:
    if samples < 1:
        raise DataError("--samples must be >= 1")
    if not 0 <= seed < 2**63:  # torch's generator takes no larger seed: a traceback
        raise DataError(f"--seed must be in 0 .. 2**63 - 1, not {seed}")


def _numbers(column) -> np.ndarray:
    import pandas as pd

    return pd.to_numeric(column.replace("", np.nan), errors="coerce").to_numpy(dtype=float)


def _print_rho(score: np.ndarray, site: np.ndarray, fitness: np.ndarray) -> None:
    from scipy.stats import spearmanr

    ok = np.isfinite(score) & np.isfinite(fitness)
    if ok.sum() < 3:
        print("Spearman ρ: fewer than 3 scored mutants with fitness values", file=sys.stderr)
        return
    rho = spearmanr(score[ok], fitness[ok]).statistic
    rho_site = spearmanr(site[ok], fitness[ok]).statistic
    print(
        f"Spearman ρ = {rho:.4f} (independent-site model {rho_site:.4f}), n = {int(ok.sum())}",
        file=sys.stderr,
    )


def _print_unmapped(mutant: np.ndarray, status: np.ndarray, reason: np.ndarray) -> None:
    bad = np.flatnonzero(status != "ok")
    if len(bad):
        first = bad[0]
        print(
            f"{len(bad)} of {len(mutant)} mutants could not be scored (see the 'reason' "
            f"column), e.g. {mutant[first]}: {reason[first]}",
            file=sys.stderr,
        )
