"""``biovae variants fit | score | scan | design``: variant effects from a sequence family."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from biovae.cli.io import check_output, check_plot_output
from biovae.cli.notes import add_quiet, note
from biovae.cli.variants_design import add_design_parser, add_elbo_options
from biovae.cli.variants_fit import add_fit_arguments, print_dropped
from biovae.errors import DataError, MissingFileError

TABLES = (".csv", ".tsv")
#: the sign of the scores, at the end of score's and scan's --help
_SIGN = (
    "\nscore = Δ ELBO = ELBO(mutant) − ELBO(focus): below 0 the mutant is less like the family "
    "than the focus\n(likely damaging), above 0 more like it; evolutionary_index (EVE's) is "
    "−score.\n"
)


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
        "  biovae variants fit family.a2m --out blat_variants --ensemble 3\n"
        "  biovae variants score blat_variants --mutations dms.csv --out scores.csv "
        "--fitness-column 2500\n"
        "  biovae variants score blat_variants --mutations clinvar.csv --out calls.csv --classes\n"
        "  biovae variants score blat_variants --mutations variant_summary.tsv --mutant-column "
        "Name --out calls.csv\n"
        "  biovae variants scan blat_variants --out scan.csv --heatmap scan.png "
        "--report scan.html\n"
        "  biovae variants design blat_variants -k 3 --out designs.csv --screen-against "
        "concern.fasta\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = _action(
        actions,
        "fit",
        "weight an alignment and train the model",
        "  biovae variants fit family.a2m --out blat_variants\n"
        "  biovae variants fit family.a2m --out blat_variants --ensemble 3 --focus BLAT_ECOLX\n"
        "  biovae variants fit family.a2m --out blat_variants --ensemble 5 "
        "--checkpoint-every 500   # later: --resume\n",
    )
    add_fit_arguments(fit)
    score = _action(
        actions,
        "score",
        "score mutants (A42G, A42G:K45R, HGVS p.Ala42Gly, or a ClinVar name such as "
        "NM_1(GENE):c.125C>G (p.Ala42Gly)) of a CSV",
        "  biovae variants score blat_variants --mutations dms.csv --out scores.csv "
        "--fitness-column 2500\n"
        "  biovae variants score blat_variants --mutations clinvar.csv --out calls.csv --classes\n"
        "  biovae variants score blat_variants --mutations variant_summary.tsv --mutant-column "
        "Name --out calls.csv\n"
        "  biovae variants score blat_variants --mutations eve.csv --mutant-column mutations "
        "--out scores.csv\n" + _SIGN,
    )
    score.add_argument("model", metavar="MODEL")
    score.add_argument(
        "--mutations", required=True, metavar="FILE", help="CSV or TSV with a 'mutant' column"
    )
    score.add_argument(
        "--mutant-column",
        default="mutant",
        metavar="COL",
        help="the column holding the mutants (default 'mutant', as ProteinGym; EVE's files: "
        "mutations); the output names it 'mutant'",
    )
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
        "  biovae variants scan blat_variants --out scan.csv --heatmap scan.png\n"
        "  biovae variants scan blat_variants --out scan.csv --report scan.html\n" + _SIGN,
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
        add_quiet(action)
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


def _read_mutants(path: str, column: str = "mutant"):
    import pandas as pd

    from biovae.data._delimited import check_separator
    from biovae.data._messages import UNREADABLE, unreadable
    from biovae.data._text import not_utf8

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: mutations file not found; check the path")
    sep = "\t" if p.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    check_separator(p, sep)  # a European Excel CSV (';' and decimal commas): one line
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
    ) as exc:
        reason = (str(exc).strip().splitlines() or ["unreadable"])[-1]
        raise DataError(
            f"{p}: cannot read the mutations table ({reason}); every row needs the header's "
            "number of fields"
        ) from exc
    except UnicodeDecodeError as exc:  # no matter of fields either: UTF-16, Latin-1
        raise not_utf8(p, "the mutations table") from exc
    except UNREADABLE as exc:  # a damaged .gz (zlib.error) is no matter of fields
        raise unreadable(p, exc, "the mutations table") from exc
    if column not in table.columns:
        hint = next(
            (f"; name it with --mutant-column {c}" for c in table.columns if _mutant_like(c)),
            "; name the column of mutants with --mutant-column COL",
        )
        raise DataError(f"{p}: no '{column}' column (columns: {', '.join(table.columns)}){hint}")
    if not len(table):
        raise DataError(f"{p}: the table has a header but no rows; list one mutant per row")
    return table


def _mutant_like(name: str) -> bool:
    """A column that may well hold the mutants under another name (EVE's 'mutations')."""
    return name.strip().lower() in {"mutant", "mutants", "mutation", "mutations", "variant"}


def cmd_score(args: argparse.Namespace) -> int:
    from biovae.applications.variants import classes, family
    from biovae.data._columns import NA_TOKENS
    from biovae.data.writers import write_table

    out = check_output(args.out, TABLES)
    _check_draws(args.samples, args.seed)
    table = _read_mutants(args.mutations, args.mutant_column)
    if args.fitness_column and args.fitness_column not in table.columns:
        raise DataError(
            f"{args.mutations}: no column '{args.fitness_column}' for --fitness-column "
            f"(columns: {', '.join(table.columns)})"
        )
    classes.check_fraction(args.uncertain_fraction)  # before any work
    fitted = family.load(args.model)
    sampled = not args.mean_weights
    cols = fitted.score(list(table[args.mutant_column]), args.samples, args.seed, sampled)
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
    # the Spearman ρ that --fitness-column asks for is printed anyway (biovae.cli.notes)
    _print_unmapped(args, mutant, cols["status"], cols["reason"])
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
    if found is None:
        note(
            args,
            "note: too few or too uniform substitution scores for damaging/tolerated classes; "
            "the class columns are empty",
        )
    print_dropped(args, fitted.dropped_columns)
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


def _print_unmapped(args, mutant: np.ndarray, status: np.ndarray, reason: np.ndarray) -> None:
    bad = np.flatnonzero(status != "ok")
    if len(bad):
        first = bad[0]
        note(
            args,
            f"{len(bad)} of {len(mutant)} mutants could not be scored (see the 'reason' "
            f"column), e.g. {mutant[first]}: {reason[first]}",
        )
