"""``--help`` of every command states the defaults its options really have."""

from __future__ import annotations

import argparse

from biovae.cli.parser import build_parser


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.option_strings and action.dest != "help":
            yield " ".join(path), action


def test_every_option_with_a_default_states_it() -> None:
    silent = []
    for command, action in _options(build_parser()):
        default = action.default
        if default in (None, False, argparse.SUPPRESS) or default == [] or default == 0:
            continue  # nothing to state: off, empty, or the seed 0
        text = action.help or ""
        if str(default) not in text and "default" not in text:
            silent.append(f"{command} {action.option_strings[0]} (default {default!r})")
    assert not silent, silent


def test_an_abbreviated_flag_is_refused_not_read_as_another() -> None:
    """`biovae fit --iwae 5` silently set --iwae-samples (argparse takes unique prefixes)."""
    import pytest

    parser = build_parser()
    for argv in (["fit", "d.csv", "--out", "m", "--iwae", "5"], ["score", "m", "d", "--ou", "x"]):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(argv)
        assert stop.value.code == 2
    assert parser.parse_args(["fit", "d.csv", "--out", "m", "--iwae-samples", "5"])
