"""Implementations of the ``biovae`` subcommands. Each validates inputs before writing, and
imports the model stack and the data layer (torch, pandas) when it runs: building the parser
imports this module."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from biovae.cli.checkpoints import (
    checkpoint_folder,
    epoch_note,
    remove_checkpoint,
    require_checkpoint,
    stopped_note,
)
from biovae.cli.config_args import build_config
from biovae.cli.idle_flags import refuse_idle_flags
from biovae.cli.io import (
    check_model_report,
    check_output,
    check_parent,
    check_plot_output,
    for_sequences,
    gap_opts,
    model_data_config,
    read_input,
    write_model_report,
    write_samples,
)
from biovae.cli.notes import note, print_paths
from biovae.cli.screen_opts import check_fasta_ids, screened, screens
from biovae.errors import ConfigError, DataError, model_phrase

TABLE_SUFFIXES = (".csv", ".tsv")
SAMPLE_SUFFIXES = (".csv", ".tsv", ".fa", ".fasta", ".faa", ".fna")


def cmd_fit(args: argparse.Namespace) -> int:
    from biovae.training.distributed import launched

    cfg = build_config(args)
    with launched(cfg.train.device) as ctx:  # several processes under torchrun: DDP
        if not ctx.is_main:
            args.quiet = True  # rank 0 reports and writes
        elif ctx.world_size > 1:
            note(args, f"training on {ctx.world_size} processes (torch.distributed)")
        return _fit(args, cfg, ctx)


def _fit(args: argparse.Namespace, cfg, ctx) -> int:
    """Train on every rank; rank 0 alone writes (``ctx``: a ``DistContext``)."""
    from biovae import likelihoods
    from biovae.loading import estimator_class
    from biovae.persistence import check_model_out

    likelihoods.get(cfg.model.likelihood.name)
    refuse_idle_flags(args, cfg.model.kind)
    out = check_model_out(check_parent(Path(args.out)))
    check_model_report(args.report, out)
    ds = read_input(args.data, cfg.data, quiet=args.quiet)
    note(args, f"read {len(ds)} records × {ds.x.shape[1]} features from {args.data}")
    if (seq_cfg := for_sequences(cfg, args, ds.alphabet)) is not cfg:
        cfg = seq_cfg
        note(args, "sequences: categorical likelihood (one distribution over letters per position)")
    est_cls = estimator_class(cfg.model.kind)
    if cfg.model.kind == "pca":
        est = est_cls(config=cfg).fit(ds)
    else:
        ckpt = checkpoint_folder(out)
        require_checkpoint(ckpt, args.resume)
        try:
            est = est_cls(config=cfg, progress=not args.quiet).fit(
                ds,
                checkpoint_dir=ckpt if cfg.train.checkpoint_every or args.resume else None,
                resume=args.resume,
            )
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: say what a rerun can resume
            if ctx.is_main:
                every = cfg.train.checkpoint_every
                exc.args = (stopped_note(ckpt, epoch_note(ckpt), every),)
            raise
    ctx.on_main(lambda: _write_fit(args, cfg, est, out, ds))  # every rank stops if it fails
    return 0


def _write_fit(args: argparse.Namespace, cfg, est, out: Path, ds) -> None:
    """Save the fitted model (and its report), drop its checkpoint and say so. The report is
    drawn first: one that fails leaves no model (and the checkpoint) as they were."""
    page = None
    if args.report:
        from biovae.reports.html import report_page

        page = report_page(est, data=ds)
    est.save(out)
    if cfg.model.kind != "pca":
        remove_checkpoint(checkpoint_folder(out))  # someone else's files stay
        note(args, _fit_summary(cfg, est.history_))
    if page is not None:
        write_model_report(Path(args.report), page, out)
    print(out)  # each output's path on stdout, as every command prints (biovae.cli.notes)
    if page is not None:
        print(args.report)


def _fit_summary(cfg, history: list[dict]) -> str:
    """The last epoch's numbers and, when early stopping kept an earlier epoch's weights (the
    ones saved), that epoch and its validation value."""
    from biovae.training.history import kept_epoch

    last = history[-1]
    what = "ELBO" if cfg.model.kind != "ae" else "log p(x|z)"  # an autoencoder has no KL
    epochs = f"{last['epoch']} epoch{'' if last['epoch'] == 1 else 's'}"
    text = f"trained {epochs}; {what}/record {last['elbo']:.4g}"
    if "val_elbo" not in last:
        return text
    text += f", validation {last['val_elbo']:.4g}"
    kept = kept_epoch(history, cfg.objective.beta, cfg.train.early_stopping)
    if kept is None or kept == last["epoch"]:
        return text
    row = next(r for r in history if r["epoch"] == kept)
    return text + f"; kept (saved) epoch {kept}, validation {row['val_elbo']:.4g}"


def _load(args: argparse.Namespace):
    from biovae import persistence
    from biovae.loading import model_from_saved

    return model_from_saved(persistence.load(args.model))  # refuses a structure model


def cmd_embed(args: argparse.Namespace) -> int:
    from biovae.data.readers import infer_format
    from biovae.data.writers import write_table

    out = check_output(args.out, (*TABLE_SUFFIXES, ".h5ad"))
    annotate = out.name.lower().removesuffix(".gz").endswith(".h5ad")
    # DATA's format only matters for an .h5ad output: a structure file given with a structure
    # model must reach _load, which names the command to use
    fmt = (getattr(args, "cfg__data__format", None) or infer_format(args.data)) if annotate else ""
    if annotate and (out.name.lower().endswith(".gz") or fmt.lower() != "h5ad"):
        raise ConfigError(
            f"cannot write {out}: an .h5ad output is DATA annotated, so DATA must be an .h5ad "
            "file (and the output not gzipped); write .csv or .tsv otherwise"
        )
    key = _key_added(args.key_added, annotate)
    est = _load(args)
    data = model_data_config(est, args, reads_obs=False)
    ds = read_input(args.data, data, quiet=args.quiet)
    z = est.transform(ds)
    proba = est.predict_proba(ds) if hasattr(est, "predict_proba") else None
    if annotate:
        _write_annotated(args.data, out, ds, est, (z, proba, key), data.id_column)
        print(out)
        return 0
    columns = {"z": z}
    if proba is not None:  # semi-supervised: label prediction and q(y|x)
        columns["predicted_label"] = np.asarray(est.classes_, dtype=object)[proba.argmax(1)]
        columns.update({f"p_{level}": proba[:, j] for j, level in enumerate(est.classes_)})
    write_table(out, ds.ids, columns)
    print(out)
    return 0


def _key_added(key: str | None, annotate: bool) -> str:
    """The key of an .h5ad output's entries (``--key-added``, default ``X_biovae``), checked
    as ``biovae.tl`` checks ``key_added``; refused for a table, which has no such entries."""
    from biovae.tl_checks import check_key

    if key is None:
        return "X_biovae"
    if not annotate:
        raise ConfigError(
            "--key-added names the entries of an .h5ad output (obsm, uns, obs); a .csv or "
            ".tsv table has none: leave it out, or write .h5ad"
        )
    check_key(key, "--key-added")
    return key


def _write_annotated(data: str, out: Path, ds, est, results, id_column: str | None) -> None:
    """``data`` (an .h5ad file) with ``results`` (posterior means, label probabilities or None,
    the key) as ``biovae.tl.vae`` writes them; records named by obs names or ``--id-column``."""
    from biovae import tl
    from biovae.cli.io import read_same_cells
    from biovae.data.writers import atomic_write

    adata = read_same_cells(data, ds, id_column)
    tl.write_latent(adata, est, *results)
    atomic_write(out, adata.write_h5ad)


def cmd_sample(args: argparse.Namespace) -> int:
    from biovae import likelihoods

    out = check_output(args.out, SAMPLE_SUFFIXES)
    if args.n < 1:
        raise ConfigError("-n must be >= 1")
    est = _load(args)
    label = _sample_label(args, est)
    if est.config_.model.kind == "ae":  # its model card says so too
        warnings.warn(
            f"{args.model} is {model_phrase(est)}: it has no prior, so records decoded from "
            "random codes are not samples of a model of the data; fit --model vae to generate",
            stacklevel=1,
        )
    alphabet = est.schema_.alphabet
    if alphabet is None and not out.name.lower().removesuffix(".gz").endswith(TABLE_SUFFIXES):
        raise DataError(
            f"cannot write {out}: this model's samples are a table, not sequences; use a "
            "file name ending in .csv or .tsv"
        )
    chosen = screens(args, alphabet is not None, alphabet)  # checked before any sampling
    obs, cov = None, est.schema_.covariates
    if cov.width and not args.obs:
        raise ConfigError(
            f"{args.model} is conditional on {', '.join(cov.categorical + cov.continuous)}: "
            f"give the samples' covariates with --obs FILE (a table with an id column, those "
            f"columns and {args.n} rows, one per sample)"
        )
    if args.obs_id_column and not args.obs:
        raise ConfigError("--obs-id-column names the id column of the --obs table; give --obs too")
    if args.obs and not cov.width:
        raise ConfigError(
            f"--obs gives covariates for the samples, but {args.model} is not conditional on "
            "any; leave --obs out"
        )
    if args.obs:
        from biovae.data.tables import read_obs_table

        ids, obs = read_obs_table(args.obs, id_column=args.obs_id_column)
        if len(ids) != args.n:
            raise DataError(
                f"{args.obs}: has {len(ids)} rows but -n is {args.n}; give one "
                "row of covariates per sample"
            )
        check_fasta_ids(args.obs, ids, out, chosen)
    try:
        samples = est.sample(args.n, obs=obs, seed=args.seed, **label)
    except DataError as exc:  # with --obs, its covariates' problems: named by its file
        if not args.obs:
            raise
        raise DataError(f"{args.obs}: {str(exc).removeprefix('obs: ')}") from None
    keep = np.arange(len(samples))
    # sample k was drawn for --obs row k: named by that row's id
    names = [str(i) for i in ids] if args.obs else [f"sample_{i + 1}" for i in keep]
    if alphabet is not None:
        seqs = ["".join(alphabet[c] for c in row) for row in samples.astype(int)]
        keep = screened(args, out, names, seqs, chosen)
    integer = likelihoods.get(est.config_.model.likelihood.name).integer_data
    features = est.schema_.features
    write_samples(out, samples[keep], features, alphabet, keep, integer, names, **gap_opts(args))
    print(out)
    return 0


def _sample_label(args: argparse.Namespace, est) -> dict[str, str]:
    """The ``label`` argument of ``est.sample`` (none without --label); --label is refused for
    a model without labels (an unknown label is refused by ``sample``, before any draw)."""
    if args.label is None:
        return {}
    if est.config_.model.kind != "ssvae":
        raise ConfigError(
            f"--label picks the class of the samples, but {args.model} is {model_phrase(est)}, "
            "which has no labels; leave --label out, or fit --model ssvae --labels-key COL"
        )
    return {"label": args.label}


def cmd_score(args: argparse.Namespace) -> int:
    out = check_output(args.out, TABLE_SUFFIXES)
    if args.iwae < 1 or args.samples < 1:
        raise ConfigError("--iwae and --samples must be >= 1")
    from biovae.applications.anomaly import check_level

    check_level(args.flag_below)
    if args.flag_below is not None and not args.reference:
        raise ConfigError("--flag-below flags records by their tail against REF; give --reference")
    est = _load(args)
    if args.iwae > 1 and not getattr(getattr(est, "model_", None), "stochastic", False):
        raise ConfigError(
            f"--iwae needs a VAE; {model_phrase(est)} has no posterior to draw z "
            "from (its score is PCA's exact log-likelihood or an autoencoder's "
            "log p(x | z = f(x))); drop --iwae"
        )
    from biovae.applications.anomaly import QcLimits, qc_frequencies, score_columns, shared_records
    from biovae.data.writers import write_table

    qc = QcLimits(args.qc_max_missing, args.qc_min_f, args.qc_frequencies)
    ds = read_input(args.data, model_data_config(est, args, reads_obs=False), quiet=args.quiet)
    ref = _read_reference(args, est)
    if ref is not None and (shared := shared_records(ds.ids, ref.ids, args.reference)):
        note(args, f"score: {shared}")
    if args.iwae > 1:  # K decoder passes: minutes on 10^5 records, so say so first
        note(args, f"score: IWAE-{args.iwae} of {len(ds):,} records ({args.iwae} draws of each)")
    draws = (args.samples, args.iwae, args.seed)  # REF is scored alike: same draws rule
    columns = score_columns(est, ds, *draws, qc)
    empty = [k for k in columns if "_per_" in k and np.isnan(columns[k]).any()][:1]
    if empty:  # e.g. genotypes: per observed locus, comparable across missingness
        lost, unit = np.isnan(columns[empty[0]]), empty[0].rsplit("_per_", 1)[1]
        note(
            args,
            f"{int(lost.sum())} record(s) with no observed {unit}, e.g. "
            f"'{ds.ids[int(np.argmax(lost))]}': nothing to score, so their per-{unit} "
            "scores are empty (their elbo is the KL term alone)",
        )
    if "het_f" in columns:
        note(args, _qc_note(qc_frequencies(est, qc) is not None, qc, len(ds)))
    if ref is not None:
        columns.update(_tails(args, columns, score_columns(est, ref, *draws, qc)))
    write_table(out, ds.ids, columns)
    print(out)
    return 0


def _read_reference(args: argparse.Namespace, est):
    """The --reference records (None without it), read with DATA's options and checked to
    have the model's features before anything is scored."""
    if not args.reference:
        return None
    from biovae.inputs import check_features

    config = model_data_config(est, args, args.reference, reads_obs=False)
    ref = read_input(args.reference, config, quiet=args.quiet)
    check_features(ref, est.schema_)  # the check scoring DATA makes, named by REF's file
    return ref


