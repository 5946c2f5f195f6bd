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


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield " ".join(path), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_option_has_help_and_names_its_value() -> None:
    """`audit --covariates`, many a `--seed` had no help, and `de --delta DELTA`,
    `sample -n N` showed argparse's upper-cased dest where a metavar belongs."""
    missing = []
    for command, action in _options(build_parser()):
        if action.dest in ("help", "version"):
            continue
        name = f"{command} {action.option_strings[0]}"
        if not (action.help or "").strip():
            missing.append(f"{name}: no help")
        takes_value = action.nargs != 0
        if takes_value and action.choices is None and action.metavar is None:
            missing.append(f"{name}: no metavar")
    assert not missing, missing


def test_a_help_text_names_only_options_its_command_has() -> None:
    """`sweep --patience` named --kl-warmup and `embed --allow-missing` --likelihood, which
    neither command has; another command's flag is named with it (`fit --bayesian`)."""
    import re

    tree = list(_parsers(build_parser()))
    commands = {word for path, _ in tree for word in path.split()}
    wrong = []
    for command, parser in tree:
        own = set(parser._option_string_actions)
        for action in parser._actions:
            for m in re.finditer(r"(\S+\s)?(--[a-z][a-z0-9-]*)", action.help or ""):
                before = (m.group(1) or "").strip().lstrip("(")
                if m.group(2) not in own and before not in commands:
                    wrong.append(f"{command} {action.option_strings or action.dest}: {m[0]}")
    assert not wrong, wrong
