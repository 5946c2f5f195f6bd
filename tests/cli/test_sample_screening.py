"""``biovae sample`` with screening: flagged samples withheld, verdicts beside the output,
and a failing screen writes nothing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from biovae.cli.main import main
from biovae.data.fasta import read_fasta_records
from tests.cli._run import run
from tests.conftest import FIXTURES

UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A categorical VAE of the 40-sequence BLAT fixture, and the family ungapped as a FASTA
    (standing in for a list of sequences of concern that the samples resemble)."""
    tmp = tmp_path_factory.mktemp("screening")
    aln = FIXTURES / "blat_ecolx_first40.a2m"
    fit = ["fit", str(aln), "--likelihood", "categorical", "--latent", "4", "--epochs", "200"]
    assert main([*fit, "--out", str(tmp / "model"), "--quiet"]) == 0
    recs = read_fasta_records(aln)
    seqs = ["".join(c for c in s if c not in "-.").upper() for s in recs.seqs]
    (tmp / "family.fasta").write_text("".join(f">{i}\n{s}\n" for i, s in zip(recs.ids, seqs)))
    (tmp / "ubiquitin.fasta").write_text(f">ubiquitin\n{UBIQUITIN}\n")
    return tmp


def verdicts(path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0] == "id\tflagged\tscreen\treason"
    return {ln.split("\t")[0]: ln.split("\t")[1] for ln in lines[1:]}


def test_samples_like_the_concern_list_are_withheld(family, tmp_path, capsys):
    out = tmp_path / "designs.fasta"
    args = ["sample", family / "model", "-n", 20, "--out", out]
    rc, _, err = run(capsys, *args, "--screen-against", family / "family.fasta")
    assert rc == 0
    table = verdicts(tmp_path / "designs.screening.tsv")
    flagged = [k for k, v in table.items() if v == "yes"]
    assert len(table) == 20 and len(flagged) >= 10  # the model samples the family
    kept = read_fasta_records(out).ids if len(flagged) < 20 else []
    assert kept == [k for k, v in table.items() if v == "no"]
    assert f"{len(flagged)} of 20 sequences flagged and withheld" in err


def test_unrelated_references_flag_nothing(family, tmp_path, capsys):
    out = tmp_path / "designs.fasta"
    args = ["sample", family / "model", "-n", 20, "--out", out]
    rc, _, err = run(capsys, *args, "--screen-against", family / "ubiquitin.fasta")
    assert rc == 0 and "0 of 20 sequences flagged" in err
    assert read_fasta_records(out).ids == [f"sample_{i}" for i in range(1, 21)]


def test_unscreened_sequences_come_with_a_note(family, tmp_path, capsys):
    rc, _, err = run(capsys, "sample", family / "model", "-n", 3, "--out", tmp_path / "d.fa")
    assert rc == 0 and "not screened for sequences of concern" in err


def test_an_unscreened_rerun_removes_the_earlier_runs_verdicts(family, tmp_path, capsys):
    """The verdicts of a screened run must not stay beside the unscreened samples replacing
    its output (they shared ids, so "flagged: no" read as theirs)."""
    out = tmp_path / "d.fasta"
    args = ["sample", family / "model", "-n", 3, "--out", out]
    assert run(capsys, *args, "--screen-against", family / "ubiquitin.fasta")[0] == 0
    assert (tmp_path / "d.screening.tsv").is_file()
    rc, _, err = run(capsys, *args, "--seed", 5)
    assert rc == 0 and not (tmp_path / "d.screening.tsv").exists()
    assert "held an earlier run's verdicts" in err and "not screened" in err


def test_a_failing_screen_writes_nothing(family, tmp_path, capsys):
    out = tmp_path / "designs.fasta"
    command = f"{sys.executable} -c 'import sys; sys.exit(4)' {{fasta}} {{out}}"
    args = ["sample", family / "model", "-n", 5, "--out", out, "--screen-command", command]
    rc, _, err = run(capsys, *args)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "exit status 4" in err
    assert list(tmp_path.iterdir()) == []


def test_screening_options_are_checked_first(family, tmp_path, capsys):
    table_model = tmp_path / "table_model"
    data = FIXTURES / "crc_abundance_60x50.tsv"
    assert main(["fit", str(data), "--epochs", "1", "--out", str(table_model), "--quiet"]) == 0
    out = tmp_path / "s.tsv"
    args = ["sample", table_model, "-n", 5, "--out", out]
    rc, _, err = run(capsys, *args, "--screen-against", family / "ubiquitin.fasta")
    assert rc == 2 and "screening applies to sequence models" in err and not out.exists()
    args = ["sample", family / "model", "-n", 5, "--out", tmp_path / "d.fa"]
    rc, _, err = run(capsys, *args, "--screen-window", 30)
    assert rc == 2 and "--screen-window applies to --screen-against" in err
    rc, _, err = run(capsys, *args, "--screen-identity", 0.9)
    assert rc == 2 and "--screen-identity applies to --screen-against" in err
    rc, _, err = run(capsys, *args, "--screen-against", tmp_path / "missing.fasta")
    assert rc == 2 and "no such file" in err and not (tmp_path / "d.fa").exists()
    rc, _, err = run(capsys, *args, "--screen-timeout", 5)
    assert rc == 2 and "--screen-timeout applies to --screen-command" in err
    rc, _, err = run(capsys, *args, "--screen-command", "s {fasta} {out}", "--screen-timeout", 0)
    assert rc == 2 and "give a number of seconds > 0" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d.fa").exists()


