"""Training a family model: weighted minibatches, MAP decoder prior, wall-time budget.

The step loop differs from :func:`biovae.training.fit_model` (epochs, validation split, early
stopping) because family models are trained as DeepSequence does: a fixed number of updates on
minibatches drawn with probability ∝ sequence weight, i.e. an unbiased estimate of the weighted
ELBO Σ_i w_i ELBO(x_i) / Neff. The objective itself is :func:`biovae.objectives.elbo`.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable

import numpy as np
import torch

from biovae.applications.variants.config import FamilyModelConfig, FamilyTrainConfig
from biovae.applications.variants.model import FamilyVAE
from biovae.applications.variants.resume import MemberCheckpoint, MemberState
from biovae.errors import TrainingError
from biovae.latent_usage import measured
from biovae.likelihoods import fused
from biovae.objectives import Batch, elbo
from biovae.training import seeded
from biovae.training.distributed import DistContext
from biovae.training.optim import Adam, adam
from biovae.training.progress import Progress

#: Called with (training seconds so far, model) at each requested snapshot time.
SnapshotFn = Callable[[float, FamilyVAE], None]


def fit_family(
    codes: np.ndarray,
    weights: np.ndarray,
    n_letters: int,
    model_cfg: FamilyModelConfig,
    train_cfg: FamilyTrainConfig,
    *,
    snapshot_seconds: tuple[float, ...] = (),
    on_snapshot: SnapshotFn | None = None,
    progress: bool = False,
    label: str = "training",
    checkpoint: MemberCheckpoint | None = None,
) -> tuple[FamilyVAE, list[dict[str, float]]]:
    """Train one family VAE; returns the model (eval mode) and a coarse history.

    With ``train_cfg.validation_fraction`` > 0 a random share of the sequences is held out and
    the returned model is the one with the best held-out weighted ELBO (evaluated every
    ``eval_every`` updates; training stops after ``patience`` evaluations without improvement).
    ``on_snapshot`` receives a copy of the model that would be returned if training stopped
    after each of ``snapshot_seconds`` of training time (callback time is not counted).
    ``progress`` shows a bar over the updates (on a terminal), titled ``label``.
    ``checkpoint``: where the state is saved every ``checkpoint.every`` updates and the final
    model once trained; with ``checkpoint.resume`` a finished member is loaded, not retrained,
    and one in progress continues from its checkpoint to the uninterrupted fit's result.
    """
    device = DistContext().device(train_cfg.device)  # a missing GPU: one line, not a traceback
    x = torch.from_numpy(np.asarray(codes, dtype=np.int64))
    train_idx, keeper = _split(x, weights, train_cfg)
    w = torch.as_tensor(weights, dtype=torch.float64)[train_idx]
    x_train = x[train_idx].to(device)
    neff = float(w.sum())
    gen = torch.Generator().manual_seed(train_cfg.seed)
    with seeded(train_cfg.seed, device), contextlib.ExitStack() as stack:
        model = FamilyVAE(x.shape[1], n_letters, model_cfg).to(device)
        opt = _optimizer(model, train_cfg, neff)
        run = _resumed(checkpoint, model, opt, gen, keeper)
        if run.finished:  # trained before the interruption: its final model, as saved
            return model.eval(), run.history
        bar = Progress(
            train_cfg.steps, initial=run.step, enabled=progress, unit="update", desc=label
        )
        stack.callback(bar.close)
        stack.enter_context(fused.enabled(_compile_threshold(model, train_cfg)))
        pending = sorted(s for s in snapshot_seconds if not run.step or s > run.elapsed)
        limit = train_cfg.max_minutes * 60 or float("inf")
        history, shown, sums = run.history, run.shown, np.array(run.sums, dtype=np.float64)
        elapsed, step, t0 = run.elapsed, run.step, time.perf_counter()
        for step in range(run.step + 1, train_cfg.steps + 1):
            pick = torch.multinomial(w, train_cfg.batch_size, replacement=True, generator=gen)
            _set_lr(opt, train_cfg, lr_factor(train_cfg, step, elapsed))
            out = _update(model, opt, x_train[pick.to(device)], train_cfg, neff, step)
            sums += (float(out.elbo_n.mean()), float(out.kl_n.mean()))
            now = time.perf_counter()
            elapsed, t0 = elapsed + now - t0, now
            fresh = False  # the bar keeps the latest ELBO and held-out ELBO side by side
            if step % 100 == 0:
                history.append(
                    {"step": step, "seconds": elapsed, "elbo": sums[0] / 100, "kl": sums[1] / 100}
                )
                sums[:] = 0
                shown["elbo"], fresh = history[-1]["elbo"], True
            if keeper and step % train_cfg.eval_every == 0:
                history.append({"step": step, "seconds": elapsed, "val_elbo": keeper.see(model)})
                shown["val_elbo"], fresh = history[-1]["val_elbo"], True
            bar.update(dict(shown) if fresh else None)
            while pending and elapsed >= pending[0]:
                pending.pop(0)
                _snapshot(on_snapshot, elapsed, keeper.best(model) if keeper else model)
            if elapsed >= limit or (keeper and keeper.stale >= train_cfg.patience > 0):
                break
            if checkpoint is not None and checkpoint.due(step) and step < train_cfg.steps:
                state = MemberState(step, elapsed, sums.tolist(), shown, history)
                _save(checkpoint, model, opt, gen, state, keeper)
            t0 = time.perf_counter()  # evaluation, snapshot, checkpoint time is not training
    final = keeper.best(model) if keeper else model
    history.append({"step": step, "seconds": elapsed, "final": 1.0})
    if checkpoint is not None:
        _save(
            checkpoint, final, opt, gen, MemberState(step, elapsed, history=history, finished=True)
        )
    return final.eval(), history


def _resumed(checkpoint, model, opt, gen, keeper) -> MemberState:
    """The state a member's training starts from: its checkpoint's, restored into ``model``,
    ``opt``, the generators and the held-out ``keeper``; a fresh one without."""
    found = checkpoint.load(model, opt, gen) if checkpoint is not None else None
    if found is None:
        return MemberState()
    state, best = found
    if keeper is not None and not state.finished:
        keeper.stale = state.stale
        if state.best_value is not None:
            keeper.best_value, keeper.state = state.best_value, best
    return state


def _save(checkpoint, model, opt, gen, state: MemberState, keeper=None) -> None:
    """Write ``state`` with the held-out ``keeper``'s best value and weights."""
    if keeper is not None and keeper.state is not None:
        state.best_value, state.stale = keeper.best_value, keeper.stale
    elif keeper is not None:
        state.stale = keeper.stale
    checkpoint.save(model, opt, gen, state, keeper.state if keeper is not None else None)


