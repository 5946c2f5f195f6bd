"""``biovae --help``, every command's ``--help`` and argparse's errors answer without loading
the model stack or the data layer: building the parser imports no torch, pandas, scipy,
anndata, matplotlib or scikit-learn (each command imports them when it runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import biovae

HEAVY = ("torch", "pandas", "scipy", "anndata", "matplotlib", "sklearn")

#: run in a fresh interpreter: build the parser, ask every command (and action) for --help,
#: make a few argparse errors, then list the exit statuses and the heavy packages loaded
SCRIPT = """
import contextlib, io, json, sys
from biovae.cli.main import main
from biovae.cli.parser import build_parser

def walk(parser, path):
    yield path
    for action in parser._actions:
        for name, sub in getattr(action, "_name_parser_map", {}).items():
            yield from walk(sub, [*path, name])

cases = [[*path, "--help"] for path in walk(build_parser(), [])]
cases += [[], ["fti"], ["fit"], ["fit", "d.tsv", "--out", "m", "--latnet", "3"],
          ["variants", "scn"], ["structure"], ["score", "m", "d", "--out", "s.csv", "--iwae", "x"]]
status = {}
for argv in cases:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            status[" ".join(argv)] = main(argv)
        except SystemExit as exc:
            status[" ".join(argv)] = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"status": status, "heavy": heavy}))
""".replace("HEAVY", repr(HEAVY))


def _run_fresh(code: str) -> dict:
    src = str(Path(biovae.__file__).resolve().parents[1])  # this checkout's package first
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_help_and_argument_errors_load_no_heavy_package() -> None:
    result = _run_fresh(SCRIPT)
    status = result["status"]
    helps = {argv: rc for argv, rc in status.items() if argv.endswith("--help")}
    assert {"fit --help", "structure fit --help", "variants scan --help"} <= set(helps)
    assert len(helps) >= 20 and set(helps.values()) == {0}, helps
    errors = {argv: rc for argv, rc in status.items() if argv not in helps}
    assert len(errors) == 7 and set(errors.values()) == {2}, errors
    assert result["heavy"] == [], f"building the parser imported {result['heavy']}"


def test_default_config_loads_no_torch() -> None:
    """The parser states FitConfig's defaults in its help: building them (train.device 'cpu'
    is checked) must not import torch."""
    code = (
        "import json, sys; from biovae.config import FitConfig; from biovae.structure_config "
        "import STRUCTURE_DEFAULTS; FitConfig(); print(json.dumps({'heavy': 'torch' in "
        "sys.modules}))"
    )
    assert _run_fresh(code) == {"heavy": False}
