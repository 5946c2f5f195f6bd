"""``biovae diagnose``, ``biovae sweep`` and ``biovae novelty``: numbers in JSON, pictures in
HTML."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from biovae.cli.config_args import build_config
from biovae.cli.idle_flags import refuse_idle_flags
from biovae.cli.io import (
    check_parent,
    data_name,
    for_sequences,
    input_files,
    model_data_config,
    model_name,
    read_input,
)
from biovae.cli.notes import note, print_paths
from biovae.cli.options import READ_OPTIONS, add_data_flags, add_options
from biovae.errors import ConfigError, DataError, require

if TYPE_CHECKING:  # the data layer loads pandas: imported where used, not for the parser
    from biovae.data.dataset import Dataset


def _out_dir(path: str, *names: str) -> Path:
    """The results folder, checked before any work, with the files ``names`` it will hold
    (matplotlib too when one is a report)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; give a folder for the JSON and HTML results")
    check_parent(out)
    for name in names:
        if (out / name).is_dir():
            raise DataError(f"cannot write {out / name}: it is an existing folder; remove it")
    if any(name.endswith(".html") for name in names):
        from biovae.reports.figures import require_matplotlib

        require_matplotlib()
    return out


def _write_results(
    out: Path, stem: str, results: dict, title: str, files: tuple[tuple[str, str], ...] = ()
) -> tuple[Path, Path]:
    """The JSON and the HTML page of ``results`` (their paths); the page is drawn before either
    is written, so a failure to draw it leaves an earlier pair as it was, not a new JSON beside
    an old page."""
    from biovae.data.writers import atomic_open, write_json
    from biovae.reports.diagnostics_page import diagnostics_page

    page = diagnostics_page(results, title, files)
    out.mkdir(exist_ok=True)
    write_json(out / f"{stem}.json", results)
    with atomic_open(out / f"{stem}.html", "w") as fh:
        fh.write(page)
    return out / f"{stem}.json", out / f"{stem}.html"


def cmd_diagnose(args: argparse.Namespace) -> int:
    from biovae.diagnose import DiagnoseOptions, diagnose
    from biovae.estimator import load_model

    options = DiagnoseOptions(
        iwae_k=args.iwae,
        gap_records=args.gap_records,
        gap_steps=args.gap_steps,
        seed=args.seed,
        max_records=args.max_records,
    )
    out = _out_dir(args.out, "diagnostics.json", "diagnostics.html")
    est = load_model(args.model)
    ds = read_input(args.data, model_data_config(est, args), quiet=args.quiet)
    cfg = est.config_.model
    model = {"kind": cfg.kind, "likelihood": cfg.likelihood.name, "n_latent": cfg.n_latent}
    say = None if args.quiet else (lambda message: note(args, message))
    results = {"model": model, **diagnose(est, ds, options, say)}
    written = _write_results(
        out,
        "diagnostics",
        results,
        f"Diagnostics of model {model_name(args.model)}: {data_name(ds, args.data)}",
        input_files(ds, args.data, args.model),
    )
    print_paths(*written)
    return 0


