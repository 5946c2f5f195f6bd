"""The trainers' Adam against ``torch.optim.Adam``: the same trajectory (fused kernel and foreach
formulas), the same state layout both ways, learning-rate changes, and no compiler import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from biovae.training import optim

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _cpu_fused() -> bool:
    """Whether this torch has a fused Adam for the CPU (from 2.4; torch 2.2 has CUDA's only)."""
    try:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)], fused=True)
    except RuntimeError:
        return False
    return True


CPU_FUSED = _cpu_fused()
NEEDS_CPU_FUSED = pytest.mark.skipif(
    not CPU_FUSED, reason=f"torch {torch.__version__} has no fused Adam for the CPU"
)


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def _groups(net: torch.nn.Module) -> list[dict]:
    """Two groups with different weight decay, as the family trainer builds them."""
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    return [{"params": weights, "weight_decay": 0.3}, {"params": biases}]


def _train(net, opt, steps: int, start: int = 0, device: str = "cpu") -> None:
    for i in range(start, start + steps):
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(16, 6, generator=g), torch.randn(16, 3, generator=g)
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        ((net(x) - y) ** 2).mean().backward()
        opt.step()


def _same(a: torch.nn.Module, b: torch.nn.Module, tol: float = 0.0) -> bool:
    return all(
        torch.allclose(p, q, rtol=tol, atol=tol) for p, q in zip(a.parameters(), b.parameters())
    )


@NEEDS_CPU_FUSED
def test_fused_path_is_torch_fused_adam_bit_for_bit():
    ours, ref = _net(), _net()
    _train(ours, optim.adam(_groups(ours), lr=0.01), 30)
    _train(ref, torch.optim.Adam(_groups(ref), lr=0.01, fused=True), 30)
    assert _same(ours, ref)


@CUDA
def test_on_cuda_the_fused_path_is_torch_fused_adam_bit_for_bit():
    ours, ref = _net().cuda(), _net().cuda()
    opt = optim.adam(_groups(ours), lr=0.01)
    _train(ours, opt, 30, device="cuda")
    _train(ref, torch.optim.Adam(_groups(ref), lr=0.01, fused=True), 30, device="cuda")
    assert opt.fused and _same(ours, ref)
    assert {s["step"].device.type for s in opt.state.values()} == {"cuda"}


@CUDA
def test_a_cuda_state_dict_resumes_on_the_cpu():
    straight = _net()
    _train(straight, optim.adam(_groups(straight), lr=0.01), 20)
    first = _net().cuda()
    opt = optim.adam(_groups(first), lr=0.01)
    _train(first, opt, 10, device="cuda")
    resumed = _net(seed=1)
    resumed.load_state_dict({k: v.cpu() for k, v in first.state_dict().items()})
    again = optim.adam(_groups(resumed), lr=0.5)
    again.load_state_dict(opt.state_dict())
    _train(resumed, again, 10, start=10)
    assert _same(resumed, straight, tol=1e-5)  # CUDA and CPU kernels round differently


def test_foreach_formulas_match_torch_adam():
    ours, ref = _net(), _net()
    opt = optim.adam(_groups(ours), lr=0.01)
    opt.fused = False
    _train(ours, opt, 30)
    _train(ref, torch.optim.Adam(_groups(ref), lr=0.01, foreach=False), 30)
    assert _same(ours, ref, tol=1e-6)


def test_a_rate_beyond_float32_makes_the_formulas_non_finite_not_an_error():
    net = _net()
    opt = optim.adam(_groups(net), lr=1e39)  # the trainer then reports non-finite weights
    opt.fused = False
    _train(net, opt, 1)
    assert not all(torch.isfinite(p).all() for p in net.parameters())


def test_missing_fused_kernel_falls_back_to_the_formulas(monkeypatch):
    def missing(*args, **kwargs):
        raise NotImplementedError("no fused Adam for this device")

    monkeypatch.setattr(optim.torch, "_fused_adam_", missing)
    ours, ref = _net(), _net()
    opt = optim.adam(_groups(ours), lr=0.01)
    _train(ours, opt, 10)
    _train(ref, torch.optim.Adam(_groups(ref), lr=0.01, foreach=False), 10)
    assert not opt.fused and _same(ours, ref, tol=1e-6)


@pytest.mark.parametrize("saved_by", ["biovae", "torch"])
def test_state_dict_resumes_the_same_trajectory(saved_by):
    straight = _net()
    _train(straight, optim.adam(_groups(straight), lr=0.01), 20)
    first = _net()
    opt = (
        optim.adam(_groups(first), lr=0.01)
        if saved_by == "biovae"
        else torch.optim.Adam(_groups(first), lr=0.01, fused=CPU_FUSED)
    )
    _train(first, opt, 10)
    state = opt.state_dict()
    resumed = _net(seed=1)
    resumed.load_state_dict(first.state_dict())
    again = optim.adam(_groups(resumed), lr=0.5)  # lr, betas, decay come from the state
    again.load_state_dict(state)
    _train(resumed, again, 10, start=10)
    # bit for bit where both run one kernel; torch's foreach rounds a little otherwise
    assert _same(resumed, straight, tol=0.0 if CPU_FUSED or saved_by == "biovae" else 1e-6)
    back = torch.optim.Adam(_groups(_net()), lr=0.01)
    back.load_state_dict(optim.adam(_groups(_net()), lr=0.01).state_dict())  # torch reads ours


def test_learning_rate_set_on_param_groups_is_used():
    a, b = _net(), _net()
    opt_a, opt_b = optim.adam(a.parameters(), lr=0.01), optim.adam(b.parameters(), lr=0.01)
    for group in opt_b.param_groups:
        group["lr"] = 0.0
    _train(a, opt_a, 3)
    _train(b, opt_b, 3)
    assert _same(b, _net()) and not _same(a, _net())


def test_mismatched_saved_groups_are_refused():
    net = _net()
    opt = optim.adam(_groups(net), lr=0.01)
    with pytest.raises(ValueError, match="other parameter groups"):
        opt.load_state_dict(optim.adam(net.parameters(), lr=0.01).state_dict())


def test_an_eager_fit_does_not_import_the_compiler_or_sympy():
    """Each costs an eager fit ≈ 0.5–1.6 s once per process (RESULTS.md, issue #4, run 13)."""
    code = (
        "import sys, numpy as np\n"
        "from biovae.estimator import VAE\n"
        "x = np.random.default_rng(0).poisson(3.0, (64, 20)).astype(float)\n"
        "VAE(likelihood='nb', n_latent=2, epochs=2).fit(x)  # too small to compile\n"
        "print('torch._dynamo' in sys.modules, 'sympy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
