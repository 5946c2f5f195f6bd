"""The Adam factory: fused where torch has it, the plain implementation otherwise, same maths."""

from __future__ import annotations

import torch

from biovae.training import optim


def _fit(opt_factory) -> torch.Tensor:
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = opt_factory([w])
    for _ in range(50):
        opt.zero_grad()
        ((w - 3.0) ** 2).sum().backward()
        opt.step()
    return w.detach()


def test_adam_matches_the_reference_implementation():
    fast = _fit(lambda p: optim.adam(p, lr=0.1))
    reference = _fit(lambda p: torch.optim.Adam(p, lr=0.1, foreach=False))
    assert torch.allclose(fast, reference, rtol=1e-12, atol=1e-12)


def test_adam_falls_back_when_fused_is_unsupported(monkeypatch):
    real = torch.optim.Adam

    def no_fused(params, **kwargs):
        if kwargs.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be floating point CUDA")
        return real(params, **kwargs)

    monkeypatch.setattr(optim.torch.optim, "Adam", no_fused)
    opt = optim.adam([torch.nn.Parameter(torch.zeros(2))], lr=0.01, weight_decay=0.5)
    assert isinstance(opt, real)
    assert not opt.defaults.get("fused") and opt.defaults["weight_decay"] == 0.5
