"""Whether a sequence is DNA/RNA or protein, and the six reading frames of DNA (standard
code): what the screen compares with what. Each sequence is classed on its own, and a
sequence that could be either (letters that are nucleotide and amino-acid codes alike) is
given both kinds, so that a screen fails closed."""

from __future__ import annotations

import numpy as np

from biovae.data.sequences import PROTEIN, detect_alphabet
from biovae.errors import DataError

NUCLEOTIDES, AMINO_ACIDS = "ACGT", PROTEIN.rstrip("-")
_CODE = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"  # TCAG order
COMPLEMENT = str.maketrans("ACGTUN", "TGCAAN")
FRAMES = ("+1", "+2", "+3", "−1", "−2", "−3")
#: ambiguity letters of samples and the letters each stands for (IUPAC): a sample holding
#: one is a pool of sequences, and the screen scores each at its worst — as a match to any
#: letter it stands for (a wildcard)
AMBIGUITY = {
    "nucleotide": dict(
        R="AG", Y="CT", S="CG", W="AT", K="GT", M="AC", B="CGT", D="AGT", H="ACT", V="ACG",
        N="ACGT",
    ),
    "protein": dict(X=AMINO_ACIDS, B="DN", Z="EQ", J="IL"),
}  # fmt: skip


def kind(seq: str) -> str:
    """``nucleotide`` or ``protein``, by the letters of one sequence (each sequence of a file
    is classified on its own: files may mix the two)."""
    raw = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
    return "protein" if detect_alphabet(raw[None, :]) == PROTEIN else "nucleotide"


def kinds(seq: str) -> tuple[str, ...]:
    """The kinds a sequence may be: :func:`kind`, and protein too when its letters are all
    nucleotide codes, some of them ambiguity codes, and all amino acids — low-complexity
    proteins (GAGAGS silk, GGGGS linkers, His tags) read as IUPAC DNA. Such a sequence is
    compared both ways: a screen must fail closed. (Plain A/C/G/T is DNA here: compared as
    protein, random DNA would match at 17-letter windows by chance.)"""
    if kind(seq) == "protein":
        return ("protein",)
    letters = set(seq.upper())
    if letters - set("ACGTUN") and letters <= set(AMINO_ACIDS):
        return ("nucleotide", "protein")
    return ("nucleotide",)


def ref_kinds(ref: str, sample_kind: str | None) -> tuple[str, ...]:
    """:func:`kinds` of a reference; when the samples are known to be proteins, every
    reference whose letters are all amino acids is also a protein (a poly-GA or other
    A/C/G/T-only protein of concern, which its letters alone would call DNA)."""
    found = kinds(ref)
    if sample_kind == "protein" and "protein" not in found and set(ref) <= set(AMINO_ACIDS):
        return (*found, "protein")
    return found


def check_kind(rid: str, seq: str, sample_kind: str | None) -> None:
    """Refuse a sample declared a nucleotide sequence (``sample_kind``) that holds a letter
    no nucleotide code is: compared as DNA, its other letters would match nothing, and the
    screen would pass a protein it never compared."""
    if sample_kind != "nucleotide":
        return
    codes = set(NUCLEOTIDES + "U" + "".join(AMBIGUITY["nucleotide"]))
    bad = next((i for i, c in enumerate(seq) if c not in codes), None)
    if bad is not None:
        raise DataError(
            f"sequence '{rid}' holds {seq[bad]!r} at position {bad + 1}, which is no nucleotide "
            "code, but the samples are declared DNA (--kind dna; sample_kind='nucleotide'); "
            "declare them protein or auto"
        )


def six_frames(seq: str) -> list[str]:
    """Translations of the three forward and three reverse-complement frames."""
    dna = seq.replace("U", "T")
    out = []
    for strand in (dna, dna.translate(COMPLEMENT)[::-1]):
        for frame in range(3):
            codons = [strand[i : i + 3] for i in range(frame, len(strand) - 2, 3)]
            out.append("".join(_codon(c) for c in codons))
    return out


def _codon(codon: str) -> str:
    """The residue (or '*') of a codon; a codon with ambiguity letters gives the one residue
    all its readings share (GCN: A), else X — any residue, to a screen."""
    index = 0
    for base in codon:
        if base not in "TCAG":
            return _ambiguous_codon(codon)
        index = 4 * index + "TCAG".index(base)
    return _CODE[index]


def _ambiguous_codon(codon: str) -> str:
    readings = [AMBIGUITY["nucleotide"].get(b, b if b in "TCAG" else "") for b in codon]
    residues = {_codon(a + b + c) for a in readings[0] for b in readings[1] for c in readings[2]}
    return residues.pop() if len(residues) == 1 else "X"