def _update(model, opt, batch: torch.Tensor, cfg: FamilyTrainConfig, neff: float, step: int):
    """One Adam step on the minibatch's negative ELBO (+ weight KL / Neff when Bayesian)."""
    draws, weight_kl = model.draw_decoder(cfg.prior_scale) if model.bayesian else (None, None)
    bf16 = cfg.precision == "bfloat16"
    with torch.autocast(batch.device.type, torch.bfloat16, enabled=bf16), model.drawn(draws):
        out = elbo(model, Batch(batch), beta=1.0)
    loss = out.loss if weight_kl is None else out.loss + weight_kl / neff
    if not torch.isfinite(loss):
        raise TrainingError(f"the loss became {loss.item()} at step {step}; lower --lr")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return out


def lr_factor(cfg: FamilyTrainConfig, step: int, elapsed: float) -> float:
    """The share of ``cfg.lr`` used by update ``step`` (from 1) after ``elapsed`` seconds of
    training: 1 for a constant rate; for ``linear``, 1 − the share of the budget already used
    (of ``steps``, or of ``max_minutes`` when that is further along)."""
    if cfg.lr_schedule == "constant":
        return 1.0
    used = (step - 1) / cfg.steps
    if cfg.max_minutes > 0:
        used = max(used, elapsed / (cfg.max_minutes * 60))
    return max(0.0, 1.0 - used)


def _set_lr(opt: Adam, cfg: FamilyTrainConfig, factor: float) -> None:
    for group in opt.param_groups:
        group["lr"] = cfg.lr * factor


