"""Ungapped windowed identity search: does a window of ``W`` letters of a query match some
reference, letter for letter on one diagonal, at identity ≥ p?

A window of W letters at identity ≥ p has at most m = W − ⌈p·W⌉ mismatches, so cutting it into
m + 1 pieces leaves one piece of at least ⌊W / (m + 1)⌋ letters without a mismatch (pigeonhole).
Every qualifying window therefore shares an exact k-mer (k = that length, at most
:data:`MAX_K`) with its reference on its own diagonal — in fact at least t = W − k + 1 − k·m of
them, since each mismatch spoils at most k of the window's W − k + 1 k-mers (the q-gram lemma).
The search looks the query's k-mers up in a sorted index of the references' k-mers, keeps the
diagonals with at least max(1, t) seeds inside one window's stretch, and slides a W-letter
window along each of them: **no qualifying window is missed** (tested against brute force).
The count filter is what keeps DNA fast: 4-letter seeds of a 4-letter alphabet hit
everywhere, but rarely t times within W letters of one diagonal by chance. Gaps are not
aligned: an insertion or deletion moves the diagonal, and a window on either side is found when
it qualifies alone. Letters outside the alphabet (stop codons, a reference's N or X) never
match anything — except a query's *wildcards* (:func:`match_table`: ambiguity letters such as
N, R or X), which match every letter they stand for. A wildcard cannot seed, so it spoils
k-mers as a mismatch does: an index built with ``slack`` a allows a more wildcards per window
than mismatches (shorter seeds, fewer needed), and with a ≥ the query's most wildcards in one
window the search still misses no qualifying window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from biovae.errors import DataError

#: codes outside the alphabet: an unknown query letter, an unknown reference letter, and the
#: filler between references (never equal to each other or to a letter)
UNKNOWN_QUERY, UNKNOWN_REFERENCE, FILLER = 254, 255, 253
#: longest seed (alphabet size ** k must fit in int64 for alphabets of up to 25 letters)
MAX_K = 12
#: diagonals × query letters scored at once (bounds memory)
CHUNK = 1 << 22


@dataclass(frozen=True)
class Hit:
    """The best window of a query: reference index, identical letters in the window, window
    length, and the window's 0-based starts in the query and in the reference (the window
    may hang off an end of the reference, its letters there mismatches: the reference start
    is then below 0, or the window runs past the reference's last letter)."""

    reference: int
    matches: int
    window: int
    query_start: int
    reference_start: int

    @property
    def identity(self) -> float:
        return self.matches / self.window

    def on_reference(self, length: int) -> tuple[int, int]:
        """Offsets [lo, hi) of the window's letters that lie on its reference, ``length``
        letters long (the others hang off its ends)."""
        return max(0, -self.reference_start), min(self.window, length - self.reference_start)


