"""EVE's focus-column filter (--max-column-gaps) and the zero weight of records without residues,
against alignments small enough to count by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biovae.applications.variants import family
from biovae.applications.variants.alignment import read_alignment
from biovae.applications.variants.config import (
    AlignmentConfig,
    FamilyModelConfig,
    FamilyTrainConfig,
    VariantsConfig,
)
from biovae.applications.variants.weights import sequence_weights
from biovae.errors import ConfigError, DataError, ModelFileError

# match columns A C E F (residues 10, 11, 13, 14); 'd' is the focus's insert residue 12.
# Gaps per match column over the 5 records: 10: 0, 11: 2 (40 %), 13: 1 (20 %), 14: 3 (60 %);
# every record has at most 2 of 4 gaps, so max_gap_fraction 0.5 keeps all.
WITH_INSERT = """>focus/10-14
ACdEF
>r1
AC.E-
>r2
A-.E-
>r3
A-.EF
>r4
ACa--
"""

# residues 10-13. Gaps per column over the 6 records: 10: 3 (50 %), 11: 2 (33.3 %), 12: 1,
# 13: 1 (16.7 %). At 0.3 columns 10 and 11 go; then r4 (AC--) has no residue left and the
# other five records are identical over 12-13 (DE): weights 1/5 each, r4 0, Neff 1.
EMPTIED = """>focus/10-13
ACDE
>r1
-CDE
>r2
A-DE
>r3
--DE
>r4
AC--
>r5
-CDE
"""

SMALL = VariantsConfig(
    model=FamilyModelConfig(n_latent=2, encoder_hidden=(16,), decoder_hidden=(8, 8), rank=2),
    train=FamilyTrainConfig(steps=20, batch_size=8),
)


def _write(tmp_path, text: str):
    path = tmp_path / "family.a2m"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("threshold", "kept", "dropped"),
    [
        (None, (10, 11, 13, 14), ()),
        (1.0, (10, 11, 13, 14), ()),
        (0.5, (10, 11, 13), ((14, 3),)),
        (0.4, (10, 11, 13), ((14, 3),)),  # 2 of 5 is exactly 0.4: kept, as in EVE
        (0.3, (10, 13), ((11, 2), (14, 3))),
        (0.0, (10,), ((11, 2), (13, 1), (14, 3))),
    ],
)
def test_columns_with_more_gaps_than_the_threshold_are_dropped(tmp_path, threshold, kept, dropped):
    aln = read_alignment(_write(tmp_path, WITH_INSERT), max_column_gaps=threshold)
    assert aln.positions == kept
    assert [(d.position, d.gaps) for d in aln.dropped_columns] == list(dropped)
    assert all(d.records == 5 and d.threshold == threshold for d in aln.dropped_columns)
    full = {10: "AAAAA", 11: "CC--C", 13: "EEEE-", 14: "F--F-"}  # by hand, records down
    assert aln.codes.shape == (5, len(kept))
    for j, number in enumerate(kept):
        assert "".join(aln.alphabet[c] for c in aln.codes[:, j]) == full[number]
    # the focus's whole sequence keeps every residue; a dropped column's is left as is
    residues = aln.focus_residues
    assert residues.sequence == "ACDEF"
    assert residues.index == tuple({10: 0, 11: 1, 13: 3, 14: 4}[p] for p in kept)
    assert residues.whole(aln.focus_sequence, "W" * len(kept)) == "".join(
        "W" if n in kept else a for n, a in zip((10, 11, 12, 13, 14), "ACDEF")
    )


def test_a_record_left_without_residues_weighs_zero(tmp_path):
    aln = read_alignment(_write(tmp_path, EMPTIED), max_column_gaps=0.3)
    assert aln.positions == (12, 13) and len(aln) == 6
    weights = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
    assert weights.tolist() == [0.2, 0.2, 0.2, 0.2, 0.0, 0.2]
    assert weights.sum() == pytest.approx(1.0)


def test_records_of_gaps_only_weigh_zero_and_leave_the_others_alone(tmp_path):
    text = ">focus/1-6\nACDEFG\n>s1\nACDEFH\n>s2\nKLMNPQ\n>e1\n------\n>e2\n------\n>h\nAC----\n"
    default = read_alignment(_write(tmp_path, text))  # 0.5: the two empty rows (and h) go
    assert default.ids == ("focus/1-6", "s1", "s2") and default.n_gappy == 3
    aln = read_alignment(_write(tmp_path, text), max_gap_fraction=1.0)
    weights = sequence_weights(aln.codes, aln.gap, len(aln.alphabet), 0.2)
    # focus and s1 share 5 of 6 residues (≥ 80 %): 1/2 each; h's 2 residues match both: 1/3;
    # focus and s1 do not count h (2 of 6); the empty rows are no one's neighbour and weigh 0
    assert weights.tolist() == [0.5, 0.5, 1.0, 0.0, 0.0, 1 / 3]
    assert weights.sum() == pytest.approx(2.5 + 1 / 3 - 0.5)


def test_thresholds_outside_zero_to_one_and_dropping_every_column_are_errors(tmp_path):
    path = _write(tmp_path, WITH_INSERT)
    with pytest.raises(DataError, match=r"max_column_gaps must be in \[0, 1\]"):
        read_alignment(path, max_column_gaps=1.5)
    with pytest.raises(ConfigError, match="max_column_gaps"):
        AlignmentConfig(max_column_gaps=-0.1)
    all_gappy = ">f/1-2\nAC\n>a\n--\n>b\n--\n"
    with pytest.raises(DataError, match="drops them all"):
        read_alignment(_write(tmp_path, all_gappy), max_gap_fraction=1.0, max_column_gaps=0.5)


@pytest.fixture(scope="module")
def filtered(tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("columns"), EMPTIED)
    aln = read_alignment(path, max_column_gaps=0.3)
    return family.fit(aln, SMALL)


def test_mutations_at_dropped_columns_are_reported_and_not_scanned(filtered, tmp_path):
    cols = filtered.score(["A10G", "D12E", "C11A", "Q12E", "E13W"], n_samples=2)
    assert cols["status"].tolist() == ["unmapped", "ok", "unmapped", "unmapped", "ok"]
    assert cols["reason"][0] == (
        "column 10 dropped: 50.0% gaps (3 of 6 sequences) > 0.3 (--max-column-gaps); "
        "the model does not score it"
    )
    assert cols["reason"][2].startswith("column 11 dropped: 33.3% gaps (2 of 6 sequences)")
    assert np.isnan(cols["score"][[0, 2]]).all() and np.isfinite(cols["score"][[1, 4]]).all()
    table, _ = filtered.scan(n_samples=2)
    assert sorted(set(table["position"].tolist())) == [12, 13]
    assert filtered.facts["neff"] == pytest.approx(1.0)
    # saved and loaded: the same columns, reasons and scores
    family.save(tmp_path / "m", filtered)
    back = family.load(tmp_path / "m")
    assert back.positions == (12, 13) and back.dropped_columns == filtered.dropped_columns
    again = back.score(["A10G", "D12E", "C11A", "Q12E", "E13W"], n_samples=2)
    assert again["reason"].tolist() == cols["reason"].tolist()
    np.testing.assert_array_equal(again["score"], cols["score"])


def test_a_model_saved_without_the_column_filter_loads_and_scores_as_before(tmp_path):
    aln = read_alignment(_write(tmp_path, EMPTIED))
    fitted = family.fit(aln, SMALL)
    family.save(tmp_path / "m", fitted)
    names = ["A10G", "C11A", "D12E", "A14G", "Q12E"]
    before = family.load(tmp_path / "m").score(names, n_samples=2)
    # strip what the option added, as a model saved before it would be (and before SHA256SUMS)
    (tmp_path / "m" / "SHA256SUMS").unlink()
    meta_path, config_path = tmp_path / "m" / "metadata.json", tmp_path / "m" / "config.json"
    meta, config = json.loads(meta_path.read_text()), json.loads(config_path.read_text())
    assert meta.pop("dropped_columns") == [] and config["alignment"].pop("max_column_gaps") is None
    meta_path.write_text(json.dumps(meta))
    config_path.write_text(json.dumps(config))
    old = family.load(tmp_path / "m")
    assert old.positions == (10, 11, 12, 13) and old.dropped_columns == ()
    after = old.score(names, n_samples=2)
    np.testing.assert_array_equal(after["score"], before["score"])
    assert after["status"].tolist() == ["ok", "ok", "ok", "unmapped", "unmapped"]
    assert "not a match column" in after["reason"][3]


def test_a_damaged_dropped_columns_entry_is_a_one_line_error(filtered, tmp_path):
    family.save(tmp_path / "m", filtered)
    meta_path = tmp_path / "m" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["dropped_columns"] = [{"position": 10, "gaps": 9, "records": 6, "threshold": 0.3}]
    meta_path.write_text(json.dumps(meta))
    (tmp_path / "m" / "SHA256SUMS").unlink()  # an edit the manifest would refuse first
    with pytest.raises(ModelFileError, match="'dropped_columns' entry is damaged"):
        family.load(tmp_path / "m")


def test_design_refuses_a_dropped_column_with_its_reason(filtered):
    from biovae.applications.variants.design import DesignSettings, design

    with pytest.raises(ConfigError, match=r"column 11 dropped: 33\.3% gaps"):
        design(filtered, DesignSettings(n_mutations=1, positions=(11, 12), n_samples=2))
