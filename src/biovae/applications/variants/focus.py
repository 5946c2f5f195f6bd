"""The focus's whole sequence: every residue, inserts included, and where each match column
sits in it.

The model sees the match columns only; the focus's insert residues (lower case in A2M / A3M /
Stockholm) are no column of it. A design is the focus with some match-column letters changed,
so the protein to make is the whole focus with those letters put in place
(:meth:`FocusResidues.whole`), not the match columns alone (which would delete every insert
residue). Saved in the model's ``metadata.json`` as ``focus_residues`` and
``focus_residue_index``.
"""

from __future__ import annotations

from dataclasses import dataclass

from biovae.errors import DataError

GAPS = "-."


@dataclass(frozen=True)
class FocusResidues:
    """``sequence``: the focus's residues in order (inserts included, upper case, no gaps);
    ``index``: for each match column the index in ``sequence`` of the focus's residue there —
    for a column where the focus has a gap, the index of its next residue (where a residue
    put in that column goes)."""

    sequence: str
    index: tuple[int, ...]

    def whole(self, focus: str, columns: str) -> str:
        """The focus with the match-column letters ``columns`` (one per match column) in place
        of ``focus``'s (its match-column letters): insert residues stay where they are, a '-'
        deletes the focus's residue of that column, a letter in a column where the focus has a
        gap is inserted there."""
        parts, done = [], 0
        for wild, new, at in zip(focus, columns, self.index):
            parts.append(self.sequence[done:at])  # the insert residues before this column
            done = at + (wild != "-")  # skip the focus's own residue of the column
            parts.append("" if new == "-" else new)
        parts.append(self.sequence[done:])
        return "".join(parts)

    def unmodelled(self, focus: str, positions: tuple[int, ...]) -> dict[int, str]:
        """Residue number → letter of the focus's residues on no match column (its inserts,
        and columns dropped from the model), given the match-column letters ``focus`` and
        residue numbers ``positions``; empty unless those numbers count every residue (a
        header range, no focus gap in a match column: the match columns numbered 1..L with
        inserts between them give no number to an insert)."""
        residue = [(p - at, at) for p, at, a in zip(positions, self.index, focus) if a != "-"]
        starts = {start for start, _ in residue}
        if len(starts) != 1:
            return {}
        start, on_columns = starts.pop(), {at for _, at in residue}
        return {start + i: r for i, r in enumerate(self.sequence) if i not in on_columns}

    def problem(self, focus: str) -> str | None:
        """What does not fit the focus's match-column letters ``focus`` (None: all fits): a
        damaged or edited model file."""
        if len(self.index) != len(focus):
            return f"{len(self.index)} residue indices for {len(focus)} match columns"
        lowest = 0
        for column, (letter, at) in enumerate(zip(focus, self.index), start=1):
            if not lowest <= at <= len(self.sequence):
                return f"match column {column} points outside the focus's residues"
            if letter != "-":
                if at == len(self.sequence) or self.sequence[at] != letter:
                    return f"match column {column} ({letter}) is not that residue of the focus"
                at += 1
            lowest = at
        return None


def from_row(row: str, n_columns: int) -> FocusResidues:
    """The focus's residues from its aligned row as in the file: upper case and '-' are match
    columns, lower case and '.' inserts (A2M / A3M / Stockholm) — or every column a match
    column when the row was read without inserts (an aligned FASTA in one case)."""
    match = [c.isupper() or c == "-" for c in row]
    if sum(match) != n_columns:
        match = [True] * len(row)
    if sum(match) != n_columns:  # cannot happen for a row read by read_alignment
        raise DataError(
            f"the focus row has {sum(match)} match columns, not the {n_columns} read; "
            "check the alignment file"
        )
    residues: list[str] = []
    index: list[int] = []
    for letter, is_match in zip(row, match):
        if is_match:
            index.append(len(residues))
        if letter not in GAPS:
            residues.append(letter.upper())
    return FocusResidues("".join(residues), tuple(index))
