"""The optimiser every trainer uses: Adam, with ``torch.optim.Adam``'s update and state format.

Why not ``torch.optim.Adam`` itself: constructing any ``torch.optim`` optimiser imports torch's
compiler front end (``torch._dynamo``, through ``torch._disable_dynamo`` on its methods), about
1.3–1.7 s of every process on two CPU cores that an eager fit never uses — a quarter of a short
fit's wall time. This class keeps the same update (coupled L2 weight decay, bias-corrected
moments), the same ``param_groups`` (a trainer may change ``lr`` between steps) and the same
``state_dict`` layout (checkpoints load either way). Steps run torch's fused Adam kernel
(``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)`` runs) where the installed torch has
it for the parameters' device, else the same formulas as ``foreach`` operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from biovae.nn.memory import check_total

_GROUP_KEYS = ("lr", "betas", "eps", "weight_decay")


class Adam:
    """Adam over ``params`` (tensors, or dicts of ``params`` plus per-group settings)."""

    def __init__(
        self,
        params: Iterable,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        self.param_groups: list[dict[str, Any]] = [
            {**defaults, **g, "params": list(g["params"])} for g in groups
        ]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        self.fused = True  # until the installed torch says otherwise

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            buckets: dict[tuple, list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is not None:
                    buckets.setdefault((p.device, p.dtype), []).append(p)
            for ps in buckets.values():
                self._update(group, ps)

    def _update(self, group: dict[str, Any], ps: list[torch.Tensor]) -> None:
        for p in ps:
            if p not in self.state:
                self.state[p] = _fresh_state(p)
        grads = [p.grad for p in ps]
        m, v, steps = ([self.state[p][k] for p in ps] for k in ("exp_avg", "exp_avg_sq", "step"))
        torch._foreach_add_(steps, 1)
        b1, b2 = group["betas"]
        kw = dict(lr=group["lr"], eps=group["eps"], weight_decay=group["weight_decay"])
        if self.fused:
            try:
                torch._fused_adam_(
                    ps,
                    grads,
                    m,
                    v,
                    [],
                    steps,
                    beta1=b1,
                    beta2=b2,
                    amsgrad=False,
                    maximize=False,
                    **kw,
                )
                return
            except (AttributeError, NotImplementedError, RuntimeError):
                self.fused = False  # no fused kernel for this torch / device: the formulas
        _adam_foreach(ps, grads, m, v, steps, b1, b2, **kw)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam``'s layout: parameters numbered in group order."""
        index = {p: i for i, p in enumerate(self._params())}
        groups = [
            {**{k: g[k] for k in _GROUP_KEYS}, "params": [index[p] for p in g["params"]]}
            for g in self.param_groups
        ]
        state = {index[p]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (or ``torch.optim.Adam``'s) onto the same parameters."""
        saved = state_dict["param_groups"]
        if [len(g["params"]) for g in saved] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("the saved optimizer state has other parameter groups than this model")
        for group, old in zip(self.param_groups, saved):
            group.update({k: tuple(old[k]) if k == "betas" else old[k] for k in _GROUP_KEYS})
        params = self._params()
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {
                k: torch.as_tensor(s[k], dtype=torch.float32 if k == "step" else p.dtype)
                .to(p.device)
                .clone()
                for k in ("step", "exp_avg", "exp_avg_sq")
            }

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]


def _fresh_state(p: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "step": torch.zeros((), dtype=torch.float32, device=p.device),
        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
    }


def _adam_foreach(ps, grads, m, v, steps, b1, b2, lr, eps, weight_decay) -> None:
    """Adam's update as ``torch.optim.Adam(foreach=True)`` computes it (``steps`` already
    incremented)."""
    if weight_decay:
        grads = torch._foreach_add(grads, ps, alpha=weight_decay)
    torch._foreach_lerp_(m, grads, 1 - b1)
    torch._foreach_mul_(v, b2)
    torch._foreach_addcmul_(v, grads, grads, 1 - b2)
    for p, m_i, v_i, t in zip(ps, m, v, steps):
        n = float(t)
        denom = (v_i.sqrt() / (1 - b2**n) ** 0.5).add_(eps)
        value = -lr / (1 - b1**n)
        if abs(value) <= torch.finfo(p.dtype).max:
            p.addcdiv_(m_i, denom, value=value)
        else:  # a rate beyond the dtype (addcdiv_ refuses it): the weights become non-finite,
            p.add_(m_i.div(denom).mul_(value))  # which the trainer reports with its remedy


def adam(params: Iterable, lr: float, weight_decay: float = 0.0) -> Adam:
    """The trainers' Adam (:class:`Adam`): ``torch.optim.Adam``'s update without importing
    torch's compiler, fused where torch has the kernel. Refused with ``MemoryError`` where the
    training state of the weights held in main memory (weights, gradients, two moments) would
    exceed it (:func:`biovae.nn.memory.check_total`), before a step allocates it."""
    params = [{**g, "params": list(g["params"])} if isinstance(g, dict) else g for g in params]
    tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
    in_ram = sum(p.numel() for p in tensors if p.device.type == "cpu")
    check_total(in_ram, 4, "training this model (weights, gradients, Adam's two moments)")
    return Adam(params, lr=lr, weight_decay=weight_decay)
