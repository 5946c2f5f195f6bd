"""The ``biovae`` command line: fit, embed, sample, score, report, demo.

This module imports little, so that a Ctrl-C while the rest (torch) loads still ends in one
line; the commands and their options are in :mod:`biovae.cli.parser`, which imports neither
torch nor pandas: each command imports its heavy modules when it runs."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import signal
import sys
import warnings
from collections.abc import Sequence

from biovae.errors import (
    BiovaeError,
    ConfigError,
    LaunchError,
    MissingFileError,
    PeerStoppedError,
)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, ``biovae: warning: ...`` (rank 0 only under torchrun)."""
    if _speaks():
        print(f"biovae: warning: {message}", file=file or sys.stderr)


def _speaks() -> bool:
    """Whether this process prints messages: not the other ranks of a torchrun launch, whose
    messages would repeat rank 0's."""
    return _world() <= 1 or os.environ.get("RANK", "0") == "0"


def _world() -> int:
    """``WORLD_SIZE`` as ``torchrun`` sets it; 1 when unset or not a number (``biovae fit``
    refuses such a value in one line, see :func:`biovae.training.distributed.launch_world`)."""
    text = os.environ.get("WORLD_SIZE", "")
    return int(text) if text.strip().isdigit() else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one line and exit with status 2."""
    with _terminate_cleanly():
        try:  # the parser loads no torch (--help and argparse errors are quick); the allocator
            # does, for a second or two: a Ctrl-C then is no traceback either
            from biovae.cli.parser import build_parser

            args = build_parser().parse_args(argv)
            from biovae.training.allocator import tune_allocator
        except KeyboardInterrupt as exc:
            return _stopped(exc)
        tune_allocator()  # this process is ours: keep training buffers in the heap (glibc)
        status = _run(args)
    try:  # the paths printed are the result: a reader that quit early must not hide an error
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return status


#: user errors that may be one rank's alone under torchrun, so every rank reports its own
_EVERY_RANK = (MissingFileError, PeerStoppedError, LaunchError)
#: the commands that run on several processes under torchrun (the others would repeat their
#: whole work in every process)
_DISTRIBUTED = frozenset({"fit"})


def _run(args: argparse.Namespace) -> int:
    from biovae.cli.io import refuse_clobbering

    try:
        _refuse_torchrun(args.command)
        refuse_clobbering(args)
        with warnings.catch_warnings():  # restored on return
            warnings.showwarning = _one_line_warning
            return args.func(args)
    except (BiovaeError, OSError) as exc:  # OSError: a file the system would not let us use
        if isinstance(exc, BrokenPipeError) and exc.filename is None:
            return _reader_gone()  # stdout's or stderr's reader quit (``| head``)
        # under torchrun every rank meets the same input error: rank 0 says it once; a file
        # error (or a missing file) may be one node's own, so every rank says it, with its rank,
        # as does every rank that stopped because another one did
        own = not isinstance(exc, BiovaeError) or isinstance(exc, _EVERY_RANK)
        if not own and not _speaks():
            return 2
        rank = os.environ.get("RANK") if own else None
        where = f" (rank {rank})" if rank and _world() > 1 else ""
        print(f"{_prog(args)}{where}: error: {_error_text(exc)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        if not _out_of_memory(exc):
            raise
        print(f"{_prog(args)}: error: {_memory_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return _stopped(exc)


def _prog(args: argparse.Namespace) -> str:
    """The command as typed, ``biovae fit`` or ``biovae variants score``: what argparse's own
    errors of that command start with."""
    return " ".join(["biovae", args.command, *filter(None, [getattr(args, "action", None)])])


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says a tensor did not fit: torch's CPU allocator raises a plain
    ``RuntimeError`` (``torch.OutOfMemoryError`` on a GPU), Python a ``MemoryError``."""
    return isinstance(exc, MemoryError) or any(s in str(exc) for s in _NO_MEMORY)


#: how torch's allocators word a request they cannot meet (CPU; CUDA and MPS)
_NO_MEMORY = ("can't allocate memory", "out of memory")


def _memory_text(exc: BaseException) -> str:
    """One line for an allocation that failed, usually a size setting given far too large
    (``--latent``, ``--hidden``, ``--samples`` ...): the size asked for, where torch says it."""
    asked = re.search(r"allocate (\d+) bytes", str(exc))
    size = f" ({int(asked[1]) / 2**30:,.1f} GiB asked for at once)" if asked else ""
    return (
        f"out of memory{size}; lower the sizes and counts given (such as --latent, --hidden, "
        "--batch-size, --samples, -n), or run on a machine with more memory"
    )


def _stopped(exc: KeyboardInterrupt) -> int:
    """Ctrl-C (130) or SIGTERM (143), said in one word, then what the command left to go on
    from when it says (``exc.args``: e.g. an interrupted fit's checkpoint)."""
    word = "terminated" if isinstance(exc, _Terminated) else "interrupted"
    note = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    print(f"{word}; {note}" if note else word, file=sys.stderr)
    return 143 if isinstance(exc, _Terminated) else 130


def _reader_gone() -> int:
    """The status of a pipeline stage whose reader quit (``biovae ... | head``): that of a
    process ended by SIGPIPE, 141, with nothing printed; what was written stays written. The
    standard output now leads nowhere, so that Python's own flush at exit is silent too."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: no file number (a capture)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def _refuse_torchrun(command: str) -> None:
    world = _world()
    if world > 1 and command not in _DISTRIBUTED:
        raise ConfigError(
            f"'biovae {command}' runs in one process; under torchrun each of the {world} "
            "processes would repeat it: run it without torchrun (only 'biovae fit' trains on "
            "several processes)"
        )


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that temporary outputs are cleaned up on the way out."""


@contextlib.contextmanager
def _terminate_cleanly():
    """Within the block SIGTERM (a scheduler's kill, torchrun stopping its workers) unwinds
    like Ctrl-C, running every cleanup; the previous handler is restored afterwards."""

    def _raise(signum, frame):
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, BiovaeError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        if exc.errno in _NO_ROOM:
            return f"{where}{exc.strerror.lower()}; free some space, or write elsewhere"
        return f"{where}{exc.strerror.lower()}; check the path and its permissions"
    return str(exc)


#: file errors that mean there is no room (a full disk, a quota, a file size limit)
_NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


if __name__ == "__main__":
    sys.exit(main())