def seed_length(window: int, identity: float, slack: int = 0) -> int:
    """Seed length k that no window of ``window`` letters at ``identity`` (with up to
    ``slack`` wildcards besides its mismatches) can lack."""
    spoilers = window - math.ceil(identity * window - 1e-9) + slack
    return max(1, min(MAX_K, window // (spoilers + 1)))


def encode(
    seq: str, letters: str, unknown: int, wildcards: dict[str, str] | None = None
) -> np.ndarray:
    """Codes 0..len(letters)-1 of an upper-case sequence; ``wildcards`` (letter → the letters
    it stands for) get the codes after those, in their order; other letters get ``unknown``."""
    table = np.full(256, unknown, dtype=np.uint8)
    table[np.frombuffer(letters.encode("ascii"), dtype=np.uint8)] = np.arange(len(letters))
    for j, letter in enumerate(wildcards or {}):
        table[ord(letter)] = len(letters) + j
    return table[np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)]


def match_table(letters: str, wildcards: dict[str, str]) -> np.ndarray:
    """Whether query code q matches reference code r (a 256 × 256 table): a letter matches
    itself, a wildcard (coded by :func:`encode`) every letter it stands for, nothing else
    matches (unknown letters, the filler)."""
    table = np.zeros((256, 256), dtype=bool)
    size = len(letters)
    table[np.arange(size), np.arange(size)] = True
    for j, stands_for in enumerate(wildcards.values()):
        table[size + j, [letters.index(c) for c in stands_for]] = True
    return table


class ReferenceIndex:
    """The k-mers of a set of references (code arrays), for :meth:`best` queries."""

    def __init__(
        self,
        references: list[np.ndarray],
        window: int,
        identity: float,
        size: int,
        slack: int = 0,
    ):
        self.window, self.size, self.slack = window, size, slack
        self.need = math.ceil(identity * window - 1e-9)
        self.k = seed_length(window, identity, slack)
        spoilers = window - self.need + slack  # each spoils at most k of the window's k-mers
        self.min_seeds = max(1, window - self.k + 1 - self.k * spoilers)
        filler = np.full(window, FILLER, dtype=np.uint8)  # no window spans two references
        parts, starts, at = [], [], 0
        for ref in references:
            starts.append(at)
            parts += [ref, filler]
            at += len(ref) + window
        self.concat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        if len(self.concat) >= 2**31 - 1:  # positions are int32
            raise DataError(
                "the references hold over 2 billion letters, too many for this screen; screen "
                "against such a database with an external tool (--screen-command)"
            )
        self.starts = np.asarray(starts, dtype=np.int64)
        keys, ok = self._keys(self.concat)
        positions = np.flatnonzero(ok)
        order = np.argsort(keys[positions], kind="stable")
        self.sorted_keys = keys[positions][order]
        self.positions = positions[order].astype(np.int32)  # halves the hot arrays' traffic

    def _keys(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer key of every k-mer, and whether all its letters are in the alphabet."""
        if len(codes) < self.k:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        grams = np.lib.stride_tricks.sliding_window_view(codes, self.k).astype(np.int64)
        powers = self.size ** np.arange(self.k - 1, -1, -1, dtype=np.int64)
        return grams @ powers, (grams < self.size).all(1)

    def best(self, query: np.ndarray, matches: np.ndarray | None = None) -> Hit | None:
        """The query's best window over all references, or None when no seed is shared;
        ``matches``: a :func:`match_table` when the query holds wildcards (at most
        ``slack`` in any window, for no window to be missed), else letters match themselves."""
        diagonals = self._diagonals(query)
        if len(diagonals) == 0:
            return None
        best = (-1, 0, 0)  # matches, diagonal, query start
        rows = max(1, CHUNK // max(len(query), 1))
        for lo in range(0, len(diagonals), rows):
            best = max(best, self._score(query, diagonals[lo : lo + rows], matches))
        matches, diagonal, start = best
        ref_pos = diagonal + start
        # a window hanging off the start of its reference begins in the filler before it (or
        # before the first): its last letter, in the reference or the filler after it, names it
        ref = int(np.searchsorted(self.starts, ref_pos + self.window - 1, side="right") - 1)
        return Hit(ref, matches, self.window, start, int(ref_pos - self.starts[ref]))

    def _diagonals(self, query: np.ndarray) -> np.ndarray:
        keys, ok = self._keys(query)
        qpos = np.flatnonzero(ok)
        left = np.searchsorted(self.sorted_keys, keys[qpos], side="left")
        counts = np.searchsorted(self.sorted_keys, keys[qpos], side="right") - left
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        first = np.repeat((left - (np.cumsum(counts) - counts)).astype(np.int32), counts)
        qrep = np.repeat(qpos.astype(np.int32), counts)
        diagonal = self.positions[first + np.arange(total, dtype=np.int32)] - qrep
        if self.min_seeds == 1:
            return np.unique(diagonal)
        return self._dense(diagonal, qrep, len(query))

    def _dense(self, diagonal: np.ndarray, qpos: np.ndarray, length: int) -> np.ndarray:
        """Diagonals with ``min_seeds`` seeds inside one window: t consecutive seeds (by
        query position) spanning at most W − k letters. Counting whole diagonals first
        leaves few seeds to sort."""
        t = self.min_seeds
        shifted = diagonal + length
        many = (np.bincount(shifted) >= t)[shifted]
        d, q = diagonal[many], qpos[many]
        order = np.argsort(d, kind="stable")  # q is ascending already: (d, q) order
        d, q = d[order], q[order]
        close = (d[t - 1 :] == d[: len(d) - t + 1]) & (
            q[t - 1 :] - q[: len(q) - t + 1] <= self.window - self.k
        )
        return np.unique(d[: len(d) - t + 1][close])

    def _score(
        self, query: np.ndarray, diagonals: np.ndarray, table: np.ndarray | None
    ) -> tuple[int, int, int]:
        """(matches, diagonal, query start) of the best window on these diagonals."""
        idx = diagonals[:, None] + np.arange(len(query))[None, :]
        inside = (idx >= 0) & (idx < len(self.concat))
        ref = self.concat[np.clip(idx, 0, max(len(self.concat) - 1, 0))]
        same = (ref == query[None, :]) if table is None else table[query[None, :], ref]
        match = same & inside
        cs = np.zeros((len(diagonals), len(query) + 1), dtype=np.int32)
        np.cumsum(match, axis=1, out=cs[:, 1:])
        sums = cs[:, self.window :] - cs[:, : -self.window]
        row, start = np.unravel_index(int(np.argmax(sums)), sums.shape)
        return int(sums[row, start]), int(diagonals[row]), int(start)


def window_sums(flags: np.ndarray, w: int) -> np.ndarray:
    """How many of each window of ``w`` letters are set in ``flags`` (one per window start)."""
    cs = np.concatenate([[0], np.cumsum(flags)])
    return cs[w:] - cs[:-w]


class PairWindows:
    """Window of each (sample, reference) pair: the set one, or the shorter of the two
    sequences when one is shorter than that — so one short sample or reference shortens the
    window of its own comparisons only. One :class:`ReferenceIndex` per window and group of
    references, built when first needed."""

    def __init__(self, coded: list[np.ndarray], window: int, identity: float, size: int):
        self.coded, self.window, self.identity, self.size = coded, window, identity, size
        self.lengths = np.array([len(r) for r in coded])
        self.short = sorted({int(n) for n in self.lengths if n < window})
        self._indices: dict[tuple[int, bool, int], tuple[ReferenceIndex, np.ndarray]] = {}

    def hits(self, query: np.ndarray, wild: np.ndarray, matches: np.ndarray) -> list[Hit]:
        """The qualifying best hit of ``query`` (``wild``: its wildcards, matching as the
        table ``matches`` says) in every window group (reference indices of the whole list)."""
        w = min(self.window, len(query))
        groups = [(w, False)] + [(n, True) for n in self.short if n < w]
        out = []
        for width, exact in groups:
            slack = int(window_sums(wild, width).max())  # wildcards seed nothing
            index, members = self._index(width, exact, slack)
            hit = index.best(query, matches if slack else None) if len(members) else None
            if hit is not None and hit.matches >= index.need:
                out.append(replace(hit, reference=int(members[hit.reference])))
        return out

    def _index(self, w: int, exact: bool, slack: int) -> tuple[ReferenceIndex, np.ndarray]:
        """References at least ``w`` long (or exactly ``w`` long) and their index at ``w``
        for queries with up to ``slack`` wildcards in a window."""
        if (w, exact, slack) not in self._indices:
            keep = self.lengths == w if exact else self.lengths >= w
            members = np.flatnonzero(keep)
            refs = [self.coded[j] for j in members]
            index = ReferenceIndex(refs, w, self.identity, self.size, slack) if refs else None
            self._indices[w, exact, slack] = (index, members)
        return self._indices[w, exact, slack]
