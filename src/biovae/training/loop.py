"""The training loop: minibatch optimisation with validation, early stopping and checkpoints.

It consumes only :class:`~biovae.objectives.LossOutput`; the model decides its own objective.
Randomness comes from the caller's seeded RNG (see :func:`biovae.training.seeded`) and an
explicit shuffle generator, so a seed fixes the weights exactly on CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biovae.config import ObjectiveConfig, TrainConfig
from biovae.errors import ConfigError, TrainingError
from biovae.likelihoods import fused
from biovae.objectives import Batch, beta_at
from biovae.setting_names import setting
from biovae.training.checkpoint import (
    LoopState,
    check_checkpoint_args,
    check_checkpoint_dir,
    load_checkpoint,
    resumed_state,
    save_checkpoint,
)
from biovae.training.distributed import DistContext
from biovae.training.divergence import Diverged
from biovae.training.optim import adam
from biovae.training.progress import Progress
from biovae.training.sources import BatchSource, epoch_batches, prefetched, unpadded

#: Columns of one epoch's statistics: loss, −ELBO parts and ELBO, summed over records (each
#: times its weight, when the records have weights) and reported as means per record.
_STATS = ("loss", "recon", "kl", "elbo")


def fit_model(
    model: nn.Module,
    train: BatchSource,
    val: BatchSource | None,
    objective: ObjectiveConfig,
    config: TrainConfig,
    *,
    progress: bool = True,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    identity: dict[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place and return the per-epoch history.

    The best model by validation loss (at the target β; or by the labelled records' validation
    classification loss with ``config.early_stopping = "classification"``) is restored at the
    end. With record weights the statistics, and so the early-stopping choice, are weighted
    means, as the loss is (a validation split whose records all have weight 0 tells epochs
    nothing and is left out). With
    ``checkpoint_dir`` a checkpoint is written every ``config.checkpoint_every`` epochs and
    ``resume`` continues from it exactly. A checkpoint records what a resume must match
    (``identity``, e.g. the data's fingerprint and the model's settings, plus the objective, the
    training settings but the epoch count, device and checkpoint interval, and the number of
    processes); a resume that differs is refused.
    """
    dist = DistContext.current()
    check_checkpoint_args(checkpoint_dir, resume, config.checkpoint_every)
    _check_batch_norm(model, train, config, dist)
    _check_objective(model, objective, config.early_stopping)
    val = val if val is not None and len(val) and _total_weight(val) > 0 else None
    device = dist.device(config.device)
    net = dist.wrap(model.to(device), device)
    _own_noise(config.seed, dist)
    optimizer = adam(model.parameters(), config.lr, config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    state = LoopState(kernels=_compile_threshold(train, config, dist))
    if checkpoint_dir is not None and config.checkpoint_every > 0:
        check_checkpoint_dir(checkpoint_dir)  # on every rank, before training
    best_weights = copy.deepcopy(model.state_dict())
    identity = _identity(identity, objective, config, dist)
    if resume and checkpoint_dir is not None:
        loop, best_weights = load_checkpoint(
            checkpoint_dir, model, optimizer, generator, dist.rank, identity, device
        )
        state = resumed_state(loop, checkpoint_dir, config, state.kernels)
    stopped = bool(config.patience) and state.bad_epochs >= config.patience  # resumed at the end
    kernels = fused.enabled(state.kernels)
    bar = Progress(config.epochs, initial=state.epoch, enabled=progress and dist.is_main)
    with kernels, bar:  # the bar is closed on an error too, before its message is printed
        for epoch in range(config.epochs if stopped else state.epoch, config.epochs):
            t0 = time.perf_counter()
            row = _train_epoch(
                net, train, optimizer, generator, objective, config, epoch, dist, device
            )
            dist.sync_buffers(model)  # one model on every rank before validation decides
            if val is not None:
                row.update(
                    _prefixed(
                        "val_", evaluate(model, val, objective, epoch, config.batch_size, dist)
                    )
                )
            row.update(
                epoch=epoch + 1, beta=beta_at(objective, epoch), seconds=time.perf_counter() - t0
            )
            state.history.append(row)
            state.epoch = epoch + 1
            if _improved(state, row, objective, epoch, config.early_stopping):
                best_weights = copy.deepcopy(model.state_dict())
            bar.update(row)
            if _checkpoint_due(config, checkpoint_dir, epoch):
                rng = _rng_states(dist, device)  # every rank's, collected by all
                dist.on_main(  # rank 0 writes; if it cannot, every rank stops here
                    functools.partial(
                        save_checkpoint, checkpoint_dir, model, optimizer, generator,
                        state.to_json(), best_weights, rng, identity,
                    )
                )  # fmt: skip
            if config.patience and state.bad_epochs >= config.patience:
                break
    if val is not None and state.best_epoch >= 0:
        model.load_state_dict(best_weights)
    _check_finite(model, state.epoch)
    model.to("cpu")  # where scoring, reports and saving run
    return state.history


def _own_noise(seed: int, dist: DistContext) -> None:
    """Give every rank but rank 0 its own stream of reparameterisation noise and dropout masks
    (each process seeded alike would draw the same noise at the same batch position on every
    rank, so the ranks' gradients would not average independent draws). The weights are rank
    0's (DistributedDataParallel broadcasts them) and the shuffle generator stays shared; a
    resume restores each rank's own state from the checkpoint."""
    if dist.rank:
        torch.manual_seed((seed * 1_000_003 + dist.rank) % 2**63)


def _batch_norms(model: nn.Module) -> list[nn.BatchNorm1d]:
    """The batch-norm layers of ``model`` (they need two records per training batch)."""
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]


