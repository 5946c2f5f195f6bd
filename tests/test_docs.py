"""The repository's documents against what they describe: benchmarks/README.md documents every
benchmark that ``make bench`` runs (skipped where the repository is not at hand, e.g. an sdist)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO


def test_every_benchmark_of_make_bench_has_a_section_in_benchmarks_readme():
    makefile, readme = REPO / "Makefile", REPO / "benchmarks" / "README.md"
    if not (makefile.exists() and readme.exists()):
        pytest.skip("no Makefile or benchmarks/README.md beside the tests")
    target = makefile.read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    scripts = set(re.findall(r"benchmarks/(\w+\.py)", target))
    headed = set(re.findall(r"^## `(\w+\.py)`", readme.read_text(), flags=re.MULTILINE))
    assert scripts and not scripts - headed, f"no section for {sorted(scripts - headed)}"


def test_every_fit_config_key_has_a_flag_or_is_named_in_the_readme():
    import dataclasses

    from biovae.cli.options import DATA_FLAGS, FIT_OPTIONS
    from biovae.config import FitConfig

    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("no README.md beside the tests")
    text = readme.read_text(encoding="utf-8")
    flagged = {o.field for o in FIT_OPTIONS} | {f"data.{name}" for _, name, _ in DATA_FLAGS}

    def keys(cls, prefix=""):
        for f in dataclasses.fields(cls):
            table = f.default_factory
            if table is not dataclasses.MISSING and dataclasses.is_dataclass(table):
                yield from keys(table, f"{prefix}{f.name}.")
            else:
                yield prefix + f.name

    def named(key):  # in full, or its last part next to its table's full name (`a.b`, `c`)
        table, _, leaf = key.rpartition(".")
        return f"`{key}`" in text or re.search(rf"`{re.escape(table)}\.\w+`[^.]*`{leaf}`", text)

    missing = [k for k in keys(FitConfig) if k not in flagged and not named(k)]
    assert not missing, f"config keys with no flag and no word in README.md: {missing}"


def _readme() -> str:
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("no README.md beside the tests")
    return readme.read_text(encoding="utf-8")


def _code_blocks(text: str, languages: tuple[str, ...]) -> list[str]:
    """The fenced code blocks of ``text`` whose info string is one of ``languages``."""
    blocks, lines, language = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if lines is None:
                lines, language = [], line[3:].strip()
            else:
                if language in languages:
                    blocks.append("\n".join(lines))
                lines = None
        elif lines is not None:
            lines.append(line)
    return blocks


def _command_lines(text: str) -> list[str]:
    """The arguments of every ``biovae ...`` (or ``torchrun ... -m biovae ...``) line of
    ``text``, backslash continuations joined."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        match = re.match(r"(?:biovae|torchrun .*?-m biovae) (.*)", line)
        if match:
            found.append(match.group(1))
    return found


def _subparsers(parser, prefix=""):
    import argparse

    yield prefix.strip(), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{prefix}{name} ")


def _refusal(argv: list[str]) -> str | None:
    """None when the real parser accepts ``argv`` with every flag spelled in full (argparse
    would take ``--iwae`` for ``fit --iwae-samples``), else why not."""
    import argparse
    import contextlib
    import io

    from biovae.cli.parser import build_parser

    err, parser = io.StringIO(), build_parser()
    try:
        with contextlib.redirect_stderr(err):
            parser.parse_args(argv)
    except SystemExit:
        return (err.getvalue().strip().splitlines() or ["refused"])[-1]
    for word in argv:  # the (sub)command's own parser: its flags, not abbreviations of them
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
    own = {o for a in parser._actions for o in a.option_strings}
    inexact = [w for w in argv if w.startswith("--") and w.split("=")[0] not in own]
    return f"not flags of {parser.prog!r} as written: {inexact}" if inexact else None


def test_every_command_line_in_readme_code_blocks_parses():
    import shlex

    lines = [c for b in _code_blocks(_readme(), ("", "bash")) for c in _command_lines(b)]
    assert len(lines) > 40  # the blocks are found at all
    refused = {c: r for c in lines if (r := _refusal(shlex.split(c, comments=True)))}
    assert not refused, f"README command lines the parser refuses: {refused}"


def test_every_command_has_help_examples_that_parse():
    import shlex

    from biovae.cli.parser import build_parser

    refused, bare = {}, []
    for name, parser in _subparsers(build_parser()):
        examples = _command_lines(parser.epilog or "")
        if not examples and name not in ("structure", "variants"):
            bare.append(name or "biovae")
        for c in examples:
            if reason := _refusal(shlex.split(c, comments=True)):
                refused[f"{name}: {c}"] = reason
    assert not bare, f"commands whose --help shows no example: {bare}"
    assert not refused, f"--help examples the parser refuses: {refused}"


def test_every_flag_named_in_readme_exists():
    from biovae.cli.parser import build_parser

    parsers = [p for _, p in _subparsers(build_parser())]
    flags = {o for p in parsers for a in p._actions for o in a.option_strings}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", _readme())) - {"--nproc"}  # torchrun's
    assert not named - flags, f"README names flags no command has: {sorted(named - flags)}"


def test_readme_config_file_example_is_a_valid_config(tmp_path):
    from biovae.config import FitConfig
    from biovae.config_io import from_dict, load_toml

    (block,) = _code_blocks(_readme(), ("toml",))
    path = tmp_path / "settings.toml"
    path.write_text(block, encoding="utf-8")
    cfg = from_dict(FitConfig, load_toml(path))
    assert cfg.model.likelihood.name == "nb" and cfg.data.categorical_covariates == ("donor",)


def test_every_biovae_name_in_readme_resolves():
    import importlib

    def resolve(dotted: str):
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for part in parts[i:]:
                obj = getattr(obj, part)
            return obj
        raise ImportError(dotted)

    missing = []
    for dotted in sorted(set(re.findall(r"\bbiovae(?:\.[A-Za-z_]\w*)+", _readme()))):
        try:
            resolve(dotted)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert not missing, f"README names that do not exist: {missing}"
