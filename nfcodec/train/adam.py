"""Adam (Kingma and Ba, 2015), without torch.optim.

torch.optim's first use imports torch._dynamo, a compiler the codec never calls: 1.2 to 1.6 s
of every encode's start-up on our CPUs (a 40 x 32 encode: 5.9 s with torch.optim.Adam, 3.5 s
with this, the same bytes). This is the arithmetic of torch.optim.Adam's single-tensor path (its CPU default),
operation for operation, so the same steps give the same bits (tests/train/test_adam.py); on
a GPU it keeps that path rather than torch's multi-tensor one, one result everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import torch


@dataclass
class _Moments:
    steps: int
    mean: torch.Tensor  # of the gradient ("exp_avg")
    square: torch.Tensor  # of its square ("exp_avg_sq")


class Adam:
    """The part of torch.optim.Optimizer the training loop uses: `param_groups` (one group,
    its "lr" set per step by a schedule), `zero_grad` and `step`."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not lr >= 0 or not eps >= 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam needs lr >= 0, eps >= 0 and betas in [0, 1): {lr}, {eps}, {betas}")
        self.param_groups: list[dict[str, Any]] = [{"params": list(params), "lr": lr, "betas": tuple(betas), "eps": eps}]
        self.state: dict[torch.Tensor, _Moments] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad, lr, beta1, beta2, eps)

    def _update(self, param: torch.Tensor, grad: torch.Tensor, lr: float, beta1: float, beta2: float, eps: float) -> None:
        moments = self.state.get(param)
        if moments is None:
            moments = self.state[param] = _Moments(0, torch.zeros_like(param), torch.zeros_like(param))
        moments.steps += 1
        moments.mean.lerp_(grad, 1 - beta1)
        moments.square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        steps = float(moments.steps)  # torch keeps the count as a float32 tensor and reads it back
        step_size = lr / (1 - beta1**steps)
        denominator = (moments.square.sqrt() / (1 - beta2**steps) ** 0.5).add_(eps)
        param.addcdiv_(moments.mean, denominator, value=-step_size)
