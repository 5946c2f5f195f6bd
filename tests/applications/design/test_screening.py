"""Screens of generated sequences: reference windows on both strands and in six frames, the
external-command contract, and their failures (fail closed)."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from biovae.applications.design.screening import (
    TIMEOUT,
    CommandScreen,
    ReferenceScreen,
    Verdict,
    screen_sequences,
    six_frames,
)
from biovae.data.fasta import read_fasta_records
from biovae.errors import ConfigError, DataError
from tests.conftest import FIXTURES

# one codon per amino acid, written out here (independent of the module's code table)
CODON = dict(
    A="GCT", C="TGT", D="GAT", E="GAA", F="TTT", G="GGT", H="CAT", I="ATT", K="AAA", L="CTG",
    M="ATG", N="AAT", P="CCG", Q="CAG", R="CGT", S="TCT", T="ACC", V="GTT", W="TGG", Y="TAT",
)  # fmt: skip
REVCOMP = str.maketrans("ACGT", "TGCA")
AA = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture(scope="module")
def blat() -> str:
    """TEM-1 beta-lactamase (BLAT_ECOLX/24-286), the focus of the fixture alignment."""
    rec = read_fasta_records(FIXTURES / "blat_ecolx_first40.a2m")
    return "".join(c for c in rec.seqs[0] if c.isupper())


def fasta(tmp_path, name: str, records: dict[str, str]):
    path = tmp_path / name
    path.write_text("".join(f">{k}\n{v}\n" for k, v in records.items()))
    return path


def random_protein(rng, n: int) -> str:
    return "".join(rng.choice(list(AA), n))


def back_translate(protein: str) -> str:
    return "".join(CODON[a] for a in protein)


def test_six_frames_by_hand():
    assert six_frames("ATGTTTTAA") == ["MF*", "CF", "VL", "LKH", "*N", "KT"]


def test_protein_samples_near_a_reference_are_flagged_and_others_pass(tmp_path, blat):
    rng = np.random.default_rng(0)
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    near = list(random_protein(rng, 120))
    near[50:70] = blat[100:120]
    near[55], near[63] = "W", "W"  # 18 of 20 still identical
    samples = ["".join(near)] + [random_protein(rng, 120) for _ in range(30)]
    verdicts = ReferenceScreen(refs)([f"s{i}" for i in range(31)], samples)
    assert [v.flagged for v in verdicts] == [True] + [False] * 30
    assert "to 'BLAT_ECOLX'" in verdicts[0].reason and "reference 1" in verdicts[0].reason


def test_dna_samples_are_screened_in_six_frames_against_proteins(tmp_path, blat):
    rng = np.random.default_rng(1)
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    coding = back_translate(blat[30:60])  # 90 nt encoding 30 residues of the reference
    flank = "".join(rng.choice(list("ACGT"), 40))
    minus = (flank + coding + flank).translate(REVCOMP)[::-1]  # on the reverse strand
    decoy = "".join(rng.choice(list("ACGT"), 170))
    verdicts = ReferenceScreen(refs)(["minus", "decoy"], [minus, decoy])
    assert [v.flagged for v in verdicts] == [True, False]
    assert "frame −" in verdicts[0].reason and "100% identity over 17 aa" in verdicts[0].reason


def test_protein_samples_are_screened_against_translated_dna(tmp_path, blat):
    refs = fasta(tmp_path, "genes.fasta", {"bla": "AA" + back_translate(blat)})  # frame +3
    rng = np.random.default_rng(2)
    sample = random_protein(rng, 30) + blat[200:230] + random_protein(rng, 30)
    (v,) = ReferenceScreen(refs)(["s"], [sample])
    assert v.flagged and "bla (frame +3)" in v.reason


def test_dna_against_dna_searches_both_strands(tmp_path):
    rng = np.random.default_rng(3)
    gene = "".join(rng.choice(list("ACGT"), 300))
    refs = fasta(tmp_path, "genes.fasta", {"gene": gene})
    piece = list(gene[100:160].translate(REVCOMP)[::-1])
    for j in range(0, 60, 6):  # 10 substitutions in 60 nt: 50/60 per window at worst
        piece[j] = {"A": "C", "C": "G", "G": "T", "T": "A"}[piece[j]]
    sample = "".join(rng.choice(list("ACGT"), 30)) + "".join(piece)
    unrelated = "".join(rng.choice(list("ACGT"), 90))
    verdicts = ReferenceScreen(refs)(["rc", "other"], [sample, unrelated])
    assert [v.flagged for v in verdicts] == [True, False]
    assert "gene (− strand)" in verdicts[0].reason and "over 50 nt" in verdicts[0].reason


def test_a_short_sample_or_reference_shortens_only_its_own_windows(tmp_path):
    rng = np.random.default_rng(5)
    genome = "".join(rng.choice(list("ACGT"), 20_000))
    samples = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(30)]
    ids = [f"s{i}" for i in range(30)]
    alone = ReferenceScreen(fasta(tmp_path, "g.fasta", {"genome": genome}))(ids, samples)
    assert not any(v.flagged for v in alone)  # 50-nt windows: random DNA does not match
    short = genome[500:506] + "-" * 40 + genome[506:512]  # 12 nt of the genome, once ungapped
    screen = ReferenceScreen(tmp_path / "g.fasta")
    with_short = screen_sequences([*ids, "short"], [*samples, short], [screen])
    assert not any(v.flagged for v in with_short[:30])  # the others keep their 50-nt windows
    assert with_short[30].flagged and "over 12 nt" in with_short[30].reason
    refs = fasta(tmp_path, "g2.fasta", {"genome": genome, "site": "GAATTCGGATCC"})
    verdicts = ReferenceScreen(refs)(ids, samples)
    assert not any("genome" in v.reason for v in verdicts)  # still 50 nt against the genome


def test_gaps_are_removed_before_screening(tmp_path, blat):
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    gapped = "-".join(blat[10:40])  # an alignment row: gap between every letter
    (v,) = screen_sequences(["s"], [gapped], [ReferenceScreen(refs)])
    assert v.flagged and v.screen == "reference"


def test_bad_references_and_settings(tmp_path, blat):
    short = fasta(tmp_path, "short.fasta", {"ok": blat, "peptide": "MKTAYIAK"})
    with pytest.raises(DataError, match="record 'peptide' has 8 letters"):
        ReferenceScreen(short)(["s"], [blat])
    with pytest.raises(ConfigError, match="window must be >= 10"):
        ReferenceScreen(short, window=5)
    with pytest.raises(ConfigError, match="identity must be between"):
        ReferenceScreen(short, identity=1.5)


@pytest.fixture
def program(tmp_path):
    """A stand-in screening program: flags sequences holding 'WW'; 'fail' exits 3, 'drop'
    leaves the last sample out, 'badvalue' writes 'maybe', 'silent' writes nothing, 'bom'
    starts the table with a byte-order mark (as Windows tools such as PowerShell write)."""
    script = tmp_path / "screen.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            mode, fasta, out = sys.argv[1:4]
            if mode == "fail":
                print("screen: database not found", file=sys.stderr)
                sys.exit(3)
            recs = [r.splitlines() for r in open(fasta).read().split(">")[1:]]
            rows = [(r[0], "yes" if "WW" in "".join(r[1:]) else "no") for r in recs]
            if mode == "drop":
                rows = rows[:-1]
            if mode == "badvalue":
                rows[0] = (rows[0][0], "maybe")
            if mode != "silent":
                with open(out, "w", encoding="utf-8") as fh:
                    fh.write(("\\ufeff" if mode == "bom" else "") + "id\\tflagged\\treason\\n")
                    fh.writelines(f"{i}\\t{f}\\tmotif WW\\n" for i, f in rows)
            """
        )
    )
    return lambda mode: CommandScreen(f"{sys.executable} {script} {mode} {{fasta}} {{out}}")