def _check_batch_norm(model: nn.Module, train: BatchSource, config: TrainConfig, dist) -> None:
    """Batch norm in training needs two records per batch (one has no variance): refuse
    batches of one record (--batch-size 1, or a process's share of the training records) in a
    model whose batch norm trains, in one line, not torch's traceback from the first step
    (a reference mapping's batch norm stays in inference mode, see ``models.surgery``)."""
    per_step = min(config.batch_size, math.ceil(len(train) / dist.world_size))
    if per_step >= 2:
        return
    was_training = model.training
    model.train()
    norms = [m for m in _batch_norms(model) if m.training]
    model.train(was_training)
    if not norms:
        return
    share = "" if dist.world_size == 1 else f" on each of {dist.world_size} processes"
    raise ConfigError(
        f"this model has batch norm, from {setting('model.network.norm', 'batch')} or "
        f"{setting('model.network.decoder', 'linear')}, which needs at least 2 records per "
        f"batch, but its batches hold {per_step}{share}; raise {setting('train.batch_size')}, "
        "train on more records or fewer processes, or leave batch norm out: "
        f"{setting('model.network.norm', 'layer')} and "
        f"{setting('model.network.decoder', 'mlp')}"
    )


def _check_objective(model: nn.Module, objective: ObjectiveConfig, early_stopping: str) -> None:
    """Refuse, before any epoch, early stopping on a classifier the model lacks and β, warm-up
    or free bits with the IWAE-k bound (no KL term): checked here, so saved models still load."""
    if early_stopping == "classification" and not hasattr(model, "classify"):
        raise ConfigError(
            "train.early_stopping = 'classification' needs the semi-supervised VAE's classifier "
            "(model.kind ssvae with a labels key); use 'elbo'"
        )
    if objective.iwae_samples == 1:
        return
    plain = ObjectiveConfig()
    for name in ("beta", "kl_warmup_epochs", "free_bits"):
        if getattr(objective, name) != getattr(plain, name):
            raise ConfigError(
                f"objective.{name} weighs the ELBO's KL term, which the IWAE-"
                f"{objective.iwae_samples} bound (objective.iwae_samples) does not have; "
                f"leave {name} at its default {getattr(plain, name)!r} or set "
                "objective.iwae_samples to 1"
            )


