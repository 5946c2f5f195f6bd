"""The ``biovae`` argument parser: every command, its options and its examples."""

from __future__ import annotations

import argparse

from biovae._version import __version__
from biovae.cli import (
    commands,
    diagnostics_cmds,
    expression_cmd,
    singlecell_cmds,
    structure_cmds,
    variants_cmds,
)
from biovae.cli.argparser import Parser
from biovae.cli.checkpoints import add_resume_flag
from biovae.cli.notes import add_quiet
from biovae.cli.options import (
    DATA_OPTIONS,
    MODEL_OPTIONS,
    OBJECTIVE_OPTIONS,
    OBS_ID_COLUMN,
    READ_OPTIONS,
    TRAIN_OPTIONS,
    Option,
    _names,
    add_data_flags,
    add_options,
    positive_int,
)
from biovae.cli.screen_opts import add_screen_options

EPILOG = """examples:
  biovae demo
  biovae fit counts.h5ad --likelihood nb --latent 10 --out pbmc_model --report pbmc.html
  biovae fit table.tsv --categorical-covariates batch --epochs 100 --out model
  biovae fit family.a2m --likelihood categorical --latent 30 --drop-invalid --out family_vae
  biovae embed pbmc_model counts.h5ad --out latent.csv
  biovae sample pbmc_model -n 100 --out samples.tsv
  biovae score pbmc_model counts.h5ad --iwae 100 --out scores.csv
  biovae report pbmc_model counts.h5ad --color-by bulk_labels --out report.html
  biovae diagnose pbmc_model held_out.h5ad --out diagnostics/
  biovae sweep counts.h5ad --likelihood nb --beta 0.1,0.3,1,3,10 --out rd/
  biovae audit model data.tsv --obs meta.tsv --covariates batch,disease --out audit/
  biovae trajectory model embryo.h5ad --root-key num_cells --root-value 2 --out pt.csv
  biovae integration model counts.h5ad --batch-key batch --labels-key cell_line --out m.json
  biovae de model counts.h5ad --groupby cell_type --group1 B --group2 T --out de.csv
  biovae expression model counts.h5ad --reference-batch celseq2 --out corrected.h5ad
  biovae map ref_model query.h5ad --out mapped_model
  biovae fit counts.h5ad --likelihood nb --decoder linear --out ld_model   # LDVAE
  biovae loadings ld_model --out loadings.csv
  biovae structure fit adk_dims.dcd --topology adk.psf --loss geometry --out adk_model
  biovae variants fit family.a2m --out variants_model
  biovae variants scan variants_model --out scan.csv --heatmap scan.png
  biovae sample family_vae -n 50 --out designs.fasta --screen-against concern.fasta
  biovae screen designs.fasta --screen-against concern.fasta --out verdicts.tsv
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(  # and so is every subcommand's parser: see biovae.cli.argparser
        prog="biovae",
        description="Variational autoencoders for biological data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"biovae {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _fit_parser(sub)
    _embed_parser(sub)
    _sample_parser(sub)
    _score_parser(sub)
    _report_parser(sub)
    _demo_parser(sub)
    diagnostics_cmds.add_diagnose_parser(sub, _sub)
    _sweep_parser(sub)
    _novelty_parser(sub)
    from biovae.cli.audit_cmd import add_audit_parser

    add_audit_parser(sub, _sub)
    from biovae.cli.screen_cmd import add_screen_parser

    add_screen_parser(sub, _sub)
    from biovae.cli.loadings_cmd import add_loadings_parser

    add_loadings_parser(sub, _sub)
    singlecell_cmds.add_parsers(sub, _sub)
    expression_cmd.add_parser(sub, _sub)
    structure_cmds.add_parser(sub)
    variants_cmds.add_parser(sub)
    return p


def _sub(sub, name: str, help_: str, examples: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_quiet(parser)
    return parser


def _fit_parser(sub) -> None:
    p = _sub(
        sub,
        "fit",
        "Train a model on DATA and save it to a folder.",
        "  biovae fit counts.h5ad --likelihood nb --latent 10 --out model\n"
        "  biovae fit data.tsv --config settings.toml --out model --report report.html\n"
        "  biovae fit data.tsv --out model --checkpoint-every 10   # later: --resume\n"
        "  biovae fit abund.biom --obs meta.tsv --likelihood hurdle_dirichlet \\\n"
        "      --categorical-covariates studyID --mmd-batch 100 --out model  # study out of z\n"
        "  biovae fit big.h5ad --stream --likelihood nb --out model   # larger than memory\n"
        "  torchrun --nproc_per_node=4 -m biovae fit big.h5ad --stream --device cuda \\\n"
        "      --likelihood nb --out model   # DDP over 4 GPUs; rank 0 writes\n",
    )
    p.add_argument(
        "data",
        metavar="DATA",
        help="CSV/TSV, .npy, .h5ad, 10x .h5, FASTA/A2M, .biom (BIOM), PLINK .bed or VCF "
        "(.vcf, .vcf.gz) file, a PLINK fileset's prefix, or a 10x matrix.mtx folder",
    )
    p.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML ([model], [train], ...) or a model's config.json; flags given override it, "
        "and it overrides the defaults",
    )
    p.add_argument("--report", metavar="HTML", help="also write an HTML report")
    add_resume_flag(p)
    add_options(p, MODEL_OPTIONS, "model")
    add_options(p, OBJECTIVE_OPTIONS, "objective")
    add_options(p, TRAIN_OPTIONS, "training")
    add_options(p, DATA_OPTIONS, "data")
    add_data_flags(p)
    p.set_defaults(func=commands.cmd_fit)


def _embed_parser(sub) -> None:
    p = _sub(
        sub,
        "embed",
        "Write posterior means E[z|x] of DATA (one row per record).",
        "  biovae embed model counts.h5ad --out latent.csv\n"
        "  biovae embed model counts.h5ad --out annotated.h5ad   # obsm['X_biovae'], as tl.vae\n"
        "  biovae embed cvae_model counts.h5ad --out a.h5ad --key-added X_cvae\n"
        "  biovae embed vae_model a.h5ad --out both.h5ad   # obsm['X_cvae'] and obsm['X_biovae']\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=".csv or .tsv (id, z_1..z_k); or, for an .h5ad DATA, .h5ad: a copy of DATA with "
        "obsm[KEY], uns[KEY], label predictions in obs[KEY_label], obs[KEY_p_<label>] and a "
        "linear decoder's loadings in varm[KEY_loadings], as biovae.tl.vae writes",
    )
    p.add_argument(
        "--key-added",
        metavar="KEY",
        help="the name KEY of an .h5ad output's entries, as tl.vae's key_added (default "
        "X_biovae); another key keeps what an earlier embed wrote into DATA",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=commands.cmd_embed)


def _sample_parser(sub) -> None:
    p = _sub(
        sub,
        "sample",
        "Generate N records by decoding draws from the prior.",
        "  biovae sample model -n 100 --out samples.tsv\n"
        "  biovae sample ss_model -n 100 --out b_cells.tsv --label 'B cell'\n"
        "  biovae sample family_vae -n 50 --out designs.fasta\n"
        "  biovae sample family_vae -n 50 --out designs.fasta --screen-against concern.fasta\n"
        "  biovae sample family_vae -n 50 --out designs.fasta \\\n"
        "      --screen-command 'my_screen {fasta} {out}'\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-n", type=int, required=True, metavar="N", help="number of records")
    p.add_argument(
        "--out", required=True, metavar="FILE", help=".csv/.tsv, or .fasta for sequences"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the prior draws (default 0); all -n are drawn together, so a larger -n "
        "gives other samples, not the same ones and more",
    )
    p.add_argument(
        "--obs",
        metavar="FILE",
        help="covariates of the samples (conditional models): one row per sample, which is "
        "named by the row's id",
    )
    p.add_argument(
        OBS_ID_COLUMN.flag,
        dest="obs_id_column",
        metavar=OBS_ID_COLUMN.metavar,
        help=OBS_ID_COLUMN.help,
    )
    p.add_argument(
        "--label",
        metavar="LABEL",
        help="semi-supervised models: draw every sample from this label's prior p(z|y) "
        "(default: the prior of all labels)",
    )
    p.add_argument(
        "--ungapped",
        action="store_true",
        help="sequence models: write the samples without gaps '-', as they would be made "
        "(default: rows of the model's alignment, gaps kept)",
    )
    add_screen_options(p)
    p.set_defaults(func=commands.cmd_sample)


def _score_parser(sub) -> None:
    p = _sub(
        sub,
        "score",
        "Per-record ELBO (and IWAE-K bound) of DATA under MODEL.",
        "  biovae score model counts.h5ad --iwae 100 --out scores.csv\n"
        "  biovae score genotype_model cohort.vcf.gz --samples 10 --out scores.csv\n"
        "  biovae score model new.h5ad --reference heldout.h5ad --flag-below 0.01 --out s.csv\n"
        "columns: id, elbo (and iwae_K) in nats per record, higher = more like the training "
        "data;\ngenotype models add elbo_per_locus (and iwae_K_per_locus) in nats per observed "
        "locus,\nwhich compares individuals with different numbers of missing calls (the "
        "lowest are\nthe individuals least like the training ones), and QC columns "
        "observed_loci,\nmissing_rate, het_observed, het_expected, het_f (plink --het's F) "
        "and qc_flag\n(missing, heterozygosity: e.g. DNA of two individuals mixed);\n"
        "--reference adds tail_<score>, the conformal p-value against REF's records\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="FILE", help=".csv or .tsv")
    p.add_argument(
        "--iwae", type=int, default=1, metavar="K", help="IWAE-K bound too (default 1: no)"
    )
    p.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="S",
        help="average the ELBO over S posterior samples (default 1)",
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the posterior draws (default 0)"
    )
    p.add_argument(
        "--qc-max-missing",
        type=float,
        default=0.1,
        metavar="RATE",
        help="genotype models: flag 'missing' above this missing rate (default 0.1)",
    )
    p.add_argument(
        "--qc-min-f",
        type=float,
        default=-0.2,
        metavar="F",
        help="genotype models: flag 'heterozygosity' below this F, more heterozygous calls "
        "than expected (default -0.2)",
    )
    p.add_argument(
        "--qc-frequencies",
        choices=("training", "scored"),
        default="training",
        help="genotype models: allele frequencies of the expected heterozygosity: the training "
        "data's, kept by the model (default; the scored file's for a model saved without "
        "them), or the scored file's (score a cohort)",
    )
    p.add_argument(
        "--reference",
        metavar="REF",
        help="normal records (e.g. held-out training records; read as DATA is), scored alike: "
        "adds tail_<score> = (1 + #{REF scores <= the record's}) / (REF records + 1)",
    )
    p.add_argument(
        "--flag-below",
        type=float,
        metavar="ALPHA",
        help="with --reference: add a column anomaly, tail <= ALPHA (e.g. 0.01: about 1 in "
        "100 normal records flagged)",
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=commands.cmd_score)


def _report_parser(sub) -> None:
    p = _sub(
        sub,
        "report",
        "Write a self-contained HTML report of MODEL (and DATA).",
        "  biovae report model counts.h5ad --color-by bulk_labels --out report.html\n"
        "  biovae report model abund.tsv --obs meta.tsv --obs-id-column sample_id \\\n"
        "      --color-by studyID --out report.html   # ids in meta.tsv's column sample_id\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA", nargs="?")
    p.add_argument("--out", required=True, metavar="HTML", help="report file to write (.html)")
    p.add_argument("--color-by", type=_names, metavar="A,B", help="metadata columns to colour by")
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=commands.cmd_report)


def _demo_parser(sub) -> None:
    p = _sub(
        sub,
        "demo",
        "Train on the shipped PBMC data set and write a report.",
        "  biovae demo --out demo-output\n",
    )
    p.add_argument("--out", default="demo-output", metavar="DIR", help="(default demo-output)")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=150,
        metavar="N",
        help="maximum epochs (default 150)",
    )
    p.set_defaults(func=commands.cmd_demo)


def _sweep_parser(sub) -> None:
    from biovae.cli import diagnostics_cmds

    p = _sub(
        sub,
        "sweep",
        "Train one VAE per β and draw the rate–distortion curve.",
        "  biovae sweep counts.h5ad --likelihood nb --beta 0.1,0.3,1,3,10 --out rd/\n"
        "  biovae sweep data.tsv --beta 0.5,1,2 --fidelity --out rd/\n",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument(
        "--beta", dest="betas", required=True, metavar="B,B,...", help="comma-separated β values"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for JSON + HTML")
    p.add_argument(
        "--held-out",
        type=float,
        default=0.2,
        metavar="F",
        help="fraction of records held out for the curve (0.2)",
    )
    p.add_argument(
        "--fidelity",
        action="store_true",
        help="also compare prior samples of VAE, autoencoder and PCA (needs >= 2 held-out)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML config file (flags given override it)")
    kinds = Option("model.kind", str, "vae or ssvae: models with a rate to weigh", "KIND")
    add_options(p, tuple(kinds if o.flag == "--model" else o for o in MODEL_OPTIONS), "model")
    # a sweep keeps no checkpoints: its fits are short and rerun from the start
    add_options(p, tuple(o for o in TRAIN_OPTIONS if o.flag != "--checkpoint-every"), "training")
    add_options(p, DATA_OPTIONS, "data")
    add_data_flags(p)
    p.set_defaults(func=diagnostics_cmds.cmd_sweep)


def _novelty_parser(sub) -> None:
    from biovae.cli import diagnostics_cmds

    p = _sub(
        sub,
        "novelty",
        "Sample N records and check them for copies of the training data: each sample's "
        "distance to the closest training record against that of held-out records.",
        "  biovae novelty model train.tsv held_out.tsv -n 1000 --out novelty/\n"
        "  biovae novelty family_vae family.a2m held_out.a2m -n 500 --out novelty/\n",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("train", metavar="TRAIN", help="the data the model was trained on")
    p.add_argument("holdout", metavar="HELD_OUT", help="records the model never saw (>= 20)")
    p.add_argument("-n", type=int, default=1000, metavar="N", help="samples to draw (default 1000)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for novelty.json")
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the samples (default 0)"
    )
    add_options(p, READ_OPTIONS, "data (default: as when the model was fitted)")
    add_data_flags(p)
    p.set_defaults(func=diagnostics_cmds.cmd_novelty)
