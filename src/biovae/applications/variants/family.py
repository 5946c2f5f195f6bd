"""A fitted family model (one or an ensemble of VAEs) with its alignment facts; save / load / score.

Saved as a folder: ``config.json`` (:class:`VariantsConfig`), ``weights.safetensors`` (member
``i`` under ``member{i}.``, plus the independent-site log frequencies under ``site_log_f``) and
``metadata.json`` (alphabet, focus, residue numbers of the match columns modelled, the columns
dropped for gaps, the focus's whole sequence with the index of each match column's residue in
it, Neff, training history), the model card and ``SHA256SUMS`` (checked on load:
:mod:`biovae.data.manifest`). No pickle.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biovae._version import __version__
from biovae.applications.variants import classes, columns, mutations, scoring
from biovae.applications.variants.alignment import Alignment
from biovae.applications.variants.card import family_card
from biovae.applications.variants.config import VariantsConfig
from biovae.applications.variants.focus import FocusResidues
from biovae.applications.variants.model import FamilyVAE
from biovae.applications.variants.resume import FamilyCheckpoints
from biovae.applications.variants.saved_facts import alignment_facts, focus_residues
from biovae.applications.variants.train import fit_family, member_usage
from biovae.applications.variants.weights import sequence_weights
from biovae.config import from_dict, to_dict
from biovae.data import sequences
from biovae.data.card import MODEL_CARD, markdown
from biovae.data.dataset import Dataset
from biovae.data.fingerprint import fingerprint
from biovae.data.folders import write_dir
from biovae.data.manifest import write_manifest
from biovae.errors import ConfigError, DataError, ModelFileError
from biovae.persistence import (
    CHECKED,
    FORMAT_VERSION,
    MODEL_FILES,
    WEIGHTS_DIGEST,
    check_files,
    check_model_out,
    checked_weights,
    digest,
    read_json,
    recover,
    write_weights,
)
from biovae.rebuild import rebuilt

FORMAT = "biovae-variants"


@dataclass(frozen=True)
class Family:
    """Members (eval mode), the focus and numbering they score in, fit facts, the focus's
    whole sequence (None for models saved before it was kept) and the match columns dropped
    for gaps (none for models saved before the option existed)."""

    config: VariantsConfig
    members: tuple[FamilyVAE, ...]
    alphabet: str
    focus: np.ndarray
    positions: tuple[int, ...]
    site_log_f: np.ndarray
    facts: dict[str, Any]
    focus_residues: FocusResidues | None = None
    dropped_columns: tuple[columns.DroppedColumn, ...] = ()

    @property
    def focus_sequence(self) -> str:
        """The focus's letters over the match columns (as :class:`Alignment` gives them)."""
        return sequences.decode(self.focus, self.alphabet)[0]

    def score(
        self, mutants: list[str], n_samples: int = 100, seed: int = 0, sampled_weights: bool = True
    ) -> dict[str, Any]:
        """Columns of a score table: mutant, score, se (Monte-Carlo), member_sd (the ensemble
        members' spread; empty for one model), independent_site, status, reason.
        ``sampled_weights``: see :func:`scoring.delta_elbo` (variational decoders only).
        Warns when the wild-type letters fit the focus only under shifted residue numbers
        (:func:`mutations.numbering_shift`)."""
        shifted = mutations.numbering_shift(mutants, self.focus, self.alphabet, self.positions)
        if shifted is not None:
            warnings.warn(shifted.message(), stacklevel=2)
        dropped = {d.position: d.reason() for d in self.dropped_columns}
        whole = self.focus_residues
        unmodelled = whole.unmodelled(self.focus_sequence, self.positions) if whole else None
        mapped = mutations.map_mutants(
            mutants, self.focus, self.alphabet, self.positions, dropped, unmodelled
        )
        codes = mapped.codes[mapped.ok]
        found = scoring.ensemble_delta(
            self.members, self.focus, codes, n_samples, seed, sampled_weights
        )
        site = scoring.independent_delta(self.site_log_f, self.focus, codes)
        names = ("score", "se", "member_sd", "independent")
        cols = {name: np.full(len(mutants), np.nan) for name in names}
        for name, values in zip(names, (*found, site)):
            cols[name][mapped.ok] = values
        return {
            "mutant": np.asarray(mapped.mutants, dtype=object),
            "score": cols["score"],
            "se": cols["se"],
            "member_sd": cols["member_sd"],
            "independent_site": cols["independent"],
            "status": np.where(mapped.ok, "ok", "unmapped").astype(object),
            "reason": np.asarray(mapped.reasons, dtype=object),
        }

    def scan(
        self,
        n_samples: int = 100,
        seed: int = 0,
        sampled_weights: bool = True,
        uncertain_fraction: float = classes.UNCERTAIN_FRACTION,
    ) -> tuple[dict[str, np.ndarray], classes.ScanClasses | None]:
        """Every letter at every modelled match position (the wild type too; columns dropped
        for gaps are not scanned, see ``dropped_columns``): the columns of the scan
        table (mutant, position, wild_type, letter, score, se, member_sd, independent_site,
        evolutionary_index, p_damaging, class) and the EVE-style classes behind the last three
        — None, with empty class columns, when the scan is too small or too flat for a mixture
        (fewer than :data:`classes.MIN_VALUES` substitutions, or all scored alike)."""
        classes.check_fraction(uncertain_fraction)  # before scoring
        names = mutations.single_mutant_scan(self.focus, self.alphabet, self.positions)
        cols = self.score(names, n_samples, seed, sampled_weights)
        mutant = cols["mutant"]
        wild_type = np.array([m[0] for m in mutant], dtype=object)
        letter = np.array([m[-1] for m in mutant], dtype=object)
        try:
            found = classes.classify_scan(cols["score"], wild_type != letter, uncertain_fraction)
            extra = (found.evolutionary_index, found.p_damaging, found.label)
        except DataError:
            found = None
            extra = (0.0 - cols["score"], np.full(len(mutant), np.nan), np.full(len(mutant), ""))
        table = {
            "mutant": mutant,
            "position": np.array([int(m[1:-1]) for m in mutant]),
            "wild_type": wild_type,
            "letter": letter,
            "score": cols["score"],
            "se": cols["se"],
            "member_sd": cols["member_sd"],
            "independent_site": cols["independent_site"],
            "evolutionary_index": extra[0],
            "p_damaging": extra[1],
            "class": extra[2].astype(object),
        }
        return table, found

    def classify(self, cols: dict[str, Any], found: classes.ScanClasses) -> dict[str, Any]:
        """``cols`` (from :meth:`score`) with ``evolutionary_index``, ``p_damaging`` and
        ``class`` from the mixture of a scan (:meth:`scan`); single substitutions only."""
        single = np.array([_is_substitution(m) for m in cols["mutant"]]) & (cols["status"] == "ok")
        index, p, labels = classes.classify_more(found, cols["score"], single)
        return {**cols, "evolutionary_index": index, "p_damaging": p, "class": labels}


