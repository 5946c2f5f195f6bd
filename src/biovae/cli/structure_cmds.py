"""``biovae structure``: conformational VAEs of structure ensembles (fit, sample, interpolate,
validate). Registered in :mod:`biovae.cli.parser` by :func:`add_parser`."""

from __future__ import annotations

import argparse
from pathlib import Path

from biovae.cli.checkpoints import (
    add_resume_flag,
    checkpoint_folder,
    epoch_note,
    remove_checkpoint,
    require_checkpoint,
    stopped_note,
)
from biovae.cli.io import (
    check_model_report,
    check_output,
    check_parent,
    check_plot_output,
    write_model_report,
)
from biovae.cli.notes import add_quiet, note
from biovae.cli.options import MODEL_OPTIONS, OBJECTIVE_OPTIONS, TRAIN_OPTIONS, add_options
from biovae.config import FitConfig
from biovae.errors import ConfigError, DataError
from biovae.structure_config import STRUCTURE_DEFAULTS

#: options that cannot act on a structure model (no covariates, labels or counts; the loss
#: sets the likelihood): not offered
_NOT_FOR_STRUCTURES = {
    "--model",
    "--likelihood",
    "--encode-covariates",
    "--classifier-input",
    "--dispersion",
    "--classification-weight",
    "--mmd-batch",
    "--early-stopping",
    "--compile",
}
_MODEL_OPTIONS = tuple(o for o in MODEL_OPTIONS if o.flag not in _NOT_FOR_STRUCTURES)
_OBJECTIVE_OPTIONS = tuple(o for o in OBJECTIVE_OPTIONS if o.flag not in _NOT_FOR_STRUCTURES)
_TRAIN_OPTIONS = tuple(o for o in TRAIN_OPTIONS if o.flag not in _NOT_FOR_STRUCTURES)
#: ``--out`` of the commands that write structures (sample, interpolate)
_OUT_HELP = (
    ".pdb (multi-model PDB), or .cif for mmCIF, which also holds chain ids of several letters "
    "and more than 9999 models"
)


EXAMPLES = """examples:
  biovae structure fit adk_dims.dcd --topology adk.psf --loss geometry --out adk_model
  biovae structure fit adk_dims.dcd --topology adk.psf --loss mse --out adk_mse
  biovae structure fit ensemble.pdb --select ca --latent 4 --out ubq_model --report ubq.html
  biovae structure fit dimer.cif --chain A --out chain_a_model   # later commands: chain A too
  biovae structure fit md.xtc --topology md.gro --out md_model --checkpoint-every 50 # + --resume
  biovae structure report adk_model adk_dims.dcd --topology adk.psf --out adk.html
  biovae structure embed adk_model adk_dims.dcd --topology adk.psf --out latent.csv
  biovae structure sample adk_model -n 100 --out samples.pdb
  biovae structure sample chain_aa_model -n 100 --out samples.cif   # mmCIF: any chain id
  biovae structure interpolate adk_model adk_closed.pdb adk_open.pdb --steps 10 --out path.pdb
  biovae structure validate samples.pdb --training adk_dims.dcd --topology adk.psf
"""


