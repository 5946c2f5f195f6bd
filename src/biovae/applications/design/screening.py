"""Screening generated sequences before they leave biovae: a biosecurity safeguard.

A generative model of a sequence family can emit sequences close to genes or proteins of
concern (toxins, virulence factors, regulated agents' genes), whether or not its training data
held them. Synthesis providers screen orders for this; biovae lets the same check run where the
sequences are made. Two screens, usable together:

* :class:`ReferenceScreen` — the samples against a FASTA of sequences of concern that *you*
  supply (biovae ships none): a sample is flagged when some window of ``W`` letters matches a
  reference at identity ≥ p without gaps (:mod:`~biovae.applications.design.similarity`;
  defaults W = 50 nucleotides — the window of the 2024 US framework for nucleic-acid synthesis
  screening — or 17 amino acids, the same stretch of protein, and p = 0.8). Nucleotide samples
  are searched on both strands; nucleotide samples against protein references, and protein
  samples against nucleotide references, are compared in all six reading frames (standard
  code), since a protein of concern can be encoded by many DNA sequences. DNA samples meet
  DNA references as DNA only (not translated): a synonymously recoded gene passes unless its
  protein is in the list too. Each sample and each reference is classed as nucleotide or
  protein on its own, so files may mix the two. A sample's ambiguity letters (N, R, …; X)
  match every letter they stand for and are searched again deleted; a window of the sample
  over ``max_ambiguous`` of them (a share, :data:`MAX_AMBIGUOUS` unless set) flags it as
  ambiguous (too many sequences to tell).
* :class:`CommandScreen` — any external screening program (e.g. the IBBIS Common Mechanism, a
  SecureDNA client, an institution's own pipeline) behind a two-file contract: it reads the
  samples as FASTA at ``{fasta}`` and writes a TSV at ``{out}`` with columns ``id`` and
  ``flagged`` (yes/no, true/false, 1/0, flag/pass) and optionally ``reason``. It runs in a
  process group of its own with no input (its output discarded, its error output kept in a
  file, never in memory), and is stopped (the whole group) when it runs past its time limit
  (``timeout``, :data:`TIMEOUT` seconds unless set); what it leaves running is stopped too.

Policy, fail closed: a sample flagged by any screen is withheld; a screen that cannot give a
verdict for every sample (the program fails, runs past its time limit or leaves ids out) stops
the run before anything is written, as does a sample or reference holding a character that is
no sequence letter (:func:`checked`). Screening is an aid, not a guarantee: an alignment-free
window search misses distant homologs, and an empty list screens nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from biovae.applications.design.command_screen import TIMEOUT, CommandScreen
from biovae.applications.design.sequence_kinds import (
    AMBIGUITY,
    AMINO_ACIDS,
    COMPLEMENT,
    FRAMES,
    NUCLEOTIDES,
    check_kind,
    kinds,
    ref_kinds,
    six_frames,
)
from biovae.applications.design.similarity import (
    UNKNOWN_QUERY,
    UNKNOWN_REFERENCE,
    Hit,
    PairWindows,
    encode,
    match_table,
    window_sums,
)
from biovae.data.fasta import read_fasta_records
from biovae.errors import ConfigError, DataError

__all__ = [
    "TIMEOUT",
    "CommandScreen",
    "ReferenceScreen",
    "Verdict",
    "checked",
    "screen_sequences",
    "ungapped",
]

#: default windows (letters): 50 nt, and the 17 residues that 50 nt encode
WINDOW = {"nucleotide": 50, "protein": 17}
#: shortest window (and reference) screened: below it, chance matches flag everything
MIN_WINDOW = 10
#: most ambiguity letters a window of a sample may hold (a share; ``max_ambiguous`` sets
#: another): a denser stretch stands for too many sequences to tell which would be made, and
#: the sample is flagged for review
MAX_AMBIGUOUS = 0.1
#: characters that are no sequence letter: FASTA sequence lines hold letters, '*' (a stop
#: codon) and the gaps '-' and '.' (white space is dropped when the file is read)
_NOT_LETTERS = re.compile(r"[^A-Za-z*.\-]")


@dataclass(frozen=True)
class Verdict:
    """One sample's screening result: flagged or not, by which screens, and why."""

    id: str
    flagged: bool
    screen: str = ""
    reason: str = ""


#: a screen takes sample ids and ungapped upper-case sequences, returns one verdict per sample
Screen = Callable[[Sequence[str], Sequence[str]], list[Verdict]]