def test_biovae_screen_stops_a_hanging_screen(family, tmp_path, capsys):
    out, passed = tmp_path / "verdicts.tsv", tmp_path / "ok.fasta"
    hang = f"{sys.executable} -c 'import time; time.sleep(60)' {{fasta}} {{out}}"
    args = ["screen", family / "ubiquitin.fasta", "--out", out, "--passed", passed]
    rc, _, err = run(capsys, *args, "--screen-command", hang, "--screen-timeout", 0.5)
    assert rc == 2 and "ran past its time limit of 0.5 s" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists() and not passed.exists()


def test_biovae_screen_writes_every_verdict_and_the_passed_records(family, tmp_path, capsys):
    mixed = tmp_path / "mixed.fasta"
    fam = read_fasta_records(family / "family.fasta")
    mixed.write_text(f">ubq\n{UBIQUITIN}\n>blat\n{fam.seqs[0]}\n>blat_gapped\n-{fam.seqs[1]}-\n")
    out, passed = tmp_path / "verdicts.tsv", tmp_path / "ok.fasta"
    args = ["screen", mixed, "--screen-against", family / "family.fasta", "--out", out]
    rc, _, err = run(capsys, *args, "--passed", passed)
    assert rc == 0 and "2 of 3 sequences flagged" in err
    assert verdicts(out) == {"ubq": "no", "blat": "yes", "blat_gapped": "yes"}
    assert read_fasta_records(passed).ids == ["ubq"]


def test_biovae_screen_refuses_without_a_screen_or_input(family, tmp_path, capsys):
    out = tmp_path / "verdicts.tsv"
    rc, _, err = run(capsys, "screen", family / "ubiquitin.fasta", "--out", out)
    assert rc == 2 and "give a screen" in err
    bad = tmp_path / "bad.fasta"
    bad.write_text("MKV\n>x\nMKV\n")
    rc, _, err = run(capsys, "screen", bad, "--out", out, "--screen-against", bad)
    assert rc == 2 and "text before the first '>'" in err and len(err.strip().splitlines()) == 1
    empty = tmp_path / "empty.fasta"
    empty.write_text("")
    query = family / "ubiquitin.fasta"
    rc, _, err = run(capsys, "screen", query, "--out", out, "--screen-against", empty)
    assert rc == 2 and "empty.fasta" in err and "ubiquitin" not in err  # only the file at fault
    rc, _, err = run(capsys, "screen", tmp_path / "none.fa", "--out", out, "--screen-command",
                     "x {fasta} {out}")  # fmt: skip
    assert rc == 2 and "not found" in err
    assert not out.exists()


def test_screen_help_says_out_is_the_verdict_table(capsys):
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ".screening.tsv" not in text and "withheld" not in text
    assert "Every record's verdict goes to --out" in text
    with pytest.raises(SystemExit):
        main(["sample", "--help"])  # sample withholds flagged samples from its --out
    assert ".screening.tsv" in " ".join(capsys.readouterr().out.split())


def test_quiet_silences_the_screening_summary(family, tmp_path, capsys):
    args = ["sample", family / "model", "-n", 5, "--out", tmp_path / "d.fasta", "--quiet"]
    rc, _, err = run(capsys, *args, "--screen-against", family / "ubiquitin.fasta")
    assert rc == 0 and err == "" and (tmp_path / "d.screening.tsv").exists()


def test_biovae_screen_refuses_a_record_with_characters_that_are_no_letters(tmp_path, capsys):
    """A copy of a DNA sequence of concern with a digit every 8 letters was read as protein
    and written to --passed as clean; it is a malformed record: exit 2, nothing written."""
    gene = "".join(np.random.default_rng(3).choice(list("ACGT"), 300))
    concern = tmp_path / "concern.fasta"
    concern.write_text(f">gene\n{gene}\n")
    junk = "".join(c + ("1" if k % 8 == 0 else "") for k, c in enumerate(gene[50:250]))
    query = tmp_path / "designs.fasta"
    query.write_text(f">clean\n{gene[:100]}\n>copy\n{junk}\n")
    out, passed = tmp_path / "verdicts.tsv", tmp_path / "ok.fasta"
    args = ["screen", query, "--screen-against", concern, "--out", out, "--passed", passed]
    rc, _, err = run(capsys, *args)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "designs.fasta: sequence 'copy' holds '1' at position 2" in err
    assert not out.exists() and not passed.exists()


def test_ungapped_writes_the_same_draws_without_gaps(family, tmp_path, capsys):
    """Samples of an alignment model are alignment rows ('-' for gaps) and nothing said so;
    --ungapped writes the same draws as they would be synthesised, and a note names the
    gaps when they are kept."""
    gapped, plain = tmp_path / "g.fasta", tmp_path / "u.fasta"
    rc, _, err = run(capsys, "sample", family / "model", "-n", 8, "--out", gapped)
    assert rc == 0 and "hold gaps '-'" in err and "--ungapped" in err
    rc, _, err = run(capsys, "sample", family / "model", "-n", 8, "--out", plain, "--ungapped")
    assert rc == 0 and "hold gaps" not in err
    rows, letters = read_fasta_records(gapped), read_fasta_records(plain)
    assert any("-" in s for s in rows.seqs) and not any("-" in s for s in letters.seqs)
    assert letters.ids == rows.ids
    assert letters.seqs == [s.replace("-", "") for s in rows.seqs]


def test_biovae_screen_flags_a_gapped_copy_of_a_sequence_of_concern(family, tmp_path, capsys):
    concern = read_fasta_records(family / "family.fasta").seqs[3]
    gapped = tmp_path / "aligned.fasta"
    gapped.write_text(f">copy\n{'--'.join(concern[:120])}\n>other\n{UBIQUITIN}\n")
    out = tmp_path / "v.tsv"
    args = ["screen", gapped, "--screen-against", family / "family.fasta", "--out", out]
    assert run(capsys, *args)[0] == 0
    assert verdicts(out) == {"copy": "yes", "other": "no"}
