"""``biovae loadings``: the feature loadings of a linearly decoded VAE (LDVAE) or a PCA."""

from __future__ import annotations

import argparse

from biovae.cli.commands import TABLE_SUFFIXES, check_output
from biovae.cli.notes import note
from biovae.errors import ConfigError

HELP = "Write the feature × factor loadings of MODEL (fitted with --decoder linear, or PCA)."
EXAMPLES = (
    "  biovae fit counts.h5ad --likelihood nb --decoder linear --latent 10 --out ld_model\n"
    "  biovae loadings ld_model --out loadings.csv     # one row per gene, columns z_1..z_10\n"
)


def add_loadings_parser(sub, make_parser) -> None:
    """Register ``loadings`` on the subcommand set ``sub``."""
    p = make_parser(sub, "loadings", HELP, EXAMPLES)
    p.add_argument("model", metavar="MODEL")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=".csv or .tsv, one row per feature (sequences: per position and letter, 12:A)",
    )
    p.add_argument(
        "--output",
        metavar="NAME",
        help="the likelihood's raw parameter (default: its first, e.g. rho for counts)",
    )
    p.add_argument(
        "--centre",
        choices=("auto", "yes", "no"),
        default="auto",
        help="subtract each factor's mean loading (auto: yes for the softmax output rho of "
        "count likelihoods, which ignores it; no for other outputs such as ZINB's pi_logits)",
    )
    p.add_argument(
        "--top", type=int, default=5, metavar="N", help="features per factor to print (default 5)"
    )
    p.set_defaults(func=cmd_loadings)


def cmd_loadings(args: argparse.Namespace) -> int:
    from biovae.applications.loadings import loadings, top_features
    from biovae.data.writers import write_frame
    from biovae.estimator import load_model

    out = check_output(args.out, TABLE_SUFFIXES)
    if args.top < 0:
        raise ConfigError(f"--top must be >= 0 (0 prints none), got {args.top}")
    est = load_model(args.model)
    centre = {"auto": None, "yes": True, "no": False}[args.centre]
    table = loadings(est, output=args.output, centre=centre)
    write_frame(out, table)
    if args.top > 0:
        for factor, (up, down) in top_features(table, args.top).items():
            note(args, f"{factor}: + {', '.join(up) or '-'} | − {', '.join(down) or '-'}")
    print(out)
    return 0
