"""``biovae variants fit``: its options, the config they build, and the fit with its
checkpoints (``--checkpoint-every N`` updates, ``--resume``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from biovae.cli.checkpoints import (
    add_resume_flag,
    checkpoint_folder,
    require_checkpoint,
    stopped_note,
)
from biovae.cli.io import check_parent
from biovae.cli.notes import add_quiet, note
from biovae.cli.variants_flags import FIT_FLAGS, METAVARS
from biovae.config import to_dict
from biovae.errors import DataError


def add_fit_arguments(fit: argparse.ArgumentParser) -> None:
    """The arguments of ``biovae variants fit``; it runs :func:`cmd_fit`."""
    fit.add_argument("alignment", metavar="ALIGNMENT", help="A2M, A3M, aligned FASTA, Stockholm")
    fit.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    fit.add_argument("--config", metavar="FILE", help="TOML with [alignment] [model] [train]")
    add_quiet(fit)
    for flag, (_, type_, help_) in FIT_FLAGS.items():
        if type_ is bool:
            fit.add_argument(flag, action="store_const", const=True, help=help_)
        else:
            fit.add_argument(flag, type=type_, metavar=METAVARS[flag], help=help_)
    fit.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="save the member in training every N updates (and each member when it finishes) "
        "to MODEL.checkpoint, so that --resume continues a killed fit (0 = none, default)",
    )
    add_resume_flag(fit)
    fit.set_defaults(func=cmd_fit)


def _config(args: argparse.Namespace):
    """VariantsConfig from its defaults, then ``--config``, then the flags given (they win);
    a bad value is blamed on the file line or the flag that set it."""
    from biovae.applications.variants.config import VariantsConfig
    from biovae.cli.config_args import layered

    flags: dict = {}  # explicit flags as nested tables
    for flag, (field, _, _) in FIT_FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            *parents, leaf = field.split(".")
            node = flags
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
    names = {field: flag for flag, (field, _, _) in FIT_FLAGS.items()}
    return layered(VariantsConfig, to_dict(VariantsConfig()), args.config, flags, names)


def _model_out(path: str) -> Path:
    out = Path(path)
    from biovae.persistence import check_model_out

    return check_model_out(check_parent(out))


def cmd_fit(args: argparse.Namespace) -> int:
    from biovae.applications.variants import family
    from biovae.applications.variants.alignment import read_alignment

    cfg = _config(args)
    out = _model_out(args.out)
    checkpoints, folder = _checkpoints(args, out)
    a = cfg.alignment
    aln = read_alignment(
        args.alignment,
        focus=a.focus,
        max_gap_fraction=a.max_gap_fraction,
        alphabet=a.alphabet,
        max_column_gaps=a.max_column_gaps,
    )
    if len(aln) < 2:
        raise DataError(f"{args.alignment}: only {len(aln)} usable sequence; a family needs more")
    try:
        fitted = family.fit(aln, cfg, progress=not args.quiet, checkpoints=checkpoints)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: say what a rerun can resume
        exc.args = (_stopped_note(folder, checkpoints),)
        raise
    family.save(out, fitted)
    if checkpoints is not None:
        from biovae.applications.variants.resume import remove_checkpoints

        remove_checkpoints(folder)
    f = fitted.facts
    note(
        args,
        f"{f['n_sequences']} sequences × {len(aln.positions)} match columns "
        f"({f['n_invalid_dropped']} dropped for letters outside '{aln.alphabet}', "
        f"{f['n_gappy_dropped']} for gaps); Neff = {f['neff']:.1f}",
    )
    print_dropped(args, fitted.dropped_columns)
    empty = int((aln.codes == aln.gap).all(axis=1).sum())
    if empty:  # kept by --max-gap-fraction 1 or emptied by --max-column-gaps
        note(args, f"{empty} records without residues weigh 0 (as in EVE)")
    print(out)
    return 0


def _checkpoints(args: argparse.Namespace, out: Path):
    """The fit's checkpoint plan (None: no --checkpoint-every, no --resume) and folder; the
    flags are checked before any work."""
    from biovae.applications.variants.resume import FamilyCheckpoints

    folder = checkpoint_folder(out)
    require_checkpoint(folder, args.resume)
    plan = FamilyCheckpoints(folder, args.checkpoint_every, args.resume)  # checks N >= 0
    return (plan if args.checkpoint_every or args.resume else None), folder


def _stopped_note(folder: Path, checkpoints) -> str:
    """What a stopped fit left in ``folder``, e.g. "the checkpoint (member 1 finished, member
    2 at update 400) is kept in ...", and how to go on."""
    from biovae.applications.variants.resume import progress_note

    kept = progress_note(folder) if checkpoints is not None else None
    every = checkpoints.every if checkpoints is not None else 0
    return stopped_note(folder, kept and f"the checkpoint ({kept})", every, "update")


def print_dropped(args: argparse.Namespace, dropped) -> None:
    """Name the match columns the model left out for gaps (not scanned, not scored), unless
    ``--quiet``."""
    if dropped:
        numbers = ", ".join(str(d.position) for d in dropped[:10])
        more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
        note(
            args,
            f"note: {len(dropped)} match columns with more than {dropped[0].threshold:g} gaps "
            f"are not modelled (--max-column-gaps): {numbers}{more}",
        )
