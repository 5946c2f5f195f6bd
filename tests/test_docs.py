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
