"""What ``biovae`` says about a command line it cannot take: the command that met the problem,
its usage, the closest flag or command, status 2 (see :mod:`biovae.cli.argparser`)."""

from __future__ import annotations

import re

import pytest

from biovae.cli.argparser import closest
from biovae.cli.parser import build_parser
from tests.cli._run import run


@pytest.mark.parametrize(
    ("argv", "command", "said"),
    [
        (
            ["fit", "d.tsv", "--out", "m", "--latnet", "3"],
            "fit",
            "--latnet 3; did you mean --latent?",
        ),
        (["fit", "d.tsv", "--out", "m", "--lat", "3"], "fit", "--lat 3; did you mean --latent?"),
        (["fit", "d.tsv", "--out", "m", "--epoch=3"], "fit", "--epoch=3; did you mean --epochs?"),
        (
            ["variants", "fit", "a.a2m", "--out", "m", "--ensamble", "3"],
            "variants fit",
            "--ensamble 3; did you mean --ensemble?",
        ),
        (
            ["structure", "sample", "m", "-n", "2", "--out", "s.pdb", "--sed", "1"],
            "structure sample",
            "--sed 1; did you mean --seed?",
        ),
    ],
)
def test_an_unknown_flag_is_reported_by_its_command_with_the_closest_flag(
    capsys, argv, command, said
):
    """The error came from `biovae`, with its usage (no options listed), and named no flag."""
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and not out
    assert err.startswith(f"usage: biovae {command} [-h]")
    assert err.endswith(f"\nbiovae {command}: error: unrecognized arguments: {said}\n")


def test_a_flag_of_another_command_is_not_matched_to_an_unrelated_one(capsys):
    rc, _, err = run(capsys, "embed", "m", "d.tsv", "--out", "z.csv", "--latent", "3")
    assert rc == 2 and err.startswith("usage: biovae embed [-h]")
    assert err.rstrip().endswith("biovae embed: error: unrecognized arguments: --latent 3")


def test_several_unknown_flags_each_get_their_closest(capsys):
    rc, _, err = run(capsys, "fit", "d.tsv", "--out", "m", "--iwae", "3", "--epoch", "3")
    assert rc == 2
    assert "did you mean --iwae-samples (for --iwae), --epochs (for --epoch)?" in err


def test_a_surplus_positional_is_reported_by_its_command(capsys):
    rc, _, err = run(capsys, "fit", "d.tsv", "extra", "--out", "m")
    assert rc == 2 and "biovae fit: error: unrecognized arguments: extra\n" in err


@pytest.mark.parametrize(
    ("argv", "prog", "meant"),
    [
        (["fti"], "biovae", "fit"),
        (["variants", "sacn", "m"], "biovae variants", "scan"),
        (
            ["structure", "fit", "x.pdb", "--out", "m", "--loss", "geomtery"],
            "biovae structure fit",
            "geometry",
        ),
    ],
)
def test_a_misspelt_command_or_choice_names_the_closest(capsys, argv, prog, meant):
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and f"{prog}: error: argument " in err
    assert err.rstrip().endswith(f"; did you mean '{meant}'?")


@pytest.mark.parametrize(
    ("argv", "listed"),
    [([], ("fit", "structure", "variants")), (["structure"], ("sample", "interpolate"))],
)
def test_no_command_prints_the_commands_and_exits_2(capsys, argv, listed):
    """`biovae` alone printed one usage line and 'the following arguments are required:
    COMMAND', naming none of the commands."""
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and not out
    assert "examples:" in err and all(re.search(rf"\n    {name}\s", err) for name in listed)
    assert (
        err.rstrip().splitlines()[-1].endswith("error: no command given; choose one of those above")
    )


def test_help_and_version_still_exit_0(capsys):
    assert run(capsys, "--version")[0] == 0
    for argv in (["--help"], ["structure", "--help"], ["variants", "design", "--help"]):
        rc, out, _ = run(capsys, *argv)
        assert rc == 0 and out.startswith("usage: biovae")


@pytest.mark.parametrize(
    ("argv", "dest", "value"),
    [
        (["fit", "d.tsv", "--out", "m", "--lr", "-1e-3"], "cfg__train__lr", -1e-3),
        (["fit", "d.tsv", "--out", "m", "--beta", "-.5"], "cfg__objective__beta", -0.5),
        (["sweep", "d.tsv", "--out", "r", "--beta", "-1,2"], "betas", "-1,2"),
        (
            ["variants", "design", "m", "--out", "d.csv", "--positions", "-5--1"],
            "positions",
            "-5--1",
        ),
    ],
)
def test_a_negative_value_of_any_form_is_a_value(argv, dest, value):
    """Python 3.10-3.13 took only -1 and -1.5 for values: `--lr -1e-3` was 'expected one
    argument' (so the range check never spoke), `--positions -5--1` needed '='."""
    assert getattr(build_parser().parse_args(argv), dest) == value


def test_a_negative_learning_rate_is_refused_by_its_range_check(capsys):
    rc, _, err = run(capsys, "fit", "d.tsv", "--out", "m", "--lr", "-1e-3")
    assert rc == 2 and err == "biovae fit: error: train.lr must be > 0 (from option --lr)\n"


def test_a_nested_command_error_names_the_whole_command(tmp_path, capsys):
    """It said `biovae variants: error:` where argparse's own errors say `biovae variants scan`."""
    rc, _, err = run(capsys, "variants", "scan", tmp_path / "none", "--out", tmp_path / "s.csv")
    assert rc == 2 and err.startswith("biovae variants scan: error: ")
    rc, _, err = run(
        capsys, "structure", "sample", tmp_path, "-n", "2", "--out", tmp_path / "s.pdb"
    )
    assert rc == 2 and err.startswith("biovae structure sample: error: ")


def test_closest():
    flags = ["--latent", "--layer", "--lr", "--iwae-samples", "--epochs"]
    assert closest("--iwae", flags) == "--iwae-samples"  # the one flag it abbreviates
    assert closest("--la", flags) in ("--latent", "--layer")  # several: the most similar
    assert closest("--latnet", flags, cutoff=0.75) == "--latent"
    assert closest("--xyz", flags, cutoff=0.75) is None
