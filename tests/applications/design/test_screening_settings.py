"""Settings of the reference screen: the share of ambiguity letters a window may hold, and a
declared sample kind (a DNA declaration must not hide a protein's letters)."""

from __future__ import annotations

import numpy as np
import pytest

from biovae.applications.design.screening import MAX_AMBIGUOUS, ReferenceScreen
from biovae.errors import ConfigError, DataError


def _fasta(tmp_path, records: dict[str, str]):
    path = tmp_path / "ref.fasta"
    path.write_text("".join(f">{k}\n{v}\n" for k, v in records.items()))
    return path


def _with_n_every(seq: str, step: int) -> str:
    """``seq`` with every ``step``-th letter (from the first) replaced by N."""
    return "".join("N" if i % step == 0 else c for i, c in enumerate(seq))


def test_the_ambiguity_share_is_a_setting(tmp_path):
    gene = "".join(np.random.default_rng(3).choice(list("ACGT"), 120))
    refs = _fasta(tmp_path, {"gene": gene})
    masked = _with_n_every(gene, 8)  # 7 of every 50 nt (14 %) are N: over the default 10 %
    assert MAX_AMBIGUOUS == 0.1
    default = ReferenceScreen(refs)(["s"], [masked])[0]
    assert default.flagged and default.reason.startswith("ambiguous: 14% ")
    assert "over 10% of a window" in default.reason
    loose = ReferenceScreen(refs, max_ambiguous=0.2)(["s"], [masked])[0]
    assert loose.flagged and "100% identity over 50 nt to 'gene" in loose.reason
    assert "ambiguous" not in loose.reason  # each N matches the letter it stands for
    sparse = _with_n_every(gene, 20)  # 3 of 50 nt: 6 %
    assert "ambiguous" not in ReferenceScreen(refs)(["s"], [sparse])[0].reason
    strict = ReferenceScreen(refs, max_ambiguous=0.05)(["s"], [sparse])[0]
    assert strict.reason.startswith("ambiguous: 6% ") and "over 5% of a window" in strict.reason
    assert ReferenceScreen(refs, max_ambiguous=1)(["s"], ["N" * 60])[0].reason == ""


@pytest.mark.parametrize("share", [0, -0.1, 1.5, float("nan"), True, "0.1"])
def test_an_ambiguity_share_outside_0_to_1_is_refused(tmp_path, share):
    refs = _fasta(tmp_path, {"gene": "ACGT" * 20})
    with pytest.raises(ConfigError, match=r"share in \(0, 1\].*--screen-max-ambiguous"):
        ReferenceScreen(refs, max_ambiguous=share)


def test_samples_declared_dna_must_hold_nucleotide_codes_only(tmp_path):
    """Declared DNA, a protein's letters would match nothing: it would pass unscreened."""
    toxin = "".join(np.random.default_rng(5).choice(list("DEFHIKLMPQVWY"), 40))
    refs = _fasta(tmp_path, {"toxin": toxin})
    assert ReferenceScreen(refs)(["p"], [toxin])[0].flagged  # classed by its letters
    with pytest.raises(
        DataError, match=rf"sequence 'p' holds '{toxin[0]}' at position 1, .*--kind"
    ):
        ReferenceScreen(refs, sample_kind="nucleotide")(["p"], [toxin])
    iupac = "ACGTRYSWKMBDHVNU" * 4  # every nucleotide code is accepted (and screened)
    assert ReferenceScreen(refs, sample_kind="nucleotide")(["d"], [iupac])[0].id == "d"