def add_parser(sub) -> None:
    """Add the ``structure`` command group to the top-level subparsers."""
    p = sub.add_parser(
        "structure",
        help="Conformational VAEs of protein structure ensembles.",
        description="Conformational VAEs of protein structure ensembles (needs biovae[structure]).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _fit(actions)
    _report(actions)
    _embed(actions)
    _sample(actions)
    _interpolate(actions)
    _validate(actions)


def _action(actions, name: str, help_: str) -> argparse.ArgumentParser:
    p = actions.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_quiet(p)
    return p


def _input_flags(p: argparse.ArgumentParser, select: bool = True) -> None:
    """``--topology``, ``--chain`` and (``select``: commands that read no model) ``--select``."""
    p.add_argument(
        "--topology", metavar="FILE", help="topology (PSF/PDB/GRO) of the trajectories given"
    )
    default = "every chain" if select else "the chains the model was fitted on"
    p.add_argument(
        "--chain",
        metavar="IDS",
        help="chains to keep, as the file names them (case-sensitive PDB chainID or mmCIF "
        f"auth_asym_id; segid where a file has no chain ids): A or A,B (default: {default})",
    )
    if select:
        p.add_argument(
            "--select", default="ca", choices=("ca", "backbone"), help="atoms to model (ca)"
        )


def _chains(args: argparse.Namespace, model=None) -> tuple[str, ...] | None:
    """``--chain A,B`` as chain ids; without it the model's chains (``None``: every chain)."""
    if args.chain is None:
        return model.chains() if model is not None else None
    ids = tuple(c.strip() for c in args.chain.split(","))
    if not all(ids):
        raise ConfigError(f"--chain {args.chain!r} has an empty chain id; give A or A,B")
    return ids


def _fit(actions) -> None:
    p = _action(actions, "fit", "Fit a conformational VAE to a trajectory or multi-model file.")
    p.add_argument(
        "data",
        metavar="STRUCTURES",
        help="multi-model PDB/mmCIF, DCD/XTC/TRR, or a folder of PDB/mmCIF files",
    )
    _input_flags(p)
    p.add_argument(
        "--loss",
        choices=("mse", "geometry"),
        help="mse: Gaussian on aligned coordinates (naive baseline); geometry: Cα-chain "
        "Gaussian whose mean keeps 3.8 Å virtual bonds (default: the loss whose likelihood "
        "the --config file names, as a model's config.json does; else geometry)",
    )
    p.add_argument(
        "--reference",
        metavar="PDB",
        help="superpose onto this structure's first frame (default: the first frame of the "
        "data; a trajectory is read with --topology)",
    )
    p.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    p.add_argument("--report", metavar="HTML", help="also write the report on the training frames")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file with [model], [train], ... tables (flags given override it)",
    )
    add_options(p, _MODEL_OPTIONS, "model", STRUCTURE_DEFAULTS)
    add_options(p, _OBJECTIVE_OPTIONS, "objective", STRUCTURE_DEFAULTS)
    add_options(p, _TRAIN_OPTIONS, "training", STRUCTURE_DEFAULTS)
    add_resume_flag(p)
    p.set_defaults(func=cmd_fit)


def _report(actions) -> None:
    p = _action(
        actions,
        "report",
        "HTML report: training, latent map of the frames, reconstructions, validity of samples.",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="STRUCTURES", help="frames to map (e.g. the training frames)")
    _input_flags(p, select=False)
    p.add_argument("--out", required=True, metavar="HTML", help="report file to write (.html)")
    p.add_argument(
        "-n",
        type=int,
        default=1000,
        metavar="N",
        help="prior samples whose validity is measured (1000)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the prior samples (0)")
    p.set_defaults(func=cmd_report)


def _embed(actions) -> None:
    p = _action(actions, "embed", "Posterior means of each frame as a table (id, frame, z_1..z_k).")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="STRUCTURES", help="frames to place on the map")
    _input_flags(p, select=False)
    p.add_argument("--out", required=True, metavar="TABLE", help=".csv or .tsv")
    p.set_defaults(func=cmd_embed)


