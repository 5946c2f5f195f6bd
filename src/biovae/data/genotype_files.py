"""Names of genotype files: a PLINK fileset given by its prefix, as ``plink --bfile`` takes it,
and the genotype formats that are not read here, refused with the command that converts them.
"""

from __future__ import annotations

from pathlib import Path

from biovae.errors import DataError

_PLINK2 = (
    "PLINK 2 files (.pgen + .pvar + .psam) are not read; convert the fileset to PLINK 1 "
    "binary with plink2 --pfile {stem} --make-bed --out {stem} and pass {stem}.bed"
)
#: extension → the fix for a genotype file this package does not read ({path}, {stem})
_NOT_READ = {
    ".bim": "a PLINK .bim file; pass the fileset's .bed ({stem}.bed, with the .bim and .fam "
    "beside it) or its prefix {stem}",
    ".fam": "a PLINK .fam file; pass the fileset's .bed ({stem}.bed, with the .bim and .fam "
    "beside it) or its prefix {stem}",
    ".pgen": _PLINK2,
    ".pvar": _PLINK2,
    ".pvar.zst": _PLINK2,
    ".psam": _PLINK2,
    ".ped": "PLINK text genotypes (.ped + .map) are not read; convert them with plink --file "
    "{stem} --make-bed --out {stem} and pass {stem}.bed",
    ".map": "PLINK text genotypes (.ped + .map) are not read; convert them with plink --file "
    "{stem} --make-bed --out {stem} and pass {stem}.bed",
    ".bcf": "BCF files are not read; convert it to a VCF with bcftools view -Oz -o "
    "{stem}.vcf.gz {path} and pass {stem}.vcf.gz",
    ".bgen": "BGEN files (genotype probabilities) are not read; hard-call them into a PLINK 1 "
    "fileset with plink2 --bgen {path} ref-first --sample {stem}.sample --make-bed --out "
    "{stem} and pass {stem}.bed",
    ".tbi": "a tabix index, not genotypes; pass the VCF it indexes ({index_of})",
    ".csi": "a CSI index, not genotypes; pass the VCF it indexes ({index_of})",
}


def plink_prefix_bed(path: Path) -> Path | None:
    """``prefix.bed`` when ``path`` is a PLINK fileset's prefix (no file of that name, a
    ``prefix.bed`` beside it: ``plink --bfile prefix``), else None."""
    if path.exists() or path.name.lower().endswith(".bed"):
        return None
    bed = path.with_name(path.name + ".bed")
    return bed if bed.is_file() else None


def refuse_unread_genotype_format(path: Path) -> None:
    """Raise a one-line :class:`DataError` with the converting command when ``path`` is a
    genotype file of a format not read here (PLINK 2, also by its prefix; BCF, BGEN, PLINK
    text, an index) or a PLINK ``.bim``/``.fam`` given instead of the ``.bed``; return
    otherwise."""
    if not path.exists() and path.with_name(path.name + ".pgen").is_file():
        raise DataError(f"{path}: {_PLINK2.format(stem=path)}")
    name = path.name.lower()
    for ext in sorted(_NOT_READ, key=len, reverse=True):
        if name.endswith(ext) and len(name) > len(ext):
            stem = path.with_name(path.name[: -len(ext)])
            fix = _NOT_READ[ext].format(path=path, stem=stem, index_of=stem)
            raise DataError(f"{path}: {fix}")
