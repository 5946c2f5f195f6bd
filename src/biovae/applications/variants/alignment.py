"""A family alignment ready for a variant-effect model: focus, match columns, residue numbers.

Policy (documented in the README):

* **Formats**: A2M and aligned FASTA (read by :func:`biovae.data.fasta.read_fasta`), A3M (lower
  case insert letters are removed from each row, so rows may differ in length before that;
  leading ``#`` lines and NUL bytes at the ends, as ColabFold/MMseqs2 write, are skipped) and
  Stockholm (interleaved blocks joined; markup lines ignored except ``#=GC RF``).
* **Focus**: the first record or ``focus=NAME``; match columns are its upper-case (or '-')
  positions, lower case and '.' are inserts — except in a Stockholm file with a ``#=GC RF``
  line, whose non-gap characters (not '.', '-' or '~') mark the match columns whatever the case
  (as HMMER and EVcouplings read it). Residue numbers come from ``/START-END`` in its id,
  counting every focus residue (insert residues too), otherwise match columns are numbered 1..L
  (also, with a warning, when the focus has a gap in a match column). A NAME without its
  ``/START-END`` that several records carry (two domain hits of one protein) is an error.
* **Letters**: '-' and '.' in match columns are the gap letter. A record with any other letter
  outside the alphabet (``X``, ``B``, ``Z``, ``J``, ``U``, ``O``, digits ...) in a match column is
  dropped, as DeepSequence does; the number dropped is reported. The focus itself must be clean.
* **Gappy records**: records whose fraction of gaps over the match columns exceeds
  ``max_gap_fraction`` are dropped (default 0.5; 1.0 keeps all). A record kept with no
  residue at all weighs 0 (:mod:`~biovae.applications.variants.weights`).
* **Gappy columns** (optional, EVE's focus-column filter): with ``max_column_gaps`` set, match
  columns whose fraction of gaps over the records kept exceeds it are dropped from the model
  (:mod:`~biovae.applications.variants.columns`); default None keeps every column.
* **Alphabet**: detected (DNA, RNA or protein) or set with ``alphabet=``: the file is then read
  with those letters (an RNA family's records with T are dropped as invalid, and so on).
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biovae.applications.variants.columns import DroppedColumn, check_threshold, gappy_columns
from biovae.applications.variants.focus import FocusResidues, from_row
from biovae.data import sequences
from biovae.data.fasta import (
    _RANGE,
    FastaRecords,
    _read_text,
    focus_first,
    focus_labels,
    mixed_case,
    parse_fasta,
    read_fasta,
)
from biovae.errors import DataError, MissingFileError


@dataclass(frozen=True)
class Alignment:
    """Match-column letter codes of a family, the focus first.

    ``codes`` (n, L) uint8 over ``alphabet`` (gap = last letter '-'); ``positions`` the residue
    number of each match column; ``n_read`` records in the file, ``n_invalid`` and ``n_gappy``
    records dropped by the letter and gap policies; ``focus_residues`` the focus's whole
    sequence, inserts included (:mod:`~biovae.applications.variants.focus`);
    ``dropped_columns`` the match columns left out for gaps (``positions`` numbers the kept).
    """

    codes: np.ndarray
    ids: tuple[str, ...]
    alphabet: str
    positions: tuple[int, ...]
    source: str
    n_read: int
    n_invalid: int
    n_gappy: int
    focus_residues: FocusResidues | None = None
    dropped_columns: tuple[DroppedColumn, ...] = ()

    @property
    def focus(self) -> np.ndarray:
        return self.codes[0]

    @property
    def focus_sequence(self) -> str:
        return sequences.decode(self.focus, self.alphabet)[0]

    @property
    def gap(self) -> int:
        return self.alphabet.index("-")

    def __len__(self) -> int:
        return len(self.codes)


def read_alignment(
    path: str | Path,
    *,
    focus: str | None = None,
    max_gap_fraction: float = 0.5,
    alphabet: str | None = None,
    max_column_gaps: float | None = None,
) -> Alignment:
    """Read an A2M / A3M / aligned FASTA / Stockholm alignment (see the module policy)."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{p}: alignment file not found; check the path")
    if not 0.0 < max_gap_fraction <= 1.0:
        raise DataError(f"max_gap_fraction must be in (0, 1], not {max_gap_fraction}")
    check_threshold(max_column_gaps)
    letters = sequences.named_alphabet(alphabet)
    name = p.name.lower().removesuffix(".gz")
    stockholm = name.endswith((".sto", ".stk", ".stockholm"))
    text = _read_text(p)
    if name.endswith(".a3m"):  # ColabFold's '#' header lines and NUL bytes go first
        text = _a3m_text(text, str(p))
    records = _stockholm(text, str(p)) if stockholm else parse_fasta(text, str(p))
    chosen = records if focus is None else focus_first(records, focus, str(p))
    if stockholm or name.endswith(".a3m"):
        # numbered (and a header range that misfits warned of) here, from the focus as given:
        # the converted copy's reading hushes its warnings and A3M's loses the inserts
        numbered = focus_labels(chosen)
        converted = records if stockholm else _a3m(records)
        aln = _from_records(converted, p, focus, max_gap_fraction, alphabet, numbered)
    else:
        inserts = True if mixed_case(chosen.seqs[0]) else None  # A2M by convention, any name
        with warnings.catch_warnings():  # the dropped records are counted in the Alignment
            warnings.filterwarnings("ignore", message=r".* records dropped for letters outside")
            ds = read_fasta(p, drop_invalid=True, focus=focus, inserts=inserts, alphabet=letters)
        aln = _finish(ds, records, focus, max_gap_fraction, alphabet)
    # the focus's whole sequence, inserts included: designs are written as whole proteins
    whole = from_row(chosen.seqs[0], aln.codes.shape[1])
    return _drop_columns(dataclasses.replace(aln, focus_residues=whole), max_column_gaps)