def _is_substitution(mutant: str) -> bool:
    """One change of letter: ``A42G``, also when written with synonymous parts
    (``A40A:A42G`` is the sequence of ``A42G`` and scores the same)."""
    try:
        parsed = mutations.parse(mutant)
    except ValueError:
        return False
    return sum(wt != new for wt, _, new in parsed) == 1


def fit(
    alignment: Alignment,
    config: VariantsConfig,
    progress: bool = False,
    checkpoints: FamilyCheckpoints | None = None,
    **snapshot_kw,
) -> Family:
    """Weight the alignment, train ``config.ensemble`` members (seeds seed, seed+1, ...),
    with a progress bar per member when ``progress``; ``checkpoints``: where and how often
    to save them to resume an interrupted fit (:mod:`~biovae.applications.variants.resume`)."""
    data = _fingerprint(alignment)
    if checkpoints is not None:
        checkpoints.prepare()  # before the weights: a resume without checkpoints stops here
    t0 = time.perf_counter()
    weights = sequence_weights(
        alignment.codes, alignment.gap, len(alignment.alphabet), config.alignment.theta
    )
    weight_seconds = time.perf_counter() - t0
    members, histories = [], []
    member_cfgs = [
        replace(config.train, seed=config.train.seed + i) for i in range(config.ensemble)
    ]
    for i, train_cfg in enumerate(member_cfgs):
        model, history = fit_family(
            alignment.codes,
            weights,
            len(alignment.alphabet),
            config.model,
            train_cfg,
            progress=progress,
            label=f"member {i + 1}/{config.ensemble}" if config.ensemble > 1 else "training",
            checkpoint=checkpoints.member(i, data, config) if checkpoints else None,
            **snapshot_kw,
        )
        members.append(model)
        histories.append(history)
    facts = {
        "source": alignment.source,
        "focus_id": alignment.ids[0],
        "n_sequences": len(alignment),
        "n_read": alignment.n_read,
        "n_invalid_dropped": alignment.n_invalid,
        "n_gappy_dropped": alignment.n_gappy,
        "neff": float(weights.sum()),
        "fingerprint": data,
        "weight_seconds": weight_seconds,
        "history": histories,
        # after every member's training: one encoder pass each, no draws, the weights as trained
        "latent_usage": [
            member_usage(m, alignment.codes, c) for m, c in zip(members, member_cfgs, strict=True)
        ],
    }
    log_f = scoring.site_log_frequencies(alignment.codes, weights, len(alignment.alphabet))
    return Family(
        config,
        tuple(members),
        alignment.alphabet,
        alignment.focus.copy(),
        alignment.positions,
        log_f,
        facts,
        alignment.focus_residues,
        alignment.dropped_columns,
    )


def _fingerprint(alignment: Alignment) -> str:
    """biovae's digest of the sequences a family model is fitted on (ids, match-column letters,
    residue numbers, alphabet), as a data set's fingerprint is of its records."""
    features = tuple(map(str, alignment.positions))
    ds = Dataset(alignment.codes, np.asarray(alignment.ids), features, {}, alignment.alphabet)
    return fingerprint(ds)