def _tails(args: argparse.Namespace, columns: dict, reference: dict) -> dict:
    """The tail (and --flag-below's anomaly) columns against the reference's scores, and a
    note of how many records were flagged and the false-positive rate to expect."""
    from biovae.applications.anomaly import expected_false_positive_rate, tail_columns

    try:
        tails = tail_columns(columns, reference, args.flag_below)
    except ConfigError as exc:  # REF scored, none with a score: named by its file
        raise ConfigError(f"{args.reference}: {exc}") from None
    if "anomaly" in tails:
        name = next(iter(tails))
        n_ref = int((~np.isnan(reference[name.removeprefix("tail_")])).sum())
        rate = expected_false_positive_rate(args.flag_below, n_ref)
        note(
            args,
            f"score: {int(tails['anomaly'].sum())} of {len(tails['anomaly'])} record(s) "
            f"flagged ({name} <= {args.flag_below:g}); a record exchangeable with the {n_ref} "
            f"reference records is flagged with probability {rate:.3g}",
        )
    return tails


def _qc_note(training: bool, qc, n: int) -> str:
    """Which allele frequencies the heterozygosity QC (``qc``) of ``n`` scored records used."""
    what = "score: heterozygosity QC (het_expected, het_f) with the allele frequencies of"
    if training:
        return f"{what} the training data, kept by the model"
    why = (
        "--qc-frequencies scored"
        if qc.frequencies == "scored"
        else "the model was saved without the training data's: refit it to keep them"
    )
    return f"{what} the {n:,} record(s) scored ({why}); F is noisy for a few records"


def cmd_report(args: argparse.Namespace) -> int:
    from biovae.reports.html import write_report

    out = check_plot_output(args.out, (".html",))
    if args.color_by and not args.data:
        raise ConfigError("--color-by colours the map of DATA; give the data to report on")
    est = _load(args)
    ds = (
        read_input(args.data, model_data_config(est, args), quiet=args.quiet) if args.data else None
    )
    write_report(est, out, data=ds, color_by=tuple(args.color_by or ()))
    print(out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from biovae.demo import run_demo
    from biovae.persistence import check_model_out
    from biovae.reports.figures import require_matplotlib

    out = Path(args.out)
    if out.exists() and not out.is_dir():  # refused before training, not after
        raise ConfigError(
            f"--out {out} is a file; the demo writes a folder (model/ and report.html): "
            "choose another path"
        )
    check_model_out(out / "model")
    require_matplotlib()  # the demo ends in a report: say so before training, not after
    written = run_demo(out, epochs=args.epochs, progress=not args.quiet)
    print_paths(*(path.resolve() for path in written))  # the model folder, then the report
    return 0