def _rng_states(dist: DistContext, device: torch.device) -> dict[str, list[torch.Tensor]]:
    """Every rank's random states for a checkpoint: the CPU's (shuffling aside, draws on the
    CPU) and, training on a GPU, the GPU's (the reparameterisation draws and dropout there)."""
    states = {"torch": dist.gather(torch.get_rng_state())}
    if device.type == "cuda":
        states["cuda"] = dist.gather(torch.cuda.get_rng_state(device))
    return states


def _check_finite(model: nn.Module, epoch: int) -> None:
    """The weights kept are finite: the loss is checked before each update, so only the last
    update can leave NaN or infinite weights unseen (and no finite validation loss kept an
    earlier epoch's)."""
    if all(
        bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point()
    ):
        return
    raise TrainingError(
        f"training diverged: the weights became non-finite by epoch {epoch} (the last update); "
        f"lower the learning rate {setting('train.lr')} or standardise extreme inputs"
    )


def _compile_threshold(source: BatchSource, config: TrainConfig, dist) -> int | None:
    """Whether (and from which input size) this fit runs the compiled likelihood kernels:
    decided on the whole planned fit, so a resume with the same ``epochs`` runs the same
    kernels (with other ``epochs`` they may differ: the checkpoint records them, and such a
    resume warns, see :func:`~biovae.training.checkpoint.resumed_state`)."""
    per_epoch = math.ceil(len(source) / dist.world_size / config.batch_size)
    probe = source.batch(torch.arange(min(len(source), config.batch_size)))
    steps = config.epochs * per_epoch
    return fused.decide(config.compile, steps, probe.x.numel())


def _train_epoch(net, source, optimizer, generator, objective, config, epoch, dist, device):
    net.train()
    sums = torch.zeros(len(_STATS) + 1, dtype=torch.float64, device=device)
    order = epoch_batches(len(source), config.batch_size, generator, dist.rank, dist.world_size)
    # a single-record batch breaks batch norm: then the last record of the epoch (a different
    # one each epoch, shuffled) waits for the next; layer norm (the default) takes it
    batch_norm = bool(_batch_norms(net))
    seen = 0
    for step, (idx, batch) in enumerate(prefetched(source, order)):
        first, seen = seen, seen + len(idx)
        if len(idx) < 2 and step and batch_norm:
            continue
        batch = batch.to(device)
        out = net(batch, objective, epoch)
        if not dist.all_finite(out.loss):
            value = out.loss.item()
            where = "" if not math.isfinite(value) else " in another process's batch"
            raise Diverged(
                f"the loss became {value if where == '' else 'non-finite'}{where} at epoch "
                f"{epoch + 1}, batch {step + 1}"
            )
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizer.step()
        own = unpadded(len(source), first, len(idx), dist.rank, dist.world_size)
        sums += _batch_sums(out, batch, own)
    return _means(dist.sum(sums))


def _batch_sums(out, batch: Batch, own: torch.Tensor | None = None) -> torch.Tensor:
    """The batch's :data:`_STATS` summed over its records, each times its weight (the loss,
    already the batch's weighted mean, times the batch's weight), then that weight: the
    record count when the records have no weights. ``own`` (bool, one per record) leaves out
    the records that several ranks' epoch padding repeats, so the epoch's means are over the
    training records, each once."""
    per_record = (out.recon_n.double(), out.kl_n.double(), out.elbo_n.double())
    w = batch.w
    if own is not None and not bool(own.all()):
        own = own.to(per_record[0].device, torch.float64)
        w = own if w is None else w.double() * own
    if w is None:
        total = per_record[0].new_tensor(float(len(batch)))
        sums = [v.sum() for v in per_record]
    else:
        w = w.double()
        total, sums = w.sum(), [v @ w for v in per_record]
    return torch.stack([out.loss.detach().double() * total, *sums, total])


def _total_weight(source: BatchSource) -> float:
    """The records' total weight (their number when they have no weights)."""
    w = getattr(source, "w", None)
    return float(len(source)) if w is None else float(w.double().sum())