def save(path: str | Path, family: Family) -> Path:
    """Write the model folder atomically (temporary folder, then rename)."""
    out = check_model_out(Path(path))
    if not out.parent.exists():
        raise ModelFileError(f"cannot write {out}: folder {out.parent} does not exist")
    tensors = {
        f"member{i}.{k}": v.detach().cpu().contiguous()
        for i, m in enumerate(family.members)
        for k, v in m.state_dict().items()
    }
    tensors["site_log_f"] = torch.from_numpy(family.site_log_f).contiguous()
    meta = {
        **family.facts,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "biovae_version": __version__,
        "alphabet": family.alphabet,
        "focus": family.focus.tolist(),
        "positions": list(family.positions),
        "dropped_columns": [d.to_json() for d in family.dropped_columns],
    }
    if family.focus_residues is not None:
        meta["focus_residues"] = family.focus_residues.sequence
        meta["focus_residue_index"] = list(family.focus_residues.index)
    card = markdown(family_card(family), [f"Written by biovae {__version__}."])
    write_dir(out, lambda tmp: _write_files(tmp, family.config, tensors, meta, card), MODEL_FILES)
    return out


def _write_files(
    folder: Path,
    config: VariantsConfig,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    card: str,
) -> None:
    (folder / "config.json").write_text(json.dumps(to_dict(config), indent=2))
    write_weights(folder / "weights.safetensors", tensors)
    meta = {**meta, WEIGHTS_DIGEST: digest((folder / "weights.safetensors").read_bytes())}
    (folder / "metadata.json").write_text(json.dumps(meta, indent=2))
    (folder / MODEL_CARD).write_text(card, encoding="utf-8")
    write_manifest(folder, CHECKED)


def load(path: str | Path) -> Family:
    """Read a folder written by :func:`save` (JSON and raw tensors only)."""
    folder = Path(path)
    recover(folder)
    if not all((folder / n).is_file() for n in CHECKED):
        raise ModelFileError(
            f"{folder} is not a variants model folder; pass the folder written by "
            "'biovae variants fit --out'"
        )
    check_files(folder)
    meta = read_json(folder / "metadata.json")
    if meta.get("format") != FORMAT:
        raise ModelFileError(
            f"{folder} holds no variants model (a model of 'biovae fit'? use 'biovae embed/score/"
            "sample' with it); fit one with 'biovae variants fit'"
        )
    version = meta.get("format_version", 0)  # models saved before it was kept: none
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{folder}/metadata.json: format_version {version!r} is not one this biovae reads "
            f"(it reads up to {FORMAT_VERSION}); upgrade biovae, or refit the model"
        )
    try:
        config = from_dict(VariantsConfig, read_json(folder / "config.json"))
    except ConfigError as exc:
        raise ModelFileError(f"{folder}: unreadable model files ({exc}); refit the model") from exc
    tensors = checked_weights(folder / "weights.safetensors", meta.pop(WEIGHTS_DIGEST, None))
    alphabet, focus, positions = alignment_facts(folder / "metadata.json", meta)
    site = tensors.get("site_log_f", torch.empty(0))
    if site.shape != (len(focus), len(alphabet)) or site.dtype != torch.float64:
        raise ModelFileError(
            f"{folder}: weights.safetensors holds no site frequencies for {len(focus)} columns of "
            f"{len(alphabet)} letters; the files come from different fits — refit the model"
        )
    extra = sorted(set(tensors) - {"site_log_f"} - _member_names(tensors, config.ensemble))
    if extra:
        raise ModelFileError(
            f"{folder}/weights.safetensors: tensor {extra[0]!r} is not part of a model of "
            f"{config.ensemble} member(s) (config.json); the files come from different fits — "
            "refit the model"
        )
    members = tuple(
        _member(folder, config, len(focus), len(alphabet), tensors, i)
        for i in range(config.ensemble)
    )
    log_f = tensors["site_log_f"].numpy()
    whole = focus_residues(folder, meta, sequences.decode(focus, alphabet)[0])
    dropped = columns.from_metadata(folder / "metadata.json", meta.pop("dropped_columns", None))
    return Family(config, members, alphabet, focus, positions, log_f, meta, whole, dropped)


def _member(folder: Path, config: VariantsConfig, length: int, letters: int, tensors, i: int):
    """Ensemble member ``i`` from the saved tensors (eval mode); weights that do not fit the
    config (a file of another fit, or edited) are a one-line error, not a traceback."""
    prefix = f"member{i}."

    def error(problem: str) -> ModelFileError:
        return ModelFileError(
            f"{folder}: the weights of member {i + 1} do not match config.json ({problem}); "
            "the files come from different fits — refit the model"
        )

    own = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return rebuilt(lambda: FamilyVAE(length, letters, config.model), own, error)


def _member_names(tensors: dict[str, torch.Tensor], n: int) -> set[str]:
    """The names in ``tensors`` of the first ``n`` members' weights."""
    return {k for k in tensors if k.split(".", 1)[0] in {f"member{i}" for i in range(n)}}