def _sample(actions) -> None:
    p = _action(
        actions, "sample", "Decode N prior draws and write them as a multi-model PDB or mmCIF."
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-n", type=int, required=True, metavar="N", help="number of structures")
    p.add_argument("--out", required=True, metavar="FILE", help=_OUT_HELP)
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the prior draws (0)")
    p.set_defaults(func=cmd_sample)


def _interpolate(actions) -> None:
    p = _action(actions, "interpolate", "Decode a straight latent path from START to END.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("start", metavar="START", help="structure file (first frame is used)")
    p.add_argument("end", metavar="END", help="structure file (first frame is used)")
    p.add_argument("--steps", type=int, default=10, metavar="N", help="structures on the path (10)")
    p.add_argument(
        "--refine-steps",
        type=int,
        metavar="N",
        help="Adam steps on log p(x|z) that move each end from the encoder's posterior mean to "
        "the z that best reconstructs it (default: REFINE_STEPS of biovae.structure_estimator, "
        "100; 0 = posterior means)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help=_OUT_HELP)
    _input_flags(p, select=False)
    p.set_defaults(func=cmd_interpolate)


def _validate(actions) -> None:
    p = _action(
        actions,
        "validate",
        "Validity of structures (bonds, angles, torsions, mirror images, clashes, Rg, RMSD).",
    )
    p.add_argument("data", metavar="STRUCTURES", help="structures to check (e.g. samples.pdb)")
    p.add_argument("--training", required=True, metavar="FILE", help="training structures")
    _input_flags(p)
    p.add_argument("--out", metavar="JSON", help="also write the numbers as JSON")
    p.set_defaults(func=cmd_validate)


def cmd_fit(args: argparse.Namespace) -> int:
    from biovae.cli.config_args import build_config
    from biovae.data.structure import check_same_atoms, read_structures
    from biovae.persistence import check_model_out
    from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE

    cfg = build_config(args, base=STRUCTURE_DEFAULTS)
    out = check_model_out(check_parent(Path(args.out)))
    ckpt = checkpoint_folder(out)
    require_checkpoint(ckpt, args.resume)
    report = check_model_report(args.report, out)
    chains = _chains(args)
    structures = read_structures(args.data, args.topology, args.select, chains)
    reference = None
    if args.reference:  # superposed atom by atom: the same atoms as the frames, as validate's
        ref = read_structures(args.reference, _topology(args.reference, args), args.select, chains)
        fix = "pass a reference of the same protein (--select as for the frames)"
        check_same_atoms(ref, structures, fix, args.data)
        reference = ref.coords[0]
    note(args, f"read {len(structures)} frames × {structures.n_atoms} atoms from {args.data}")
    model = ConformationVAE(_loss(args, cfg), cfg, progress=not args.quiet)
    model = _fit_resumable(model, structures, reference, ckpt, args.resume)
    page = None
    if report:  # drawn before the model is saved: a report that fails leaves no model
        from biovae.reports.structure_page import structure_report_page

        note(args, "measuring the report's samples and reconstructions")
        page = structure_report_page(model, structures)
    print(model.save(args.out))
    if page is not None:
        print(write_model_report(report, page, out))
    if cfg.train.checkpoint_every or args.resume:
        remove_checkpoint(ckpt)  # someone else's files stay
    return 0


def _fit_resumable(model, structures, reference, ckpt: Path, resume: bool):
    """Fit with checkpoints in ``ckpt`` when ``train.checkpoint_every`` or ``resume`` asks;
    a stopped fit says which checkpoint it kept and how to go on."""
    every = model.config.train.checkpoint_every
    try:
        return model.fit(
            structures, reference, checkpoint_dir=ckpt if every or resume else None, resume=resume
        )
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM
        exc.args = (stopped_note(ckpt, epoch_note(ckpt), every),)
        raise


def _loss(args: argparse.Namespace, cfg: FitConfig) -> str:
    """``--loss``; without it, the loss whose likelihood the ``--config`` file names (a saved
    model's ``config.json`` refits with its own loss: gaussian is mse), else geometry."""
    from biovae.cli.io import config_file_likelihood
    from biovae.structure_estimator import LOSSES, loss_of

    if args.loss is not None:
        return args.loss
    named = config_file_likelihood(args) is not None and loss_of(cfg) in LOSSES
    return loss_of(cfg) if named else "geometry"


def cmd_report(args: argparse.Namespace) -> int:
    from biovae.reports.structure_page import write_structure_report

    out = check_plot_output(args.out, (".html",))
    if args.n < 1:
        raise ConfigError("-n must be >= 1")
    model, structures = _model_and_frames(args, least=2)
    print(write_structure_report(model, structures, out, n_samples=args.n, seed=args.seed))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from biovae.cli.commands import TABLE_SUFFIXES
    from biovae.data.writers import write_table

    out = check_output(args.out, TABLE_SUFFIXES)
    model, structures = _model_and_frames(args)
    records = model.records(structures)
    columns = {"frame": records.obs["frame"].astype(int), "z": model.vae_.transform(records)}
    write_table(out, records.ids, columns)
    print(out)
    return 0


def _model_and_frames(args: argparse.Namespace, least: int = 1):
    """The saved model and the frames (at least ``least``) of ``args.data``, read with the
    model's atom selection."""
    from biovae.data.structure import read_structures
    from biovae.structure_estimator import ConformationVAE

    model = ConformationVAE.load(args.model)
    structures = read_structures(args.data, args.topology, model.selection(), _chains(args, model))
    model.check_atoms(structures)
    if len(structures) < least:
        raise DataError(
            f"{args.data}: {len(structures)} frame; the report maps and compares frames: give "
            f"at least {least} (e.g. the training trajectory)"
        )
    note(args, f"read {len(structures)} frames × {structures.n_atoms} atoms from {args.data}")
    return model, structures


def cmd_sample(args: argparse.Namespace) -> int:
    from biovae.data.structure_out import OUT_SUFFIXES, check_writable, write_structures
    from biovae.structure_estimator import ConformationVAE

    out = check_output(args.out, OUT_SUFFIXES)
    if args.n < 1:
        raise ConfigError("-n must be >= 1")
    model = ConformationVAE.load(args.model)
    check_writable(out, model.atoms_, args.n, "-n")  # before decoding them all
    write_structures(out, model.structures(model.sample(args.n, args.seed)))
    print(out)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from biovae.data.structure import read_structures
    from biovae.data.structure_out import OUT_SUFFIXES, check_writable, write_structures
    from biovae.structure_estimator import ConformationVAE

    out = check_output(args.out, OUT_SUFFIXES)
    model = ConformationVAE.load(args.model)
    check_writable(out, model.atoms_, args.steps, "--steps")
    select, chains = model.selection(), _chains(args, model)
    start = read_structures(args.start, _topology(args.start, args), select, chains)
    end = read_structures(args.end, _topology(args.end, args), select, chains)
    refine = {} if args.refine_steps is None else {"refine_steps": args.refine_steps}
    write_structures(out, model.structures(model.interpolate(start, end, args.steps, **refine)))
    print(out)
    return 0


def _topology(path: str, args: argparse.Namespace) -> str | None:
    """``--topology`` for a trajectory (which needs one); a structure file names its own atoms
    (sampled Cα PDBs would not match an all-atom topology)."""
    from biovae.data.structure import TRAJECTORY_SUFFIXES

    return args.topology if Path(path).suffix.lower() in TRAJECTORY_SUFFIXES else None


def cmd_validate(args: argparse.Namespace) -> int:
    from biovae.applications.structures.geometry import ca_only
    from biovae.applications.structures.validity import UNITS, assess, ca_breaks
    from biovae.data.structure import check_same_atoms, read_structures

    out = check_output(args.out, (".json",)) if args.out else None
    chains = _chains(args)
    training = read_structures(args.training, _topology(args.training, args), args.select, chains)
    data = read_structures(args.data, _topology(args.data, args), args.select, chains)
    check_same_atoms(data, training, "compare structures of the same protein and selection")
    breaks = ca_breaks(training)  # no bond between chains or over gaps
    result = assess(ca_only(data), ca_only(training), breaks).to_dict()
    if out:
        from biovae.data.writers import write_json

        write_json(out, result)
    if not (out and args.quiet):  # the table is the result, unless --out holds it
        print("| metric | value | unit |\n|---|---|---|")
        for key, value in result.items():  # units: lengths in Å, angles in °, else fractions
            print(f"| {key} | {value:.4g} | {UNITS.get(key, 'fraction')} |")
    if out:
        print(out)
    return 0
