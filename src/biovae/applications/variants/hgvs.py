"""Protein changes in HGVS ``p.`` notation (ClinVar, gnomAD, VEP) as one-letter changes.

``p.Val42Gly``, ``p.(Val42Gly)``, ``p.V42G`` and ``Val42Gly`` are the substitution ``V42G``
(three-letter codes in any case); ``p.Val42=`` is synonymous (``V42V``), ``p.Trp41Ter`` /
``p.Trp41*`` a stop (``W41*``), ``p.[Val42Gly;Lys45Arg]`` a multi-mutant on one allele and
``p.=`` the unchanged protein (the wild type). A reference before the change, as VEP writes it
(``ENSP00000269305.4:p.Arg175His``), is dropped, and VEP's ``%3D`` is read as ``=``. Changes
that no substitution model scores (frameshifts, in-frame deletions, insertions, duplications,
extensions, a lost start, ``p.?``, ``p.0``, variants on two alleles or of unknown phase) raise
``ValueError`` with what they are, as a malformed string does: the caller reports the reason
per row. A ClinVar name, the DNA change with the protein change after it in parentheses
(``NM_000059.4(BRCA2):c.7007G>A (p.Arg2336His)``), is read as its protein change; one that
gives none (``NM_000059.4(BRCA2):c.68-7T>A``) raises ``ValueError`` saying so, and a
copy-number or structural variant (``GRCh38/hg38 17q21.31(chr17:43044295-43125483)x1``,
``NC_000017.11:g.(?_43044295)_(43125483_?)del``) saying what it is.
"""

from __future__ import annotations

import re

from biovae.applications.variants import structural

#: HGVS three-letter amino-acid codes (Sec/Pyl, Asx/Glx/Xle/Xaa included) and the stop
THREE_LETTER = {
    "ala": "A", "arg": "R", "asn": "N", "asp": "D", "cys": "C", "gln": "Q", "glu": "E",
    "gly": "G", "his": "H", "ile": "I", "leu": "L", "lys": "K", "met": "M", "phe": "F",
    "pro": "P", "ser": "S", "thr": "T", "trp": "W", "tyr": "Y", "val": "V", "sec": "U",
    "pyl": "O", "asx": "B", "glx": "Z", "xle": "J", "xaa": "X", "ter": "*",
}  # fmt: skip
_AA = r"(?:[A-Za-z]{3}|[A-Za-z*])"
_CHANGE = re.compile(rf"^({_AA})(\d+)({_AA}|=)$")
_AT = re.compile(rf"^({_AA})(\d+)(.*)$")
#: a reference before ':p.': an accession with optional version and (gene), e.g. NP_000537.3
_REFERENCE = re.compile(r"^[A-Za-z][\w.-]*(?:\([\w.-]+\))?$")
#: a ClinVar name: optional reference, a change of DNA/RNA (c. g. m. n. o. r.) and, when it
#: has one, the protein change in parentheses: NM_000059.4(BRCA2):c.7007G>A (p.Arg2336His)
_NAME = re.compile(
    r"^(?:[A-Za-z][\w.-]*(?:\([\w.-]+\))?:)?(?P<dna>[cgmnor]\.\S+?)"
    r"(?:\s*\((?P<protein>p\..+)\))?$"
)
#: what a change is, by the word HGVS writes in it (delins before del and ins)
_KINDS = (
    ("delins", "a deletion-insertion"),
    ("fs", "a frameshift"),
    ("ext", "an extension (a lost stop or an extended start)"),
    ("del", "an in-frame deletion"),
    ("ins", "an insertion"),
    ("dup", "a duplication"),
    ("[", "a repeat-length change"),
)
_WHOLE = {
    "?": "a change of unknown effect on the protein",
    "0": "a loss of the protein (none is made)",
    "0?": "a predicted loss of the protein (none is made)",
}


def is_reference(part: str, following: str) -> bool:
    """Whether ``part``, before ':' and ``following``, names the reference sequence (as in
    VEP's ``ENSP00000269305.4:p.Arg175His``) rather than being a change itself."""
    if not following.strip().startswith("p.") or part.strip().startswith("p."):
        return False
    text = part.strip()
    return bool(_REFERENCE.match(text)) and not _looks_like_change(text)


def _looks_like_change(text: str) -> bool:
    found = _AT.match(text)
    return found is not None and _letter(found.group(1)) is not None


