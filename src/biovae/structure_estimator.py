"""A conformational VAE: structure ensembles in, valid structures out (an estimator).

Frames are superposed (Kabsch) onto a reference frame, flattened to ``3·atoms`` coordinates and
modelled by :class:`biovae.VAE` with one of two likelihoods chosen by ``loss``:

* ``mse``: the naive baseline, an isotropic Gaussian on the aligned Cartesian coordinates
  (maximum likelihood = minimum mean squared error);
* ``geometry``: the ``ca_chain`` Gaussian, whose mean goes through a local projection that
  sets every Cα–Cα virtual bond to a learned length in (3.65, 3.95) Å — (2.75, 3.05) Å for
  bonds that are cis in the training frames (median length < 3.35 Å), and no bond between
  chains or across missing residues (median distance > 4.2 Å) — and pushes non-bonded Cα pairs
  apart (see :mod:`biovae.likelihoods.ca_chain`).

Generated and reconstructed structures are decoder means E[x|z] (the Gaussian observation noise
models coordinate error, it is not part of a structure).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from biovae import persistence
from biovae._conventions import EstimatorConventions, mean_score
from biovae.applications.structures.geometry import align_frames
from biovae.applications.structures.validity import chain_breaks, cis_bonds
from biovae.config import FitConfig, LikelihoodConfig, from_dict, given_config, to_dict
from biovae.data.dataset import Dataset
from biovae.data.structure import Structures, atoms_from_features, check_same_atoms
from biovae.errors import ConfigError, DataError, ModelFileError, NotFittedError
from biovae.estimator import VAE
from biovae.inputs import sample_count
from biovae.latent_usage import STRUCTURE_REMEDIES, collapse_told
from biovae.model_card import latent_card, structure_card
from biovae.objectives import DECODE_ROWS
from biovae.structure_checks import (
    check_structures,
    saved_chains,
    saved_reference,
    saved_segids,
)
from biovae.structure_config import STRUCTURE_DEFAULTS, STRUCTURE_WORDING
from biovae.training import Diverged, ResumePastEnd, ResumeRefused, seeded

#: ``loss`` → likelihood registered in :mod:`biovae.likelihoods`.
LOSSES = {"mse": "gaussian", "geometry": "ca_chain"}

#: Latent refinement of path end points: Adam steps on −log p(x|z) and learning rate (set a
#: priori: the latent space is 2-D with N(0, I) prior, so 0.05 × 100 steps can travel ~5 sd).
REFINE_STEPS, REFINE_LR = 100, 0.05


def loss_of(config: FitConfig) -> str:
    """The ``loss`` name (mse or geometry) of a structure model's config."""
    names = {v: k for k, v in LOSSES.items()}
    return names.get(config.model.likelihood.name, config.model.likelihood.name)


def with_loss(config: FitConfig, loss: str) -> FitConfig:
    """``config`` with the likelihood that implements ``loss``."""
    if loss not in LOSSES:
        raise ConfigError(f"unknown --loss (loss) {loss!r}; choose one of: {', '.join(LOSSES)}")
    lik = dataclasses.replace(config.model.likelihood, name=LOSSES[loss])
    return dataclasses.replace(config, model=dataclasses.replace(config.model, likelihood=lik))


def _check_config(config: FitConfig, loss: str) -> None:
    """Refuse settings a structure model would silently replace: it is always a VAE, and
    ``loss`` chooses its likelihood."""
    if config.model.kind != "vae":
        raise ConfigError(
            f"a structure model is a VAE; remove model.kind = {config.model.kind!r} from the config"
        )
    name = config.model.likelihood.name
    if loss in LOSSES and name not in (LikelihoodConfig().name, LOSSES[loss]):
        raise ConfigError(
            f"--loss {loss} (loss={loss!r}) sets the likelihood ({LOSSES[loss]}); remove "
            f"likelihood name = {name!r} from the config"
        )


def with_cis_bonds(
    config: FitConfig, bonds: tuple[int, ...], breaks: tuple[int, ...] = ()
) -> FitConfig:
    """``config`` whose ca_chain likelihood holds the virtual bonds ``bonds`` near cis length
    and no bond at the chain ``breaks``."""
    lik = dataclasses.replace(
        config.model.likelihood, cis_bonds=tuple(bonds), chain_breaks=tuple(breaks)
    )
    return dataclasses.replace(config, model=dataclasses.replace(config.model, likelihood=lik))


