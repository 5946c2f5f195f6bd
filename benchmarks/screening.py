"""Screening of generated sequences: biovae's window screen beside BLAST+ on planted homologs.

    python benchmarks/screening.py [--out FILE] [--per-cell 100] [--negatives 1000]

Real sequences stand in for a list of sequences of concern, and queries are made from them
with known divergence, so recall is measured against ground truth:

* **DNA**: references = 200 windows of 1,500 nt of the *E. coli* 536 genome (evenly spaced);
  a positive = a 300-nt piece of a reference (random strand) with each base substituted with
  probability d, and optionally one insertion or deletion of 1–3 nt per 50 nt on average,
  between 100-nt flanks of yeast chromosome I; negatives = 500-nt pieces of yeast chromosome I
  (unrelated genome). biovae: W = 50 nt, identity 0.8 (defaults). BLAST+: ``blastn`` (task
  blastn, both strands), flagged at e-value ≤ 1e-5.
* **Protein**: references = 200 members of the BLAT_ECOLX family alignment (ungapped, real
  beta-lactamases); a positive = an 80-residue piece with each residue substituted (uniformly
  by another amino acid) with probability d, optional indels as above per 50 residues, between
  30-residue flanks; negatives = 140-residue pieces of yeast chromosome I translated in frame
  +1 (stop codons as '*' — X for BLAST, as in run 1; biovae now reads a sample's X as an
  ambiguity letter — real composition, not real proteins). biovae: W = 17 aa, identity 0.8.
  BLAST+: ``blastp``, e-value ≤ 1e-5.

Reported per divergence d ∈ {0, 0.05, …, 0.30} × indels {no, yes}: the share of positives
flagged by each tool, the share of negatives flagged (false positives), and each tool's
wall time for everything (BLAST including ``makeblastdb``), run side by side. biovae's screen
is exact for its definition (an ungapped window at ≥ 80 %); BLAST aligns with gaps and
substitution scores, so it is expected to reach further — the point is to measure how far.
BLAST+ is taken from PATH (Debian: ``apt-get install ncbi-blast+``); without it, biovae alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from biovae.applications.design.screening import ReferenceScreen, six_frames
from biovae.data.fasta import read_fasta_records
from diagnostics import data_dir

DIVERGENCE = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
AA, NT = "ACDEFGHIKLMNPQRSTVWY", "ACGT"
SETS = {
    "dna": dict(piece=300, flank=100, negative=500, letters=NT, window=50),
    "protein": dict(piece=80, flank=30, negative=140, letters=AA, window=17),
}


def genome(name: str) -> str:
    return "".join(read_fasta_records(data_dir() / "dna" / name).seqs).upper()


def references(kind: str, rng) -> list[str]:
    if kind == "dna":
        g = genome("ecoli_NC_008253.fa")
        return [g[s : s + 1500] for s in np.linspace(0, len(g) - 1500, 200).astype(int)]
    aln = data_dir() / "protein" / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
    seqs = ["".join(c for c in s if c.isalpha()).upper() for s in read_fasta_records(aln).seqs]
    seqs = [s for s in seqs if len(s) >= 150 and set(s) <= set(AA)]
    return [seqs[i] for i in rng.choice(len(seqs), 200, replace=False)]


def background(kind: str) -> str:
    yeast = genome("yeast_chrI.fa")
    return yeast if kind == "dna" else six_frames(yeast)[0]


def mutate(seq: str, d: float, indels: bool, letters: str, rng) -> str:
    """Each letter substituted with probability d; with ``indels``, at each position with
    probability 1/50 an insertion after it or a deletion from it of 1–3 letters."""
    out, i = [], 0
    while i < len(seq):
        c = seq[i]
        if rng.random() < d:
            c = str(rng.choice([a for a in letters if a != c]))
        if indels and rng.random() < 1 / 50:
            size = int(rng.integers(1, 4))
            if rng.random() < 0.5:
                out.append(c + "".join(rng.choice(list(letters), size)))
                i += 1
            else:
                i += size
            continue
        out.append(c)
        i += 1
    return "".join(out)


def queries(kind: str, refs: list[str], args, rng) -> tuple[list[str], list[str], list[tuple]]:
    s, bg = SETS[kind], background(kind)
    ids, seqs, truth = [], [], []

    def flank(n: int) -> str:
        start = int(rng.integers(0, len(bg) - n))
        return bg[start : start + n]

    for d in DIVERGENCE:
        for indels in (False, True):
            for j in range(args.per_cell):
                ref = refs[int(rng.integers(0, len(refs)))]
                start = int(rng.integers(0, len(ref) - s["piece"]))
                piece = ref[start : start + s["piece"]]
                if kind == "dna" and rng.random() < 0.5:
                    piece = piece.translate(str.maketrans("ACGT", "TGCA"))[::-1]
                piece = mutate(piece, d, indels, s["letters"], rng)
                ids.append(f"p_{d}_{int(indels)}_{j}")
                seqs.append(flank(s["flank"]) + piece + flank(s["flank"]))
                truth.append((d, indels))
    for j in range(args.negatives):
        ids.append(f"n_{j}")
        seqs.append(flank(s["negative"]))
        truth.append(None)
    return ids, seqs, truth


def blast_flags(kind: str, refs: list[str], ids, seqs, work: Path) -> tuple[set[str], float]:
    db, q = work / f"{kind}_refs.fa", work / f"{kind}_queries.fa"
    db.write_text("".join(f">r{i}\n{r}\n" for i, r in enumerate(refs)))
    q.write_text("".join(f">{i}\n{s.replace('*', 'X')}\n" for i, s in zip(ids, seqs)))
    t0 = time.perf_counter()
    dbtype, program = ("nucl", "blastn") if kind == "dna" else ("prot", "blastp")
    subprocess.run(["makeblastdb", "-in", db, "-dbtype", dbtype], check=True, capture_output=True)
    cmd = [program, "-query", q, "-db", db, "-evalue", "1e-5", "-outfmt", "6 qseqid"]
    cmd += ["-task", "blastn"] if kind == "dna" else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return set(out.split()), time.perf_counter() - t0


def summary(truth, flagged: list[bool]) -> dict:
    res = {}
    for d in DIVERGENCE:
        for indels in (False, True):
            hits = [f for t, f in zip(truth, flagged) if t == (d, indels)]
            res[f"d={d:.2f}{' indels' if indels else ''}"] = float(np.mean(hits))
    res["false positives"] = float(np.mean([f for t, f in zip(truth, flagged) if t is None]))
    return res


def run_kind(kind: str, args, work: Path) -> dict:
    rng = np.random.default_rng(0)
    refs = references(kind, rng)
    ids, seqs, truth = queries(kind, refs, args, rng)
    fa = work / f"{kind}_concern.fa"
    fa.write_text("".join(f">r{i}\n{r}\n" for i, r in enumerate(refs)))
    t0 = time.perf_counter()
    verdicts = ReferenceScreen(fa, SETS[kind]["window"], 0.8)(ids, seqs)
    res = {"biovae": summary(truth, [v.flagged for v in verdicts])}
    res["biovae"]["seconds"] = time.perf_counter() - t0
    if shutil.which("makeblastdb"):
        found, secs = blast_flags(kind, refs, ids, seqs, work)
        res["blast"] = summary(truth, [i in found for i in ids])
        res["blast"]["seconds"] = secs
    res["queries"] = len(ids)
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--per-cell", type=int, default=100, help="positives per divergence × indels")
    p.add_argument("--negatives", type=int, default=1000)
    p.add_argument("--out", default="bench-output/screening.json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = {kind: run_kind(kind, args, Path(tmp)) for kind in SETS}
    if not shutil.which("makeblastdb"):
        res["note"] = "BLAST+ not on PATH: biovae alone"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
