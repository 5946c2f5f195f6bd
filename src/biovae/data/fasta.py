"""FASTA, aligned FASTA and A2M reader: records become uint8 codes over a detected alphabet.

A2M in the "focus" convention (as written by the EVcouplings/DeepSequence pipelines): all rows
have the same length; columns where the FIRST sequence is upper case or '-' are match columns,
columns where it is lower case or '.' are insert columns and are dropped from every row. This
applies to ``.a2m`` files, to any file containing '.', and to aligned FASTA (``.afa``, ``.aln``)
whose first sequence mixes cases; in other FASTA files lower case (soft-masking) is upper-cased.
A first header ``NAME/START-END`` numbers the first sequence's residues from START; match
columns are then labelled with those residue numbers, otherwise with ``"1".."L"``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biovae.data import sequences
from biovae.data._text import read_text
from biovae.data.dataset import Dataset
from biovae.errors import DataError

#: ``/START-END`` at the end of an id; START may be 0 or negative (numbering before a mature
#: chain or a tag), as mutant strings (``M-2A``) allow
_RANGE = re.compile(r"/(-?\d+)-(-?\d+)$")
_ALIGNED_EXTENSIONS = (".afa", ".aln")
#: IUPAC nucleotide codes for more than one base (N: any)
_AMBIGUITY_CODES = "RYKMSWBDHVN"


@dataclass(frozen=True)
class FastaRecords:
    """Parsed FASTA text: one entry per record, sequence lines joined."""

    ids: list[str]
    descriptions: list[str]
    seqs: list[str]


def read_fasta(
    path: str | Path,
    *,
    drop_invalid: bool = False,
    focus: str | None = None,
    inserts: bool | None = None,
    alphabet: str | None = None,
) -> Dataset:
    """Read a FASTA, aligned FASTA or A2M file (optionally gzip-compressed).

    Parameters
    ----------
    path
        The file. ``.a2m`` files, files containing '.', and aligned FASTA (``.afa``, ``.aln``)
        whose first sequence mixes upper and lower case are read as A2M (insert columns
        dropped); otherwise letters are upper-cased and all sequences must have equal length.
    drop_invalid
        Skip records with letters outside the detected alphabet (e.g. X, B, Z, N) instead of
        raising.
    focus
        Id of the record that defines the match columns (moved first); default the first.
    inserts
        Read as A2M (True) or not (False) whatever the name and content; default decided as
        above.
    alphabet
        The letters to encode with (``sequences.DNA``, ``RNA`` or ``PROTEIN``) instead of the
        detected ones: e.g. a protein family whose letters are all IUPAC nucleotide codes.

    Returns
    -------
    Dataset
        ``x`` = uint8 codes ``(n, L)``, ``alphabet`` set, ``obs["description"]`` = header text
        after the id.
    """
    source = str(path)
    records = parse_fasta(_read_text(Path(path)), source)
    if focus is not None:
        records = focus_first(records, focus, source)
    insert_mode = _is_a2m(Path(path), records) if inserts is None else inserts
    raw, labels = _match_matrix(records, source, insert_mode=insert_mode)
    detected = alphabet is None
    alphabet = alphabet or sequences.detect_alphabet(raw)
    codes, keep = sequences.encode(
        raw, alphabet, records.ids, labels, source, drop_invalid=drop_invalid
    )
    if not keep.any():
        raise DataError(
            f"{source}: every record contains letters outside the alphabet '{alphabet}'; "
            "nothing is left to read" + _all_dropped_fix(raw, alphabet, detected)
        )
    return Dataset(
        x=codes,
        ids=np.asarray(records.ids, dtype=object)[keep],
        features=labels,
        obs={"description": np.asarray(records.descriptions, dtype=object)[keep]},
        alphabet=alphabet,
        source=source,
    )


def _all_dropped_fix(raw: np.ndarray, alphabet: str, detected: bool) -> str:
    """How to read a file whose every record has a letter outside ``alphabet``: a detected
    DNA alphabet with U in the file is an RNA family in which some record holds T (detection
    never picks RNA where T occurs); '*' ends translated proteins (stop codons); a detected
    protein alphabet is right, so the letters are to be fixed; otherwise perhaps a protein
    family of nucleotide codes."""
    if not detected:
        return "; check the alphabet set (--alphabet)"
    if alphabet == sequences.DNA and (raw == ord("U")).any():
        return (
            " (an RNA family in which some records hold T? set it: "
            "'biovae variants fit --alphabet rna', which drops the records with T)"
        )
    outside = np.isin(raw, np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8), invert=True)
    letter = chr(int(np.bincount(raw[outside]).argmax()))
    if letter == "*":
        return (
            " (most often '*', a stop codon: remove the stop codons, e.g. a final '*', "
            "or replace them with '-')"
        )
    if alphabet == sequences.PROTEIN:
        return f" (most often {letter!r}); replace it (e.g. with '-') in the records"
    if letter in _AMBIGUITY_CODES:  # DNA with N in every record is not a protein family
        return (
            f" (most often {letter!r}, a nucleotide ambiguity code: replace it (e.g. with '-') "
            "in the records; only if these are proteins, set --alphabet protein)"
        )
    return (
        " (if the alphabet was detected wrongly, e.g. a protein family of nucleotide letters, "
        "set it: 'biovae variants fit --alphabet protein')"
    )


def read_fasta_records(path: str | Path) -> FastaRecords:
    """The records of a FASTA file (optionally gzip-compressed) as text, unaligned and
    un-encoded: ids, descriptions and sequences as written (lengths may differ)."""
    return parse_fasta(_read_text(Path(path)), str(path))


def parse_fasta(text: str, source: str) -> FastaRecords:
    """Split FASTA text into ids, descriptions and joined sequences (white space inside a
    sequence line is dropped, as Biopython does; lines starting with ';' are comments, as in
    Pearson's original FASTA format, and are skipped wherever they stand).

    Raises
    ------
    DataError
        For text before the first '>', a header without an id, a record without a sequence
        or a file without records.
    """
    ids: list[str] = []
    descriptions: list[str] = []
    chunks: list[list[str]] = []
    header_lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(";"):  # a comment is no part of any sequence
            continue
        if line.startswith(">"):
            rid, desc = _parse_header(line, lineno, source)
            ids.append(rid)
            descriptions.append(desc)
            chunks.append([])
            header_lines.append(lineno)
        elif not chunks:
            raise DataError(
                f"{source}: line {lineno}: text before the first '>' header "
                f"({line[:20]!r}); a FASTA file must start with a '>id' line"
            )
        else:  # sequence lines written in blocks ('ACGTACGTAC GTACG...') join without spaces
            chunks[-1].append("".join(line.split()))
    if not ids:
        raise DataError(f"{source}: no FASTA records (no line starts with '>'); check the file")
    seqs = ["".join(c) for c in chunks]
    for rid, seq, lineno in zip(ids, seqs, header_lines):
        if not seq:
            raise DataError(
                f"{source}: record '{rid}' (line {lineno}) has no sequence; "
                "add its sequence or remove the header"
            )
    return FastaRecords(ids=ids, descriptions=descriptions, seqs=seqs)


def focus_first(records: FastaRecords, focus: str, source: str) -> FastaRecords:
    """The records with ``focus`` (an id, or an id without its ``/START-END``) moved first.
    An id as written wins; a name without a range that several records carry (hits of two
    domains of one protein, ``P1/1-50`` and ``P1/60-120``) is an error, not the first of them."""
    if focus in records.ids:
        i = records.ids.index(focus)
    else:
        hits = [j for j, rid in enumerate(records.ids) if _RANGE.sub("", rid) == focus]
        if not hits:
            raise DataError(
                f"{source}: focus sequence '{focus}' not found among the {len(records.ids)} "
                f"record ids; give an id as written after '>' (the first is '{records.ids[0]}')"
            )
        if len(hits) > 1:
            raise DataError(
                f"{source}: focus sequence '{focus}' names {len(hits)} records "
                f"('{records.ids[hits[0]]}', '{records.ids[hits[1]]}'{', ...' * (len(hits) > 2)}); "
                "give the id with its range, as written after '>'"
            )
        i = hits[0]
    order = [i, *(j for j in range(len(records.ids)) if j != i)]
    return FastaRecords(
        ids=[records.ids[j] for j in order],
        descriptions=[records.descriptions[j] for j in order],
        seqs=[records.seqs[j] for j in order],
    )


def _parse_header(line: str, lineno: int, source: str) -> tuple[str, str]:
    """``>id description`` -> (id, description)."""
    parts = line[1:].strip().split(maxsplit=1)
    if not parts:
        raise DataError(
            f"{source}: line {lineno}: header '>' has no record id; write '>id description'"
        )
    return parts[0], parts[1] if len(parts) > 1 else ""


def _read_text(path: Path) -> str:
    """Read a sequence file as text (:func:`biovae.data._text.read_text`: ``.gz`` by content,
    a byte-order mark dropped, other encodings a one-line error)."""
    return read_text(path, "the sequence file")


def _is_a2m(path: Path, records: FastaRecords) -> bool:
    """Whether insert columns (lower case / '.') must be dropped.

    Yes for ``.a2m`` files and files containing '.'; for aligned FASTA (``.afa``, ``.aln``)
    when the first record mixes upper and lower case. Otherwise lower case is soft-masking
    (or an all-lower-case aligner output) and is simply upper-cased.
    """
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".a2m") or any("." in s for s in records.seqs):
        return True
    return mixed_case(records.seqs[0]) and name.endswith(_ALIGNED_EXTENSIONS)


def _match_matrix(
    records: FastaRecords, source: str, *, insert_mode: bool
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Upper-case byte matrix of the match columns and their position labels."""
    raw = sequences.byte_matrix(records.seqs, records.ids, source)
    focus = raw[0]
    if insert_mode:
        match = ((focus >= ord("A")) & (focus <= ord("Z"))) | (focus == ord("-"))
        insert = ((focus >= ord("a")) & (focus <= ord("z"))) | (focus == ord("."))
        odd = np.flatnonzero(~(match | insert))
        if odd.size:
            raise DataError(
                f"{source}: the focus '{records.ids[0]}' has {chr(focus[odd[0]])!r} at column "
                f"{odd[0] + 1}; its columns must be letters (upper case: match, lower case: "
                "insert), '-' or '.' — fix the focus or put another sequence first"
            )
        if not match.any():
            raise DataError(
                f"{source}: the first record '{records.ids[0]}' has no match (upper-case or "
                "'-') columns; put the focus sequence first, in upper case"
            )
        _refuse_upper_case_inserts(raw, insert, records.ids, source)
        raw = raw[:, match]
        raw[raw == ord(".")] = ord("-")
    else:
        match = np.ones(raw.shape[1], dtype=bool)
    return sequences.upper(raw), _labels(records.ids[0], focus, match)


def _refuse_upper_case_inserts(
    raw: np.ndarray, insert: np.ndarray, ids: list[str], source: str
) -> None:
    """A one-line error when a record holds an upper-case letter in an insert column: A2M
    writes inserts in lower case or '.', so such a file is not A2M (e.g. an alignment with '.'
    for gaps) and dropping the column would silently lose that record's residues."""
    cols = raw[:, insert]
    upper = (cols >= ord("A")) & (cols <= ord("Z"))
    if not upper.any():
        return
    row = int(np.argmax(upper.any(axis=1)))
    col = int(np.flatnonzero(insert)[np.argmax(upper[row])])
    fix = (
        "if '.' marks gaps, write them as '-'"
        if raw[0, col] == ord(".")  # a soft-masked focus (DNA repeats) is lower case instead
        else "if the focus's lower case is soft-masking (e.g. repeats in DNA), upper-case it"
    )
    raise DataError(
        f"{source}: record '{ids[row]}' has upper-case {chr(raw[row, col])!r} at column "
        f"{col + 1}, an insert column of the focus '{ids[0]}' ('.' or lower case there), which "
        f"A2M would drop; {fix} (A2M inserts are lower case or '.')"
    )


def focus_labels(records: FastaRecords) -> tuple[str, ...]:
    """Position labels of the first record's match columns (upper case or '-'), counting its
    lower-case residues too: those of an A3M focus before its inserts are stripped."""
    focus = np.frombuffer(records.seqs[0].encode("ascii", "replace"), dtype=np.uint8)
    match = ((focus >= ord("A")) & (focus <= ord("Z"))) | (focus == ord("-"))
    return _labels(records.ids[0], focus, match)


def mixed_case(seq: str) -> bool:
    """Whether ``seq`` holds both upper- and lower-case letters (the A2M convention)."""
    return any(c.islower() for c in seq) and any(c.isupper() for c in seq)


def _labels(first_id: str, focus: np.ndarray, match: np.ndarray) -> tuple[str, ...]:
    """Residue numbers of the match columns if the first id carries ``/START-END``."""
    default = sequences.position_labels(int(match.sum()))
    found = _RANGE.search(first_id)
    if found is None:
        return default
    is_residue = np.isin(focus, [ord("-"), ord(".")], invert=True)
    start, end = int(found.group(1)), int(found.group(2))
    if end - start + 1 != int(is_residue.sum()):
        warnings.warn(
            f"{first_id}: the range {start}-{end} spans {end - start + 1} residues but the "
            f"sequence has {int(is_residue.sum())}; residues are numbered upward from {start} — "
            "check the header if mutant positions do not map",
            stacklevel=4,
        )
    numbers = start + np.cumsum(is_residue) - 1
    gaps = int((~is_residue[match]).sum())
    if gaps:  # a gap in the focus row has no residue number
        warnings.warn(
            f"{first_id}: the focus has a gap in {gaps} of its {int(match.sum())} match columns, "
            f"which have no residue number, so the range {start}-{end} is not used: match "
            "columns are numbered 1..L — number mutants so, or choose a focus without gaps",
            stacklevel=4,
        )
        return default
    return tuple(str(n) for n in numbers[match])
