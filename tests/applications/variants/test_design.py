"""Beam-search design of multi-mutants: exhaustive when the beam holds every combination,
sequences that carry exactly the designed mutations, determinism, bad settings."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
import warnings

import numpy as np
import pytest

from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.design import DesignSettings, design
from biovae.errors import ConfigError
from tests.applications.variants.test_family import SMALL
from tests.cli._run import run
from tests.conftest import FIXTURES

POSITIONS = (30, 31, 32)  # three residues of BLAT_ECOLX/24-286


@pytest.fixture(scope="module")
def fitted():
    return family.fit(read_alignment(FIXTURES / "blat_ecolx_first40.a2m"), SMALL)


def test_a_beam_holding_every_combination_is_exhaustive(fitted):
    settings = DesignSettings(2, beam=10_000, pool=10_000, positions=POSITIONS, n_samples=8)
    table = design(fitted, settings)
    scan = family.mutations.single_mutant_scan(fitted.focus, fitted.alphabet, fitted.positions)
    singles = [m for m in scan if m[0] != m[-1] and int(m[1:-1]) in POSITIONS]
    pairs = [":".join(p) for p in itertools.combinations(singles, 2) if p[0][1:-1] != p[1][1:-1]]
    truth = fitted.score(pairs, 8, 0)["score"]
    assert len(table["mutant"]) == len(pairs) == 3 * 19 * 19
    expected = sorted(zip(truth, pairs), key=lambda t: -t[0])[:20]
    np.testing.assert_allclose(table["score"][:20], [s for s, _ in expected], rtol=1e-9)
    assert list(table["mutant"][:3]) == [m for _, m in expected[:3]]


def test_designs_carry_exactly_their_mutations_and_repeat_for_a_seed(fitted):
    settings = DesignSettings(3, beam=5, pool=12, positions=tuple(range(40, 55)), n_samples=4)
    table = design(fitted, settings)
    focus = "".join(fitted.alphabet[c] for c in fitted.focus)
    column = {p: i for i, p in enumerate(fitted.positions)}
    whole = fitted.focus_residues.sequence  # BLAT_ECOLX/24-286: residue r at index r - 24
    assert len(whole) == 286 - 24 + 1
    for mutant, seq, n, full in zip(
        table["mutant"], table["match_columns"], table["n_mutations"], table["sequence"]
    ):
        changes = family.mutations.parse(mutant)
        assert n == len(changes) == 3 and len({c[1] for c in changes}) == 3
        differ = [i for i, (a, b) in enumerate(zip(focus, seq)) if a != b]
        assert differ == sorted(column[number] for _, number, _ in changes)
        assert all(seq[column[number]] == new for _, number, new in changes)
        differ = [i for i, (a, b) in enumerate(zip(whole, full)) if a != b]
        assert len(full) == len(whole) and differ == sorted(r - 24 for _, r, _ in changes)
        assert all(full[number - 24] == new for _, number, new in changes)
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    again = design(fitted, settings)
    assert list(again["mutant"]) == list(table["mutant"])
    np.testing.assert_array_equal(again["score"], table["score"])


def test_bad_design_settings(fitted):
    with pytest.raises(ConfigError, match="residue 5 is not a match column"):
        design(fitted, DesignSettings(positions=(5, 30)))
    # residue 56 lies between match columns 55 and 57: an insert of the focus, named so
    with pytest.raises(ConfigError, match=r"56 is an insert residue .*\(match columns 29–283\)"):
        design(fitted, DesignSettings(positions=(56, 30)))
    with pytest.raises(ConfigError, match="n mutations must be >= 1"):
        DesignSettings(n_mutations=0)


@pytest.mark.parametrize(
    "field, flag",
    [("n_mutations", "-k"), ("beam", "--beam"), ("pool", "--pool"), ("n_samples", "--samples")],
)
def test_a_count_below_one_names_its_command_line_flag(field, flag):
    # `biovae variants design -k 0` said "design n mutations must be >= 1": no -k in it
    with pytest.raises(ConfigError, match=rf"must be >= 1 \(CLI {flag}\), got 0$"):
        DesignSettings(**{field: 0})


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("n_mutations", 2.0, "n_mutations must be an integer"),
        ("beam", 5.5, "beam must be an integer"),
        ("n_samples", 2.0, "n_samples must be an integer"),
        ("seed", 1.5, "seed must be an integer"),
        ("positions", 40, "positions must be a list"),
        ("positions", ("40", "41"), "positions must be an integer"),
    ],
)
def test_design_settings_of_the_wrong_type_are_refused_on_construction(field, value, message):
    # they failed with a TypeError traceback, some only after every single was scored
    with pytest.raises(ConfigError, match=f"DesignSettings.{message}, got"):
        DesignSettings(**{field: value})
    settings = DesignSettings(beam=np.int64(4), positions=[np.int64(40), 41])
    assert settings.beam == 4 and type(settings.beam) is int and settings.positions == (40, 41)


def test_the_design_command_screens_and_writes(fitted, tmp_path, capsys):
    model = family.save(tmp_path / "fam", fitted)
    out, fasta = tmp_path / "designs.csv", tmp_path / "designs.fasta"
    base = ["variants", "design", model, "-k", 2, "--positions", "40-45,50-60", "--beam", 4]
    rc, _, err = run(capsys, *base, "--samples", 4, "--out", out, "--fasta", fasta)
    assert rc == 0 and "not screened" in err and "best design" in err
    rows = out.read_text().splitlines()
    assert rows[0].startswith("design,mutant,n_mutations,score,se") and len(rows) == 5
    assert fasta.read_text().count(">design_") == 4
    # the focus itself as the list of concern: every design is a near copy of it
    focus = "".join(fitted.alphabet[c] for c in fitted.focus)
    concern = tmp_path / "concern.fasta"
    concern.write_text(f">focus\n{focus}\n")
    out2 = tmp_path / "screened.csv"
    rc, _, err = run(capsys, *base, "--samples", 4, "--out", out2, "--screen-against", concern)
    assert rc == 0 and "4 of 4 sequences flagged and withheld" in err
    assert out2.read_text().splitlines() == [rows[0]]
    assert (tmp_path / "screened.screening.tsv").read_text().count("\tyes\treference\t") == 4


def test_bad_positions_write_nothing(fitted, tmp_path, capsys):
    model = family.save(tmp_path / "fam", fitted)
    out = tmp_path / "d.csv"
    bad = (
        ("4O-45", "expected residue numbers"),
        ("1-3", "no match column"),
        ("56", "56 is an insert residue"),  # between match columns 55 and 57
        ("45-40", "write 40-45"),  # a reversed range, not "no match column there"
    )
    for positions, message in bad:
        args = ["variants", "design", model, "--positions", positions, "--out", out]
        rc, _, err = run(capsys, *args)
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_one_mutation_designs_are_the_best_singles_whatever_the_pool(fitted):
    settings = DesignSettings(1, beam=8, pool=3, positions=POSITIONS, n_samples=4)
    table = design(fitted, settings)
    scan = family.mutations.single_mutant_scan(fitted.focus, fitted.alphabet, fitted.positions)
    singles = [m for m in scan if m[0] != m[-1] and int(m[1:-1]) in POSITIONS]
    truth = fitted.score(singles, 4, 0)["score"]
    assert len(table["mutant"]) == len(table["score"]) == len(table["sequence"]) == 8
    assert list(table["mutant"]) == [singles[i] for i in np.argsort(-truth, kind="stable")[:8]]


def test_designs_short_of_k_mutations_are_an_error_not_a_shorter_table(fitted, tmp_path, capsys):
    with pytest.raises(ConfigError, match="need 3 positions but only 1 allowed position"):
        design(fitted, DesignSettings(3, beam=5, pool=10, positions=(70,), n_samples=4))
    # one pool substitution: every 2-mutant already holds its position, none gets a third
    with pytest.raises(ConfigError, match=r"add mutation 3 of 3 .*--pool"):
        design(fitted, DesignSettings(3, beam=5, pool=1, positions=POSITIONS, n_samples=4))
    model = family.save(tmp_path / "fam", fitted)
    out = tmp_path / "d.csv"
    for extra in (["--positions", "70"], ["--positions", "30-32", "--pool", "1", "--beam", "5"]):
        args = ["variants", "design", model, "-k", 3, "--samples", 4, *extra, "--out", out]
        rc, _, err = run(capsys, *args)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "--p" in err
    assert not out.exists()


def test_a_screen_past_its_time_limit_stops_the_run_and_writes_nothing(fitted, tmp_path, capsys):
    model = family.save(tmp_path / "fam", fitted)
    work = tmp_path / "work"
    work.mkdir()
    hang = f"{sys.executable} -c 'import time; time.sleep(60)' {{fasta}} {{out}}"
    args = ["variants", "design", model, "-k", 1, "--positions", "40-42", "--samples", 2]
    out, fasta = work / "d.csv", work / "d.fasta"
    t0 = time.monotonic()
    rc, _, err = run(capsys, *args, "--out", out, "--fasta", fasta, "--screen-command", hang,
                     "--screen-timeout", 1)  # fmt: skip
    assert rc == 2 and time.monotonic() - t0 < 30
    assert len(err.strip().splitlines()) == 1
    assert f"screening command {sys.executable!r} ran past its time limit of 1 s" in err
    assert "--screen-timeout" in err
    assert list(work.iterdir()) == []  # no designs, no FASTA, no verdict table


def _gapped_focus(fitted, tmp_path):
    """``fitted`` with a focus that has a gap in match columns 3 and 4 (numbered 1..L then)."""
    text = (FIXTURES / "blat_ecolx_first40.a2m").read_text()
    head, rest = text.split("\n", 1)
    focus, others = rest.split(">", 1)
    upper = [i for i, c in enumerate(focus) if c.isupper()]
    row = "".join("-" if i in (upper[2], upper[3]) else c for i, c in enumerate(focus))
    (tmp_path / "gapped.a2m").write_text(f"{head}\n{row}>{others}")
    with warnings.catch_warnings():  # of the gaps, and the header range that no longer fits
        warnings.simplefilter("ignore")
        aln = read_alignment(tmp_path / "gapped.a2m")
    return dataclasses.replace(
        fitted, focus=aln.focus, positions=aln.positions, focus_residues=aln.focus_residues
    )


def test_a_named_residue_where_the_focus_has_a_gap_is_refused_and_ranges_skip_it(
    fitted, tmp_path, capsys
):
    gapped = _gapped_focus(fitted, tmp_path)
    assert [gapped.focus_sequence[i] for i in (2, 3)] == ["-", "-"]
    # it was dropped silently: designs at residue 5 only, or 'no substitution to design with'
    with pytest.raises(ConfigError, match=r"residue 3 is a match column where .* has a gap"):
        design(gapped, DesignSettings(1, positions=(3, 5), n_samples=2))
    model = family.save(tmp_path / "fam", gapped)
    out = tmp_path / "d.csv"
    args = ["variants", "design", model, "-k", 1, "--samples", 2, "--out", out, "--quiet"]
    rc, _, err = run(capsys, *args, "--positions", "4")
    assert rc == 2 and "residue 4 is a match column where" in err and not out.exists()
    rc, _, err = run(capsys, *args, "--positions", "1-6", "--beam", 200)
    assert rc == 0, err
    mutants = out.read_text().splitlines()[1:]
    assert {int(m.split(",")[1][1:-1]) for m in mutants} == {1, 2, 5, 6}