@pytest.mark.parametrize("mode", ["ok", "bom"])
def test_a_command_screen_gives_one_verdict_per_sample(program, mode):
    verdicts = program(mode)(["a", "b", "c"], ["MKWWA" * 3, "MKAAA" * 3, "WWMMM" * 3])
    assert verdicts == [
        Verdict("a", True, "command", "motif WW"),
        Verdict("b", False, "", "motif WW"),
        Verdict("c", True, "command", "motif WW"),
    ]


@pytest.mark.parametrize(
    "mode,message",
    [
        ("fail", "failed \\(exit status 3: screen: database not found\\); nothing was written"),
        ("drop", "no verdict for sample 'b'"),
        ("badvalue", "line 2: flagged value 'maybe' is not yes/no"),
        ("silent", "wrote no verdict table at /.*/verdicts\\.tsv; it must"),
    ],
)
def test_a_command_screen_fails_closed(program, mode, message):
    with pytest.raises(DataError, match=message):
        program(mode)(["a", "b"], ["MKWW", "MKAA"])


def test_command_settings_are_checked():
    with pytest.raises(ConfigError, match="must name \\{fasta\\}"):
        CommandScreen("screen.sh samples.fasta")
    with pytest.raises(ConfigError, match="not found"):
        CommandScreen("/nonexistent/screen {fasta} {out}")(["a"], ["MKAA"])