def _means(sums_and_weight: torch.Tensor) -> dict[str, float]:
    """Means per record (weighted) from :func:`_batch_sums` summed; 0 for a weight of 0 (no
    record, or records all of weight 0)."""
    *sums, weight = sums_and_weight.tolist()  # one device-to-host copy
    return {k: v / (weight or 1.0) for k, v in zip(_STATS, sums)}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    source: BatchSource,
    objective: ObjectiveConfig,
    epoch: int,
    batch_size: int = 1024,
    dist: DistContext | None = None,
) -> dict[str, float]:
    """Mean loss, distortion, rate and ELBO per record over ``source`` (model in eval mode;
    weighted means Σ w_i v_i / Σ w_i when the records have weights, as in the loss), and
    ``classification``, the mean −log q(y|x) over labelled records (batches pooled by the
    labelled weight the model reports), when the model reports one and there are labelled
    records of positive weight. With several ranks (``dist``) each evaluates every
    ``world_size``-th record and the sums are pooled, so every rank gets the same numbers (its
    own Monte-Carlo draws would otherwise give each rank its own early-stopping decision)."""
    dist = dist or DistContext()
    was_training = model.training
    model.eval()
    device = next(model.parameters(), torch.empty(0)).device
    sums = torch.zeros(len(_STATS) + 3, dtype=torch.float64, device=device)
    mine = torch.arange(dist.rank, len(source), dist.world_size)
    # fewer held-out records than ranks leave this rank none (and an empty tensor splits into
    # one empty batch, which the model cannot score); it still joins the pooling below
    for _, batch in prefetched(source, iter(mine.split(batch_size) if len(mine) else ())):
        batch: Batch = batch.to(device)
        out = model.loss(batch, objective, epoch)
        sums[: len(_STATS) + 1] += _batch_sums(out, batch)
        if "classification" in out.extras:
            n = float(out.extras["labelled"])
            sums[len(_STATS) + 1] += float(out.extras["classification"]) * n
            sums[len(_STATS) + 2] += n
    model.train(was_training)
    *stats, ce_sum, n_labelled = dist.sum(sums).tolist()
    row = _means(torch.tensor(stats, dtype=torch.float64))
    if n_labelled:
        row["classification"] = ce_sum / n_labelled
    return row


def _prefixed(prefix: str, d: dict[str, float]) -> dict[str, float]:
    return {prefix + k: v for k, v in d.items()}


def _improved(
    state: LoopState, row: dict, objective: ObjectiveConfig, epoch: int, metric: str = "elbo"
) -> bool:
    """Track the best validation loss at the *target* β (or the labelled validation records'
    classification loss); patience counts after warm-up."""
    if "val_recon" not in row:
        return False
    if metric == "classification":
        if "val_classification" not in row:
            raise TrainingError(
                "early stopping on the classification loss needs a semi-supervised model and "
                "labelled records in the validation split; use train.early_stopping = 'elbo'"
            )
        score = row["val_classification"]
    else:
        score = row["val_recon"] + objective.beta * row["val_kl"]
    if score < state.best:
        state.best, state.best_epoch, state.bad_epochs = score, epoch, 0
        return True
    if epoch + 1 >= objective.kl_warmup_epochs:
        state.bad_epochs += 1
    return False


#: training settings a resume may change: more epochs, another device, another interval
_RESUMABLE = ("epochs", "device", "checkpoint_every")


def _identity(
    given: dict[str, Any] | None, objective: ObjectiveConfig, config: TrainConfig, dist
) -> dict[str, Any]:
    train = {k: v for k, v in dataclasses.asdict(config).items() if k not in _RESUMABLE}
    objective_ = dataclasses.asdict(objective)
    return {**(given or {}), "objective": objective_, "train": train, "processes": dist.world_size}


def _checkpoint_due(config: TrainConfig, path: Path | None, epoch: int) -> bool:
    return (
        path is not None
        and config.checkpoint_every > 0
        and (epoch + 1) % config.checkpoint_every == 0
    )