def split(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Random train / held-out split of records."""
    if not 0 < fraction < 1:
        raise ConfigError("--held-out must be between 0 and 1")
    n_out = max(1, round(len(ds) * fraction))
    order = np.random.default_rng(seed).permutation(len(ds))
    return ds.subset(np.sort(order[n_out:])), ds.subset(np.sort(order[:n_out]))


def cmd_sweep(args: argparse.Namespace) -> int:
    from biovae.diagnose import FIDELITY_RECORDS, fidelity_comparison, sweep
    from biovae.diagnostics.fidelity import MIN_RECORDS

    try:
        betas = [float(b) for b in args.betas.split(",") if b.strip()]
    except ValueError:
        betas = []
    if not betas or min(betas) < 0 or not all(np.isfinite(betas)):
        raise ConfigError("--beta needs a comma-separated list of values >= 0, e.g. 0.1,1,10")
    cfg = build_config(args)
    if cfg.model.kind == "vae":  # label flags would be ignored; ae and pca are refused below
        refuse_idle_flags(args, cfg.model.kind)
    out = _out_dir(args.out, "sweep.json", "sweep.html")
    if args.fidelity:
        require("sklearn", "report")  # the fidelity classifier: before the sweep, not after
    ds = read_input(args.data, cfg.data, quiet=args.quiet)
    cfg = for_sequences(cfg, args, ds.alphabet)
    train, held_out = split(ds, args.held_out, cfg.train.seed)
    for n, records, fix in (  # active units compare held-out records; fitting needs two
        (len(held_out), "held-out records", "raise --held-out"),
        (len(train), "training records", "lower --held-out"),
    ):
        if n < 2:
            raise DataError(
                f"{args.data}: a sweep needs at least 2 {records}, got {n} of {len(ds)} with "
                f"--held-out {args.held_out:g}; {fix} or give more records"
            )
    if args.fidelity and len(held_out) < MIN_RECORDS:
        raise DataError(
            f"{args.data}: --fidelity compares held-out records with as many samples and needs "
            f"at least {MIN_RECORDS} held-out records, got {len(held_out)} of {len(ds)} with "
            f"--held-out {args.held_out:g}; raise --held-out or give more records"
        )
    if args.fidelity:  # its PCA is fitted after the whole sweep: refuse a --latent it cannot fit
        from biovae.pca_estimator import check_fits

        check_fits(train, cfg)
    results: dict = {
        "records": len(ds),
        "held_out": len(held_out),
        "sweep": sweep(train, held_out, betas, cfg),
    }
    for p in results["sweep"]:
        note(
            args,
            f"β={p['beta']:g}: rate {p['rate']:.3f}, distortion {p['distortion']:.3f}, "
            f"ELBO {p['elbo']:.3f} nats/record, {p['active_units']} active units",
        )
    if args.fidelity:
        results["fidelity"] = fidelity_comparison(train, held_out, cfg)
        results["fidelity_records"] = min(len(held_out), FIDELITY_RECORDS)
    written = _write_results(
        out,
        "sweep",
        results,
        f"Rate–distortion sweep of {data_name(ds, args.data)}",
        input_files(ds, args.data),
    )
    print_paths(*written)
    return 0


def cmd_novelty(args: argparse.Namespace) -> int:
    """Sample the model and audit the samples for copies of its training records."""
    from biovae.data.writers import write_json
    from biovae.diagnostics.memorisation import memorisation_audit
    from biovae.estimator import load_model
    from biovae.inputs import check_features

    if args.n < 1:
        raise ConfigError("-n must be >= 1")
    out = _out_dir(args.out, "novelty.json")
    est = load_model(args.model)
    train, holdout = (
        read_input(path, model_data_config(est, args, path), quiet=args.quiet)
        for path in (args.train, args.holdout)
    )
    for ds in (train, holdout):
        check_features(ds, est.schema_)
    samples = est.sample(
        args.n, obs=_training_covariates(est, train, args.n, args.seed), seed=args.seed
    )
    sequences = est.schema_.alphabet is not None
    fitted = _is_fitted_data(est, train)
    results = memorisation_audit(
        samples, train.x, holdout.x, sequences, train_is_fitted_data=fitted
    )
    results.update(model=str(args.model), train=str(args.train), holdout_file=str(args.holdout))
    out.mkdir(exist_ok=True)
    write_json(out / "novelty.json", results)
    note(args, results["verdict"])
    print_paths(out / "novelty.json")
    return 0


def _is_fitted_data(est, train: Dataset) -> bool | None:
    """Whether TRAIN is the data the model was fitted on, by its data fingerprint (None: the
    model has none); a swapped or wrong file would make the audit compare samples with
    records the model never saw."""
    from biovae.data.fingerprint import fingerprint

    expected = getattr(est, "fingerprint_", "")
    return fingerprint(train) == expected if expected else None


def _training_covariates(est, train: Dataset, n: int, seed: int) -> dict | None:
    """Covariates for the samples of a conditional model: those of ``n`` random training
    records (the training data's mix); None for a model without covariates."""
    from biovae.record_noise import checked_seed

    cov = est.schema_.covariates
    if not cov.width:
        return None
    pick = np.random.default_rng(checked_seed(seed)).integers(0, len(train), n)
    return {name: train.obs_column(name)[pick] for name in (*cov.categorical, *cov.continuous)}


def add_diagnose_parser(sub, make) -> None:
    """The ``biovae diagnose`` subcommand (``make``: the command line's subparser factory)."""
    p = make(
        sub,
        "diagnose",
        "Rate, distortion, collapse, log p(x) and amortization gap.",
        "  biovae diagnose model held_out.h5ad --out diagnostics/\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA", help="records to diagnose (ideally held out)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for JSON + HTML")
    p.add_argument(
        "--iwae", type=int, default=1000, metavar="K", help="IWAE samples per record, >= 2 (1000)"
    )
    p.add_argument(
        "--gap-records",
        type=int,
        default=200,
        metavar="N",
        help="records refined for the amortization gap (200)",
    )
    p.add_argument(
        "--gap-steps",
        type=int,
        default=500,
        metavar="N",
        help="gradient steps of per-record refinement (500)",
    )
    p.add_argument(
        "--max-records",
        type=int,
        metavar="N",
        help="diagnose N of the records, chosen by --seed and record id (default: all)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the Monte Carlo draws and of the --max-records choice (default 0)",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=cmd_diagnose)
