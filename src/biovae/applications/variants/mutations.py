"""Mutation strings in the focus numbering: parsing and mapping onto match columns.

``A42G`` replaces the focus residue A at residue number 42 by G; multi-mutants join single
mutations with ':' (``A42G:K45R``). ``WT`` / ``_wt`` is the focus itself; an empty string is
malformed (an empty cell is a missing value, not the wild type). A mutant that cannot be mapped
(a stop ``A42*`` or deletion ``A42-`` among them) is kept with the reason, never dropped
silently. Changes in HGVS ``p.`` notation (``p.Val42Gly``) are read as their one-letter twins
(:mod:`~biovae.applications.variants.hgvs`), the reason given for those no substitution is;
a ClinVar name (``NM_000059.4(BRCA2):c.7007G>A (p.Arg2336His)``) as its protein change, and a
copy-number or structural name (``GRCh38/hg38 17q21.31(chr17:43044295-43125483)x1``) is
unmapped saying what it is (:mod:`~biovae.applications.variants.structural`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from biovae.applications.variants import hgvs
from biovae.data import sequences

#: a stop ``*`` or deletion ``-`` as the new letter parses, so its reason says what it is
_SINGLE = re.compile(r"^([A-Za-z])(-?\d+)([A-Za-z*-])$")
_WILD_TYPE = ("wt", "_wt", "wildtype", "wild_type")
#: a shift of the residue numbers is named only when at least this many distinct (letter,
#: residue) pairs fit under it and 90 % of those compared do (20 amino acids agree by chance
#: about 5 % of the time, so 10 of 11 do not happen by accident)
_SHIFT_EVIDENCE = 10


@dataclass(frozen=True)
class MappedMutants:
    """Mutants as code matrices over the match columns.

    ``codes`` (m, L) uint8 = the focus with each mappable mutant applied (the focus itself for
    unmappable rows); ``ok`` (m,) whether the mutant was mapped; ``reasons`` the problem of each
    unmapped mutant ("" when mapped).
    """

    mutants: tuple[str, ...]
    codes: np.ndarray
    ok: np.ndarray
    reasons: tuple[str, ...]


def parse(mutant: str) -> list[tuple[str, int, str]]:
    """``"A42G:K45R"`` → ``[("A", 42, "G"), ("K", 45, "R")]`` (letters upper-cased); a part
    in HGVS notation (``p.Val42Gly``, ``p.[Val42Gly;Lys45Arg]``) gives its one-letter changes,
    and a reference before it (``NP_000537.3:p.Arg175His``) is dropped; a ClinVar name
    (``NM_000059.4(BRCA2):c.7007G>A (p.Arg2336His)``) gives its protein change's.

    Raises
    ------
    ValueError
        For a malformed string, an HGVS change that is no substitution, or a ClinVar name
        without a protein change (a copy-number or structural variant among them), with the
        reason.
    """
    text = mutant.strip()
    if not text:
        raise ValueError("empty mutant (write WT for the wild type)")
    text = hgvs.protein_of_name(text) or text
    if text.lower() in _WILD_TYPE:
        return []
    parts = text.split(":")
    if len(parts) > 1 and hgvs.is_reference(parts[0], parts[1]):
        parts = parts[1:]
    out = []
    for part in parts:
        found = _SINGLE.match(part.strip())
        if found is not None:
            out.append((found.group(1).upper(), int(found.group(2)), found.group(3).upper()))
            continue
        written = hgvs.changes(part)
        if written is None:
            raise ValueError(
                f"malformed mutation '{part}' (expected wild-type letter, residue number, "
                "new letter, e.g. A42G, or HGVS p.Ala42Gly; multi-mutants joined by ':')"
            )
        out.extend(written)
    return out


def apply(
    mutant: str,
    focus: np.ndarray,
    alphabet: str,
    positions: dict[int, int],
    dropped: dict[int, str] | None = None,
    unmodelled: dict[int, str] | None = None,
) -> tuple[np.ndarray, str]:
    """The focus codes with ``mutant`` applied, and "" or the reason it cannot be mapped;
    ``dropped``: residue number → why its column was left out of the model; ``unmodelled``:
    residue number → the focus's letter at residues on no match column (inserts, dropped
    columns), whose wild-type letter is checked first: a wrong one is the likelier mistake."""
    try:
        changes = parse(mutant)
    except ValueError as exc:
        return focus, str(exc)
    codes = focus.copy()
    seen: set[int] = set()
    for wt, number, new in changes:
        col = positions.get(number)
        if col is None:
            have = (unmodelled or {}).get(number)
            wrong = _wild_type_problem(changes, wt, number, have, alphabet) if have else ""
            return focus, (wrong or (dropped or {}).get(number) or not_a_column(number, positions))
        wrong = _wild_type_problem(changes, wt, number, alphabet[focus[col]], alphabet)
        if wrong:
            return focus, wrong
        if new not in alphabet or new == "-":
            return focus, _not_a_letter(changes, f"{wt}{number}{new}", new, alphabet)
        if number in seen:
            return focus, f"residue {number} is mutated twice"
        seen.add(number)
        codes[col] = alphabet.index(new)
    return codes, ""


def not_a_column(number: int, positions: Collection[int]) -> str:
    """Why residue ``number``, none of the match columns' residue numbers ``positions``,
    cannot be mutated: beyond them, or between two (an insert of the focus: numbered by its
    header range but not modelled)."""
    if min(positions) < number < max(positions):
        return (
            f"residue {number} is an insert residue of the focus (in an insert column of the "
            "alignment, lower case in A2M/A3M), not a match column: the model does not score it"
        )
    return f"residue {number} is not a match column of the focus (outside the model)"


def _wild_type_problem(changes, wt: str, number: int, have: str, alphabet: str) -> str:
    """Why the wild-type letter ``wt`` at ``number`` is not the focus's ``have``; "" when it is."""
    if wt == have:
        return ""
    if wt not in alphabet:
        return _foreign_wild_type(changes, wt, number, have, alphabet)
    return f"wild-type letter mismatch at {number}: focus has {have}, not {wt}"


