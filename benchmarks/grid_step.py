"""Forward + backward time of one training step of the grid field, ours vs a straightforward
`torch.compile`d PyTorch implementation, in the same run (ratios, not absolute seconds).

Workload (issue 3): 2^18 points, L=16 levels, F=2, T=2^16 and 2^19, MLP 2 hidden layers x 64,
ReLU, no biases, MSE loss against RGB targets. Points are the pixel centres of a 512x512 image
("pixels") and uniform random points ("random"). Also reports the memory-traffic floor of the
grid part of a step, from bytes that must move and this machine's measured copy bandwidth.

    python benchmarks/grid_step.py --repeats 5
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, run_metadata, setup_runtime, time_interleaved, write_json  # noqa: E402

from nfcodec.fields.grid import grid_field  # noqa: E402
from nfcodec.fields.grid_layout import PRIMES, GridConfig, grid_layout  # noqa: E402
from nfcodec.fields.base import Lattice  # noqa: E402
from nfcodec.train import autocast_dtype  # noqa: E402


class StraightforwardGrid(nn.Module):
    """The obvious PyTorch hash grid + MLP: per level, per corner, index math and `table[idx]`."""

    def __init__(self, config: GridConfig, width: int = 64, hidden_layers: int = 2, out_dim: int = 3):
        super().__init__()
        layout = grid_layout(config)
        self.config = config
        self.scales = [float(s) for s in layout.scales[:, 0]]  # one resolution on both axes
        self.res = [int(r) for r in layout.resolutions[:, 0]]
        self.sizes = [int(s) for s in layout.sizes]
        self.hashed = [bool(h) for h in layout.hashed]
        self.tables = nn.ParameterList([nn.Parameter(torch.empty(s, config.n_features).uniform_(-1e-4, 1e-4)) for s in self.sizes])
        dims = [config.n_levels * config.n_features] + [width] * hidden_layers
        self.layers = nn.ModuleList([nn.Linear(a, b, bias=False) for a, b in zip(dims, dims[1:])])
        self.out = nn.Linear(width, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for level, table in enumerate(self.tables):
            pos = x * self.scales[level] + 0.5
            grid = torch.floor(pos)
            frac = pos - grid
            grid = grid.long()
            acc = 0
            for corner in range(4):
                bx, by = corner & 1, corner >> 1 & 1
                vx, vy = grid[:, 0] + bx, grid[:, 1] + by
                if self.hashed[level]:
                    idx = (vx ^ ((vy * PRIMES[1]) & 0xFFFFFFFF)) % self.sizes[level]
                else:
                    idx = (vx + vy * self.res[level]) % self.sizes[level]
                wx = frac[:, 0] if bx else 1 - frac[:, 0]
                wy = frac[:, 1] if by else 1 - frac[:, 1]
                acc = acc + table[idx] * (wx * wy)[:, None]
            feats.append(acc)
        h = torch.cat(feats, dim=1)
        for layer in self.layers:
            h = torch.relu(layer(h))
        return self.out(h)


def copy_bandwidth() -> float:
    """Bytes per second of a large tensor copy (read + write counted), the machine's stream rate."""
    src = torch.empty(64 << 20 >> 2).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(_timed(lambda: dst.copy_(src)) for _ in range(5))
    return 2 * src.numel() * 4 / best


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def grid_floor_bytes(n: int, layout: Any) -> int:
    """Bytes a grid forward + backward must move at least: read the points twice, write the
    features and read their gradient, and read/write the table and its gradient once."""
    c = layout.config
    feat = n * c.n_levels * c.n_features * 4
    table = layout.n_params * 4
    return 2 * n * c.in_dim * 4 + 2 * feat + 3 * table


def bench_one(points: torch.Tensor, lattice: Lattice | None, log2_t: int, repeats: int, compile_baseline: bool) -> dict[str, Any]:
    config = GridConfig(2, 16, 2, log2_t, 16, GridConfig.scale_for(16, 16, 512))
    target = torch.rand(points.shape[0], 3)
    ours = grid_field((16,), (64,), config, out_dim=3, hidden_layers=2)
    ours.grow(1, torch.Generator().manual_seed(0))

    def our_step() -> None:
        ours.zero_grad(set_to_none=True)
        loss = torch.mean((ours(points, 1, lattice) - target) ** 2)
        loss.backward()

    amp = autocast_dtype(ours, points.device, "auto")

    def our_production_step() -> None:
        # what `nfc encode` runs: bf16 autocast for the MLP where the CPU has native bf16
        ours.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            out = ours(points, 1, lattice)
        loss = torch.mean((out.float() - target) ** 2)
        loss.backward()

    grid_only = ours.encoding.grid

    def our_grid_step() -> None:
        grid_only.zero_grad(set_to_none=True)
        grid_only(points, 16, lattice=lattice).sum().backward()

    base = StraightforwardGrid(config)
    run = torch.compile(base) if compile_baseline else base

    def base_step() -> None:
        base.zero_grad(set_to_none=True)
        loss = torch.mean((run(points) - target) ** 2)
        loss.backward()

    timed = time_interleaved({"ours": our_step, "production": our_production_step, "grid": our_grid_step, "base": base_step}, repeats)
    (ours_s, ours_warm), (prod_s, _), (grid_s, _), (base_s, base_warm) = (timed[k] for k in ("ours", "production", "grid", "base"))
    layout = ours.encoding.layout
    return {
        "log2_hashmap_size": log2_t,
        "hashed_levels": int(layout.hashed.sum()),
        "grid_params": layout.n_params,
        "ours_step_s": ours_s,
        "ours_production_step_s": prod_s,
        "production_autocast": str(amp) if amp else "none (fp32)",
        "production_speedup": base_s / prod_s,
        "ours_grid_only_s": grid_s,
        "baseline_step_s": base_s,
        "speedup": base_s / ours_s,
        "ours_warmup_s": ours_warm,
        "baseline_warmup_s": base_warm,
        "grid_floor_bytes": grid_floor_bytes(points.shape[0], layout),
    }