def test_any_flagging_screen_flags_the_sample(tmp_path, blat, program):
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    samples = [blat[:40], "MKWW" + "A" * 36, "MKAA" + "C" * 36]
    verdicts = screen_sequences(["x", "y", "z"], samples, [ReferenceScreen(refs), program("ok")])
    assert [(v.flagged, v.screen) for v in verdicts] == [
        (True, "reference"),
        (True, "command"),
        (False, ""),
    ]


@pytest.mark.parametrize("setting", [{"window": 50.0}, {"window": True}, {"identity": "0.8"}])
def test_settings_of_the_wrong_type_are_refused_on_construction(tmp_path, blat, setting):
    """A float window or a text identity (e.g. from a JSON file) passed the checks and failed
    mid-screen with a TypeError traceback."""
    path = fasta(tmp_path, "concern.fasta", {"blat": blat})
    with pytest.raises(ConfigError, match=r"the screening (window|identity) must be .*, got"):
        ReferenceScreen(path, **setting)


def test_short_sequences_and_repeated_ids_are_refused(tmp_path, blat):
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    with pytest.raises(DataError, match="sequence 'tiny' has 6 letters"):
        screen_sequences(["ok", "tiny"], [blat[:40], "MKVLAA"], [ReferenceScreen(refs)])
    with pytest.raises(DataError, match="record id 'a' occurs twice"):
        screen_sequences(["a", "a"], [blat[:40], blat[:40]], [ReferenceScreen(refs)])


def test_files_mixing_dna_and_protein_are_screened_record_by_record(tmp_path, blat):
    """Each sample and each reference has its own kind: an exact copy is flagged however many
    records of the other kind share its file (pooled letters would call the file one kind)."""
    rng = np.random.default_rng(7)
    gene = "".join(rng.choice(list("ACGT"), 150))
    dna = ["".join(rng.choice(list("ACGT"), 600)) for _ in range(5)]
    proteins = [random_protein(rng, 200) for _ in range(5)]
    ids = [f"s{i}" for i in range(6)]
    prot_refs = fasta(tmp_path, "prot.fasta", {"BLAT_ECOLX": blat})
    verdicts = ReferenceScreen(prot_refs)(ids, [*dna, blat[:60]])  # DNA plus one protein
    assert [v.flagged for v in verdicts] == [False] * 5 + [True]
    assert "100% identity over 17 aa to 'BLAT_ECOLX'" in verdicts[5].reason
    dna_refs = fasta(tmp_path, "dna.fasta", {"gene": gene})
    verdicts = ReferenceScreen(dna_refs)(ids, [*proteins, gene])  # proteins plus one gene
    assert [v.flagged for v in verdicts] == [False] * 5 + [True]
    assert "100% identity over 50 nt to 'gene (+ strand)'" in verdicts[5].reason
    refs = {f"p{i}": p for i, p in enumerate(proteins)} | {"gene": gene}
    mixed_refs = fasta(tmp_path, "mixed.fasta", refs)  # mostly proteins, one gene
    samples = [*dna, gene.translate(REVCOMP)[::-1]]
    verdicts = ReferenceScreen(mixed_refs)(ids, samples)
    assert [v.flagged for v in verdicts] == [False] * 5 + [True]
    assert "to 'gene (− strand)'" in verdicts[5].reason
    samples = [random_protein(rng, 200) for _ in range(5)] + [proteins[2]]
    verdicts = ReferenceScreen(mixed_refs)(ids, samples)  # a protein against the mixed list
    assert [v.flagged for v in verdicts] == [False] * 5 + [True]
    assert "to 'p2'" in verdicts[5].reason
    samples = [*proteins[:3], back_translate(proteins[4]), *dna[:2]]  # and a coding DNA
    verdicts = ReferenceScreen(mixed_refs)(ids, samples)
    assert [v.flagged for v in verdicts] == [True, True, True, True, False, False]
    assert "frame +1" in verdicts[3].reason and "to 'p4'" in verdicts[3].reason


