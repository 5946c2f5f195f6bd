"""The external screening program behind ``--screen-command``: :class:`CommandScreen` (see
:mod:`biovae.applications.design.screening`, which holds the policy and re-exports it)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from biovae.errors import ConfigError, DataError

if TYPE_CHECKING:
    from biovae.applications.design.screening import Verdict

TIMEOUT = 600.0  #: seconds an external screening program may run before it is stopped
_GRACE = 2.0  #: seconds a stopped program has to exit after SIGTERM before SIGKILL
_YES = {"1", "true", "yes", "flag", "flagged"}
_NO = {"0", "false", "no", "pass", "passed"}


@dataclass(frozen=True)
class CommandScreen:
    """An external screening program: ``command`` names ``{fasta}`` (the samples, written by
    biovae) and ``{out}`` (the verdict TSV the program writes: ``id``, ``flagged``, optionally
    ``reason``). Run without a shell and without input; exit status 0 is required, within
    ``timeout`` seconds (None: no limit) — past it the program's process group is stopped
    and the screen fails."""

    command: str
    timeout: float | None = TIMEOUT

    def __post_init__(self) -> None:
        if self.timeout is not None and not 0 < self.timeout < float("inf"):
            raise ConfigError(
                f"screening time limit {self.timeout:g} s (--screen-timeout): give a number of "
                "seconds > 0"
            )
        if "{fasta}" not in self.command or "{out}" not in self.command:
            raise ConfigError(
                f"screening command {self.command!r} must name {{fasta}} (the samples) and "
                "{out} (its verdict table), e.g. 'screen.sh {fasta} {out}'"
            )

    def __call__(self, ids: Sequence[str], sequences: Sequence[str]) -> list[Verdict]:
        from biovae.data.writers import write_fasta

        with tempfile.TemporaryDirectory(prefix="biovae-screen-") as tmp:
            fasta, out = Path(tmp) / "samples.fasta", Path(tmp) / "verdicts.tsv"
            write_fasta(fasta, list(ids), list(sequences), line_width=None)
            argv = [
                t.replace("{fasta}", str(fasta)).replace("{out}", str(out))
                for t in shlex.split(self.command)
            ]
            self._run(argv, Path(tmp) / "stderr.txt")
            if not out.is_file():
                raise DataError(
                    f"screening command {argv[0]!r} exited 0 but wrote no verdict table at "
                    f"{out}; it must write id/flagged columns there"
                )
            return _read_verdicts(out, ids, argv[0])

    def _run(self, argv: list[str], log: Path) -> None:
        """Run the program to its end, its messages into the file ``log`` (not pipes: a
        program printing gigabytes must not fill memory, and a child it leaves running with
        its output open must not keep the screen waiting after the program has exited)."""
        with open(log, "wb") as err:
            try:  # a group of its own, so that stopping it stops the programs it started too
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    start_new_session=True,
                )
            except FileNotFoundError as exc:
                raise ConfigError(
                    f"screening command {argv[0]!r} not found; give its full path"
                ) from exc
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise DataError(
                    f"screening command {argv[0]!r} ran past its time limit of "
                    f"{self.timeout:g} s and was stopped; nothing was written (raise the limit "
                    "with --screen-timeout, or check that the program finishes)"
                ) from None
            finally:  # e.g. Ctrl-C, or children it left running: never leave them behind
                _stop_group(proc)
        if proc.returncode:
            raise DataError(
                f"screening command {argv[0]!r} failed (exit status {proc.returncode}: "
                f"{_last_line(log)}); nothing was written"
            )


def _last_line(log: Path, limit: int = 300) -> str:
    """The last line a program wrote to ``log`` (at most ``limit`` characters; bytes that
    are not UTF-8 replaced), or 'no message'."""
    with open(log, "rb") as fh:
        fh.seek(max(0, log.stat().st_size - 4 * limit))
        tail = fh.read().decode("utf-8", errors="replace")
    lines = tail.strip().splitlines()
    return lines[-1].strip()[-limit:] if lines else "no message"


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop ``proc``'s process group: SIGTERM, and SIGKILL for what is left of it after
    :data:`_GRACE` seconds."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM)):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
            os.killpg(proc.pid, sig) if hasattr(os, "killpg") else proc.kill()  # Windows
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_GRACE)


def _read_verdicts(path: Path, ids: Sequence[str], program: str) -> list[Verdict]:
    """The program's verdicts in sample order; every sample needs exactly one."""
    from biovae.applications.design.screening import Verdict  # it re-exports this module

    try:
        text = path.read_text(encoding="utf-8-sig").splitlines()  # a byte-order mark: not 'id'
    except UnicodeDecodeError as exc:
        raise DataError(
            f"verdict table of {program!r} is not UTF-8 text ({exc}); have the program write "
            "UTF-8, nothing was written"
        ) from None
    lines = [ln.split("\t") for ln in text if ln]
    header = [h.strip().lower() for h in lines[0]] if lines else []
    if "id" not in header or "flagged" not in header:
        raise DataError(
            f"verdict table of {program!r}: the header must have columns 'id' and 'flagged' "
            f"(tab-separated), found {header}"
        )
    col = {name: header.index(name) for name in ("id", "flagged", "reason") if name in header}
    known, found = set(ids), {}
    for lineno, row in enumerate(lines[1:], start=2):
        row = row + [""] * (len(header) - len(row))
        rid, value = row[col["id"]].strip(), row[col["flagged"]].strip().lower()
        if value not in _YES | _NO or rid not in known or rid in found:
            problem = (
                f"flagged value {value!r} is not yes/no"
                if value not in _YES | _NO
                else f"id {rid!r} is {'repeated' if rid in found else 'not a sample'}"
            )
            raise DataError(f"verdict table of {program!r}, line {lineno}: {problem}")
        reason = row[col["reason"]].strip() if "reason" in col else ""
        found[rid] = Verdict(rid, value in _YES, "command" if value in _YES else "", reason)
    missing = [rid for rid in ids if rid not in found]
    if missing:
        raise DataError(
            f"verdict table of {program!r} has no verdict for sample {missing[0]!r} "
            f"({len(missing)} missing); every sample needs one, nothing was written"
        )
    return [found[rid] for rid in ids]
