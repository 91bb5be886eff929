"""FusedAdamW: the same weights as torch's fused AdamW, bit for bit, with less per-step overhead."""

from __future__ import annotations

import copy

import pytest
import torch

from ragviz.training.optim import FusedAdamW, make_adamw


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


@pytest.mark.parametrize("skip_every", [0, 3])
def test_fused_adamw_gives_torchs_weights_exactly(skip_every: int) -> None:
    """Same data, same steps; every ``skip_every``-th step the last layer gets no gradient (skipped)."""
    ours_model = _model()
    torch_model = copy.deepcopy(ours_model)
    ours = FusedAdamW(list(ours_model.parameters()), lr=0.05, weight_decay=0.01)
    theirs = torch.optim.AdamW(torch_model.parameters(), lr=0.05, weight_decay=0.01, fused=True)
    gen = torch.Generator().manual_seed(1)
    for step in range(12):
        x, y = torch.randn(16, 3, generator=gen), torch.randn(16, 2, generator=gen)
        for model, opt in ((ours_model, ours), (torch_model, theirs)):
            opt.zero_grad(set_to_none=True)
            ((model(x) - y) ** 2).mean().backward()
            if skip_every and step % skip_every == 0:
                model[2].weight.grad = None
            opt.step()
    for a, b in zip(ours_model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert ours.count[0] == 12 and ours.count[2] == (12 - 4 if skip_every else 12)
    assert not torch.equal(ours_model[0].weight, _model()[0].weight)  # it did train


def test_make_adamw_picks_the_fused_one_on_the_cpu_and_falls_back_elsewhere() -> None:
    params = list(_model().parameters())
    assert isinstance(make_adamw(params, 0.01, 0.0, torch.device("cpu")), FusedAdamW)
    half = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    assert isinstance(make_adamw(half, 0.01, 0.0, torch.device("cpu")), torch.optim.AdamW)


def test_torch_still_has_the_private_kernel_fused_adamw_calls() -> None:
    """ragviz.training.optim calls a private torch API (see its docstring); an upgrade that changes it fails here."""
    assert hasattr(torch, "_fused_adamw_"), (
        "torch no longer has torch._fused_adamw_: make ragviz.training.optim.make_adamw return "
        "torch.optim.AdamW(fused=True) and delete FusedAdamW (it was ~15% faster on the ring sample)")
    param = torch.nn.Parameter(torch.ones(3))
    param.grad = torch.ones(3)
    try:
        FusedAdamW([param], lr=0.1, weight_decay=0.0).step()
    except (RuntimeError, TypeError) as error:  # the kernel's arguments changed
        pytest.fail(f"torch._fused_adamw_ no longer takes the arguments ragviz.training.optim passes: {error}")
    assert torch.allclose(param.detach(), torch.full((3,), 0.9))