def test_low_complexity_proteins_read_as_iupac_dna_are_screened_as_protein_too(tmp_path):
    """GAGAGS silk, GGGGS linkers and His tags are all nucleotide codes: a copy of such a
    protein of concern must still be flagged (the screen failed open when it called each
    sample by its letters alone), and a model's known alphabet settles the kind."""
    rng = np.random.default_rng(11)
    silk = "GAGAGSGAGAGSGAGAGYGAGAGSGAGAGS" * 2
    toxin = random_protein(rng, 21) + silk + random_protein(rng, 21)
    refs = fasta(tmp_path, "ref.fasta", {"toxin": toxin})
    samples = [random_protein(rng, 60), silk, "GGGGS" * 4 + "HHHHHH" * 3]
    verdicts = ReferenceScreen(refs)(["s0", "s1", "s2"], samples)
    assert [v.flagged for v in verdicts] == [False, True, False]
    assert "100% identity over 17 aa to 'toxin'" in verdicts[1].reason
    assert ReferenceScreen(refs, sample_kind="protein")(["s1"], [silk])[0].flagged
    as_dna = ReferenceScreen(refs, sample_kind="nucleotide")(["s1"], [silk])[0]
    assert "aa to 'toxin'" not in as_dna.reason  # not compared as a protein; as DNA, its S
    assert as_dna.reason.startswith("ambiguous: ")  # and Y are ambiguity letters (17 %)
    with pytest.raises(ConfigError, match="sample_kind 'dna'"):
        ReferenceScreen(refs, sample_kind="dna")
    only_silk = fasta(tmp_path, "silk.fasta", {"silk": silk})  # the reference reads as DNA too
    verdicts = ReferenceScreen(only_silk, sample_kind="protein")(["s0", "s1"], [toxin, samples[0]])
    assert [v.flagged for v in verdicts] == [True, False]


def test_a_protein_model_is_screened_against_acgt_only_proteins_of_concern(tmp_path):
    """A protein of concern made only of Ala, Cys, Gly and Thr (poly-GA-like) reads as DNA by
    its letters; samples known to be proteins are compared with it as a protein too."""
    concern = "GAGAGAGAGAGTGAGAGAGAGTGAGAGAGAGTGAGAGCGAGT"
    refs = fasta(tmp_path, "conc.fasta", {"concern": concern})
    assert ReferenceScreen(refs, sample_kind="protein")(["x"], [concern])[0].flagged
    assert ReferenceScreen(refs)(["x"], [concern])[0].flagged  # DNA against DNA, as before


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_command_past_its_time_limit_is_stopped_with_its_children(tmp_path):
    """A program that hangs (here: it starts a child and both sleep) fails the screen within
    the limit, and neither it nor its child is left running."""
    script = tmp_path / "hang.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            open({str(tmp_path / "pids")!r}, "w").write(f"{{child.pid}}\\n")
            time.sleep(60)
            """
        )
    )
    screen = CommandScreen(f"{sys.executable} {script} {{fasta}} {{out}}", timeout=1)
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"ran past its time limit of 1 s .*--screen-timeout"):
        screen(["a"], ["MKWWA" * 4])
    assert time.monotonic() - t0 < 10
    child = int((tmp_path / "pids").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_the_time_limit_is_checked():
    assert CommandScreen("s {fasta} {out}").timeout == TIMEOUT == 600
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="--screen-timeout"):
            CommandScreen("s {fasta} {out}", timeout=bad)


def test_a_match_at_a_references_start_names_it_and_its_letters(tmp_path):
    """45 nt of a reference's start at a sample's end: a 50-nt window at 90 % hangs off the
    reference; its verdict named the other strand's record and 'reference -254–-205'."""
    rng = np.random.default_rng(8)
    ref = "".join(rng.choice(list("ACGT"), 200))
    path = fasta(tmp_path, "concern.fasta", {"toxin": ref})
    sample = "".join(rng.choice(list("ACGT"), 100)) + ref[:45]
    (verdict,) = screen_sequences(["s1"], [sample], [ReferenceScreen(path)])
    assert verdict.flagged and "90% identity over 50 nt to 'toxin (+ strand)'" in verdict.reason
    assert (
        "(sample 101–145, reference 1–45; 5 nt of the window lie outside the reference)"
        in verdict.reason
    )