def _compile_threshold(model: FamilyVAE, cfg: FamilyTrainConfig) -> int | None:
    """Whether this fit draws its variational weights with the compiled kernels: they save
    ≈ 2.4 ns per value drawn (≈ 12 ms per update of the 5 M output weights on two cores)
    against ≈ 7 s of importing the compiler (1.3–1.7 s, which an uncompiled fit does not pay)
    and compiling, so ``auto`` compiles from ≈ 3·10⁹ values over the planned updates."""
    if not model.bayesian:
        return None
    largest = max(p.numel() for _, p in model.decoder_weights())
    return fused.decide(cfg.compile, cfg.steps, largest, min_work=_DRAW_MIN_WORK)


_DRAW_MIN_WORK = 3_000_000_000


def split_rows(n: int, cfg: FamilyTrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (sorted) training and the held-out row indices of a member's fit on ``n`` rows
    (none held out without a validation share)."""
    n_val = int(n * cfg.validation_fraction)
    if n_val < 1:
        return np.arange(n), np.arange(0)
    order = np.random.default_rng(cfg.seed).permutation(n)
    return np.sort(order[n_val:]), order[:n_val]


def member_usage(model: FamilyVAE, codes: np.ndarray, cfg: FamilyTrainConfig) -> dict | None:
    """Latent usage (:func:`biovae.latent_usage.measured`) of a trained member on the rows its
    fit under ``cfg`` held out (else its first training rows): posterior means, no draws."""
    train, val = split_rows(len(codes), cfg)
    device = next(model.parameters()).device

    @torch.no_grad()
    def means_of(idx: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(codes[idx], dtype=np.int64)).to(device)
        return model.encode(x).mean.float().cpu().numpy()

    return measured(means_of, train, val)


def _split(x: torch.Tensor, weights: np.ndarray, cfg: FamilyTrainConfig):
    """Training row indices and the held-out keeper (None without a validation share)."""
    train, val = split_rows(len(x), cfg)
    if not len(val):
        return torch.from_numpy(train), None
    x_val = x[torch.from_numpy(val)].to(cfg.device)
    keeper = _BestKeeper(x_val, torch.as_tensor(weights[val], device=cfg.device), cfg.seed)
    return torch.from_numpy(train), keeper


class _BestKeeper:
    """Held-out weighted ELBO of the model over training; remembers the best parameters."""

    def __init__(self, x_val: torch.Tensor, w_val: torch.Tensor, seed: int) -> None:
        self.x, self.w, self.seed = x_val, w_val.double() / w_val.sum(), seed
        self.best_value, self.state, self.stale = -float("inf"), None, 0

    def see(self, model: FamilyVAE) -> float:
        model.eval()
        with torch.no_grad(), seeded(self.seed, self.x.device):  # the same z draws each time
            draws = [
                float(elbo(model, Batch(self.x), 1.0).elbo_n.double() @ self.w) for _ in (0, 1)
            ]
        model.train()
        value = sum(draws) / len(draws)
        if value > self.best_value:
            self.best_value, self.stale = value, 0
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1
        return value

    def best(self, model: FamilyVAE) -> FamilyVAE:
        """A copy of ``model`` holding the best parameters seen (``model`` if none yet)."""
        if self.state is None:
            return model
        out = copy.deepcopy(model)
        out.load_state_dict(self.state)
        return out


def _optimizer(model: FamilyVAE, cfg: FamilyTrainConfig, neff: float) -> Adam:
    """Adam. For MAP the N(0, σ²) prior on decoder weights enters as its exact gradient
    θ / (σ² Neff) (Adam's coupled weight decay), i.e. Σθ²/(2σ²) / Neff added to the loss; for
    variational weights the loss carries KL(q(θ) || p(θ)) / Neff instead."""
    penalized = {id(p) for p in model.decoder.penalized()}
    groups = [
        {
            "params": [p for p in model.parameters() if id(p) in penalized],
            "weight_decay": 0.0 if model.bayesian else 1.0 / (cfg.prior_scale**2 * neff),
        },
        {"params": [p for p in model.parameters() if id(p) not in penalized]},
    ]
    return adam(groups, cfg.lr)


def _snapshot(fn: SnapshotFn | None, seconds: float, model: FamilyVAE) -> None:
    if fn is None:
        return
    copy_ = copy.deepcopy(model).eval()  # (a copy even when it already is one: cheap enough)
    with torch.random.fork_rng(devices=[]):
        fn(seconds, copy_)
