"""A fitted family model (one or an ensemble of VAEs) with its alignment facts; save / load / score.

Saved as a folder: ``config.json`` (:class:`VariantsConfig`), ``weights.safetensors`` (member
``i`` under ``member{i}.``, plus the independent-site log frequencies under ``site_log_f``) and
``metadata.json`` (alphabet, focus, residue numbers of the match columns modelled, the columns
dropped for gaps, the focus's whole sequence with the index of each match column's residue in
it, Neff, training history). No pickle.
"""

from __future__ import annotations

import json
import time
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
from biovae.applications.variants.train import fit_family
from biovae.applications.variants.weights import sequence_weights
from biovae.config import from_dict, to_dict
from biovae.data import sequences
from biovae.data.card import MODEL_CARD, markdown
from biovae.data.dataset import Dataset
from biovae.data.fingerprint import fingerprint
from biovae.data.folders import write_dir
from biovae.errors import ConfigError, DataError, ModelFileError
from biovae.persistence import (
    FORMAT_VERSION,
    MODEL_FILES,
    WEIGHTS_DIGEST,
    check_model_out,
    checked_weights,
    digest,
    read_json,
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
        ``sampled_weights``: see :func:`scoring.delta_elbo` (variational decoders only)."""
        dropped = {d.position: d.reason() for d in self.dropped_columns}
        mapped = mutations.map_mutants(mutants, self.focus, self.alphabet, self.positions, dropped)
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
    for i in range(config.ensemble):
        train_cfg = replace(config.train, seed=config.train.seed + i)
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


def load(path: str | Path) -> Family:
    """Read a folder written by :func:`save` (JSON and raw tensors only)."""
    folder = Path(path)
    names = ("config.json", "weights.safetensors", "metadata.json")
    if not all((folder / n).is_file() for n in names):
        raise ModelFileError(
            f"{folder} is not a variants model folder; pass the folder written by "
            "'biovae variants fit --out'"
        )
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
    alphabet, focus, positions = _alignment_facts(folder / "metadata.json", meta)
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
    whole = _focus_residues(folder, meta, sequences.decode(focus, alphabet)[0])
    dropped = columns.from_metadata(folder / "metadata.json", meta.pop("dropped_columns", None))
    return Family(config, members, alphabet, focus, positions, log_f, meta, whole, dropped)


def _focus_residues(folder: Path, meta: dict[str, Any], focus: str) -> FocusResidues | None:
    """The focus's whole sequence from (and out of) ``meta``; None for a model saved before
    it was kept."""
    sequence, index = meta.pop("focus_residues", None), meta.pop("focus_residue_index", None)
    if sequence is None and index is None:
        return None
    if not (isinstance(sequence, str) and isinstance(index, list)):
        problem = "only one of focus_residues and focus_residue_index"
    elif not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
        problem = "residue indices that are not whole numbers"
    else:
        whole = FocusResidues(sequence.upper(), tuple(index))
        problem = whole.problem(focus)
        if problem is None:
            return whole
    raise ModelFileError(
        f"{folder}/metadata.json: the focus's whole sequence does not fit the model ({problem}); "
        "the file was edited or is damaged — refit the model"
    )


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


#: the metadata entries a loaded family model uses (scoring and its card), and their JSON types
_FACT_TYPES = {
    "neff": (int, float),
    "history": (list,),
    "n_sequences": (int,),
    "n_read": (int,),
    "fingerprint": (str,),
}


def _alignment_facts(path: Path, meta: dict[str, Any]) -> tuple[str, np.ndarray, tuple[int, ...]]:
    """The alphabet, focus letter codes and residue numbers taken out of ``meta`` (read from
    ``path``); an entry that is missing, or not of the types :func:`save` wrote, is a one-line
    error rather than a traceback of the first score."""
    alphabet, focus, positions = (meta.pop(k, None) for k in ("alphabet", "focus", "positions"))
    whole = isinstance(focus, list) and isinstance(positions, list)
    whole = whole and all(type(v) is int for v in (*focus, *positions))
    problem = None
    if not isinstance(alphabet, str) or not 0 < len(set(alphabet)) == len(alphabet) <= 256:
        problem = f"the 'alphabet' entry is damaged ({alphabet!r:.40})"
    elif not whole:
        problem = "the 'focus' and 'positions' entries are not lists of whole numbers"
    elif len(positions) != len(focus):
        problem = f"residue numbers for {len(positions)} of the focus's {len(focus)} match columns"
    elif not all(0 <= c < len(alphabet) for c in focus):
        problem = f"the 'focus' entry holds letter codes outside 0–{len(alphabet) - 1}"
    for key, types in _FACT_TYPES.items():
        value = meta.get(key)
        if problem is None and value is not None and (type(value) not in types):
            problem = f"the {key!r} entry is damaged ({value!r:.40})"
    history = meta.get("history") or []
    if problem is None and not all(isinstance(r, list) and _records(r) for r in history):
        problem = "the 'history' entry is damaged (not lists of records)"
    if problem is not None:
        raise ModelFileError(f"{path}: {problem}; refit the model or restore its folder")
    return alphabet, np.asarray(focus, dtype=np.uint8), tuple(positions)


def _records(rows: list) -> bool:
    return all(isinstance(r, dict) for r in rows)
