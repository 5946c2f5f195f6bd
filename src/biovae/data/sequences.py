"""Sequence alphabets and the letter <-> uint8 code conversion used for DNA, RNA and protein."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from biovae.errors import DataError

DNA = "ACGT-"
RNA = "ACGU-"
PROTEIN = "ACDEFGHIKLMNPQRSTVWY-"
ALPHABETS = (DNA, RNA, PROTEIN)
#: the alphabets by name, as ``--alphabet`` gives them
NAMED = {"protein": PROTEIN, "dna": DNA, "rna": RNA}

_INVALID = 255
# A sequence is read as nucleotides when at least this share of its letters are A/C/G/T/U/N.
_NUCLEOTIDE_SHARE = 0.9
_IUPAC_NUCLEOTIDES = "ACGTURYKMSWBDHVN"


def byte_matrix(seqs: Sequence[str], ids: Sequence[str], source: str) -> np.ndarray:
    """Stack equal-length sequences into an ``(n, L)`` uint8 matrix of ASCII bytes.

    Raises
    ------
    DataError
        If the sequences differ in length ("ragged sequences"), naming the first offender, or
        hold a character outside ASCII (named as written, not as the '?' it would become).
    """
    if not seqs:
        raise DataError(f"{source}: no sequences found; the file has no records")
    length = len(seqs[0])
    for rid, seq in zip(ids, seqs):
        if len(seq) != length:
            raise DataError(
                f"{source}: ragged sequences: record '{rid}' has length {len(seq)}, expected "
                f"{length} (record '{ids[0]}'); align them first (e.g. with MAFFT) "
                "or pass an alignment"
            )
    joined = "".join(seqs)
    if not joined.isascii():
        _refuse_non_ascii(seqs, ids, source)
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(len(seqs), length).copy()


def _refuse_non_ascii(seqs: Sequence[str], ids: Sequence[str], source: str) -> None:
    """A one-line error naming the first character outside ASCII (an en dash '–' pasted for a
    gap, a non-breaking space) by record, position and code point."""
    row = next(i for i, seq in enumerate(seqs) if not seq.isascii())
    col = next(j for j, c in enumerate(seqs[row]) if not c.isascii())
    char = seqs[row][col]
    raise DataError(
        f"{source}: record '{ids[row]}' position {col + 1}: character {char!r} "
        f"(U+{ord(char):04X}) is not a sequence letter; replace it (a gap is '-')"
    )


def upper(raw: np.ndarray) -> np.ndarray:
    """Upper-case ASCII letters of a byte matrix (returns a new array)."""
    lower = (raw >= ord("a")) & (raw <= ord("z"))
    return np.where(lower, raw - 32, raw).astype(np.uint8)


def detect_alphabet(raw: np.ndarray) -> str:
    """Pick DNA, RNA or protein from upper-case letter frequencies.

    Nucleotides when at least 90 % of the non-gap characters are A, C, G, T, U or N, or when
    every letter is an IUPAC nucleotide code and at least half are A/C/G/T/U/N (so DNA with
    ambiguity codes such as N or R is reported as such rather than read as protein). X is not
    counted: an unknown amino acid and a masked base alike (RepeatMasker ``-x``), it says
    nothing of the kind (DNA with masked records was read as protein). RNA when U occurs and T
    does not. Everything else is protein.
    """
    counts = np.bincount(raw.ravel(), minlength=256)
    letters = counts.sum() - counts[ord("-")] - counts[ord(".")] - counts[ord("X")]
    if letters == 0:
        return PROTEIN
    nucleotide = sum(int(counts[ord(c)]) for c in "ACGTUN")
    iupac = sum(int(counts[ord(c)]) for c in _IUPAC_NUCLEOTIDES)
    share = nucleotide / letters
    if share < _NUCLEOTIDE_SHARE and not (iupac == letters and share >= 0.5):
        return PROTEIN
    return RNA if counts[ord("U")] > 0 and counts[ord("T")] == 0 else DNA


def encode(
    raw: np.ndarray,
    alphabet: str,
    ids: Sequence[str],
    labels: Sequence[str],
    source: str,
    *,
    drop_invalid: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Map an upper-case byte matrix to codes indexing ``alphabet``.

    Parameters
    ----------
    raw
        ``(n, L)`` uint8 ASCII bytes.
    alphabet
        Letters in code order.
    ids, labels
        Record ids and position labels, for error messages.
    source
        File name, for error messages.
    drop_invalid
        Drop records that contain a letter outside the alphabet instead of raising.

    Returns
    -------
    codes, keep
        ``(m, L)`` uint8 codes and the boolean mask of the ``n`` records that were kept.
    """
    lut = np.full(256, _INVALID, dtype=np.uint8)
    lut[np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)] = np.arange(len(alphabet))
    codes = lut[raw]
    bad = codes == _INVALID
    bad_rows = bad.any(axis=1)
    if not bad_rows.any():
        return codes, np.ones(len(raw), dtype=bool)
    if drop_invalid:
        if (~bad_rows).any():  # all dropped: the caller's error says so
            warnings.warn(
                f"{source}: {int(bad_rows.sum())} of {len(raw)} records dropped for letters "
                f"outside the alphabet '{alphabet}' (drop_invalid)",
                stacklevel=3,
            )
        return codes[~bad_rows], ~bad_rows
    row = int(np.argmax(bad_rows))
    col = int(np.argmax(bad[row]))
    letter = chr(raw[row, col])
    protein = alphabet in (DNA, RNA) and letter in PROTEIN  # nucleotide codes detected
    raise DataError(
        f"{source}: record '{ids[row]}' position {col + 1} (label '{labels[col]}'): "
        f"letter '{letter}' is not in the alphabet '{alphabet}'; replace it (e.g. with '-') "
        "or remove the records with ambiguous letters (drop_invalid=True, CLI --drop-invalid)"
        + ("; or, if these are proteins, set --alphabet protein" if protein else "")
    )


def decode(codes: np.ndarray, alphabet: str) -> list[str]:
    """Turn ``(n, L)`` codes back into strings over ``alphabet``."""
    letters = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    raw = letters[np.asarray(codes, dtype=np.intp)]
    return [row.tobytes().decode("ascii") for row in np.atleast_2d(raw)]


def position_labels(length: int) -> tuple[str, ...]:
    """Default 1-based position labels ``"1"..."L"``."""
    return tuple(str(i) for i in range(1, length + 1))


def named_alphabet(name: str | None) -> str | None:
    """The letters of alphabet ``name`` (``dna``, ``rna``, ``protein``), else None (detect).
    Set, it is the whole truth: a protein family of nucleotide codes reads as protein, an RNA
    family with a few T as RNA (those records invalid)."""
    if name is None:
        return None
    wanted = NAMED.get(name.lower())
    if wanted is None:
        raise DataError(f"unknown alphabet {name!r}; choose one of {', '.join(NAMED)}")
    return wanted
