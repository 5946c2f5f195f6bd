"""The argument parser class of ``biovae`` and of every subcommand (argparse makes each
subparser of its parent's class): argparse's loose ends, made strict and the same on every
Python version the package supports."""

from __future__ import annotations

import argparse
import difflib
import re
import sys

#: how a value that starts with '-' is told from a flag: any '-' followed by a digit (or '.'
#: and a digit) is a value, as Python 3.14 reads it; 3.10–3.13 took only -1 and -1.5, so
#: ``--lr -1e-3``, ``--beta -1,2`` or ``--positions -5--1`` were "expected one argument"
NEGATIVE_NUMBER = re.compile(r"-\.?\d")


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` that

    - takes flags only spelled in full: a prefix such as ``--lat`` would otherwise silently
      mean ``--latent``, and a flag added later could change what an old prefix means;
    - reports an argument it does not know itself, with its own usage (argparse hands a
      subcommand's leftovers to ``biovae``, whose usage lists no options) and the flag most
      like it: ``--latnet`` -> did you mean --latent?;
    - names the closest choice of a misspelt command or choice: ``fti`` -> did you mean 'fit'?;
    - reads a negative number of any form as a value (:data:`NEGATIVE_NUMBER`);
    - given nothing where a command is expected (``biovae``, ``biovae structure``), prints its
      help, commands included, and exits with status 2.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        if not args and self._subparsers is not None:
            self.print_help(sys.stderr)
            self.exit(2, f"{self.prog}: error: no command given; choose one of those above\n")
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:  # this parser's own leftovers: a subcommand's never reach the parent's
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._hint(extras)}")
        return namespace, extras

    def _hint(self, extras: list[str]) -> str:
        """``; did you mean --latent?`` for the unknown flags that resemble one of ours."""
        flags = [o for o in self._option_string_actions if o.startswith("--")]
        pairs = []
        for word in extras:
            name = word.split("=", 1)[0]
            if name.startswith("--") and (close := closest(name, flags, cutoff=0.75)):
                pairs.append((name, close))
        if not pairs:
            return ""
        if len(pairs) == 1:
            return f"; did you mean {pairs[0][1]}?"
        return "; did you mean " + ", ".join(f"{c} (for {w})" for w, c in pairs) + "?"

    def _check_value(self, action, value) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            close = closest(str(value), [str(c) for c in action.choices or ()])
            if close is None or "did you mean" in str(exc):  # newer argparse may say it too
                raise
            raise argparse.ArgumentError(
                action, f"{exc.message}; did you mean {close!r}?"
            ) from None


def closest(word: str, candidates: list[str], cutoff: float = 0.6) -> str | None:
    """The candidate ``word`` most resembles: the one it is a prefix of, else the most similar
    (difflib ratio >= ``cutoff``); None when none is close."""
    prefixed = [c for c in candidates if c.startswith(word)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(word, prefixed or candidates, n=1, cutoff=cutoff)
    return close[0] if close else None
