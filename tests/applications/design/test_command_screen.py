"""The external screening program's edges: what it prints, what it leaves running, and bytes
that are not UTF-8 — a verdict or one clear error, never a traceback, a hang or a memory blow-up.
(Short DNA references against protein samples: their frames too short to screen for.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from biovae.applications.design.screening import (
    CommandScreen,
    ReferenceScreen,
    Verdict,
    screen_sequences,
)
from biovae.errors import DataError
from tests.applications.design.test_screening import (
    _alive,
    back_translate,
    fasta,
    random_protein,
)

#: a stand-in program: "no" for every sample, after PRELUDE (run first)
PROGRAM = """
import subprocess, sys, time
fasta, out = sys.argv[1:3]
{prelude}
ids = [r.split()[0] for r in open(fasta).read().split(">")[1:]]
with open(out, "w", encoding="utf-8") as fh:
    fh.write("id\\tflagged\\n" + "".join(f"{{i}}\\tno\\n" for i in ids))
"""


def command(tmp_path: Path, prelude: str, timeout: float = 30) -> CommandScreen:
    script = tmp_path / "screen.py"
    script.write_text(PROGRAM.format(prelude=textwrap.dedent(prelude)))
    return CommandScreen(f"{sys.executable} {script} {{fasta}} {{out}}", timeout=timeout)


def test_a_program_printing_much_output_does_not_fill_memory(tmp_path):
    """300 MB on stdout (and 30 MB on stderr) were read into memory (and decoded): a chatty
    or runaway program could exhaust it. The screen's peak memory stays far below that."""
    prelude = """
    for _ in range(300):
        sys.stdout.write("x" * 1_000_000)
    for _ in range(30):
        sys.stderr.write("y" * 1_000_000)
    """
    screen = command(tmp_path, prelude)
    probe = (
        "import resource; from biovae.applications.design.screening import CommandScreen; "
        "peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; before = peak(); "
        f"v = CommandScreen({screen.command!r})(['a', 'b'], ['MKWWA', 'MKAAA']); "
        "assert [x.flagged for x in v] == [False, False]; print(peak() - before)"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) < 50_000  # KiB: the output (330 MB) is never held


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_program_that_exits_leaving_a_child_is_not_waited_for(tmp_path):
    """The program writes its verdicts and exits 0, leaving a child that holds its output
    open: the screen waited for the child until the time limit and failed; now it takes the
    verdicts when the program exits, and stops the child."""
    prelude = f"""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open({str(tmp_path / "pid")!r}, "w").write(str(child.pid))
    """
    t0 = time.monotonic()
    verdicts = command(tmp_path, prelude, timeout=15)(["a"], ["MKWWA" * 4])
    assert verdicts == [Verdict("a", False)]
    assert time.monotonic() - t0 < 10
    child = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_failing_programs_message_need_not_be_utf8(tmp_path):
    """A Latin-1 error message raised UnicodeDecodeError (a traceback) instead of the error."""
    prelude = """
    sys.stderr.buffer.write(b"Datenbank fehlt: \\xe9t\\xe9\\n")
    sys.exit(4)
    """
    with pytest.raises(DataError, match=r"exit status 4: Datenbank fehlt: .t.\); nothing was"):
        command(tmp_path, prelude)(["a"], ["MKWWA"])


def test_a_verdict_table_that_is_not_utf8_is_an_error(tmp_path):
    script = tmp_path / "latin.py"
    script.write_text(
        "import sys\n"
        "open(sys.argv[2], 'wb').write(b'id\\tflagged\\treason\\na\\tno\\tg\\xe9ne\\n')\n"
    )
    screen = CommandScreen(f"{sys.executable} {script} {{fasta}} {{out}}")
    with pytest.raises(DataError, match=r"verdict table of .* is not UTF-8 text .*nothing was"):
        screen(["a"], ["MKWWA"])


def test_short_dna_references_do_not_flag_proteins_by_chance(tmp_path):
    """A 10-nt reference of concern (allowed: 10 letters) became 3-residue frames compared
    over their own length, and flagged most random proteins ('100% identity over 2 aa').
    Frames under 10 codons are not compared; a DNA reference with none is refused for
    protein samples, while a 30-nt one still flags the peptide it encodes."""
    rng = np.random.default_rng(0)
    proteins = [random_protein(rng, 300) for _ in range(20)]
    ids = [f"p{i}" for i in range(20)]
    tiny = fasta(tmp_path, "tiny.fasta", {"oligo": "".join(rng.choice(list("ACGT"), 12))})
    with pytest.raises(DataError, match=r"protein samples cannot be screened against record "):
        screen_sequences(ids, proteins, [ReferenceScreen(tiny)])
    with pytest.raises(DataError, match=r"'oligo' of .*tiny.fasta: its 12 nt translate"):
        ReferenceScreen(tiny, sample_kind="protein")
    dna = [back_translate(p[:100]) for p in proteins]  # DNA samples: screened as before
    assert not any(v.flagged for v in screen_sequences(ids, dna, [ReferenceScreen(tiny)]))
    peptide = random_protein(rng, 10)
    short = fasta(tmp_path, "short.fasta", {"pep": back_translate(peptide) + "GC"})
    sample = proteins[0][:50] + peptide + proteins[0][50:]
    verdicts = screen_sequences(["hit", *ids], [sample, *proteins], [ReferenceScreen(short)])
    assert verdicts[0].flagged and "100% identity over 10 aa to 'pep (frame +1)'" in (
        verdicts[0].reason
    )
    assert not any(v.flagged for v in verdicts[1:])
