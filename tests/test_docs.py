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