def screen_sequences(
    ids: Sequence[str], sequences: Sequence[str], screens: Sequence[Screen]
) -> list[Verdict]:
    """Every screen on every sample (gaps removed); flagged when any screen flags it."""
    seen: set[str] = set()
    for rid in ids:
        if rid in seen:
            raise DataError(f"record id '{rid}' occurs twice; give every sequence its own id")
        seen.add(rid)
    seqs = [checked(rid, s) for rid, s in zip(ids, sequences)]
    flags = [False] * len(ids)
    names: list[list[str]] = [[] for _ in ids]
    reasons: list[list[str]] = [[] for _ in ids]
    for screen in screens:
        for i, verdict in enumerate(screen(list(ids), seqs)):
            if verdict.flagged:
                flags[i] = True
                names[i].append(verdict.screen)
                reasons[i].append(verdict.reason)
    return [
        Verdict(rid, flag, ",".join(n), "; ".join(r))
        for rid, flag, n, r in zip(ids, flags, names, reasons)
    ]


def ungapped(seq: str) -> str:
    """Upper case without alignment gaps ('-', '.'): what would be synthesised."""
    return seq.upper().replace("-", "").replace(".", "")


def checked(rid: str, seq: str, where: str = "sequence") -> str:
    """:func:`ungapped` ``seq``, refused when it holds a character that is no sequence letter
    (digits, punctuation, non-ASCII): such a record is not read as intended — digits every
    few letters made DNA read as protein, which let a copy of a DNA reference pass."""
    bad = _NOT_LETTERS.search(seq)
    if bad:
        raise DataError(
            f"{where} '{rid}' holds {bad.group()!r} at position {bad.start() + 1}, which is not "
            "a sequence letter (letters, '*', and the gaps '-' and '.' only); remove it"
        )
    return ungapped(seq)