def _drop_columns(aln: Alignment, threshold: float | None) -> Alignment:
    """``aln`` without its match columns of more than ``threshold`` gaps (EVE's filter)."""
    keep, dropped = gappy_columns(aln.codes, aln.gap, aln.positions, threshold)
    if not dropped:
        return aln
    if not keep.any():
        raise DataError(
            f"{aln.source}: every one of the {len(keep)} match columns has more than "
            f"{threshold:g} gaps, so max_column_gaps drops them all; raise it (EVE uses 0.3)"
        )
    whole = aln.focus_residues
    if whole is not None:
        whole = FocusResidues(whole.sequence, tuple(np.asarray(whole.index)[keep].tolist()))
    return dataclasses.replace(
        aln,
        codes=np.ascontiguousarray(aln.codes[:, keep]),
        positions=tuple(np.asarray(aln.positions)[keep].tolist()),
        focus_residues=whole,
        dropped_columns=dropped,
    )


def _from_records(
    records: FastaRecords, path: Path, focus, max_gap_fraction, alphabet, numbered=None
):
    """Write converted records as A2M to a temporary file and read that (one reader);
    ``numbered``: the match columns' residue numbers, when the conversion lost them."""
    with tempfile.TemporaryDirectory() as tmp:
        a2m = Path(tmp) / (path.name.split(".")[0] + ".a2m")
        a2m.write_text("".join(f">{i}\n{s}\n" for i, s in zip(records.ids, records.seqs)))
        try:
            with warnings.catch_warnings():  # counted in the Alignment
                warnings.simplefilter("ignore")
                letters = sequences.named_alphabet(alphabet)
                ds = read_fasta(a2m, drop_invalid=True, focus=focus, alphabet=letters)
        except DataError as exc:  # name the user's file, not the converted copy
            raise DataError(str(exc).replace(str(a2m), str(path))) from None
    ds = dataclasses.replace(ds, source=str(path))
    if numbered is not None and len(numbered) == ds.x.shape[1]:
        ds = dataclasses.replace(ds, features=numbered)
    return _finish(ds, records, focus, max_gap_fraction, alphabet)


def _finish(ds, records: FastaRecords, focus, max_gap_fraction, alphabet) -> Alignment:
    wanted_focus = records.ids[0] if focus is None else focus
    if str(ds.ids[0]) != wanted_focus and _RANGE.sub("", str(ds.ids[0])) != wanted_focus:
        row = (records if focus is None else focus_first(records, focus, ds.source)).seqs[0]
        raise DataError(
            f"{ds.source}: the focus sequence '{wanted_focus}' has letters outside the alphabet "
            f"'{ds.alphabet}' in its match columns ({_first_foreign(row, ds.alphabet)}); "
            + _focus_fix(ds.alphabet, row, alphabet)
        )
    codes = np.asarray(ds.x, dtype=np.uint8)
    gappy = (codes == ds.alphabet.index("-")).mean(1) > max_gap_fraction
    gappy[0] = False  # the focus always stays
    return Alignment(
        codes=codes[~gappy],
        ids=tuple(str(i) for i in np.asarray(ds.ids)[~gappy]),
        alphabet=ds.alphabet,
        positions=tuple(int(p) for p in ds.features),
        source=ds.source,
        n_read=len(records.ids),
        n_invalid=len(records.ids) - len(ds),
        n_gappy=int(gappy.sum()),
    )


def _first_foreign(row: str, letters: str) -> str:
    """Where the focus row (as in the file) first holds a match-column letter outside
    ``letters``, e.g. "'N' at column 2": lower case is an insert when the row has upper case
    (A2M), a match column when the whole row is lower case (read upper-cased)."""
    inserts = any(c.isupper() for c in row)
    for column, c in enumerate(row, start=1):
        if c not in ".-" and not (inserts and c.islower()) and c.upper() not in letters:
            return f"{c!r} at column {column}"
    return "a letter outside it"  # cannot happen for a row read_fasta dropped


