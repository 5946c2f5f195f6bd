"""The distributions that ``pip install`` gets: the wheel holds the package, its version and
command and the shipped data set, and nothing else; the sdist holds the whole test suite; the
build backend has nothing to warn about (a deprecation today is a failed build later)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import biovae
from tests.conftest import REPO

BUILD = (
    "from setuptools import build_meta as b; "
    "w, s = b.build_wheel('dist'), b.build_sdist('dist'); print('built:', w, s)"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel, sdist, build output) of a copy of the project (a build writes beside it)."""
    pytest.importorskip("setuptools", minversion="77", reason="pyproject's build requirement")
    root = tmp_path_factory.mktemp("pkg") / "biovae"
    junk = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.egg-info")
    for name in ("src", "tests"):
        shutil.copytree(REPO / name, root / name, ignore=junk)
    for name in ("pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"):
        shutil.copy2(REPO / name, root / name)
    done = subprocess.run(
        [sys.executable, "-c", BUILD], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = [line for line in done.stdout.splitlines() if line.startswith("built: ")][-1]
    wheel, sdist = last.split()[1:]
    return root / "dist" / wheel, root / "dist" / sdist, done.stdout + done.stderr


def test_the_build_backend_warns_of_nothing(built):
    assert "deprecated" not in built[2].lower(), built[2][-2000:]


def test_the_wheel_holds_the_package_its_command_and_data_and_nothing_else(built):
    names = zipfile.ZipFile(built[0]).namelist()
    info = f"biovae-{biovae.__version__}.dist-info"
    assert {n.split("/")[0] for n in names} == {"biovae", info}
    assert "biovae/datasets/pbmc68k_reduced/counts.tsv.gz" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(built[0]) as whl:
        metadata = whl.read(f"{info}/METADATA").decode()
        scripts = whl.read(f"{info}/entry_points.txt").decode()
    assert f"\nVersion: {biovae.__version__}\n" in metadata  # what `biovae --version` says
    assert "biovae = biovae.cli.main:main" in scripts


def test_the_sdist_holds_the_whole_test_suite(built):
    with tarfile.open(built[1]) as tar:
        names = {n.split("/", 1)[-1] for n in tar.getnames()}
    for path in REPO.joinpath("tests").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert str(path.relative_to(REPO)) in names


def _metadata(wheel) -> str:
    with zipfile.ZipFile(wheel) as whl:
        return whl.read(f"biovae-{biovae.__version__}.dist-info/METADATA").decode()


def test_the_wheel_is_marked_typed(built):
    # without the PEP 561 marker mypy refuses `import biovae` ("missing library stubs or
    # py.typed marker") and a user's checks of the estimator API see nothing
    assert "biovae/py.typed" in zipfile.ZipFile(built[0]).namelist()
    assert "Classifier: Typing :: Typed" in _metadata(built[0]).splitlines()


def test_the_classifiers_name_the_field_and_start_at_requires_python(built):
    lines = _metadata(built[0]).splitlines()
    classifiers = [line.removeprefix("Classifier: ") for line in lines if "Classifier: " in line]
    assert "Topic :: Scientific/Engineering :: Bio-Informatics" in classifiers
    # a License :: classifier beside License-Expression is refused by PyPI
    assert not [c for c in classifiers if c.startswith("License ::")]
    floor = next(line for line in lines if line.startswith("Requires-Python: "))
    versions = sorted(
        tuple(int(part) for part in c.rsplit(" ", 1)[1].split("."))
        for c in classifiers
        if c.startswith("Programming Language :: Python :: 3.")
    )
    assert versions, classifiers
    assert floor == "Requires-Python: >={}.{}".format(*versions[0])


def test_the_licences_travel_with_the_wheel(built):
    """MIT asks that its notice go with every copy, and the shipped PBMC data's BSD-3 licence
    that its text go with binary distributions: neither was in the wheel."""
    names = zipfile.ZipFile(built[0]).namelist()
    assert f"biovae-{biovae.__version__}.dist-info/licenses/LICENSE" in names
    assert "License-File: LICENSE" in _metadata(built[0]).splitlines()
    assert "biovae/datasets/pbmc68k_reduced/LICENSE" in names