def test_characters_that_are_no_sequence_letters_are_refused(tmp_path):
    """A digit every 8 letters made a copy of a DNA reference read as protein (under 90 %
    nucleotide letters), which was compared in six frames only and passed unflagged; such a
    record is malformed, in the samples or in the list of concern."""
    rng = np.random.default_rng(11)
    gene = "".join(rng.choice(list("ACGT"), 300))
    refs = fasta(tmp_path, "concern.fasta", {"gene": gene})
    junk = "".join(c + ("1" if k % 8 == 0 else "") for k, c in enumerate(gene[50:250]))
    with pytest.raises(DataError, match=r"sequence 'copy' holds '1' at position 2"):
        screen_sequences(["copy"], [junk], [ReferenceScreen(refs)])
    numbered = fasta(tmp_path, "numbered.fasta", {"gene": junk})
    with pytest.raises(DataError, match=r"numbered.fasta: record 'gene' holds '1'"):
        ReferenceScreen(numbered)
    accented = fasta(tmp_path, "accented.fasta", {"gene": gene[:40] + "é" + gene[40:]})
    with pytest.raises(DataError, match=r"record 'gene' holds 'é' at position 41"):
        ReferenceScreen(accented)
    (stop,) = screen_sequences(["p"], [random_protein(rng, 30) + "*"], [ReferenceScreen(refs)])
    assert not stop.flagged  # '*' (a stop codon) is a sequence letter


def test_a_screen_called_directly_reads_lower_case_and_gaps(tmp_path):
    """ReferenceScreen called as a function (not through screen_sequences) compared lower
    case and gapped samples letter for letter: a copy of the reference passed."""
    rng = np.random.default_rng(12)
    gene = "".join(rng.choice(list("ACGT"), 200))
    screen = ReferenceScreen(fasta(tmp_path, "concern.fasta", {"gene": gene}))
    copies = [gene[20:120].lower(), "-".join(gene[20:120]), gene[20:120].replace("T", "u")]
    assert [v.flagged for v in screen(["low", "gapped", "rna"], copies)] == [True] * 3


def test_dna_too_short_for_the_frames_of_protein_references_says_so(tmp_path, blat):
    """A 30-nt sample against protein references was refused as having '9 letters': its
    frame +2 has 9 codons; the message names the sample's length, the frame and the minimum."""
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    with pytest.raises(DataError, match=r"'oligo' \(30 nt\) translates to 9 residues in frame"):
        screen_sequences(["oligo"], [back_translate(blat[:10])], [ReferenceScreen(refs)])
    (v,) = screen_sequences(["ok"], [back_translate(blat[:10]) + "TT"], [ReferenceScreen(refs)])
    assert v.flagged  # 32 nt: 10 codons in every frame; frame +1 is the reference's first 10


def _every(seq: str, k: int, letter: str) -> str:
    """``seq`` with its every ``k``-th letter replaced by ``letter``."""
    return "".join(letter if i % k == k - 1 else c for i, c in enumerate(seq))


