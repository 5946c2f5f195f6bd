"""``biovae sample`` of a conditional model: the covariates of --obs, and their errors named
by that file."""

from __future__ import annotations

from biovae.cli.main import main
from tests.cli._run import run
from tests.conftest import FIXTURES


def test_bad_sample_covariates_are_named_by_their_file(tmp_path, capsys):
    """A level the model never saw, or a missing one, was reported as 'obs: ...' without the
    file; the error names the --obs file now, exit 2, nothing written."""
    model, out = tmp_path / "m", tmp_path / "s.fasta"
    fit = ["fit", str(FIXTURES / "splice_junctions_200.tsv"), "--sequence-column", "sequence"]
    fit += ["--categorical-covariates", "class", "--epochs", "1", "--hidden", "8", "--quiet"]
    assert main([*fit, "--latent", "2", "--out", str(model)]) == 0
    good, unknown, missing = (tmp_path / f"{n}.tsv" for n in ("good", "unknown", "missing"))
    good.write_text("id\tclass\na\tei\nb\tn\n")
    unknown.write_text("id\tclass\na\tei\nb\tXX\n")
    missing.write_text("id\tclass\na\tei\nb\t\n")
    sample = ["sample", model, "-n", "2", "--out", out, "--quiet", "--obs"]
    assert run(capsys, *sample, good)[0] == 0 and out.read_text().count(">") == 2
    # each sample is named by the --obs row it was drawn for (they were sample_1, sample_2)
    assert [line for line in out.read_text().splitlines() if line[:1] == ">"] == [">a", ">b"]
    out.unlink()
    for obs, why in ((unknown, "level 'XX' not seen in training"), (missing, "is missing")):
        rc, _, err = run(capsys, *sample, obs)
        assert rc == 2 and err.startswith(f"biovae sample: error: {obs}: covariate 'class'")
        assert why in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_obs_ids_a_fasta_header_cannot_hold_are_refused_before_sampling(tmp_path, capsys):
    """--obs ids name the samples: an id with a space reached the FASTA writer as a traceback
    (ValueError), after the verdict table of --screen-against was written; with
    --screen-command it failed inside the screen. Now a one-line error naming the file and
    row, exit 2, nothing written; a table output keeps such ids."""
    model = tmp_path / "m"
    fit = ["fit", str(FIXTURES / "splice_junctions_200.tsv"), "--sequence-column", "sequence"]
    fit += ["--categorical-covariates", "class", "--epochs", "1", "--hidden", "8", "--quiet"]
    assert main([*fit, "--latent", "2", "--out", str(model)]) == 0
    obs = tmp_path / "obs.tsv"
    obs.write_text("id\tclass\ncell 1\tei\ncell_2\tn\n")
    concern = tmp_path / "concern.fa"
    concern.write_text(">c\n" + "ACGTTGCAAC" * 6 + "\n")
    fasta, table = tmp_path / "s.fasta", tmp_path / "s.tsv"
    sample = ["sample", model, "-n", "2", "--quiet", "--obs", obs]
    for extra in (
        ["--out", fasta],
        ["--out", fasta, "--screen-against", concern],
        ["--out", table, "--screen-command", "true {fasta} {out}"],
    ):
        rc, _, err = run(capsys, *sample, *extra)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"biovae sample: error: {obs}: row 1 has the id 'cell 1'")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["concern.fa", "m", "obs.tsv"]
    assert run(capsys, *sample, "--out", table)[0] == 0
    assert table.read_text().splitlines()[1].startswith("cell 1\t")