class ConformationVAE(EstimatorConventions):
    """VAE of a conformational ensemble (MD trajectory, NMR models).

    Parameters
    ----------
    loss
        ``"mse"`` (naive baseline) or ``"geometry"`` (Cα bonds and excluded volume enforced by a
        projection of the decoder mean; residual violations are measured, not assumed away).
    config
        Network/objective/training settings (default :data:`STRUCTURE_DEFAULTS`).
    """

    _params = ("loss", "config", "progress")

    def __init__(
        self, loss: str = "geometry", config: FitConfig | None = None, progress: bool = False
    ) -> None:
        self.loss = loss
        self.config = config
        self.progress = progress

    def fit(
        self,
        structures: Structures,
        reference: np.ndarray | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> ConformationVAE:
        """Superpose every frame onto ``reference`` (default: the first frame) and fit, as
        :meth:`biovae.VAE.fit` does (``checkpoint_dir``, ``resume``; a collapse warning names
        this model's remedies; a resume of other frames or settings is refused)."""
        given = given_config(self.config, STRUCTURE_DEFAULTS)
        _check_config(given, self.loss)
        cfg = with_loss(given, self.loss)
        check_structures(structures, "ConformationVAE.fit", fitting=True)  # after settings
        if self.loss == "geometry" and set(structures.atom_names) != {"CA"}:
            raise ConfigError(
                "--loss geometry (loss='geometry') models Cα traces; read the structures with "
                "--select ca (select='ca'), or use --loss mse (loss='mse') for the backbone"
            )
        if structures.n_atoms < 3:
            raise DataError(
                f"{structures.source}: {structures.n_atoms} atoms selected; a conformation "
                "model needs at least 3 (a chain with bond angles)"
            )
        ref = structures.coords[0] if reference is None else np.asarray(reference, np.float32)
        if ref.shape != structures.coords.shape[1:]:
            raise DataError(
                f"the reference has {len(ref)} atoms but {structures.source} has "
                f"{structures.n_atoms}; pass a reference of the same protein and selection"
            )
        reference = (ref - ref.mean(0)).astype(np.float32)
        aligned = align_frames(structures.coords, reference)
        lik = cfg.model.likelihood
        if self.loss == "geometry":  # what the config does not give is found in the frames
            breaks = lik.chain_breaks or chain_breaks(aligned, structures.chain_ids)
            cfg = with_cis_bonds(cfg, lik.cis_bonds or cis_bonds(aligned, breaks), breaks)
        vae, records = VAE(config=cfg, progress=self.progress), structures.to_dataset(aligned)
        try:
            with collapse_told(vae, STRUCTURE_REMEDIES):  # `biovae structure fit`'s remedies
                vae.fit(records, checkpoint_dir=checkpoint_dir, resume=resume)
        except (ResumeRefused, ResumePastEnd, Diverged) as exc:  # `biovae fit`'s words
            raise exc.reworded(STRUCTURE_WORDING) from None  # name --stream, epochs=, --likelihood
        # set together, once the fit succeeded: a failed refit keeps the model it had whole
        self.reference_, self.vae_ = reference, vae
        self.atoms_ = structures.with_coords(np.zeros((0, structures.n_atoms, 3), np.float32))
        return self

    def _check(self) -> None:
        if not hasattr(self, "vae_"):
            raise NotFittedError("this ConformationVAE is not fitted yet; call fit() first")

    def align(self, structures: Structures) -> np.ndarray:
        """Frames ``(n, atoms, 3)`` superposed onto the model's reference frame."""
        self.check_atoms(structures)
        if not len(structures):  # (read_structures never gives none; a Python caller can)
            raise DataError(f"{structures.source}: no frames; give at least one frame")
        return align_frames(structures.coords, self.reference_)

    def check_atoms(self, structures: Structures) -> None:
        """A one-line error unless ``structures`` select the model's atoms: as many, named
        alike, in residues of the same protein (:func:`~biovae.data.structure.check_same_atoms`)."""
        self._check()
        check_structures(structures, "ConformationVAE")
        check_same_atoms(
            structures,
            self.atoms_,
            "use the same protein, --select and --chain as for fitting",
            "the model",
        )

    @torch.no_grad()
    def encode(self, structures: Structures) -> np.ndarray:
        """Posterior means E_q[z|x] of each frame, shape ``(n, k)``."""
        records = self.records(structures)  # (checks the model is fitted)
        return self.vae_.transform(records)

    def transform(self, structures: Structures) -> np.ndarray:
        """:meth:`encode`, by scikit-learn's name (``structure embed``'s numbers)."""
        return self.encode(structures)

    def fit_transform(
        self, structures: Structures, reference: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`fit`, then :meth:`encode` of the same frames."""
        return self.fit(structures, reference).encode(structures)

    def records(self, structures: Structures) -> Dataset:
        """``structures`` as the model's records: frames superposed onto its reference and
        flattened, under the model's feature names, with a ``frame`` metadata column."""
        self._check()
        aligned = self.align(structures)  # checks the number of atoms
        # the model's atom names: the same protein renumbered or with another chain id is the
        # same selection of atoms (align refused another count)
        return dataclasses.replace(
            structures.to_dataset(aligned), features=self.vae_.schema_.features
        )

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decoder means E[x|z] as coordinates ``(n, atoms, 3)``, decoded in pieces of
        :data:`~biovae.objectives.DECODE_ROWS` (a geometric decoder's pairwise terms of every
        draw at once would not fit)."""
        self._check()
        model = self.vae_.model_
        k = self.vae_.config_.model.n_latent
        z = np.asarray(z, dtype=np.float32)
        shaped = z.ndim == 2 and z.shape[1] == k
        if not shaped or not np.isfinite(z).all():
            # a (k,) point decoded as k one-number draws, reshaped into k wrong structures
            got = "NaN or infinite values" if shaped else f"shape {z.shape}"
            raise DataError(
                f"latent points must be a finite (points, {k}) array for this model's {k} latent "
                f"dimensions, got {got}; one point z is z[None]"
            )
        z_nk = torch.as_tensor(np.ascontiguousarray(z))  # z[::-1] too
        parts = [
            model.likelihood.expected(model.decode(z_nk[i : i + DECODE_ROWS], None, {}))
            for i in range(0, max(len(z_nk), 1), DECODE_ROWS)  # no draws: one empty piece
        ]
        return torch.cat(parts).numpy().reshape(len(z), -1, 3)

    def score_samples(
        self, structures: Structures, iwae: int = 1, n_samples: int = 1, seed: int = 0
    ) -> np.ndarray:
        """Per-frame ELBO (or IWAE-K) of ``structures`` superposed onto the reference, as
        :meth:`biovae.VAE.score_samples` gives (draws keyed to ``seed`` and the frame ids)."""
        records = self.records(structures)  # (checks the model is fitted)
        return self.vae_.score_samples(records, iwae=iwae, n_samples=n_samples, seed=seed)

    def score(
        self,
        structures: Structures,
        y: None = None,
        *,
        iwae: int = 1,
        n_samples: int = 1,
        seed: int = 0,
    ) -> float:
        """The mean of :meth:`score_samples` over the frames (``y``: scikit-learn's, ignored)."""
        return mean_score(self.score_samples(structures, iwae, n_samples, seed))

    def reconstruct(self, structures: Structures) -> np.ndarray:
        """Decoded posterior means of ``structures``, in the reference frame."""
        return self.decode(self.encode(structures))

    def sample_latent(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws z ~ p(z) = N(0, I); ``n`` whose structures would not fit in memory is a
        one-line error."""
        self._check()
        n = sample_count(n, self.vae_.schema_.sample_bytes)
        with seeded(seed):
            return self.vae_.model_.prior().sample((n,)).numpy()

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` structures decoded from prior draws, ``(n, atoms, 3)``."""
        return self.decode(self.sample_latent(n, seed))

    def refine_latent(
        self, structures: Structures, steps: int = REFINE_STEPS, lr: float = REFINE_LR
    ) -> np.ndarray:
        """Latent points ``(n, k)`` that best reconstruct each frame (amortisation-gap refinement).

        The encoder's posterior mean is an amortised guess; the z whose decoder mean is closest
        to a given frame can lie elsewhere (the amortisation gap). Starting from E_q[z|x], this
        takes ``steps`` Adam steps (learning rate ``lr``) on −log p(x|z) for each frame (the
        squared error of the decoder mean to the superposed frame, weighted by 1/σ²) and keeps,
        per frame, the z with the highest log p(x|z) seen, the posterior mean included, so the
        result never reconstructs worse. ``steps=0`` returns the posterior means.
        """
        self._check()
        x = self.align(structures).reshape(len(structures), -1)
        return self._refine(x, self.encode(structures), steps, lr)

    def _refine(self, x: np.ndarray, z0: np.ndarray, steps: int, lr: float) -> np.ndarray:
        """:meth:`refine_latent` from superposed records ``x`` ``(n, 3·atoms)`` and starting
        points ``z0`` ``(n, k)``: all records in one batch (each record's loss and Adam update
        depend on that record alone, so the batch gives each record's own path)."""
        model = self.vae_.model_
        x_nf = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
        z = torch.as_tensor(np.array(z0, dtype=np.float32)).requires_grad_()
        best_z, best_lp = z.detach().clone(), torch.full((len(x_nf),), -torch.inf)
        opt = torch.optim.Adam([z], lr=lr)
        flags = [(p, p.requires_grad) for p in model.parameters()]
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            for step in range(steps + 1):
                lp = model.decode(z, None, {}).log_prob(x_nf)
                better = lp.detach() > best_lp
                best_z[better], best_lp[better] = z.detach()[better], lp.detach()[better]
                if step == steps:
                    break
                opt.zero_grad(set_to_none=True)
                (-lp.sum()).backward()
                opt.step()
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)
        return best_z.numpy()

    def interpolate(
        self, start: Structures, end: Structures, steps: int, refine_steps: int = REFINE_STEPS
    ) -> np.ndarray:
        """Structures decoded along the straight latent line from ``start`` to ``end``.

        The path has ``steps`` points including both ends: the latent points that best
        reconstruct the first frame of each input (:meth:`refine_latent` with ``refine_steps``,
        both ends in one batch; 0 uses the posterior means).
        """
        if steps < 2:
            raise ConfigError("--steps must be >= 2 (the path includes both ends)")
        if refine_steps < 0:
            raise ConfigError("--refine-steps must be >= 0 (0 uses the encoder's posterior means)")
        for s in (start, end):
            check_structures(s, "ConformationVAE.interpolate")
        ends = [s.with_coords(s.coords[:1]) for s in (start, end)]
        x = np.concatenate([self.align(s).reshape(1, -1) for s in ends])
        z0 = np.concatenate([self.encode(s) for s in ends])
        za, zb = self._refine(x, z0, refine_steps, REFINE_LR)
        t = np.linspace(0.0, 1.0, steps)[:, None]
        return self.decode(((1 - t) * za + t * zb).astype(np.float32))

    def structures(self, coords: np.ndarray) -> Structures:
        """Coordinates ``(n, atoms, 3)`` with this model's atom names (for writing PDB or mmCIF)."""
        self._check()
        return self.atoms_.with_coords(coords)

    def selection(self) -> str:
        """The atom selection the model was fitted on: ``"ca"`` or ``"backbone"``."""
        self._check()
        return "ca" if set(self.atoms_.atom_names) == {"CA"} else "backbone"

    def chains(self) -> tuple[str, ...] | None:
        """The chains its training frames were read with (``read_structures(chains=...)``;
        ``None``: every chain), with which new files are read by default."""
        self._check()
        return self.atoms_.selected_chains

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model folder (biovae format, with the reference frame in metadata)."""
        self._check()
        given = to_dict(self.config) if self.config is not None else None  # before fit's bonds
        chains = self.chains()
        info = {
            "loss": self.loss,
            "reference": self.reference_.tolist(),
            "config": given,
            "chains": list(chains) if chains is not None else None,
            "segids": list(self.atoms_.segids) if any(self.atoms_.segids) else None,
        }
        card = latent_card(
            self.vae_, training=True, **structure_card(self.loss, self.selection() == "ca")
        )
        return self.vae_.save(path, metadata={"structure": info}, card=card)

    @classmethod
    def load(cls, path: str | Path) -> ConformationVAE:
        """Load a model folder written by :meth:`save`."""
        saved = persistence.load(path)
        info = saved.metadata.get("structure")
        if not isinstance(info, dict) or "reference" not in info:
            raise ModelFileError(
                f"{path} is not a structure model; fit one with 'biovae structure fit'"
            )
        given = info.get("config")  # absent from models saved before it was kept
        damaged = f"{path}/metadata.json: the structure's {{}}; refit the model or restore it"
        try:
            config = saved.config if given is None else from_dict(FitConfig, given, "config")
        except ConfigError as exc:
            raise ModelFileError(damaged.format(f"'config' entry is damaged ({exc})")) from None
        loss = info.get("loss")
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ModelFileError(damaged.format(f"'loss' entry is damaged ({loss!r})"))
        est = cls(loss=loss, config=config)
        est.vae_ = VAE.from_saved(saved)
        chains = saved_chains(info.get("chains"), damaged)  # absent from models saved before
        atoms = atoms_from_features(saved.schema.features, str(path), chains)
        segids = saved_segids(info.get("segids"), atoms.n_atoms, damaged)  # absent: none, or older
        est.atoms_ = dataclasses.replace(atoms, segids=segids)
        est.reference_ = saved_reference(info["reference"], est.atoms_.n_atoms, damaged)
        return est