MASKS = {
    "N every 10th": lambda g: _every(g, 10, "N"),
    "N every 8th": lambda g: _every(g, 8, "N"),
    "N every 4th": lambda g: _every(g, 4, "N"),
    "N every 2nd": lambda g: _every(g, 2, "N"),
    "R every 5th": lambda g: _every(g, 5, "R"),
    "N inserted every 10th": lambda g: "".join(c + "N" * (i % 10 == 9) for i, c in enumerate(g)),
    "N run": lambda g: g[:100] + "N" * 60 + g[160:],
    "all N": lambda g: "N" * len(g),
}


@pytest.mark.parametrize("mask", MASKS)
def test_dna_masked_with_ambiguity_letters_is_flagged(tmp_path, mask):
    """A copy of a DNA reference with N (or another IUPAC code) every few bases, inserted, or
    in a run passed: those letters matched nothing, so every window fell under 80 %. They
    are now wildcards (and searched again as gaps), and a window of over 10 % of them is
    flagged as ambiguous."""
    rng = np.random.default_rng(20)
    gene = "".join(rng.choice(list("ACGT"), 300))
    screen = ReferenceScreen(fasta(tmp_path, "concern.fasta", {"toxin": gene}))
    (v,) = screen_sequences(["masked"], [MASKS[mask](gene)], [screen])
    assert v.flagged, mask
    assert "to 'toxin" in v.reason or v.reason.startswith("ambiguous: ")


def test_a_few_ambiguity_letters_flag_no_unrelated_sequence(tmp_path):
    rng = np.random.default_rng(21)
    refs = {f"r{i}": "".join(rng.choice(list("ACGT"), 400)) for i in range(3)}
    refs["protein"] = random_protein(rng, 300)  # met in six frames, their X wildcards too
    screen = ReferenceScreen(fasta(tmp_path, "concern.fasta", refs))
    samples = []
    for _ in range(20):
        s = list(rng.choice(list("ACGT"), 300))
        for at in rng.choice(300, 6, replace=False):  # 2 %, N or another code
            s[at] = rng.choice(list("NRYKMSWBDHV"))
        samples.append("".join(s))
    assert not any(v.flagged for v in screen([f"s{i}" for i in range(20)], samples))


def test_a_masked_window_is_reported_as_ambiguous_or_as_its_match(tmp_path):
    rng = np.random.default_rng(22)
    gene = "".join(rng.choice(list("ACGT"), 200))
    screen = ReferenceScreen(fasta(tmp_path, "concern.fasta", {"toxin": gene}))
    sparse, dense = _every(gene, 10, "N"), _every(gene, 4, "N")
    (a, b) = screen(["sparse", "dense"], [sparse, dense])
    assert a.reason.startswith("100% identity over 50 nt to 'toxin (+ strand)'")
    assert b.reason.startswith("ambiguous: 26% ambiguity letters (13 of 50 nt at sample 3–52")


def test_protein_masked_with_x_is_flagged_and_a_stray_x_is_not(tmp_path, blat):
    rng = np.random.default_rng(23)
    screen = ReferenceScreen(fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat}))
    masked = [_every(blat, k, "X") for k in (10, 5, 4, 3)] + ["X" * 100]
    assert all(v.flagged for v in screen([f"m{i}" for i in range(5)], masked))
    (one,) = screen(["sparse"], [_every(blat, 20, "X")])
    assert one.reason.startswith("100% identity over 17 aa")  # X matches any residue
    stray = [random_protein(rng, 60) + "X" + random_protein(rng, 60) for _ in range(20)]
    assert not any(v.flagged for v in screen([f"s{i}" for i in range(20)], stray))


def test_ambiguous_codons_translate_to_the_residue_all_readings_share():
    assert six_frames("GCNTTYTARNNN")[0] == "AF*X"  # GCN: Ala; TTY: Phe; TAR: stop
    assert six_frames("GCNTTYTARNNN")[0][:3] == six_frames("GCATTCTAANNN")[0][:3]


def test_dna_with_masked_wobble_bases_is_flagged_against_proteins(tmp_path, blat):
    refs = fasta(tmp_path, "concern.fasta", {"BLAT_ECOLX": blat})
    coding = back_translate(blat[30:80])
    wobble = "".join("N" if i % 3 == 2 else c for i, c in enumerate(coding))
    (v,) = screen_sequences(["wobble"], [wobble], [ReferenceScreen(refs)])
    assert v.flagged
