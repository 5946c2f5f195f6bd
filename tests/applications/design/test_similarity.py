"""The seeded window search against brute force: it must find every window that qualifies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biovae.applications.design.similarity import (
    UNKNOWN_QUERY,
    UNKNOWN_REFERENCE,
    ReferenceIndex,
    encode,
    match_table,
    seed_length,
)


def brute_best(
    query: np.ndarray, refs: list[np.ndarray], window: int, wildcard: int | None = None
) -> int:
    """Most identical letters of any query window on any diagonal of any reference (letters
    beyond a reference's ends count as mismatches; the code ``wildcard`` equals any letter)."""
    best, n = 0, len(query)
    for ref in refs:
        padded = np.concatenate([np.full(n, 99), ref, np.full(n, 99)])
        for shift in range(len(ref) + n):  # query position 0 against padded position shift
            there = padded[shift : shift + n]
            same = ((there == query) | ((query == wildcard) & (there != 99))).astype(int)
            best = max(best, int(np.convolve(same, np.ones(window, int), "valid").max()))
    return best


def mutate(seq: np.ndarray, positions, size: int) -> np.ndarray:
    out = seq.copy()
    out[positions] = (out[positions] + 1) % size
    return out


@pytest.mark.parametrize(
    "window,identity,size",
    [(12, 0.75, 4), (20, 0.8, 4), (10, 0.9, 4), (50, 0.8, 4), (30, 0.9, 4), (17, 0.8, 20)],
)
def test_every_qualifying_window_is_found(window, identity, size):
    # DNA (4 letters): chance seed hits are frequent, a hard case for seeds and the count filter
    rng = np.random.default_rng(window)
    refs = [rng.integers(0, size, n).astype(np.uint8) for n in (window + 15, window, window + 40)]
    need, length = math.ceil(identity * window - 1e-9), window + 25
    index = ReferenceIndex(refs, window, identity, size)
    for trial in range(40):
        query = rng.integers(0, size, length).astype(np.uint8)
        if trial % 2:  # plant a window with the most mismatches allowed, spread evenly
            ref = refs[trial % 3]
            r0 = rng.integers(0, len(ref) - window + 1)
            q0 = rng.integers(0, length - window + 1)
            spread = np.linspace(0, window - 1, window - need + 2)[1:-1].astype(int)
            query[q0 : q0 + window] = mutate(ref[r0 : r0 + window], spread, size)
        truth = brute_best(query, refs, window)
        hit = index.best(query)
        if truth >= need:
            assert hit is not None and hit.matches == truth
        else:
            assert hit is None or hit.matches < need


def test_the_hit_names_the_reference_and_both_positions():
    rng = np.random.default_rng(1)
    refs = [rng.integers(0, 20, n).astype(np.uint8) for n in (50, 80)]
    query = rng.integers(0, 20, 40).astype(np.uint8)
    query[7:24] = refs[1][30:47]
    hit = ReferenceIndex(refs, 17, 0.8, 20).best(query)
    assert (hit.reference, hit.matches, hit.query_start, hit.reference_start) == (1, 17, 7, 30)


def test_unknown_letters_never_match():
    q = encode("NNNNNNNNNNNN", "ACGT", UNKNOWN_QUERY)
    r = encode("NNNNNNNNNNNN", "ACGT", UNKNOWN_REFERENCE)
    assert ReferenceIndex([r], 10, 0.8, 4).best(q) is None


def test_the_seed_count_filter_follows_the_q_gram_lemma():
    index = ReferenceIndex([np.zeros(60, dtype=np.uint8)], 50, 0.8, 4)
    assert (index.k, index.min_seeds) == (4, 50 - 4 + 1 - 4 * 10)  # 7 seeds on the diagonal


def test_seed_length_is_the_pigeonhole_bound():
    assert seed_length(50, 0.8) == 4  # 10 mismatches: 11 pieces of >= 4
    assert seed_length(17, 0.8) == 4  # 14 of 17 needed: 3 mismatches, 4 pieces of >= 4
    assert seed_length(200, 0.99) == 12  # capped: keys must fit in int64


def test_a_window_hanging_off_a_references_start_names_that_reference():
    """A window that begins before its reference (letters there count as mismatches) named
    the reference before it — before the first one, the last — and a start inside that one."""
    rng = np.random.default_rng(2)
    refs = [rng.integers(0, 4, n).astype(np.uint8) for n in (60, 70, 80)]
    index = ReferenceIndex(refs, 50, 0.8, 4)
    for j, ref in enumerate(refs):
        query = np.concatenate([rng.integers(0, 4, 30), ref[:45]]).astype(np.uint8)
        hit = index.best(query)
        assert (hit.reference, hit.matches, hit.query_start, hit.reference_start) == (j, 45, 25, -5)
        assert hit.on_reference(len(ref)) == (5, 50)


@pytest.mark.parametrize(
    "window,identity,size,slack", [(50, 0.8, 4, 5), (20, 0.8, 4, 2), (17, 0.8, 20, 1)]
)
def test_wildcards_match_what_they_stand_for_and_no_window_is_missed(window, identity, size, slack):
    """A query's wildcards (N or X: any letter) seed nothing, so they spoil k-mers as
    mismatches do: an index with ``slack`` still finds every window that qualifies with them
    as matches (brute force: a wildcard equals whatever letter it meets in a reference)."""
    letters = "ACGT" if size == 4 else "ACDEFGHIKLMNPQRSTVWY"
    table = match_table(letters, {"N": letters})  # code ``size``: stands for every letter
    rng = np.random.default_rng(window + slack)
    refs = [rng.integers(0, size, n).astype(np.uint8) for n in (window + 15, window + 40)]
    need, length = math.ceil(identity * window - 1e-9), window + 25
    index = ReferenceIndex(refs, window, identity, size, slack)
    for trial in range(30):
        query = rng.integers(0, size, length).astype(np.uint8)
        ref = refs[trial % 2]
        r0, q0 = rng.integers(0, len(ref) - window + 1), rng.integers(0, length - window + 1)
        spread = np.linspace(0, window - 1, window - need + 2)[1:-1].astype(int)
        query[q0 : q0 + window] = mutate(ref[r0 : r0 + window], spread, size)
        free = np.setdiff1d(np.arange(window), spread)  # wildcards besides the mismatches
        query[q0 + rng.choice(free, slack, replace=False)] = size
        truth = brute_best(query, refs, window, wildcard=size)
        assert truth >= need  # the planted window, its wildcards counted as matches
        hit = index.best(query, table)
        assert hit is not None and hit.matches == truth
        if not trial:  # letter for letter (no table), its wildcards are mismatches
            assert index.best(query) is None or index.best(query).matches == brute_best(
                query, refs, window
            )
