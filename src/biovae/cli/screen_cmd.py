"""``biovae screen``: screen any FASTA of sequences (generated here or elsewhere) for
sequences of concern, with the screens of ``biovae sample`` (see
:mod:`biovae.applications.design.screening`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from biovae.cli.io import check_output
from biovae.cli.notes import note
from biovae.cli.screen_opts import add_screen_options, screens, write_verdicts
from biovae.errors import ConfigError, DataError, MissingFileError

FASTA = (".fasta", ".fa", ".faa", ".fna")


def add_screen_parser(sub, make) -> None:
    p = make(
        sub,
        "screen",
        "Screen the sequences of a FASTA file for sequences of concern; write every verdict.",
        "  biovae screen designs.fasta --screen-against concern.fasta --out verdicts.tsv\n"
        "  biovae screen designs.fasta --screen-command 'my_screen {fasta} {out}' "
        "--out verdicts.tsv --passed ok.fasta\n",
    )
    p.add_argument(
        "sequences", metavar="FASTA", help="sequences (unaligned or aligned; gaps dropped)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="verdict table, .tsv or .csv")
    p.add_argument("--passed", metavar="FILE", help="also write the unflagged records as FASTA")
    p.add_argument(
        "--kind",
        choices=("auto", "protein", "dna"),
        default="auto",
        help="what the sequences are, for --screen-against: auto (default) classes each by its "
        "letters, and compares one made only of nucleotide codes with ambiguity letters (a "
        "GAGAGS silk, a GGGGS linker) both ways; declare protein or dna to compare them so only",
    )
    add_screen_options(
        p,
        "screening",
        "Every record's verdict goes to --out; --passed holds the records no screen flagged. "
        "A screen that fails stops the run, nothing written.",
    )
    p.set_defaults(func=cmd_screen)


def cmd_screen(args: argparse.Namespace) -> int:
    from biovae.applications.design.screening import screen_sequences
    from biovae.data.fasta import read_fasta_records
    from biovae.data.sequences import NAMED
    from biovae.data.writers import write_fasta

    out = check_output(args.out, (".tsv", ".csv"))
    passed = check_output(args.passed, FASTA) if args.passed else None
    if args.kind != "auto" and not args.screen_against:
        raise ConfigError("--kind applies to --screen-against; give that too")
    alphabet = None if args.kind == "auto" else NAMED[args.kind]  # the declared letters
    chosen = screens(args, sequences=True, alphabet=alphabet)
    if not chosen:
        raise ConfigError("give a screen: --screen-against FASTA and/or --screen-command CMD")
    path = Path(args.sequences)
    if not path.is_file():
        raise MissingFileError(f"{path}: file not found; check the path")
    records = read_fasta_records(path)
    try:
        verdicts = screen_sequences(records.ids, records.seqs, chosen)
    except DataError as exc:  # the records' problems, named by their file
        raise DataError(f"{path}: {exc}") from None
    flagged = write_verdicts(out, records.ids, verdicts)
    if passed:
        keep = np.flatnonzero(~flagged)
        write_fasta(passed, [records.ids[i] for i in keep], [records.seqs[i] for i in keep])
        print(passed)
    flags = f"{int(flagged.sum())} of {len(flagged)} sequences flagged"
    note(args, f"screening: {flags}; verdicts in {out}")
    print(out)
    return 0
