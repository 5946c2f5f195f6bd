"""The ``--quiet`` contract of every ``biovae`` command, in one place.

Without ``--quiet`` a command may draw progress bars and print notes and summaries on stderr.
With it, stderr carries only warnings (``biovae: warning: ...``), errors and a number an
option explicitly asks to be printed (``variants score --fitness-column``'s Spearman ρ); stdout
carries, with or without it, only the command's result: the path of each file it was told to
write, one per line (``structure validate`` without ``--out``: its table of numbers)."""

from __future__ import annotations

import argparse
import sys

QUIET_HELP = (
    "no progress bars, notes or summaries on stderr (warnings and errors still are); stdout "
    "holds only the path of each output written, one per line"
)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` the ``--quiet`` flag of the contract above."""
    parser.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def note(args: argparse.Namespace, message: str) -> None:
    """Print a note or a human summary on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)
