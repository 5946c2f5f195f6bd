"""``biovae screen --kind`` and ``--screen-max-ambiguous``: a silk-like protein made of IUPAC
nucleotide codes is screened as declared, and bad settings stop the run with nothing written."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from biovae.cli.screen_opts import screens
from biovae.data.sequences import DNA, PROTEIN
from tests.cli._run import run

SILK = "GAGAGS" * 15  # S is IUPAC C/G: read as DNA, 1 in 6 letters is an ambiguity code


@pytest.fixture
def files(tmp_path):
    toxin = "".join(np.random.default_rng(0).choice(list("ACDEFGHIKLMNPQRSTVWY"), 60))
    (tmp_path / "ref.fasta").write_text(f">toxin\n{toxin}\n")
    (tmp_path / "s.fasta").write_text(f">silk\n{SILK}\n>copy\n{toxin}\n")
    return tmp_path


def _verdicts(path) -> dict[str, tuple[str, str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return {r[0]: (r[1], r[3]) for r in rows}


def _screen(capsys, files, *extra):
    out = files / "v.tsv"
    out.unlink(missing_ok=True)  # each run's own verdicts, or none
    args = ["screen", files / "s.fasta", "--screen-against", files / "ref.fasta", "--out", out]
    rc, _, err = run(capsys, *args, *extra)
    return rc, err, (_verdicts(out) if out.exists() else None)


def test_a_declared_protein_is_not_read_as_ambiguous_dna(files, capsys):
    rc, _, auto = _screen(capsys, files)
    assert rc == 0 and auto["silk"][0] == "yes" and auto["silk"][1].startswith("ambiguous: ")
    rc, _, protein = _screen(capsys, files, "--kind", "protein")
    assert rc == 0 and protein["silk"] == ("no", "")
    assert protein["copy"][0] == "yes" and "100% identity over 17 aa" in protein["copy"][1]
    rc, err, written = _screen(capsys, files, "--kind", "dna")  # 'copy' has protein letters
    assert rc == 2 and "sequence 'copy' holds" in err and "--kind dna" in err
    assert written is None


def test_the_ambiguity_share_is_an_option(files, capsys):
    rc, _, loose = _screen(capsys, files, "--screen-max-ambiguous", 0.2)  # silk: 1 in 6
    assert rc == 0 and loose["silk"] == ("no", "") and loose["copy"][0] == "yes"
    for bad in (0, 1.5):
        rc, err, written = _screen(capsys, files, "--screen-max-ambiguous", bad)
        assert rc == 2 and "share in (0, 1]" in err and written is None
    out = files / "v.tsv"
    command = ["screen", files / "s.fasta", "--screen-command", "s {fasta} {out}", "--out", out]
    rc, _, err = run(capsys, *command, "--screen-max-ambiguous", 0.2)
    assert rc == 2 and "--screen-max-ambiguous applies to --screen-against" in err
    rc, _, err = run(capsys, *command, "--kind", "protein")
    assert rc == 2 and "--kind applies to --screen-against" in err and not out.exists()


def test_sampling_takes_the_kind_from_the_models_alphabet(files):
    """``biovae sample`` and ``variants design`` pass the model's alphabet: no guessing."""
    args = argparse.Namespace(
        screen_against=str(files / "ref.fasta"),
        screen_window=None,
        screen_identity=None,
        screen_max_ambiguous=None,
        screen_command=None,
        screen_timeout=None,
    )
    assert screens(args, True, PROTEIN)[0].sample_kind == "protein"
    assert screens(args, True, DNA)[0].sample_kind == "nucleotide"
    assert screens(args, True)[0].sample_kind is None
    assert screens(args, True, PROTEIN)[0](["silk"], [SILK])[0].flagged is False