@dataclass(frozen=True)
class ReferenceScreen:
    """Flag samples with a window of ``window`` letters at ≥ ``identity`` to a reference of
    the FASTA ``path`` (window None: 50 nt or 17 aa, by the compared sequences' kind). The
    references are read and checked here, so a bad reference file fails before any samples
    are made or read. ``sample_kind`` (``nucleotide`` or ``protein``) is the samples' kind
    when it is known (a model's alphabet, or declared); else each sample's letters tell
    (:func:`kinds`). ``max_ambiguous``: the largest share of ambiguity letters a window of a
    sample may hold before the sample is flagged as ambiguous, in (0, 1]."""

    path: Path
    window: int | None = None
    identity: float = 0.8
    sample_kind: str | None = None
    max_ambiguous: float = MAX_AMBIGUOUS
    references: tuple[tuple[str, ...], tuple[str, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.sample_kind not in (None, "nucleotide", "protein"):
            raise ConfigError(f"sample_kind {self.sample_kind!r}: use nucleotide or protein")
        window, identity = self.window, self.identity
        if window is not None and (_wrong_type(window, Integral) or window < MIN_WINDOW):
            raise ConfigError(
                f"the screening window must be >= {MIN_WINDOW} letters (a whole number), got "
                f"{window!r}"
            )
        if _wrong_type(identity, Real) or not 0.5 <= identity <= 1.0:
            raise ConfigError(f"the screening identity must be between 0.5 and 1, got {identity!r}")
        share = self.max_ambiguous
        if _wrong_type(share, Real) or not 0 < share <= 1:
            raise ConfigError(
                f"the most ambiguity letters a window may hold is a share in (0, 1] (0.1 is "
                f"10 %; --screen-max-ambiguous), got {share!r}"
            )
        object.__setattr__(self, "references", self._references())  # frozen: set once here
        if self.sample_kind == "protein":  # known now: refuse before any samples are made
            self._check_translatable()

    def __call__(self, ids: Sequence[str], sequences: Sequence[str]) -> list[Verdict]:
        names, refs = self.references
        # called directly, not through screen_sequences: lower case or gaps must not pass
        sequences = [checked(rid, s) for rid, s in zip(ids, sequences)]
        for rid, seq in zip(ids, sequences):
            check_kind(rid, seq, self.sample_kind)
        # each sequence has its own kind: a file may mix DNA and protein, and pooling the
        # letters would let the majority kind hide the others (screening failing open)
        of_refs = [ref_kinds(r, self.sample_kind) for r in refs]
        known = (self.sample_kind,) if self.sample_kind else None
        sample_kinds = [known or kinds(s) for s in sequences]
        if any("protein" in ks for ks in sample_kinds):
            self._check_translatable()
        best: list[_Found | None] = [None] * len(ids)
        ambiguous: list[str] = [""] * len(ids)
        for ref_kind in sorted({k for ks in of_refs for k in ks}):
            group = [j for j, ks in enumerate(of_refs) if ref_kind in ks]
            for sample_kind in sorted({k for ks in sample_kinds for k in ks}):
                comparison = _Comparison(
                    [names[j] for j in group],
                    [refs[j] for j in group],
                    ref_kind,
                    sample_kind,
                    (self.window, self.identity, self.max_ambiguous),
                )
                for i in (i for i, ks in enumerate(sample_kinds) if sample_kind in ks):
                    founds, why = comparison.hits(ids[i], sequences[i])
                    ambiguous[i] = ambiguous[i] or why
                    for found in founds:
                        if best[i] is None or found[0].identity > best[i][0].identity:
                            best[i] = found
        return [_verdict(*args) for args in zip(ids, best, ambiguous)]

    def _references(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Ids and ungapped upper-case sequences (U read as T) of the reference FASTA."""
        records = read_fasta_records(self.path)
        where = f"{self.path}: record"
        refs = [checked(r, s, where).replace("U", "T") for r, s in zip(records.ids, records.seqs)]
        for rid, ref in zip(records.ids, refs):
            if len(ref) < MIN_WINDOW:
                raise DataError(
                    f"{self.path}: record '{rid}' has {len(ref)} letters; references shorter "
                    f"than {MIN_WINDOW} cannot be screened for (chance matches); remove it"
                )
        return tuple(records.ids), tuple(refs)

    def _check_translatable(self) -> None:
        """Protein samples meet DNA references through their frames: each needs a frame of
        :data:`MIN_WINDOW` codons, as a protein reference needs that many residues."""
        for rid, ref in zip(*self.references):
            if "nucleotide" in ref_kinds(ref, self.sample_kind) and len(ref) < 3 * MIN_WINDOW:
                raise DataError(
                    f"protein samples cannot be screened against record '{rid}' of {self.path}: "
                    f"its {len(ref)} nt translate to under {MIN_WINDOW} residues (chance "
                    "matches); remove it, or screen it with DNA samples only"
                )


def _wrong_type(value: object, kind: type) -> bool:
    """Whether ``value`` is not a ``kind`` (a number type), or is a bool (True is 1)."""
    return isinstance(value, bool) or not isinstance(value, kind)


class _Comparison:
    """Samples of one kind against references of one kind: the references as compared (both
    strands of DNA against DNA; the six frames of DNA references against protein samples),
    their names, and the unit of comparison (DNA samples against protein references are
    translated in six frames as queries); ``settings``: the screen's window, identity and
    most ambiguity letters per window (a share)."""

    def __init__(
        self,
        names: list[str],
        refs: list[str],
        ref_kind: str,
        sample_kind: str,
        settings: tuple[int | None, float, float],
    ):
        window, identity, self.max_ambiguous = settings
        self.unit = "protein" if "protein" in (ref_kind, sample_kind) else "nucleotide"
        self.frames = sample_kind == "nucleotide" and ref_kind == "protein"
        self.sample_kind, self.ambiguity = sample_kind, list(AMBIGUITY[sample_kind])
        self.strip = str.maketrans("", "", "".join(self.ambiguity))
        if sample_kind == "protein" and ref_kind == "nucleotide":  # frames of 10+ codons
            framed = [
                (f"{n} (frame {f})", t)
                for n, r in zip(names, refs)
                for f, t in zip(FRAMES, six_frames(r))
                if len(t) >= MIN_WINDOW
            ]
            names, refs = [n for n, _ in framed], [t for _, t in framed]
        elif self.unit == "nucleotide":  # both strands
            names = [f"{n} ({strand} strand)" for strand in ("+", "−") for n in names]
            refs = refs + [r.translate(COMPLEMENT)[::-1] for r in refs]
        self.names = names
        self.letters = AMINO_ACIDS if self.unit == "protein" else NUCLEOTIDES
        self.wildcards = AMBIGUITY[self.unit]  # a sample's ambiguity letters, not a reference's
        self.matches = match_table(self.letters, self.wildcards)
        coded = [encode(r, self.letters, UNKNOWN_REFERENCE) for r in refs]
        size = len(self.letters)
        self.pairs = PairWindows(coded, window or WINDOW[self.unit], identity, size)

    def hits(self, rid: str, seq: str) -> tuple[list[_Found], str]:
        """Every qualifying hit of the sample ``seq`` (or of its six frames), and why it is
        ambiguous ('' when it is not): a sample with a window (of its own letters: 3 W nt
        for W-residue frames) over ``max_ambiguous`` ambiguity letters is not searched.
        Ambiguity letters are wildcards, and are searched again as gaps (deleted): an N run
        stands for a gap of unknown length in an assembly, and Ns inserted between a gene's
        letters must not hide it."""
        w = min(self.pairs.window * (3 if self.frames else 1), len(seq))
        counts = window_sums(np.isin(list(seq), self.ambiguity), w) if w else np.zeros(1)
        if counts.max() > self.max_ambiguous * w:
            return [], self._ambiguous(counts, w)
        stripped = seq.translate(self.strip)
        queries = self._queries(seq, "")
        if stripped != seq:
            queries += self._queries(stripped, "without its ambiguity letters, ")
        out = []
        for query, label in queries:
            if len(query) < MIN_WINDOW:
                if label.startswith("without"):
                    continue  # too short to screen once deleted: screened as wildcards
                raise DataError(_too_short(rid, seq, query, label))
            coded = encode(query, self.letters, UNKNOWN_QUERY, self.wildcards)
            wild = (coded >= len(self.letters)) & (coded < len(self.letters) + len(self.wildcards))
            for hit in self.pairs.hits(coded, wild, self.matches):
                out.append((hit, label, self))
        return out, ""

    def _queries(self, seq: str, note: str) -> list[tuple[str, str]]:
        """The sequences compared for ``seq`` (its frames, or itself), labelled for reasons."""
        if self.frames:
            return list(zip(six_frames(seq), [f"{note}frame {f} " for f in FRAMES]))
        return [(seq.replace("U", "T") if self.unit == "nucleotide" else seq, note)]

    def _ambiguous(self, counts: np.ndarray, w: int) -> str:
        at = int(np.argmax(counts))
        letters = "nt" if self.sample_kind == "nucleotide" else "aa"
        return (
            f"ambiguous: {counts[at] / w:.0%} ambiguity letters ({counts[at]} of {w} {letters} "
            f"at sample {at + 1}–{at + w}, read as {self.sample_kind}s; over "
            f"{self.max_ambiguous:.0%} of a window stands for too many sequences to screen): give "
            "the letters that would be made"
        )


def _too_short(rid: str, seq: str, query: str, label: str) -> str:
    """Why the sample ``seq`` (or its frame ``label``, translated to ``query``) cannot be
    screened: a frame is named with the sample's own length, not the frame's alone."""
    if not label:
        return (
            f"sequence '{rid}' has {len(query)} letters to compare; sequences shorter than "
            f"{MIN_WINDOW} cannot be screened (remove it)"
        )
    return (
        f"sequence '{rid}' ({len(seq)} nt) translates to {len(query)} residues in {label.strip()}; "
        f"DNA meets protein references in six frames of at least {MIN_WINDOW} codons, so under "
        f"{3 * MIN_WINDOW + 2} nt it cannot be screened against them (remove it)"
    )


#: a hit, the label of the query it came from (a frame, or empty), and its comparison
_Found = tuple[Hit, str, _Comparison]


def _verdict(rid: str, found: _Found | None, ambiguous: str) -> Verdict:
    if found is None:
        return Verdict(rid, bool(ambiguous), "reference" if ambiguous else "", ambiguous)
    hit, label, comparison = found
    letters = "nt" if comparison.unit == "nucleotide" else "aa"
    lo, hi = hit.on_reference(int(comparison.pairs.lengths[hit.reference]))
    q0, r0, past = hit.query_start + 1, hit.reference_start + 1, hit.window - (hi - lo)
    beyond = f"; {past} {letters} of the window lie outside the reference" if past else ""
    where = f"sample {label}{q0 + lo}–{q0 + hi - 1}, reference {r0 + lo}–{r0 + hi - 1}{beyond}"
    name = comparison.names[hit.reference]
    about = f"{hit.identity:.0%} identity over {hit.window} {letters} to '{name}' ({where})"
    return Verdict(rid, True, "reference", "; ".join(filter(None, [about, ambiguous])))
