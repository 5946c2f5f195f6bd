"""``biovae sample``'s screening of generated sequences (see
:mod:`biovae.applications.design.screening`): the options, and the withheld/kept split."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from biovae.cli.notes import note
from biovae.errors import ConfigError, DataError

UNSCREENED = (
    "note: these sequences were not screened for sequences of concern; before any synthesis "
    "screen them (--screen-against FASTA or --screen-command CMD)"
)


#: what the screening options do for a command that generates sequences
GENERATED = (
    "Sequences flagged by a screen are withheld from --out; every verdict goes to "
    "OUT with its suffix replaced by .screening.tsv (designs.fasta -> designs.screening.tsv). "
    "A screen that fails stops the run, nothing written."
)


def add_screen_options(
    parser: argparse.ArgumentParser,
    title: str = "screening (sequence models)",
    description: str = GENERATED,
) -> None:
    """The screening options as a group (``title``, ``description``: what they do here)."""
    g = parser.add_argument_group(title, description)
    g.add_argument(
        "--screen-against",
        metavar="FASTA",
        help="sequences of concern (yours): flag samples with a window at >= --screen-identity",
    )
    g.add_argument(
        "--screen-window",
        type=int,
        metavar="W",
        help="window in letters (default 50 nt, or 17 aa for proteins and translated DNA)",
    )
    g.add_argument(
        "--screen-identity", type=float, metavar="P", help="identity of a match (default 0.8)"
    )
    g.add_argument(
        "--screen-max-ambiguous",
        type=float,
        metavar="SHARE",
        help="flag a sample as ambiguous when a window of it holds over SHARE ambiguity "
        "letters (N, R, ...; X), in (0, 1] (default 0.1)",
    )
    g.add_argument(
        "--screen-command",
        metavar="CMD",
        help="external screen: 'prog {fasta} {out}' writes a TSV with id and flagged columns",
    )
    g.add_argument(
        "--screen-timeout",
        type=float,
        metavar="SECONDS",
        help="stop --screen-command (and the run, nothing written) after SECONDS (default 600)",
    )


def screens(args: argparse.Namespace, sequences: bool, alphabet: str | None = None) -> list:
    """The screens the options ask for (checked before any sampling); ``sequences``: whether
    the records to screen are sequences (screening options are refused otherwise);
    ``alphabet``: the generating model's (or the declared ``--kind``'s), which tells the
    samples' kind."""
    from biovae.applications.design.screening import TIMEOUT, CommandScreen, ReferenceScreen
    from biovae.applications.design.sequence_kinds import kind

    out = []
    if args.screen_against:
        path = Path(args.screen_against)
        if not path.is_file():
            raise ConfigError(f"--screen-against {path}: no such file")
        given = {"identity": args.screen_identity, "max_ambiguous": args.screen_max_ambiguous}
        settings = {k: v for k, v in given.items() if v is not None}
        sample_kind = None if alphabet is None else kind(alphabet)  # the model's letters
        out.append(ReferenceScreen(path, args.screen_window, sample_kind=sample_kind, **settings))
    else:
        for flag in ("window", "identity", "max_ambiguous"):
            if getattr(args, f"screen_{flag}") is not None:
                name = flag.replace("_", "-")
                raise ConfigError(f"--screen-{name} applies to --screen-against; give that too")
    if args.screen_command:
        timeout = TIMEOUT if args.screen_timeout is None else args.screen_timeout
        out.append(CommandScreen(args.screen_command, timeout))
    elif args.screen_timeout is not None:
        raise ConfigError("--screen-timeout applies to --screen-command; give that too")
    if out and not sequences:
        raise ConfigError(
            "screening applies to sequence models; this model's samples are table rows"
        )
    return out


def check_fasta_ids(source: str, ids, out: Path, chosen: list) -> None:
    """Refuse ids (the ``--obs`` rows' of ``source``) that a FASTA header cannot hold when they
    name FASTA records: those of ``out``, or those a screening command reads (``chosen``) —
    checked before any sampling, so that nothing is written."""
    from biovae.applications.design.screening import CommandScreen

    fasta = not out.name.lower().removesuffix(".gz").endswith((".csv", ".tsv"))
    if not fasta and not any(isinstance(s, CommandScreen) for s in chosen):
        return
    for row, rid in enumerate(map(str, ids), start=1):
        if not rid or any(c.isspace() for c in rid):
            raise DataError(
                f"{source}: row {row} has the id {rid!r}, which cannot name a FASTA record "
                f"(empty or with whitespace); rename it, e.g. {'_'.join(rid.split()) or 'x'!r}"
            )


def verdict_path(out: Path) -> Path:
    """``designs.fasta`` → ``designs.screening.tsv`` (beside it)."""
    name = out.name[:-3] if out.name.lower().endswith(".gz") else out.name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return out.with_name(stem + ".screening.tsv")


def screened(
    args: argparse.Namespace, out: Path, ids: list[str], seqs: list[str], chosen: list
) -> np.ndarray:
    """Indices of the records that pass every screen; writes the verdict table. Without
    screens every record passes and a note says so."""
    if not chosen:
        _drop_stale_verdicts(verdict_path(out), args)
        note(args, UNSCREENED)
        return np.arange(len(ids))
    from biovae.applications.design.screening import screen_sequences

    table = verdict_path(out)
    flagged = write_verdicts(table, ids, screen_sequences(ids, seqs, chosen))
    note(
        args,
        f"screening: {int(flagged.sum())} of {len(ids)} sequences flagged and withheld; "
        f"verdicts in {table}",
    )
    return np.flatnonzero(~flagged)


def _drop_stale_verdicts(table: Path, args: argparse.Namespace) -> None:
    """Remove the verdict table an earlier screened run wrote beside ``out``: the unscreened
    records replacing that run's would otherwise sit beside "flagged: no" for ids they share."""
    if not table.is_file():
        return
    table.unlink()
    note(args, f"removed {table}: it held an earlier run's verdicts")


def write_verdicts(path: Path, ids: list[str], verdicts: list) -> np.ndarray:
    """The verdict table (id, flagged yes/no, screen, reason); returns the flagged mask."""
    from biovae.data.writers import write_table

    flagged = np.array([v.flagged for v in verdicts], dtype=bool)
    write_table(
        path,
        ids,
        {
            "flagged": np.where(flagged, "yes", "no").astype(object),
            "screen": np.array([v.screen for v in verdicts], dtype=object),
            "reason": np.array([v.reason for v in verdicts], dtype=object),
        },
    )
    return flagged
