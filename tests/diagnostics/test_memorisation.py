"""The memorisation audit against cases whose answer is known: copies of the training data,
near-copies, and fresh draws from the same distribution; distances against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from biovae.cli.main import main
from biovae.diagnostics.memorisation import memorisation_audit, nearest_distances
from biovae.errors import DataError


def _table(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 6))


def _codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(n, 30))


def test_distances_match_brute_force():
    a, b = _table(37, 0), _table(53, 1)
    np.testing.assert_allclose(
        nearest_distances(a, b, False, block=8), cdist(a, b).min(1), rtol=1e-9
    )
    s, t = _codes(20, 2), _codes(31, 3)
    np.testing.assert_allclose(
        nearest_distances(s, t, True, block=7), cdist(s, t, "hamming").min(1)
    )


def test_sequence_distances_are_exact_shares_of_positions():
    """One mismatch in 253 positions is 1/253 (match counts were divided in float32:
    0.0039525628 was reported, and every distance was off in its seventh digit)."""
    train = _codes(40, 7)[:, :23].repeat(11, axis=1)  # 253 positions
    query = train[:3].copy()
    query[:, 5] = (query[:, 5] + 1) % 4  # one mismatch each
    query[2, 9] = (query[2, 9] + 1) % 4  # two for the last
    got = nearest_distances(query, train, True)
    assert got.tolist() == [1 / 253, 1 / 253, 2 / 253]


def test_raw_distances_between_values_far_from_zero_keep_their_digits():
    """|a|² + |b|² − 2 a·b of values near 10⁶ cancelled to a distance off by 10⁻³ (and a
    near-copy's 10⁻³ to noise); centring on the reference first keeps them."""
    a, b = _table(20, 0) + 1e6, _table(30, 1) + 1e6
    a[:, 0] -= 1e6  # a feature about 0, negative values: raw values on both sides
    b[:, 0] -= 1e6
    near = b[1:6] + 1e-3
    np.testing.assert_allclose(nearest_distances(a, b, False), cdist(a, b).min(1), rtol=1e-9)
    np.testing.assert_allclose(nearest_distances(near, b, False), cdist(near, b).min(1), rtol=1e-6)


def test_missing_features_are_skipped_and_scaled():
    a = np.array([[1.0, np.nan, 3.0, 0.0]])
    b = np.array([[1.0, 5.0, 1.0, np.nan]])
    # observed in both: features 0 and 2 (on log1p scale, all values >= 0), scaled by 4 / 2
    expected = np.sqrt(2.0 * (np.log1p(3.0) - np.log1p(1.0)) ** 2)
    assert nearest_distances(a, b, False)[0] == pytest.approx(expected)
    b[0, 1] = -5.0  # a negative value anywhere: raw values on both sides
    assert nearest_distances(a, b, False)[0] == pytest.approx(np.sqrt(8.0))


@pytest.mark.parametrize("sequences", [False, True])
def test_copies_near_copies_and_fresh_draws(sequences):
    draw = _codes if sequences else _table
    train, holdout, fresh = draw(300, 10), draw(200, 11), draw(300, 12)
    copies = train[np.random.default_rng(0).integers(0, 300, 100)]
    audit = memorisation_audit(copies, train, holdout, sequences)
    assert audit["exact_copies"] == 1.0 and "exact copies" in audit["verdict"]
    if sequences:  # one letter changed per copy
        near = copies.copy()
        near[:, 0] = (near[:, 0] + 1) % 4
    else:
        near = copies + 1e-3
    audit = memorisation_audit(near, train, holdout, sequences)
    assert audit["exact_copies"] == 0.0 and audit["closer_than_holdout"] > 0.9
    assert "memorisation" in audit["verdict"] and "no sign" not in audit["verdict"]
    audit = memorisation_audit(fresh, train, holdout, sequences)
    assert audit["exact_copies"] == 0.0 and audit["closer_than_holdout"] < 0.12
    assert "no sign of memorisation" in audit["verdict"]


@pytest.mark.parametrize("sequences", [False, True])
def test_a_holdout_inside_the_training_set_gives_no_verdict(sequences):
    draw = _codes if sequences else _table
    train = draw(300, 10)
    rng = np.random.default_rng(1)
    near = train[rng.integers(0, 300, 100)].copy()  # near-copies, none exact
    if sequences:
        near[:, 0] = (near[:, 0] + 1) % 4
    else:
        near += 1e-3
    audit = memorisation_audit(near, train, train[:40], sequences)  # held out = trained on
    assert audit["holdout_cut"] == 0.0 and audit["holdout_copies"] == 1.0
    assert "no sign" not in audit["verdict"] and "no verdict" in audit["verdict"]
    assert memorisation_audit(near, train, draw(40, 11), sequences)["holdout_copies"] == 0.0


def test_a_small_holdout_is_refused():
    with pytest.raises(DataError, match="at least 20"):
        memorisation_audit(_table(5, 0), _table(50, 1), _table(10, 2), False)


def test_command_line_novelty(fixtures, tmp_path, capsys):
    rows = (fixtures / "splice_junctions_200.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(rows[:151]) + "\n")
    (tmp_path / "held.tsv").write_text("\n".join([rows[0], *rows[151:]]) + "\n")
    (tmp_path / "tiny.tsv").write_text("\n".join(rows[:6]) + "\n")
    seq = ["--sequence-column", "sequence"]
    model = tmp_path / "m"
    fit = ["fit", str(tmp_path / "train.tsv"), *seq, "--likelihood", "categorical"]
    fit += ["--epochs", "5", "--quiet"]
    assert main([*fit, "--out", str(model)]) == 0
    args = ["novelty", str(model), str(tmp_path / "train.tsv")]
    out = tmp_path / "nov"
    assert main([*args, str(tmp_path / "held.tsv"), "-n", "50", "--out", str(out)]) == 0
    import json

    result = json.loads((out / "novelty.json").read_text())
    assert result["metric"] == "hamming" and result["samples"] == 50 and result["holdout"] == 50
    assert main([*args, str(tmp_path / "tiny.tsv"), "--out", str(tmp_path / "x")]) == 2
    assert "at least 20" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_sparse_count_matrices_give_the_dense_audit():
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    train, holdout, samples = (rng.poisson(1.0, (n, 12)).astype(float) for n in (60, 30, 25))
    dense = memorisation_audit(samples, train, holdout, sequences=False)
    sparse = memorisation_audit(samples, sp.csr_matrix(train), sp.csr_matrix(holdout), False)
    assert sparse.keys() == dense.keys()
    for key, value in dense.items():  # the same numbers, up to the order of float64 sums
        exact = value is None or isinstance(value, str)
        assert sparse[key] == (value if exact else pytest.approx(value, 1e-12))


def test_samples_below_zero_put_both_comparisons_on_one_scale():
    rng = np.random.default_rng(0)
    train, hold = rng.poisson(3, (200, 20)), rng.poisson(3, (50, 20))
    near = train[rng.integers(0, 200, 300)] + rng.normal(0, 0.5, (300, 20))  # some < 0
    assert near.min() < 0
    flagged = memorisation_audit(np.clip(near, 0, None), train, hold, False)
    audit = memorisation_audit(near, train, hold, False)  # raw scale for both sides
    assert flagged["closer_than_holdout"] > 0.9 and audit["closer_than_holdout"] > 0.9


def test_command_line_novelty_refuses_records_in_another_alphabet(fixtures, tmp_path, capsys):
    """Protein held-out records of the model's length were compared by their codes with DNA
    (a verdict of memorisation from mismatched letters); now one line, exit 2, nothing written."""
    rows = (fixtures / "splice_junctions_200.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(rows[:61]) + "\n")
    rng = np.random.default_rng(0)
    protein = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 60)) for _ in range(30)]
    (tmp_path / "held.fa").write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(protein)))
    model = tmp_path / "m"
    fit = ["fit", str(tmp_path / "train.tsv"), "--sequence-column", "sequence"]
    fit += ["--likelihood", "categorical", "--epochs", "1", "--quiet", "--out", str(model)]
    assert main(fit) == 0
    capsys.readouterr()
    args = ["novelty", str(model), str(tmp_path / "train.tsv"), str(tmp_path / "held.fa")]
    assert main([*args, "-n", "20", "--out", str(tmp_path / "nov")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "held.fa" in err[0] and "fitted on sequences over 'ACGT-'" in err[0]
    assert not (tmp_path / "nov").exists()


def test_a_sparse_training_matrix_is_never_made_dense(monkeypatch):
    """200,000 cells x 30,000 genes fit in memory as CSR, not as float64: only blocks of
    query rows may become dense."""
    import scipy.sparse as sp

    rng = np.random.default_rng(4)
    train, holdout = (sp.random(n, 40, 0.1, "csr", random_state=rng) * 9 for n in (300, 50))
    samples = rng.poisson(0.5, (30, 40)).astype(np.float32)
    expected = memorisation_audit(samples, train.toarray(), holdout.toarray(), False)
    to_dense = sp.csr_matrix.toarray

    def guarded(self, *args, **kwargs):
        assert self.shape[0] <= 50, f"a {self.shape} sparse matrix was made dense"
        return to_dense(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", guarded)
    audit = memorisation_audit(samples, train, holdout, False)
    assert audit["closer_than_holdout"] == expected["closer_than_holdout"]
    assert audit["dcr_holdout"] == pytest.approx(expected["dcr_holdout"], 1e-12)


def test_sequence_distances_do_not_hold_a_dense_one_hot_reference():
    """A 100,000-sequence alignment one-hot in float32 is L x A x 4 bytes per sequence; the
    reference is held as a sparse one-hot instead (L x 8 bytes per sequence)."""
    import tracemalloc

    train, queries = _codes(4000, 5) * 5, _codes(20, 6) * 5  # 16 letters, 30 positions
    train = np.tile(train, (1, 4))  # 120 positions: a dense one-hot is 4000 x 1920 x 4 bytes
    queries = np.tile(queries, (1, 4))
    tracemalloc.start()
    got = nearest_distances(queries, train, True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(got, cdist(queries, train, "hamming").min(1))
    assert peak < 0.5 * 4000 * 1920 * 4, f"peak {peak / 1e6:.1f} MB"


def test_command_line_novelty_gives_no_verdict_against_another_training_set(
    fixtures, tmp_path, capsys
):
    """TRAIN and HELD_OUT swapped (or any file the model was not fitted on) compared the
    samples with records the model never saw and still said 'no sign of memorisation'; the
    model's data fingerprint now tells, and the verdict is none."""
    import json

    rows = (fixtures / "splice_junctions_200.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(rows[:101]) + "\n")
    (tmp_path / "held.tsv").write_text("\n".join([rows[0], *rows[101:]]) + "\n")
    model = tmp_path / "m"
    fit = ["fit", str(tmp_path / "train.tsv"), "--sequence-column", "sequence"]
    fit += ["--likelihood", "categorical", "--epochs", "1", "--quiet", "--out", str(model)]
    assert main(fit) == 0
    files = {"right": ("train.tsv", "held.tsv"), "swapped": ("held.tsv", "train.tsv")}
    results, said = {}, {}
    for name, (train, held) in files.items():
        capsys.readouterr()
        args = ["novelty", str(model), str(tmp_path / train), str(tmp_path / held)]
        assert main([*args, "-n", "20", "--out", str(tmp_path / name)]) == 0
        results[name] = json.loads((tmp_path / name / "novelty.json").read_text())
        said[name] = capsys.readouterr().err
    assert results["right"]["train_is_fitted_data"] is True
    assert "no verdict" not in results["right"]["verdict"]
    assert results["swapped"]["train_is_fitted_data"] is False
    assert "not the data the model was fitted on" in results["swapped"]["verdict"]
    assert "no sign of memorisation" not in results["swapped"]["verdict"]
    assert "not the data the model was fitted on" in said["swapped"]


def test_the_audit_of_a_training_set_known_to_be_another_gives_no_verdict():
    train, holdout, samples = _table(60, 0), _table(30, 1), _table(25, 2)
    assert "no sign" in memorisation_audit(samples, train, holdout, False)["verdict"]
    audit = memorisation_audit(samples, train, holdout, False, train_is_fitted_data=False)
    assert "no verdict" in audit["verdict"] and audit["train_is_fitted_data"] is False


def test_the_chance_limit_holds_for_fresh_samples_and_a_small_held_out_set():
    """Samples drawn as the held-out records are (fresh data): with 26 held-out records the
    5 % cut is itself noisy, so the share of samples below it exceeds 2q = 10 % in many
    repetitions; the beta-binomial chance limit is exceeded in about 1 % of them (ground
    truth by simulation), and the verdict does not cry memorisation."""
    rng = np.random.default_rng(0)
    train = np.zeros((1, 6))
    over_2q, over_limit, flagged = 0, 0, 0
    reps = 300
    for _ in range(reps):
        audit = memorisation_audit(
            rng.normal(size=(200, 6)), train, rng.normal(size=(26, 6)), sequences=False
        )
        over_2q += audit["closer_than_holdout"] > 0.10
        over_limit += audit["closer_than_holdout"] > audit["chance_limit"]
        flagged += "signs of memorisation" in audit["verdict"]
    assert over_2q > 0.15 * reps  # the fixed 2q rule would flag fresh data this often
    assert over_limit <= 0.03 * reps and flagged == over_limit
    big = memorisation_audit(_table(300, 1), train, _table(2000, 2), sequences=False)
    assert 0.05 < big["chance_limit"] < 0.10  # many held-out records: the 2q rule applies


def test_exact_copies_compare_values_not_truncations():
    """Integer samples were matched against training records cast to integers: records of
    0.5 and 1.7 became 0 and 1, so samples (0, 1) were called exact copies of records they
    differ from by 0.5 and 0.7."""
    from biovae.diagnostics.memorisation import exact_copies

    train = np.array([[0.5, 1.7], [3.0, 4.0]])
    samples = np.array([[0, 1], [3, 4]], dtype=np.int64)
    assert exact_copies(samples, train).tolist() == [False, True]


def test_exact_copies_treat_signed_zeros_and_nans_as_equal_values():
    """-0.0 == 0.0 and NaN is documented equal to NaN, but their bytes differ: a sample equal
    value for value to a training record was not called a copy."""
    from biovae.diagnostics.memorisation import exact_copies

    other_nan = np.array([0x7FF8000000000001], dtype=np.uint64).view(np.float64)[0]
    train = np.array([[-0.0, 1.0, other_nan]])
    samples = np.array([[0.0, 1.0, np.nan], [0.0, 2.0, np.nan]])
    assert exact_copies(samples, train).tolist() == [True, False]
    # float32 samples copy float64 records that round to them (the decoder's precision)
    assert exact_copies(np.float32([[0.1, 2.0]]), np.array([[0.1, 2.0]])).tolist() == [True]
