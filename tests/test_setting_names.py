"""Messages name a setting for both audiences: the command-line flag and the Python name.

A Python user who passed ``n_latent=`` or ``config=FitConfig(train=TrainConfig(lr=...))`` was
told to change ``--latent`` or ``--lr``; each message below was a flag alone (or a flag and half
of the config path) and now names the keyword or the full ``config.…`` field beside the flag.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import warnings

import numpy as np
import pytest
import torch

import biovae
from biovae.config import FitConfig, ModelConfig, NetworkConfig, ObjectiveConfig, TrainConfig
from biovae.errors import BiovaeError
from biovae.setting_names import FLAGS, KEYWORDS, setting, settings

RNG = np.random.default_rng(0)
VALUES = RNG.normal(size=(40, 6)).astype(np.float32)
COUNTS = RNG.poisson(3.0, size=(40, 6)).astype(np.float32)


def _fast(**train) -> FitConfig:
    small = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(8,)))
    return FitConfig(model=small, train=TrainConfig(**{"epochs": 1, **train}))


def _message(act) -> str:
    """The one-line message of the error ``act()`` raises (or the text it returns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = act()
        except BiovaeError as exc:
            return str(exc)
    return out if isinstance(out, str) else pytest.fail(f"no error: {out!r}")


def _batch_norm_of_one():
    cfg = _fast(batch_size=1)
    net = dataclasses.replace(cfg.model.network, norm="batch")
    biovae.VAE(config=dataclasses.replace(cfg, model=ModelConfig(n_latent=2, network=net))).fit(
        VALUES
    )


def _peptides_read_as_dna(tmp_path):
    from biovae.data import read_dataset

    letters = "ACDEFGHIKLMNPQRSTVWY"
    records = ["".join(RNG.choice(list(letters), 8)) for _ in range(12)]
    (tmp_path / "train.fa").write_text("".join(f">p{i}\n{r}\n" for i, r in enumerate(records)))
    (tmp_path / "q.fa").write_text(">q1\nGATTACAG\n")
    est = biovae.PCA(likelihood="categorical", n_latent=2).fit(read_dataset(tmp_path / "train.fa"))
    est.transform(read_dataset(tmp_path / "q.fa"))


def _loadings_of_an_mlp_decoder():
    from biovae.applications.loadings import loadings

    loadings(biovae.VAE(config=_fast()).fit(VALUES))


def _remedies(**objective) -> str:
    from biovae.diagnostics.collapse import collapse_report

    cfg = dataclasses.replace(FitConfig(), objective=ObjectiveConfig(**objective))
    report = collapse_report(
        np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([True, False]), {}, cfg
    )
    return "; ".join(report.remedies)


def _resume(tmp_path, first: dict, then: dict, checkpoint: bool = True):
    folder = tmp_path / "ck"
    if checkpoint:
        cfg = _fast(checkpoint_every=1, validation_fraction=0.0, **first)
        biovae.VAE(config=cfg).fit(VALUES, checkpoint_dir=folder)
    cfg = _fast(checkpoint_every=1, validation_fraction=0.0, **then)
    biovae.VAE(config=cfg).fit(VALUES, checkpoint_dir=folder, resume=True)


#: mistake → what its message must now name (each was missing before)
CASES = {
    "PCA n_latent above the data's rank": (
        lambda tmp: biovae.PCA(n_latent=50).fit(VALUES),
        ["--latent (n_latent)"],
    ),
    "batch norm with batches of one": (
        lambda tmp: _batch_norm_of_one(),
        ["--batch-size (config.train.batch_size)", "config.model.network.norm='layer'"],
    ),
    "loss non-finite": (
        lambda tmp: biovae.VAE(config=_fast()).fit(VALUES * 1e30),
        ["--lr (config.train.lr)", "--likelihood (likelihood)"],
    ),
    "weights non-finite": (
        lambda tmp: biovae.VAE(config=_fast(lr=1e39, validation_fraction=0.0)).fit(VALUES[:32]),
        ["--lr (config.train.lr)"],
    ),
    "categorical likelihood on numbers": (
        lambda tmp: biovae.VAE(likelihood="categorical", config=_fast()).fit(VALUES),
        ["--sequence-column (sequence_column)"],
    ),
    "hurdle Dirichlet on read counts": (
        lambda tmp: biovae.VAE(likelihood="hurdle_dirichlet", config=_fast()).fit(COUNTS),
        ["(likelihood='dirichlet_multinomial')"],
    ),
    "protein model given DNA-looking peptides": (
        _peptides_read_as_dna,
        ["--alphabet protein (alphabet='protein')"],
    ),
    "loadings of an MLP decoder": (
        lambda tmp: _loadings_of_an_mlp_decoder(),
        ["(config.model.network.decoder='linear')"],
    ),
    "collapse remedies on the ELBO": (
        lambda tmp: _remedies(beta=4.0),
        [
            "--beta (beta)",
            "--latent (n_latent)",
            "(config.objective.kl_warmup_epochs=50)",
            "(config.objective.free_bits=0.1)",
        ],
    ),
    "collapse remedies on the IWAE bound": (
        lambda tmp: _remedies(iwae_samples=2),
        ["--iwae-samples 1 (config.objective.iwae_samples=1)"],
    ),
    "resume past the epochs asked for": (
        lambda tmp: _resume(tmp, {"epochs": 2}, {"epochs": 1}),
        ["--epochs 2 (epochs=2) or more"],
    ),
    "resume without a checkpoint": (
        lambda tmp: _resume(tmp, {}, {}, checkpoint=False),
        ["--resume (resume=True)"],
    ),
    "resume with other settings": (
        lambda tmp: _resume(tmp, {}, {"lr": 0.01}),
        ["--device (config.train.device)", "--stream (stream)", "--resume (resume=True)"],
    ),
    "ConformationVAE with an unknown loss": (
        lambda tmp: biovae.ConformationVAE(loss="foo").fit(None),
        ["--loss (loss)"],
    ),
}


@pytest.mark.parametrize("mistake", list(CASES))
def test_a_python_mistakes_message_names_the_python_setting(mistake, tmp_path):
    act, named = CASES[mistake]
    message = _message(lambda: act(tmp_path))
    assert "\n" not in message
    for words in named:
        assert words in message, f"{words!r} not in {message!r}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there to train on")
