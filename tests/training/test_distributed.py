"""The training loop under torch.distributed: two CPU processes (gloo) train one model with
DistributedDataParallel; gradients are averaged, so both ranks end with identical weights, and
(batch norm included) identical buffers and validation losses, so they agree on early stopping."""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from biovae import likelihoods
from biovae.config import LikelihoodConfig, ModelConfig, NetworkConfig, ObjectiveConfig, TrainConfig
from biovae.errors import PeerStoppedError
from biovae.models import build_model
from biovae.training import InMemorySource, epoch_batches, fit_model, seeded
from biovae.training.distributed import DistContext, launched
from biovae.training.loop import _train_epoch, evaluate


def _spawn(worker, args: tuple, outputs: list[Path]) -> None:
    """Two processes of ``worker``. gloo now and then aborts a rank while the process group is
    torn down ("terminate called without an active exception", SIGABRT) after the work is
    done: the ranks write their outputs before a barrier, so an abort once every output exists
    is that teardown, and anything earlier still fails the test."""
    try:
        mp.spawn(worker, args=args, nprocs=2, join=True)
    except mp.ProcessExitedException as exc:
        if exc.signal_name != "SIGABRT" or not all(p.exists() for p in outputs):
            raise


def _worker(
    rank: int,
    world: int,
    store: str,
    out: str,
    device: str = "cpu",
    norm: str = "layer",
    noise_seed: int | None = None,
) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(256, 8, generator=gen) @ torch.randn(8, 8, generator=gen)
        lik = likelihoods.build(LikelihoodConfig("gaussian"), (8,))
        cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(16,), dropout=0.0, norm=norm))
        with seeded(0):  # same initial weights on every rank
            model = build_model(lik, 0, cfg)
        # different reparameterisation noise per rank, or one seed for all (as torchrun runs
        # one command): fit_model then gives each rank its own noise
        with seeded(100 + rank if noise_seed is None else noise_seed):
            history = fit_model(
                model,
                InMemorySource(x[:224]),
                InMemorySource(x[224:]),
                ObjectiveConfig(),
                TrainConfig(epochs=3, batch_size=32, patience=0, device=device),
                progress=False,
            )
            state_noise = torch.randn(4)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        state["last_loss"] = torch.tensor([history[-1]["loss"]])
        state["next_noise"] = state_noise
        state["val_losses"] = torch.tensor([row["val_loss"] for row in history])
        save_file(state, f"{out}/rank{rank}.safetensors")
        # both ranks finish their collectives before either tears the group down: without this
        # barrier a rank aborted now and then ("terminate called without an active exception")
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("norm", ["layer", "batch"])
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda:0",  # both ranks on one GPU (gloo; NCCL wants one GPU per rank)
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ),
    ],
)
def test_two_process_ddp_keeps_ranks_in_sync(tmp_path, device, norm):
    store, out = str(tmp_path / "store"), str(tmp_path)
    _spawn(
        _worker, (2, store, out, device, norm), [Path(out, f"rank{r}.safetensors") for r in (0, 1)]
    )
    a = load_file(str(tmp_path / "rank0.safetensors"))
    b = load_file(str(tmp_path / "rank1.safetensors"))
    for key in set(a) - {"next_noise"}:  # the ranks' own noise streams differ
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    with seeded(0):
        lik = likelihoods.build(LikelihoodConfig("gaussian"), (8,))
        init = build_model(
            lik, 0, ModelConfig(n_latent=2, network=NetworkConfig(hidden=(16,), dropout=0.0))
        ).state_dict()
    assert not torch.equal(init["encoder.loc.weight"], a["encoder.loc.weight"])


def test_ranks_seeded_alike_draw_their_own_noise(tmp_path):
    """torchrun starts every rank with the same --seed: fit_model gives each its own noise
    stream (the ranks' draws at one batch position were identical), the weights stay in sync."""
    store, out = str(tmp_path / "store"), str(tmp_path)
    paths = [Path(out, f"rank{r}.safetensors") for r in (0, 1)]
    _spawn(_worker, (2, store, out, "cpu", "layer", 7), paths)
    a, b = (load_file(str(p)) for p in paths)
    torch.testing.assert_close(a["encoder.loc.weight"], b["encoder.loc.weight"], rtol=0, atol=1e-6)
    assert not torch.equal(a["next_noise"], b["next_noise"])


def test_epoch_batches_shard_records_across_ranks():
    gen = [torch.Generator().manual_seed(5) for _ in range(3)]
    shards = [torch.cat(list(epoch_batches(10, 2, gen[r], rank=r, world_size=3))) for r in range(3)]
    assert all(len(s) == 4 for s in shards)  # 10 records padded to 12, 4 per rank
    assert set(torch.cat(shards).tolist()) == set(range(10))


