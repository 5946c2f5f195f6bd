"""The flags of ``biovae variants fit``: each sets one field of
:class:`~biovae.applications.variants.config.VariantsConfig`."""

from __future__ import annotations

from typing import Any

# flag → (dotted VariantsConfig field, type, help)
FIT_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--focus": ("alignment.focus", str, "id of the focus record (default: the first)"),
    "--theta": ("alignment.theta", float, "weights count neighbours >= 1 - T identical (0.2)"),
    "--max-gap-fraction": ("alignment.max_gap_fraction", float, "drop rows with more gaps (0.5)"),
    "--max-column-gaps": (
        "alignment.max_column_gaps",
        float,
        "drop match columns whose fraction of gaps exceeds FRAC from the model; their mutations "
        "are reported unscorable (default: keep all; EVE uses 0.3)",
    ),
    "--alphabet": ("alignment.alphabet", str, "protein, dna or rna (default: detected)"),
    "--latent": ("model.n_latent", int, "latent dimensions (30)"),
    "--steps": ("train.steps", int, "training updates per member (6000)"),
    "--minutes": ("train.max_minutes", float, "wall-time limit per member (0 = none)"),
    "--batch-size": ("train.batch_size", int, "records per update (100)"),
    "--lr": ("train.lr", float, "Adam learning rate (1e-3)"),
    "--lr-schedule": (
        "train.lr_schedule",
        str,
        "constant (default) or linear (decays to 0 over --steps / --minutes)",
    ),
    "--precision": ("train.precision", str, "float32 (default) or bfloat16 training matmuls"),
    "--device": ("train.device", str, "where to train: cpu (default), cuda, cuda:1, ..."),
    "--compile": (
        "train.compile",
        str,
        "with --bayesian: fuse the weight draw with torch.compile: auto (default), on, off",
    ),
    "--validation-fraction": (
        "train.validation_fraction",
        float,
        "share of sequences held out to keep the best model (0.05; 0 = keep the last)",
    ),
    "--patience": ("train.patience", int, "evaluations without improvement before stopping (10)"),
    "--seed": ("train.seed", int, "random seed (0); member i uses seed + i"),
    "--ensemble": ("ensemble", int, "number of models averaged (1)"),
    "--bayesian": ("model.bayesian", bool, "variational decoder weights instead of MAP"),
    "--weight-noise": (
        "model.weight_noise",
        str,
        "with --bayesian: shared (one weight draw per minibatch, default) or local (per record)",
    ),
}


#: how --help names each flag's value (argparse would print the field in capitals)
METAVARS = {
    "--focus": "ID",
    "--theta": "T",
    "--max-gap-fraction": "F",
    "--max-column-gaps": "FRAC",
    "--alphabet": "NAME",
    "--latent": "K",
    "--steps": "N",
    "--minutes": "M",
    "--batch-size": "N",
    "--lr": "LR",
    "--lr-schedule": "KIND",
    "--precision": "KIND",
    "--device": "DEV",
    "--compile": "MODE",
    "--validation-fraction": "F",
    "--patience": "N",
    "--seed": "S",
    "--ensemble": "N",
    "--weight-noise": "MODE",
}