def _foreign_wild_type(changes, wt: str, number: int, have: str, alphabet: str) -> str:
    """Why a wild-type letter outside the model's alphabet does not fit (T for the focus's U
    on an RNA model is named, with the mutant rewritten)."""
    reason = f"wild-type letter {wt}{_named(wt, alphabet)} at {number} is not in the alphabet "
    reason += alphabet[:-1]
    if _other_spelling(wt, alphabet) == have:
        return reason + _respelled(changes, wt, alphabet)
    return reason + f" (the focus has {have} there)"


def _not_a_letter(changes, change: str, new: str, alphabet: str) -> str:
    """Why ``change`` cannot be scored: its new letter is none of the model's."""
    kind = {"*": "a stop (nonsense) mutation", "-": "a deletion"}.get(new)
    if new == "X" and alphabet == sequences.PROTEIN:  # R2336X, p.Arg2336X in older papers
        kind = "a stop (nonsense) mutation in the older notation (HGVS: Ter or *) or a change to "
        kind += "an unknown amino acid (Xaa)"
    if kind is None:
        reason = f"letter {new}{_named(new, alphabet)} in {change} is not in the alphabet "
        reason += alphabet[:-1]
        return reason + _respelled(changes, new, alphabet)
    return f"{change} is {kind}; the model scores substitutions by letters of {alphabet[:-1]}"


def _named(letter: str, alphabet: str) -> str:
    """' (selenocysteine, Sec)' for U and ' (pyrrolysine, Pyl)' for O on a protein model:
    amino acids of their own, no letter of the 20 the model scores; else ''."""
    if alphabet != sequences.PROTEIN:
        return ""
    return {"U": " (selenocysteine, Sec)", "O": " (pyrrolysine, Pyl)"}.get(letter, "")


def _other_spelling(letter: str, alphabet: str) -> str | None:
    """U for T on an RNA model, T for U on a DNA model (one base, two spellings); else None."""
    return {(sequences.RNA, "T"): "U", (sequences.DNA, "U"): "T"}.get((alphabet, letter))


def _respelled(changes: list[tuple[str, int, str]], letter: str, alphabet: str) -> str:
    """For T on an RNA model or U on a DNA model: the mutant in the model's letters, e.g.
    '; the model is RNA: write U for T (U42G:C45U)'; else ''."""
    other = _other_spelling(letter, alphabet)
    if other is None:
        return ""
    swap = str.maketrans(letter, other)
    mutant = ":".join(f"{w}{n}{x}".translate(swap) for w, n, x in changes)
    kind = "RNA" if alphabet == sequences.RNA else "DNA"
    return f"; the model is {kind}: write {other} for {letter} ({mutant})"


