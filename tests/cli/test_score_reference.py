"""``biovae score --reference REF``: each record's conformal tail probability against normal
records, on a genotype model: a left-out population's individuals get small p-values, and held-out
individuals of the training populations are flagged at no more than the stated rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biovae.applications.anomaly import expected_false_positive_rate, tail_columns
from biovae.cli.main import main
from tests.cli._run import run

COMMON = ("--id-column", "individual", "--allow-missing")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A genotype model fitted on 5 individuals of each region but Africa (30), the other 30
    of those regions (normal records) and the 10 Africans (a population the model never saw),
    each written as a table; (folder, model)."""
    from tests.conftest import FIXTURES

    folder = tmp_path_factory.mktemp("reference")
    raw = pd.read_csv(FIXTURES / "ehgdp_70x30loci.tsv", sep="\t", dtype=str, keep_default_na=False)
    region = pd.read_csv(FIXTURES / "ehgdp_70x30loci_populations.tsv", sep="\t")["region"]
    first = region.groupby(region).cumcount() < 5
    parts = {
        "train": raw[first & (region != "AFRICA")],
        "normal": raw[~first & (region != "AFRICA")],
        "africa": raw[region == "AFRICA"],
    }
    for name, table in parts.items():
        table.to_csv(folder / f"{name}.tsv", sep="\t", index=False)
    fit = ["fit", folder / "train.tsv", *COMMON, "--likelihood", "genotype", "--latent", "2"]
    assert main([str(a) for a in (*fit, "--epochs", "20", "--out", folder / "m", "--quiet")]) == 0
    return folder, folder / "m"


def _score(capsys, model, data, *flags):
    """(exit status, stderr, score table or None) of ``biovae score MODEL DATA FLAGS``."""
    out = data.parent / "s.csv"
    out.unlink(missing_ok=True)
    rc, _, err = run(capsys, "score", model, data, *COMMON, *flags, "--out", out)
    return rc, err, (pd.read_csv(out) if out.exists() else None)


def test_a_left_out_population_gets_small_tail_probabilities(cohort, capsys):
    folder, model = cohort
    ref = ("--reference", folder / "normal.tsv")
    rc, err, table = _score(capsys, model, folder / "africa.tsv", *ref, "--flag-below", "0.1")
    assert rc == 0, err
    tail = table["tail_elbo_per_locus"].to_numpy()
    # the conformal rule by hand, against REF scored alone with the same draws
    _, _, normal = _score(capsys, model, folder / "normal.tsv")
    ranks = normal["elbo_per_locus"].to_numpy()[None, :] <= table[["elbo_per_locus"]].to_numpy()
    np.testing.assert_allclose(tail, (1 + ranks.sum(1)) / 31)
    # normal individuals: p uniform on 1/31..1, mean 0.5, 3 of 31 flagged at 0.1
    assert tail.mean() < 0.2 and table["anomaly"].sum() >= 5
    assert table["anomaly"].tolist() == (tail <= 0.1).tolist()
    flagged = int(table["anomaly"].sum())
    assert f"{flagged} of 10 record(s) flagged" in err
    assert f"probability {expected_false_positive_rate(0.1, 30):.3g}" in err
    assert "tail_elbo_per_locus" not in normal and "anomaly" not in normal  # default unchanged


def test_exchangeable_records_are_flagged_at_no_more_than_alpha(cohort, capsys):
    """Held-out individuals of the training regions split at random into REF and DATA, many
    times: the share flagged at alpha is at most alpha (P(p <= a) = floor(a(m+1))/(m+1))."""
    folder, model = cohort
    _, _, normal = _score(capsys, model, folder / "normal.tsv")
    score = normal["elbo_per_locus"].to_numpy()
    rng, alpha, rates = np.random.default_rng(0), 0.1, []
    for _ in range(300):
        order = rng.permutation(len(score))
        ref, data = {"elbo_per_locus": score[order[:20]]}, {"elbo_per_locus": score[order[20:]]}
        rates.append(tail_columns(data, ref, alpha)["anomaly"].mean())
    expected = expected_false_positive_rate(alpha, 20)  # 2 / 21
    assert np.mean(rates) <= alpha + 0.02 and abs(np.mean(rates) - expected) < 0.02


def test_bad_reference_or_level_is_one_line_and_writes_nothing(cohort, capsys):
    folder, model = cohort
    raw = pd.read_csv(folder / "normal.tsv", sep="\t", dtype=str, keep_default_na=False)
    other = folder / "other.tsv"
    raw.drop(columns=[c for c in raw.columns if c.startswith("loc-2.")]).to_csv(
        other, sep="\t", index=False
    )
    data = folder / "africa.tsv"
    for flags, says in [
        (("--reference", other), "other.tsv"),
        (("--reference", folder / "normal.tsv", "--flag-below", "0"), "--flag-below"),
        (("--reference", folder / "normal.tsv", "--flag-below", "1.5"), "(0, 1)"),
        (("--flag-below", "0.01"), "give --reference"),
    ]:
        rc, err, table = _score(capsys, model, data, *flags)
        lines = err.strip().splitlines()
        assert rc == 2 and table is None and len(lines) == 1 and says in lines[0], err
    few = folder / "few.tsv"
    raw.head(9).to_csv(few, sep="\t", index=False)
    rc, err, table = _score(capsys, model, data, "--reference", few)
    assert rc == 0 and "smallest attainable p-value is 1/10" in err
    assert table["tail_elbo_per_locus"].min() >= 0.1


def test_a_reference_with_no_scorable_record_is_named_by_its_file(cohort, capsys):
    """REF's individuals all without an observed locus: nothing to compare with, a one-line
    error naming REF's file (as every other problem of REF), and no score table."""
    folder, model = cohort
    raw = pd.read_csv(folder / "normal.tsv", sep="\t", dtype=str, keep_default_na=False)
    raw[[c for c in raw.columns if c != "individual"]] = ""
    empty = folder / "uncalled.tsv"
    raw.to_csv(empty, sep="\t", index=False)
    rc, err, table = _score(capsys, model, folder / "africa.tsv", "--reference", empty)
    lines = err.strip().splitlines()
    assert rc == 2 and table is None, err
    assert lines[-1].startswith("biovae score: error: ") and "uncalled.tsv" in lines[-1], err
    assert "no record with a score in elbo_per_locus" in lines[-1]


def test_records_also_in_the_reference_are_said_to_be_compared_with_themselves(cohort, capsys):
    """DATA = REF: every record ties with itself, so no tail can fall below 2/(n_ref + 1);
    the run says so (it said nothing) and the tails stay conservative."""
    folder, model = cohort
    normal = folder / "normal.tsv"
    rc, err, table = _score(capsys, model, normal, "--reference", normal)
    assert rc == 0 and "30 record(s) scored are also in" in err and "2/(n_ref + 1)" in err
    assert table["tail_elbo_per_locus"].min() >= 2 / 31 - 1e-9  # (CSV rounding)
    rc, err, _ = _score(capsys, model, folder / "africa.tsv", "--reference", normal)
    assert rc == 0 and "are also in" not in err