def mlp_breakdown(n: int, repeats: int) -> dict[str, float]:
    """The MLP alone (2 x 64, ReLU, no bias, 32 inputs): eager / compiled x fp32 / bf16 autocast."""
    g = torch.Generator().manual_seed(1)
    feats = torch.rand(n, 32, generator=g)
    target = torch.rand(n, 3, generator=g)
    weights = [nn.Parameter(torch.randn(64, 32, generator=g) * 0.2), nn.Parameter(torch.randn(64, 64, generator=g) * 0.1),
               nn.Parameter(torch.randn(3, 64, generator=g) * 0.1)]

    def mlp(h: torch.Tensor) -> torch.Tensor:
        h = torch.relu(nn.functional.linear(h, weights[0]))
        h = torch.relu(nn.functional.linear(h, weights[1]))
        return nn.functional.linear(h, weights[2])

    compiled = torch.compile(mlp)
    steps = {}
    for name, fn in (("eager", mlp), ("compiled", compiled)):
        for amp in (False, True):
            def step(fn: Callable[[torch.Tensor], torch.Tensor] = fn, amp: bool = amp) -> None:
                for w in weights:
                    w.grad = None
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                    y = fn(feats)
                torch.mean((y.float() - target) ** 2).backward()

            steps[f"{name}_{'bf16' if amp else 'fp32'}_s"] = step
    return {name: t for name, (t, _) in time_interleaved(steps, repeats).items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1 << 18, help="points per step (a square pixel grid)")
    ap.add_argument("--log2-sizes", type=int, nargs="+", default=[16, 19])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="baseline without torch.compile (for quick runs)")
    ap.add_argument("--out", type=Path, default=RESULTS / "grid_step.json")
    args = ap.parse_args(argv)
    setup_runtime()
    argv = list(argv if argv is not None else sys.argv[1:])
    side = int(round(args.points**0.5))
    pixels = Lattice.sample_centres((side, side))
    sets = {
        "pixels": (torch.from_numpy(pixels.coords()), pixels),  # declared a lattice, as images train
        "random": (torch.rand(side * side, 2, generator=torch.Generator().manual_seed(0)), None),
    }
    bandwidth = copy_bandwidth()
    rows, results = [], []
    for name, (points, lattice) in sets.items():
        for log2_t in args.log2_sizes:
            r = bench_one(points, lattice, log2_t, args.repeats, not args.no_compile)
            r["points"] = name
            r["grid_floor_s"] = r["grid_floor_bytes"] / bandwidth
            r["grid_vs_floor"] = r["ours_grid_only_s"] / r["grid_floor_s"]
            results.append(r)
            rows.append([
                name, f"2^{log2_t}", r["hashed_levels"], f"{r['baseline_step_s']:.3f}", f"{r['ours_step_s']:.3f}",
                f"**{r['speedup']:.1f}x**", f"{r['ours_production_step_s']:.3f}", f"**{r['production_speedup']:.1f}x**", f"{r['ours_grid_only_s']:.3f}", f"{r['grid_floor_s'] * 1e3:.1f} ms", f"{r['grid_vs_floor']:.1f}x",
            ])
            print(rows[-1], file=sys.stderr, flush=True)
    breakdown = mlp_breakdown(side * side, args.repeats)
    print("MLP alone:", {k: round(v, 3) for k, v in breakdown.items()}, file=sys.stderr)
    headers = ["points", "T", "hashed levels", "baseline s/step", "ours fp32 s/step", "speedup fp32", "ours bf16-MLP s/step", "speedup bf16", "ours grid-only s", "grid floor", "grid / floor"]
    table = markdown_table(headers, rows)
    print(table)
    out = {
        "benchmark": "grid_step",
        **run_metadata(argv),
        "settings": {"points": side * side, "levels": 16, "features": 2, "mlp": "2 x 64, ReLU, no bias", "baseline_compiled": not args.no_compile},
        "copy_bandwidth_gb_s": bandwidth / 1e9,
        "results": results,
        "mlp_only": breakdown,
        "table_markdown": table,
    }
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
