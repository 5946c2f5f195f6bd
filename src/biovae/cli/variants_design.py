"""``biovae variants design``: multi-mutants of the focus ranked by the family model, screened
before they are written (see :mod:`biovae.applications.variants.design`)."""

from __future__ import annotations

import argparse

from biovae.cli.io import check_output
from biovae.cli.notes import add_quiet, note
from biovae.cli.screen_opts import add_screen_options, screened, screens
from biovae.errors import ConfigError

TABLES = (".csv", ".tsv")


def add_design_parser(actions) -> None:
    p = actions.add_parser(
        "design",
        help="multi-mutants of the focus that the model rates best (beam search on Δ ELBO)",
        description="Design multi-mutants of the focus: round 1 scores every substitution, "
        "each later round adds one of the best POOL substitutions to each of the BEAM best "
        "designs and scores the combinations exactly (epistasis included).",
        epilog="examples:\n"
        "  biovae variants design blat_variants -k 3 --out designs.csv --fasta designs.fasta\n"
        "  biovae variants design blat_variants -k 2 --positions 100-130,237 --beam 20 "
        "--out d.csv --screen-against concern.fasta\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--out", required=True, metavar="FILE", help=".csv or .tsv (best first)")
    p.add_argument("-k", type=int, default=3, metavar="K", help="mutations per design (3)")
    p.add_argument(
        "--beam", type=int, default=50, metavar="BEAM", help="designs kept per round (50)"
    )
    p.add_argument(
        "--pool", type=int, default=100, metavar="POOL", help="best single substitutions used (100)"
    )
    p.add_argument(
        "--positions",
        metavar="LIST",
        help="residue numbers to mutate, e.g. 40-60,72 or -5--1 (ranges: their match columns)",
    )
    p.add_argument(
        "--fasta",
        metavar="FILE",
        help="also write the designs as FASTA: the whole focus (inserts included) with the "
        "substitutions",
    )
    add_elbo_options(p, "variational decoders: score with the posterior-mean weights")
    add_quiet(p)
    add_screen_options(p)
    p.set_defaults(func=cmd_design)


def add_elbo_options(p: argparse.ArgumentParser, mean_weights_help: str) -> None:
    """--samples, --seed and --mean-weights: how the actions that score mutants draw ELBOs."""
    p.add_argument("--samples", type=int, default=50, metavar="S", help="z samples per ELBO (50)")
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the z and weight draws (0)"
    )
    p.add_argument("--mean-weights", action="store_true", help=mean_weights_help)


def parse_positions(text: str | None, match: tuple[int, ...]) -> tuple[int, ...] | None:
    """``"40-60,72"`` → the match columns among residues 40..60, and 72 (which must be one)."""
    if text is None:
        return None
    out: list[int] = []
    for part in text.split(","):
        # a '-' after the first character joins a range: "-5--1" is -5 to -1
        lo, dash, hi = part.strip()[1:].partition("-")
        lo = part.strip()[:1] + lo
        first, last = _number(lo, text), _number(hi, text) if dash else None
        if last is None:
            out.append(first)  # checked against the match columns by design()
            continue
        if last < first:
            raise ConfigError(
                f"--positions {part.strip()}: a range runs from the lower residue number to the "
                f"higher; write {last}-{first}"
            )
        inside = [p for p in match if first <= p <= last]
        if not inside:
            raise ConfigError(
                f"--positions {part.strip()}: no match column of the model's focus there "
                f"(match columns {match[0]}–{match[-1]})"
            )
        out.extend(inside)
    return tuple(out)


def _number(text: str, whole: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"--positions {whole!r}: expected residue numbers and ranges, e.g. 40-60,72"
        ) from None


def cmd_design(args: argparse.Namespace) -> int:
    from biovae.applications.variants import family
    from biovae.applications.variants.design import DesignSettings, design
    from biovae.data.writers import write_fasta, write_table

    out = check_output(args.out, TABLES)
    fasta = check_output(args.fasta, (".fasta", ".fa", ".faa", ".fna")) if args.fasta else None
    fitted = family.load(args.model)
    # ranges keep the match columns that hold a focus residue (a gap has none to substitute)
    residues = [p for p, a in zip(fitted.positions, fitted.focus_sequence) if a != "-"]
    positions = parse_positions(args.positions, tuple(residues))
    settings = DesignSettings(args.k, args.beam, args.pool, positions, args.samples, args.seed)
    chosen = screens(args, True, fitted.alphabet)  # checked before any scoring
    table = design(fitted, settings, sampled_weights=not args.mean_weights)
    ids = [f"design_{i + 1}" for i in range(len(table["mutant"]))]
    keep = screened(args, out, ids, list(table["sequence"]), chosen)
    kept_ids = [ids[i] for i in keep]
    write_table(out, kept_ids, {k: v[keep] for k, v in table.items()}, id_name="design")
    if fasta:
        desc = [f"{table['mutant'][i]} score={table['score'][i]:.3f}" for i in keep]
        write_fasta(fasta, kept_ids, list(table["sequence"][keep]), descriptions=desc)
        print(fasta)
    if len(keep):
        best = int(keep[0])
        note(
            args,
            f"best design {table['mutant'][best]}: Δ ELBO {table['score'][best]:.3f} "
            f"± {table['se'][best]:.3f}",
        )
    print(out)
    return 0
