"""The ``--quiet`` contract of every ``biovae`` command, in one place.

Without ``--quiet`` a command may draw progress bars and print notes and summaries on stderr.
With it, stderr carries only warnings (``biovae: warning: ...``), errors and a number an
option explicitly asks to be printed (``variants score --fitness-column``'s Spearman ρ); stdout
carries, with or without it, only the command's result: the path of each file it was told to
write, one per line (``structure validate`` without ``--out``: its table of numbers):
:func:`print_paths`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def print_paths(*paths: str | Path) -> None:
    """Print the path of each output written on stdout, one per line, in the order written:
    the command's result, with or without ``--quiet``."""
    for path in paths:
        print(path)
