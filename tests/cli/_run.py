"""Run the ``biovae`` command in-process and capture what it prints."""

from __future__ import annotations

from biovae.cli.main import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``biovae ARGV``; argparse exits become statuses."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err
