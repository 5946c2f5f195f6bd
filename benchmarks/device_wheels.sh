#!/usr/bin/env bash
# The optional packages a lent GPU machine lacks (it reaches no index), downloaded here as
# wheels for its Python (3.12, manylinux x86_64) into .whl/ (git-ignored), which
# device_check.sh installs there. Carry .whl with the run (about 56 MB).
#
#   bash benchmarks/device_wheels.sh [PIP]
#
# anndata 0.12 imports scverse_misc, and zarr 3 needs donfig, numcodecs and google-crc32c:
# all are here with --no-deps, because the machine's own numpy, scipy, h5py and torch stay.
set -eu
PIP=${1:-.venv/bin/pip}
"$PIP" download -q --only-binary=:all: --python-version 3.12 --implementation cp --no-deps \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 -d .whl \
    anndata==0.12.19 scverse-misc session-info2 pandas==2.3.3 pytz tzdata zarr==3.1.6 \
    numcodecs==0.16.6 donfig google-crc32c array-api-compat legacy-api-wrap natsort \
    gemmi==0.7.5 MDAnalysis==2.11.0 mmtf-python GridDataFormats mda-xdrlib fasteners \
    biom-format==2.1.18
ls .whl