def map_mutants(
    mutants: list[str],
    focus: np.ndarray,
    alphabet: str,
    positions: tuple[int, ...],
    dropped: dict[int, str] | None = None,
    unmodelled: dict[int, str] | None = None,
) -> MappedMutants:
    """Map every mutant string (see :func:`apply`)."""
    index = {p: i for i, p in enumerate(positions)}
    rows, reasons = [], []
    for m in mutants:
        codes, reason = apply(str(m), focus, alphabet, index, dropped, unmodelled)
        rows.append(codes)
        reasons.append(reason)
    codes = np.stack(rows) if rows else np.zeros((0, len(focus)), dtype=np.uint8)
    ok = np.array([r == "" for r in reasons], dtype=bool)
    return MappedMutants(tuple(str(m) for m in mutants), codes.astype(np.uint8), ok, tuple(reasons))


@dataclass(frozen=True)
class NumberingShift:
    """The mutants' residue numbers + ``shift`` are the focus's: under it ``agree`` of the
    ``compared`` distinct (wild-type letter, residue) pairs that fall on match columns fit
    the focus, against ``agree_as_given`` of ``compared_as_given`` as written."""

    shift: int
    agree: int
    compared: int
    agree_as_given: int
    compared_as_given: int
    example: tuple[str, int, str]

    def message(self) -> str:
        """One line for the user, with the file's first mutation renumbered as an example."""
        wt_as_given = f"{self.agree_as_given} of {self.compared_as_given}"
        text = (
            f"the mutants' wild-type letters fit the focus at only {wt_as_given} residues "
            f"compared, but at {self.agree} of {self.compared} with every residue number "
            f"shifted by {self.shift:+d}"
        )
        wt, number, new = self.example
        text += f" ({wt}{number}{new} would be {wt}{number + self.shift}{new})"
        return text + (
            ": they seem numbered from another start than the focus's /START-END; renumber "
            "them in the focus's residue numbers (the rows are scored as written)"
        )


def numbering_shift(
    mutants: Iterable[str], focus: np.ndarray, alphabet: str, positions: tuple[int, ...]
) -> NumberingShift | None:
    """A constant offset between the mutants' numbering and the focus's, told by their
    wild-type letters; None when at least half of the pairs that fall on match columns fit
    as numbered (or none falls there and no shift fits), or no shift fits 90 % of at least
    :data:`_SHIFT_EVIDENCE` pairs. Malformed mutants are skipped."""
    letter_at = {p: alphabet[c] for p, c in zip(positions, focus) if alphabet[c] != "-"}
    changes: list[tuple[str, int, str]] = []
    for m in mutants:
        try:
            changes.extend(parse(str(m)))
        except ValueError:
            continue
    pairs = {(wt, number) for wt, number, _ in changes}
    agree0, compared0 = _fit_at(pairs, letter_at, 0)
    if compared0 and 2 * agree0 >= compared0:
        return None
    by_letter: dict[str, list[int]] = {}
    for p, letter in letter_at.items():
        by_letter.setdefault(letter, []).append(p)
    shifts = Counter(p - n for wt, n in pairs for p in by_letter.get(wt, ()) if p != n)
    for shift, agree in shifts.most_common(3):
        if agree < _SHIFT_EVIDENCE:
            break
        _, compared = _fit_at(pairs, letter_at, shift)
        if agree >= 0.9 * compared:
            return NumberingShift(shift, agree, compared, agree0, compared0, changes[0])
    return None


def _fit_at(pairs: set[tuple[str, int]], letter_at: dict[int, str], shift: int) -> tuple[int, int]:
    """(pairs whose letter is the focus's at residue + shift, pairs that fall on a column)."""
    found = [letter_at.get(n + shift) for _, n in pairs]
    compared = sum(f is not None for f in found)
    return sum(f == wt for f, (wt, _) in zip(found, pairs)), compared


def single_mutant_scan(focus: np.ndarray, alphabet: str, positions: tuple[int, ...]) -> list[str]:
    """Every letter (the wild type too) at every match column, in column then letter order."""
    letters = [a for a in alphabet if a != "-"]
    out = []
    for col, number in enumerate(positions):
        wt = alphabet[focus[col]]
        if wt == "-":
            continue
        out.extend(f"{wt}{number}{new}" for new in letters)
    return out


def scan_matrix(cols: dict, alphabet: str) -> tuple[np.ndarray, list[int], list[str]]:
    """Scan scores (``position``, ``letter``, ``score`` columns) as a (letters, positions)
    matrix; NaN where a cell was not scored."""
    letters = [a for a in alphabet if a != "-"]
    positions = sorted(set(int(p) for p in cols["position"]))
    col_of = {p: i for i, p in enumerate(positions)}
    grid = np.full((len(letters), len(positions)), np.nan)
    for p, a, s in zip(cols["position"], cols["letter"], cols["score"]):
        grid[letters.index(a), col_of[int(p)]] = s
    return grid, positions, letters