@pytest.mark.parametrize(("n", "world"), [(2, 5), (3, 8), (1, 3)])
def test_fewer_records_than_ranks_still_give_every_rank_its_batches(n, world):
    """Padding wraps around as often as it takes: a rank left without a batch would wait for
    ever in the others' per-batch collectives (torchrun --nproc_per_node=5 on 2 records hung)."""
    shards = [list(epoch_batches(n, 4, None, rank=r, world_size=world)) for r in range(world)]
    assert [len(s) for s in shards] == [1] * world
    assert [len(s[0]) for s in shards] == [1] * world
    assert set(torch.cat([s[0] for s in shards]).tolist()) == set(range(n))


def test_a_rank_without_held_out_records_scores_none_and_still_pools(monkeypatch):
    """One held-out record and two ranks (11 records under torchrun): rank 1 has none to score;
    it crashed on an empty batch ("cannot reshape tensor of 0 elements"), and rank 0 with it."""
    pooled = []
    monkeypatch.setattr(DistContext, "sum", lambda self, v: pooled.append(v) or v)
    lik = likelihoods.build(LikelihoodConfig("gaussian"), (8,))
    with seeded(0):
        model = build_model(lik, 0, ModelConfig(n_latent=2))
    val = InMemorySource(torch.randn(1, 8))
    row = evaluate(model, val, ObjectiveConfig(), 0, 32, DistContext(rank=1, world_size=2))
    assert len(pooled) == 1 and not pooled[0].any()  # rank 1 adds nothing to the pooled sums
    assert row["loss"] == 0.0 and "classification" not in row


@pytest.mark.parametrize("weighted", [False, True])
def test_an_epochs_statistics_count_each_training_record_once_however_the_ranks_pad(
    monkeypatch, weighted
):
    """5 records on 2 ranks: rank 1's share repeats one record (padding, as DistributedSampler
    does), which the epoch's pooled means (the history) counted twice: over 6 records, not 5."""
    pooled = []
    monkeypatch.setattr(DistContext, "sum", lambda self, v: pooled.append(v) or v)
    monkeypatch.setattr(DistContext, "all_finite", lambda self, v: True)
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    w = torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0]) if weighted else None
    lik = likelihoods.build(LikelihoodConfig("gaussian"), (8,))
    with seeded(0):
        model = build_model(lik, 0, ModelConfig(n_latent=2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    config = TrainConfig(epochs=1, batch_size=4)
    for rank in (0, 1):
        gen = torch.Generator().manual_seed(0)
        with seeded(rank):
            _train_epoch(
                model, InMemorySource(x, w=w), optimizer, gen, ObjectiveConfig(), config, 0,
                DistContext(rank=rank, world_size=2), torch.device("cpu"),
            )  # fmt: skip
    total = float(pooled[0][-1] + pooled[1][-1])
    assert total == (float(w.sum()) if weighted else 5.0)


def _fit_worker(rank: int, world: int, store: str, out: str, mode: str) -> None:
    """Modes: ``full`` (6 epochs), ``cut`` (3 epochs, checkpoints), ``resume`` (on to 6),
    ``inf`` (a record whose loss is infinite in rank 1's shard of the first epoch)."""
    from biovae.errors import TrainingError

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(256, 8, generator=gen) @ torch.randn(8, 8, generator=gen)
        if mode == "inf":
            x[1] = 1e30  # record 1 sits in rank 1's shard
        lik = likelihoods.build(LikelihoodConfig("gaussian"), (8,))
        cfg = ModelConfig(n_latent=2, network=NetworkConfig(hidden=(16,), dropout=0.1))
        with seeded(0):
            model = build_model(lik, 0, cfg)
        epochs = 3 if mode == "cut" else 6
        train = TrainConfig(epochs=epochs, batch_size=32, patience=0, checkpoint_every=3)
        result = "ok"
        with seeded(100 + rank):  # different noise per rank: each rank's RNG state matters
            try:
                fit_model(
                    model, InMemorySource(x[:245]), InMemorySource(x[245:]),  # 11 val records
                    ObjectiveConfig(), train, progress=False,
                    checkpoint_dir=None if mode == "full" else Path(out) / "ckpt",
                    resume=mode == "resume",
                )  # fmt: skip
            except TrainingError as exc:
                result = str(exc)
        Path(out, f"{mode}{rank}.txt").write_text(result)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, f"{out}/{mode}{rank}.safetensors")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_a_resumed_ddp_fit_is_the_uninterrupted_one_and_errors_stop_every_rank(tmp_path):
    def spawn(mode):
        store = str(tmp_path / f"store-{mode}")
        done = [tmp_path / f"{mode}{r}.safetensors" for r in (0, 1)]
        _spawn(_fit_worker, (2, store, str(tmp_path), mode), done)

    for mode in ("full", "cut", "resume"):
        spawn(mode)
    full = load_file(str(tmp_path / "full0.safetensors"))
    resumed = load_file(str(tmp_path / "resume0.safetensors"))
    for key in full:  # each rank's own RNG state came back from the checkpoint
        assert torch.equal(full[key], resumed[key]), key
    spawn("inf")  # rank 1 meets the bad record; both ranks stop with the same error
    messages = [(tmp_path / f"inf{r}.txt").read_text() for r in range(2)]
    assert all("epoch 1, batch 1" in m for m in messages)
    assert "became nan at" in messages[1] and "another process's batch" in messages[0]


def _disk_full() -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "model/weights.safetensors")


