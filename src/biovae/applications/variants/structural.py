"""Names of copy-number and structural variants (ClinVar's), told apart from malformed text.

ClinVar names a copy-number variant by genome build, cytoband and copy number
(``GRCh38/hg38 17q21.31(chr17:43044295-43125483)x1``), in ISCN (``seq[GRCh38]
del(17)(q21.31q21.31)``, ``arr[GRCh38] 17q21.31(43044295_43125483)x1``) or in HGVS, as a
deletion or duplication of DNA with uncertain ends (``NC_000017.11:g.(?_43044295)_(43125483_?)del``,
``NM_007294.4(BRCA1):c.(?_-232)_(80+1_81-1)del``) or of at least :data:`STRUCTURAL_LENGTH`
nucleotides (``NC_000017.11:g.43044295_43125483del``). None of them is one protein change: the
functions here say what the name is, so the row is reported with that reason, not as malformed.
"""

from __future__ import annotations

import re

#: nucleotides from which a deletion, duplication or inversion of DNA counts as structural
#: (the usual threshold between short indels and structural variants)
STRUCTURAL_LENGTH = 50
_SCORES = "the model scores protein substitutions (e.g. p.Arg2336His)"
#: GRCh38/hg38 17q21.31(chr17:43044295-43125483)x1 (the band may be a range: 1q21.1-21.2)
_CYTOBAND = re.compile(
    r"^(?:GRCh3[78]|NCBI3[56])(?:/hg\d+)?\s+[0-9XYxy]{1,2}[pq][\w.-]*"
    r"\((?P<where>chr[0-9XYMxym]{1,2}:[\d,]+-[\d,]+)\)\s*x(?P<copies>\d+)$"
)
#: ISCN: seq[GRCh38] del(17)(q21.31q21.31), arr[GRCh38] 17q21.31(43044295_43125483)x1,
#: t(11;22)(q23;q11.2)
_ISCN = re.compile(
    r"^(?:(?:seq|arr)\[[\w.]+\]\s*\S.*|(?:t|del|dup|inv|ins|der|i|r)\([0-9XY;]+\)\([pq][\w.;]*\))$"
)
#: the DNA change of an HGVS name that deletes, duplicates or inverts a stretch of DNA
_SEGMENT = re.compile(r"^(?P<kind>[cgmnor])\.(?P<where>.+?)(?P<change>del|dup|inv)$")
_CHANGES = {"del": "a deletion", "dup": "a duplication", "inv": "an inversion"}


def cytogenetic(text: str) -> str | None:
    """Why the copy-number or ISCN name ``text`` cannot be scored, or None when it is none."""
    found = _CYTOBAND.match(text)
    if found is not None:
        copies = int(found.group("copies"))
        what = f"{copies} {'copy' if copies == 1 else 'copies'} of {found.group('where')}"
        return (
            f"{text} is a copy-number variant ({what}): it has no single protein change; " + _SCORES
        )
    if _ISCN.match(text):
        return (
            f"{text} is a chromosomal rearrangement or copy-number variant (ISCN): it has no "
            f"single protein change; {_SCORES}"
        )
    return None


def dna_segment(text: str, change: str) -> str | None:
    """Why ``text``, whose DNA change ``change`` (``g.(?_43044295)_(43125483_?)del``) deletes,
    duplicates or inverts a stretch of DNA with uncertain ends or of at least
    :data:`STRUCTURAL_LENGTH` nucleotides, cannot be scored; None for any other change."""
    found = _SEGMENT.match(change)
    if found is None:
        return None
    where, kind = found.group("where"), _CHANGES[found.group("change")]
    if "(" in where or "?" in where:  # ClinVar's form of a copy-number loss or gain
        copy_number = kind != "an inversion"
        what = f"{kind} of DNA with uncertain ends"
    else:
        length = _length(found.group("kind"), where)
        if length is None or length < STRUCTURAL_LENGTH:
            return None
        copy_number, what = False, f"{kind} of {length:,} nucleotides"
    label = "copy-number variant" if copy_number else "structural variant"
    return f"{text} is a {label} ({what}): it has no single protein change; {_SCORES}"


def _length(kind: str, where: str) -> int | None:
    """Nucleotides from ``start_end`` of a genomic (g./m.) or plain coding range; None when
    the positions carry intronic offsets or UTR signs (no simple length)."""
    found = re.match(r"^(\d+)_(\d+)$", where)
    if found is None or kind not in "gmcn":
        return None
    return int(found.group(2)) - int(found.group(1)) + 1