def _focus_fix(letters: str, focus_seq: str, alphabet: str | None) -> str:
    """How to fix a focus with letters outside ``letters``: name ``--alphabet`` when it is
    the likely cause (set, or a focus with U in a family detected as DNA: an RNA family in
    which a few records hold T; detection never picks RNA where T occurs)."""
    if alphabet is not None:
        return f"check --alphabet {alphabet}, fix the focus or choose another --focus"
    if letters == sequences.DNA and "U" in focus_seq.upper():
        return "is the family RNA? read it with --alphabet rna (records with T are dropped)"
    return "fix it or choose another --focus"


def _a3m(records: FastaRecords) -> FastaRecords:
    """A3M → match columns only: drop lower-case insert letters and '.' from every row."""
    table = str.maketrans("", "", "abcdefghijklmnopqrstuvwxyz.")
    return FastaRecords(
        records.ids, records.descriptions, [s.translate(table) for s in records.seqs]
    )


def _a3m_text(text: str, source: str) -> str:
    """A3M text without what ColabFold/MMseqs2 add: leading ``#`` lines (``#59<tab>1``: lengths
    and cardinalities) and NUL bytes at the ends (entry terminators of an MMseqs2 database).
    Skipped lines become blank, so line numbers in errors stay right."""
    body = text.lstrip("\x00").rstrip("\x00\r\n\t ")
    if "\x00" in body:
        line = body[: body.index("\x00")].count("\n") + 1
        raise DataError(
            f"{source}: a NUL byte at line {line} separates alignments (an MMseqs2 database "
            "of several queries?); give one alignment per file"
        )
    lines = body.splitlines(keepends=True)
    skip = 0
    while skip < len(lines) and (lines[skip].startswith("#") or not lines[skip].strip()):
        skip += 1
    return "\n" * skip + "".join(lines[skip:])


def _stockholm(text: str, source: str) -> FastaRecords:
    """Stockholm → records (interleaved blocks joined; markup lines ignored but ``#=GC RF``,
    whose match columns then become the rows' case, see :func:`_rf_cased`)."""
    seqs: dict[str, list[str]] = {}
    rf: list[str] = []
    for line in _stockholm_body(text, source):
        parts = line.split()
        if parts[:2] == ["#=GC", "RF"] and len(parts) == 3:
            rf.append(parts[2])
        elif line.startswith("#"):
            continue
        elif len(parts) != 2:
            raise DataError(f"{source}: Stockholm line {line[:40]!r} is not 'name sequence'")
        else:
            seqs.setdefault(parts[0], []).append(parts[1])
    if not seqs:
        raise DataError(f"{source}: no sequences found in the Stockholm file")
    ids = list(seqs)
    records = FastaRecords(ids, [""] * len(ids), ["".join(seqs[i]) for i in ids])
    return _rf_cased(records, "".join(rf), source) if rf else records


def _stockholm_body(text: str, source: str) -> list[str]:
    """The non-blank lines between the ``# STOCKHOLM`` header and ``//``: the file must hold
    one whole alignment."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# STOCKHOLM"):
        raise DataError(
            f"{source}: no '# STOCKHOLM 1.0' header on the first line; is this a Stockholm file?"
        )
    if "//" not in lines:
        raise DataError(f"{source}: no '//' line ends the alignment; the file looks truncated")
    end = lines.index("//")
    if any(not line.startswith("#") for line in lines[end + 1 :]):
        raise DataError(
            f"{source}: more than one alignment (text after the first '//'); give one per file"
        )
    return lines[1:end]


def _rf_cased(records: FastaRecords, rf: str, source: str) -> FastaRecords:
    """Rows re-cased to the A2M convention from the reference line: letters upper case and
    gaps '-' in match columns (RF not '.', '-' or '~'), lower case and '.' in insert columns,
    so the match columns are RF's whichever record is the focus."""
    raw = sequences.byte_matrix(records.seqs, records.ids, source)
    if len(rf) != raw.shape[1]:
        raise DataError(
            f"{source}: the '#=GC RF' line covers {len(rf)} columns but the sequences "
            f"{raw.shape[1]}; give each block its RF part"
        )
    insert = np.isin(np.frombuffer(rf.encode("ascii", "replace"), dtype=np.uint8), list(b".-~"))
    if insert.all():
        raise DataError(f"{source}: the '#=GC RF' line marks no match column (all '.', '-')")
    gap = np.isin(raw, list(b".-"))
    upper = sequences.upper(raw)
    cased = np.where(insert & (upper >= ord("A")) & (upper <= ord("Z")), upper + 32, upper)
    cased = np.where(gap, np.where(insert, ord("."), ord("-")), cased).astype(np.uint8)
    seqs = [row.tobytes().decode("ascii") for row in cased]
    return FastaRecords(records.ids, records.descriptions, seqs)