def _launched_worker(rank: int, world: int, port: int, out: str, mode: str) -> None:
    """A ``torchrun`` worker's life under ``launched``, where one rank fails alone: ``write``:
    rank 0's write (``on_main``) fails; ``alone``: rank 1 fails outside any collective while
    rank 0 waits in one."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world))
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    try:
        with launched("cpu") as ctx:
            if mode == "write":
                ctx.on_main(_disk_full)
            elif rank == 1:
                raise OSError(errno.EIO, "Input/output error", "its shard")
            else:
                dist.all_reduce(torch.ones(1))  # the collective rank 1 never reaches
        result = "finished"
    except (PeerStoppedError, OSError) as exc:
        result = f"{type(exc).__name__}: {exc}"
    Path(out, f"{mode}{rank}.txt").write_text(result)


@pytest.mark.parametrize("mode", ["write", "alone"])
def test_a_rank_that_fails_alone_stops_the_others_with_one_line(tmp_path, mode):
    with socket.socket() as s:  # a free port for the group's store
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = [tmp_path / f"{mode}{r}.txt" for r in (0, 1)]
    _spawn(_launched_worker, (2, port, str(tmp_path), mode), done)
    failed, stopped = (p.read_text() for p in (done if mode == "write" else done[::-1]))
    assert failed.startswith("OSError: [Errno")  # its own error, untouched
    waited = 1 if mode == "write" else 0
    assert stopped.startswith("PeerStoppedError: "), stopped
    assert f"rank {waited} stopped with it" in stopped
    assert ("rank 0 failed" if mode == "write" else "another process stopped") in stopped


@pytest.fixture
def one_gpu(monkeypatch):
    """A machine with one CUDA GPU, as far as the checks before NCCL can tell."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: None)
    monkeypatch.setattr(dist, "init_process_group", _no_group)
    for key in ("LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    _torchrun_env(monkeypatch)
    return monkeypatch


def _torchrun_env(monkeypatch, **env: str) -> None:
    """What torchrun tells rank 0 of two processes, with ``env`` changed (None: unset)."""
    given = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    for key, value in {**given, **env}.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    ("env", "msg"),
    [
        ({"RANK": None}, "WORLD_SIZE is 2 but RANK is not set"),
        ({"MASTER_ADDR": None}, "WORLD_SIZE is 2 but MASTER_ADDR is not set"),
        ({"MASTER_PORT": ""}, "WORLD_SIZE is 2 but MASTER_PORT is not set"),
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a number of processes"),
        ({"RANK": "2"}, "RANK='2' is not a rank of WORLD_SIZE 2 (0 to 1)"),
    ],
)
def test_a_torchrun_environment_that_cannot_be_joined_is_one_line(monkeypatch, env, msg):
    """A WORLD_SIZE without the rest of torchrun's variables (one a job scheduler exported for
    another program, say) was torch's rendezvous traceback ("environment variable RANK
    expected, but not set"); it is a one-line error before any process group is joined."""
    from biovae.errors import ConfigError

    _torchrun_env(monkeypatch, **env)
    monkeypatch.setattr(dist, "init_process_group", _no_group)
    with pytest.raises(ConfigError, match=re.escape(msg)) as info, launched("cpu"):
        pass
    assert "unset WORLD_SIZE to train in one process" in str(info.value)


def _no_group(*args, **kwargs):
    raise AssertionError("joined the process group")


@pytest.mark.parametrize(
    ("env", "device", "msg"),
    [
        ({"LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": "1", "RANK": "1"}, "cuda", "--nproc_per_node=1"),
        ({"LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": "0", "RANK": "0"}, "cuda", "--nproc_per_node=1"),
        ({"LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": "0", "RANK": "0"}, "cuda:0", "share one GPU"),
        ({"LOCAL_WORLD_SIZE": "1", "LOCAL_RANK": "0", "RANK": "1"}, "cuda:1", "cuda:0 to cuda:0"),
    ],
)
def test_nccl_processes_without_a_gpu_each_are_refused_before_joining(one_gpu, env, device, msg):
    from biovae.errors import ConfigError
    from biovae.training.distributed import launched

    for key, value in env.items():
        one_gpu.setenv(key, value)
    with pytest.raises(ConfigError, match=msg), launched(device):
        pass


def test_one_process_per_gpu_goes_on_to_join_the_group(one_gpu):
    from biovae.training.distributed import launched

    one_gpu.setenv("LOCAL_WORLD_SIZE", "1")
    one_gpu.setenv("LOCAL_RANK", "0")
    with pytest.raises(AssertionError, match="joined the process group"), launched("cuda"):
        pass


def test_a_gpu_this_machine_lacks_is_a_config_error(one_gpu):
    from biovae.errors import ConfigError
    from biovae.training.distributed import DistContext

    assert DistContext().device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match="has 1 CUDA GPU"):
        DistContext().device("cuda:3")
