#!/usr/bin/env bash
# GPU check for a lent CUDA machine (not CI, not `make bench`): the whole test suite with a CUDA
# device visible, so its CUDA tests run, then command-line fits on the GPU that the CPU reloads,
# and torchrun's process checks. Results under OUT (suite.log, suite.xml, cli.log).
#
#   bash benchmarks/device_check.sh OUT
#
# Optional packages missing there travel as wheels in .whl/ (benchmarks/device_wheels.sh makes
# them; see benchmarks/RESULTS.md, "Training on a GPU"); the project runs from src/ without
# installing it.
set -u
OUT=${1:?usage: bash benchmarks/device_check.sh OUT}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())' \
    | tee "$OUT/versions.txt"
python3 -m pip list 2>/dev/null >>"$OUT/versions.txt"

# 1. the suite, 12 workers; CUDA tests are the ones that skip elsewhere
timeout 420 python3 -m pytest -n 12 -p no:cacheprovider -q -rfE --durations=25 \
    --junitxml="$OUT/suite.xml" \
    tests >"$OUT/suite.log" 2>&1
echo "suite exit $?"
tail -n 25 "$OUT/suite.log"

# 2. the command line on the GPU; every model comes back to the CPU for embed / score
W=$(mktemp -d)
run() { echo "\$ $*" >>"$OUT/cli.log"; "$@" >>"$OUT/cli.log" 2>&1; echo "exit $? : $*"; }
BIOVAE="python3 -m biovae"
H5=tests/fixtures/cellbench_100x200.h5ad
run $BIOVAE fit $H5 --likelihood nb --batch-key batch --epochs 40 --device cuda \
    --out "$W/nb" --report "$W/nb.html" --quiet
run $BIOVAE embed "$W/nb" $H5 --out "$W/nb_z.csv" --quiet
run $BIOVAE score "$W/nb" $H5 --out "$W/nb_score.csv" --quiet
run $BIOVAE fit $H5 --model ssvae --likelihood zinb --labels-key cell_line --batch-key batch \
    --epochs 40 --device cuda --out "$W/ss" --quiet
run $BIOVAE embed "$W/ss" $H5 --out "$W/ss_z.csv" --quiet
run $BIOVAE variants fit tests/fixtures/blat_ecolx_first40.a2m --steps 300 --ensemble 2 \
    --device cuda --out "$W/fam"
run $BIOVAE variants scan "$W/fam" --out "$W/scan.csv"
run $BIOVAE structure fit tests/fixtures/ubiquitin_2k39_ca_12.pdb --loss geometry --epochs 30 \
    --device cuda --out "$W/st" --quiet
head -c 400 "$W/scan.csv"; echo

# 3. torchrun: two processes want two GPUs under NCCL (a one-line error, exit 2, here with
# one); two CPU processes train with gloo
TR="python3 -m torch.distributed.run --standalone --nproc_per_node=2 -m biovae"
run $TR fit $H5 --likelihood nb --epochs 5 --device cuda --out "$W/ddp_cuda" --quiet
run $TR fit $H5 --likelihood nb --epochs 5 --device cpu --out "$W/ddp_cpu" --quiet
run python3 benchmarks/device_nccl_check.py
ls "$W" >>"$OUT/cli.log"
tail -n 40 "$OUT/cli.log"