def protein_of_name(text: str) -> str | None:
    """The protein change of a ClinVar name (``p.Arg2336His`` of
    ``NM_000059.4(BRCA2):c.7007G>A (p.Arg2336His)``), or None when ``text`` is no such name.

    Raises
    ------
    ValueError
        For a name of a DNA change only (``NM_000059.4(BRCA2):c.68-7T>A``): no protein change;
        for a copy-number or structural variant (:mod:`~biovae.applications.variants.structural`)
        saying what it is.
    """
    text = text.strip()
    cytogenetic = structural.cytogenetic(text)
    if cytogenetic is not None:
        raise ValueError(cytogenetic)
    found = _NAME.match(text)
    if found is None:
        return None
    if found.group("protein") is None:
        segment = structural.dna_segment(text, found.group("dna"))
        if segment is not None:
            raise ValueError(segment)
        raise ValueError(
            f"{text} has no protein change (the name gives only the DNA change): the "
            "model scores protein substitutions, named e.g. NM_000059.4(BRCA2):c.7007G>A "
            "(p.Arg2336His) or p.Arg2336His"
        )
    return found.group("protein").strip()


def changes(text: str) -> list[tuple[str, int, str]] | None:
    """The one-letter changes of an HGVS protein change ``text`` (``[]`` for ``p.=``), or
    None when ``text`` is not written in HGVS (no ``p.`` and no three-letter code).

    Raises
    ------
    ValueError
        For a change no substitution model scores, or a malformed one, with the reason.
    """
    text = text.strip().replace("%3D", "=").replace("%3d", "=")
    if text.startswith("p."):
        body = text[2:]
    elif re.match(r"^\(?[A-Za-z]{3}\d", text) and _letter(text.lstrip("(")[:3]) is not None:
        body = text
    else:
        return None
    body = _unwrap(body, "(", ")")  # predicted: p.(Val42Gly)
    if body == "=":
        return []
    if body in _WHOLE:
        raise ValueError(f"{text} is {_WHOLE[body]}: the model scores substitutions only")
    if body.startswith("["):
        return _allele(text, body)
    return [_one(text, body)]


def _allele(text: str, body: str) -> list[tuple[str, int, str]]:
    """``[Val42Gly;Lys45Arg]``: substitutions on one allele."""
    if "];[" in body or "(;)" in body:
        why = "on two alleles" if "];[" in body else "of unknown phase (;)"
        raise ValueError(
            f"{text} lists changes {why}, not one protein: score each change on its own row"
        )
    inner = _unwrap(_unwrap(body, "[", "]"), "(", ")")
    return [_one(text, part.strip()) for part in inner.split(";")]


def _one(text: str, body: str) -> tuple[str, int, str]:
    """One substitution of ``text``: (wild-type letter, residue, new letter)."""
    found = _CHANGE.match(body)
    wt = _letter(found.group(1)) if found else None
    new = "=" if found and found.group(3) == "=" else _letter(found.group(3)) if found else None
    if found is None or wt is None or new is None:
        raise ValueError(_unscorable(text, body))
    number = int(found.group(2))
    if wt == "*":
        raise ValueError(f"{text} changes a stop codon: the model scores substitutions only")
    return wt, number, wt if new == "=" else new


def _unscorable(text: str, body: str) -> str:
    """Why ``body`` of ``text`` is no substitution: its kind, or malformed."""
    found = _AT.match(body)
    if found is not None and _letter(found.group(1)) is not None:
        rest = found.group(3).lower()
        for word, kind in _KINDS:
            if word in rest:
                return f"{text} is {kind}: the model scores substitutions only"
        if rest == "?":
            start = _letter(found.group(1)) == "M" and found.group(2) == "1"
            kind = "a lost start codon" if start else f"an unknown change at {found.group(2)}"
            return f"{text} is {kind}: the model scores substitutions only"
    return (
        f"malformed HGVS protein change '{text}' (expected e.g. p.Val42Gly, p.V42G, p.Val42=, "
        "p.Trp41Ter or p.[Val42Gly;Lys45Arg])"
    )


def _letter(code: str) -> str | None:
    """The one-letter code of a three-letter code or a letter (``*`` the stop), or None."""
    if len(code) == 1:
        return code.upper()
    return THREE_LETTER.get(code.lower())


def _unwrap(text: str, left: str, right: str) -> str:
    """``text`` without one pair of enclosing ``left`` ... ``right``."""
    if text.startswith(left) and text.endswith(right):
        return text[1:-1]
    return text
