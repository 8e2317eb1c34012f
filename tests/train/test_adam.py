"""nfcodec.train.Adam: torch.optim.Adam's bits, without torch.optim's start-up."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from nfcodec.train import Adam


def _params(seed: int) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=gen)) for shape in ((64, 32), (64,), (3, 5, 7))]


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.0, 0.99), 1e-15), ((0.5, 0.9), 1e-3)])
def test_every_step_gives_torchs_bits(betas, eps):
    ours, theirs = _params(1), _params(1)
    mine = Adam(ours, lr=0.01, betas=betas, eps=eps)
    reference = torch.optim.Adam(theirs, lr=0.01, betas=betas, eps=eps)
    gen = torch.Generator().manual_seed(2)
    for step in range(1, 41):
        grads = [torch.randn(p.shape, generator=gen) * 10.0 ** -(step % 5) for p in ours]
        if step % 7 == 0:
            grads[1] = torch.zeros_like(grads[1])  # a frozen entry's gradient, masked to zero
        for optimiser, params in ((mine, ours), (reference, theirs)):
            optimiser.zero_grad(set_to_none=False)
            for group in optimiser.param_groups:
                group["lr"] = 0.01 * (1 - step / 50)  # a schedule sets the rate per step
            for param, grad in zip(params, grads):
                param.grad = grad.clone() if param.grad is None else param.grad.add_(grad)
            optimiser.step()
        for a, b in zip(ours, theirs):
            assert torch.equal(a, b), step


def test_a_parameter_without_a_gradient_is_left_alone_and_zero_grad_keeps_or_drops_the_buffer():
    params = _params(3)
    before = params[2].detach().clone()
    optimiser = Adam(params, lr=0.1)
    for p in params[:2]:
        p.grad = torch.ones_like(p)
    optimiser.step()
    assert torch.equal(params[2], before) and params[2] not in optimiser.state
    assert not torch.equal(params[0], _params(3)[0])
    buffer = params[0].grad
    optimiser.zero_grad(set_to_none=False)
    assert params[0].grad is buffer and not buffer.any()
    optimiser.zero_grad()
    assert params[0].grad is None


def test_bad_settings_are_refused():
    for kwargs in ({"lr": -1.0}, {"lr": 0.1, "betas": (1.0, 0.9)}, {"lr": 0.1, "eps": -1.0}):
        with pytest.raises(ValueError):
            Adam(_params(4), **kwargs)


def test_an_encode_never_imports_torchs_compiler(small_png, tmp_path):
    """What the optimiser is for: `nfc encode` starts without torch._dynamo (1.2 s here)."""
    code = ("import sys; from nfcodec.cli import main\n"
            f"try:\n    main(['encode', {str(small_png)!r}, '--steps', '2', '--widths', '2,4', '-o', {str(tmp_path / 'x.nff')!r}, '-q'])\n"
            "except SystemExit as done:\n    assert not done.code, done.code\n"
            "print(sorted(m for m in sys.modules if m.startswith('torch._dynamo')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