def test_training_on_cuda_without_a_gpu_names_the_config_field():
    message = _message(lambda: biovae.VAE(config=_fast(device="cuda")).fit(VALUES))
    assert "--device cpu (config.train.device='cpu')" in message


def test_every_flag_is_the_command_lines_own_for_its_field():
    """FLAGS pairs each field with the flag ``biovae fit`` parses into it, and misses none."""
    from biovae.cli.parser import build_parser

    parser = build_parser()
    fit = next(
        a for a in parser._actions if getattr(a, "choices", None) and "fit" in a.choices
    ).choices["fit"]
    dests = {a.option_strings[0]: a.dest for a in fit._actions if a.dest.startswith("cfg__")}
    assert dests == {flag: "cfg__" + field.replace(".", "__") for field, flag in FLAGS.items()}


@pytest.mark.parametrize(("field", "keyword"), sorted(KEYWORDS.items()))
def test_each_keyword_sets_its_field(field, keyword):
    """A keyword named for a field is the estimators' parameter that sets that field."""
    value = {"likelihood": "nb", "hidden": (7,)}.get(keyword, 3)
    for cls in (biovae.VAE, biovae.SemiSupervisedVAE):
        assert keyword in inspect.signature(cls).parameters
        cfg = cls(**{keyword: value}).get_config()
        for part in field.split("."):
            cfg = getattr(cfg, part)
        assert cfg == value


def test_settings_are_worded_for_both_readers():
    assert setting("model.n_latent") == "--latent (n_latent)"
    assert setting("train.lr", 0.01) == "--lr 0.01 (config.train.lr=0.01)"
    assert setting("data.batch_key") == "--batch-key (batch_key)"
    assert setting("data.transpose", True) == "--transpose (transpose=True)"
    assert settings("train.epochs", "data.stream") == "--epochs (epochs) and --stream (stream)"
    with pytest.raises(KeyError):
        setting("train.weight_decay")  # no flag: a caller's typo or a field to word by hand


def test_the_names_import_nothing_so_every_layer_may_use_them():
    import biovae.setting_names as module

    tree = ast.parse(inspect.getsource(module))
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    # the standard library's dataclasses aside (Wording), nothing: no biovae module
    assert [getattr(n, "module", None) for n in imports] == ["__future__", "dataclasses"]


def test_a_structure_resume_names_what_a_conformation_vae_takes():
    """A refused ConformationVAE resume said '--epochs (epochs)', and ConformationVAE has no
    ``epochs`` keyword (its parameters are loss, config and progress): each Python name in the
    words is one of its parameters or a field of its ``config``."""
    from biovae.structure_config import MAY_CHANGE
    from biovae.structure_estimator import STRUCTURE_DEFAULTS, ConformationVAE

    names = re.findall(r"\(([^()]+)\)", MAY_CHANGE)
    assert len(names) == 3
    params = inspect.signature(ConformationVAE).parameters
    for name in names:
        if name in params:
            continue
        assert name.startswith("config."), f"{name!r} is no ConformationVAE parameter"
        value = STRUCTURE_DEFAULTS
        for part in name.split(".")[1:]:
            value = getattr(value, part)  # an AttributeError: no such config field
    assert "(config.train.epochs)" in MAY_CHANGE


def test_a_data_field_is_named_by_a_keyword_only_where_one_exists():
    """``--continuous-covariates (continuous_covariates)`` named a keyword that neither
    ``biovae.tl.vae`` nor the reader has (nor ``keep``, nor ``format``: the reader's ``fmt``)."""
    from biovae import tl
    from biovae.data.readers import read_dataset
    from biovae.setting_names import FLAGS

    keywords = set(inspect.signature(tl.vae).parameters)
    keywords |= set(inspect.signature(read_dataset).parameters)
    for field in (f for f in FLAGS if f.startswith("data.")):
        leaf = field.removeprefix("data.")
        expected = leaf if leaf in keywords else f"config.{field}"
        assert setting(field) == f"{FLAGS[field]} ({expected})"
    assert setting("data.continuous_covariates") == (
        "--continuous-covariates (config.data.continuous_covariates)"
    )
    assert setting("data.format", "fasta") == "--format fasta (config.data.format='fasta')"
    assert setting("data.batch_key") == "--batch-key (batch_key)"
