"""AdamW for small models: torch's fused AdamW kernel, without ``torch.optim``'s per-step bookkeeping.

A ragviz step on a sample graph takes about 3 ms, and ``torch.optim.AdamW(fused=True).step()``
spent 0.2 ms of it in Python (grouping tensors by device, one step counter tensor per
parameter and a foreach add over them) before its one kernel call. :class:`FusedAdamW` calls
the same kernel with the same arguments, so the weights it produces are bit-identical, in
about a seventh of the time. Where the kernel is missing (another torch, another device)
:func:`make_adamw` falls back to ``torch.optim.AdamW``.

``torch._fused_adamw_`` is a private torch API. ragviz's other private uses are ``torch._foreach_copy_``
(the divergence snapshot in :mod:`ragviz.training.train` and :mod:`ragviz.training.ensemble`) and
networkx's internals in :mod:`ragviz.graph.nx_fill`. The kernel is kept
because training the ring sample for 1000 steps on one CPU thread takes 0.96 s with it, 1.11 s
with ``torch.optim.AdamW(fused=True)`` (+15%) and 1.32 s with ``foreach=True`` (+38%);
``tests/test_optim.py`` fails when an upgrade removes or changes the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8


class FusedAdamW:
    """AdamW over ``params`` (all on one device, float): ``zero_grad()`` then ``step()``, like torch's.

    Parameters without a gradient are skipped and keep their own step count, as in torch.
    Parameters with equal step counts share one step tensor, so a step is one kernel call.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], lr: float, weight_decay: float) -> None:
        self.params = list(params)
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.count = [0] * len(self.params)
        self.exp_avg: list[torch.Tensor | None] = [None] * len(self.params)
        self.exp_avg_sq: list[torch.Tensor | None] = [None] * len(self.params)
        self._step_tensors: dict[int, torch.Tensor] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        active = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not active:
            return
        for i in active:
            self.count[i] += 1
            if self.exp_avg[i] is None:
                self.exp_avg[i] = torch.zeros_like(self.params[i], memory_format=torch.preserve_format)
                self.exp_avg_sq[i] = torch.zeros_like(self.params[i], memory_format=torch.preserve_format)
        torch._fused_adamw_(
            [self.params[i] for i in active], [self.params[i].grad for i in active],
            [self.exp_avg[i] for i in active], [self.exp_avg_sq[i] for i in active], [],
            [self._step_tensor(self.count[i]) for i in active],
            lr=self.lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=self.weight_decay, eps=EPS,
            amsgrad=False, maximize=False,
        )

    def _step_tensor(self, count: int) -> torch.Tensor:
        """The step count as the float32 scalar tensor the kernel reads (one per distinct count)."""
        tensor = self._step_tensors.get(count)
        if tensor is None:
            if len(self._step_tensors) > 8:
                self._step_tensors.clear()
            device = self.params[0].device
            tensor = torch.full((), float(count), dtype=torch.float32, device=device)
            self._step_tensors[count] = tensor
        return tensor


def make_adamw(params: Sequence[torch.nn.Parameter], lr: float, weight_decay: float, device: torch.device) -> Any:
    """The fastest AdamW available for ``params`` on ``device``: :class:`FusedAdamW`, then torch's."""
    params = list(params)
    floats = all(p.is_floating_point() and p.dtype == torch.float32 for p in params)
    if device.type in ("cpu", "cuda") and floats and hasattr(torch, "_fused_adamw_") and params:
        optimizer = FusedAdamW(params, lr, weight_decay)
        try:  # probe the kernel once on copies: some builds lack it for this device
            probe = [p.detach().clone() for p in params[:1]]
            torch._fused_adamw_(probe, [torch.zeros_like(probe[0])], [torch.zeros_like(probe[0])],
                                [torch.zeros_like(probe[0])], [], [optimizer._step_tensor(1)], lr=optimizer.lr,
                                beta1=BETAS[0], beta2=BETAS[1], weight_decay=optimizer.weight_decay, eps=EPS,
                                amsgrad=False, maximize=False)
            return optimizer
        except (RuntimeError, TypeError, NotImplementedError):
            pass
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
