"""Rate control (nfcodec/ratecontrol.py): targets, and landing a coded stage on its bytes."""
from __future__ import annotations

import numpy as np
import pytest

from nfcodec.errors import UsageError
from nfcodec.ratecontrol import (
    Goal, choose_weight_steps, coded_bytes, deadzone, goal_from_options, land_table, min_step, parse_size, stage_prefix_bytes,
    stage_target,
)


@pytest.mark.parametrize("text, size", [("20KB", 20000), ("1.5MB", 1_500_000), ("64KiB", 65536), ("30000", 30000), (" 2 kb ", 2000)])
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["20QB", "KB", "-5KB", "10"])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_one_goal_at_a_time_and_sane_values() -> None:
    with pytest.raises(UsageError, match="choose one"):
        goal_from_options(0.5, "20KB", None, None, 1000, 1)
    with pytest.raises(UsageError, match="stages"):
        goal_from_options(None, None, None, "0.1,0.2", 1000, 3)
    with pytest.raises(UsageError, match="increasing"):
        goal_from_options(None, None, None, "0.2,0.1", 1000, 2)
    with pytest.raises(UsageError, match="dB"):
        goal_from_options(None, None, 200.0, None, 1000, 1)
    assert goal_from_options(None, None, None, None, 1000, 1) is None
    assert goal_from_options(0.5, None, None, None, 80_000, 1) == Goal(file_bytes=5000)
    assert goal_from_options(None, None, None, "0.1,0.4", 80_000, 2) == Goal(stage_bytes=(1000, 4000))


def test_a_size_splits_so_each_stage_doubles_the_file() -> None:
    assert stage_prefix_bytes(Goal(file_bytes=8000), 4) == [1000, 2000, 4000, 8000]
    assert stage_prefix_bytes(Goal(stage_bytes=(10, 20)), 2) == [10, 20]
    assert stage_prefix_bytes(Goal(psnr=30.0), 3) is None


def test_a_stage_gets_what_earlier_ones_left() -> None:
    assert stage_target([1000, 4000], None, 2, spent=1500).bits == 8 * 2500
    assert stage_target(None, 31.0, 1, spent=0).psnr == 31.0
    with pytest.raises(UsageError, match="ask for more"):
        stage_target([500, 4000], None, 1, spent=600)


def _tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"table": rng.laplace(0, 0.05, (20000, 1)).astype(np.float32), "mlp0.w": rng.normal(0, 0.3, (16, 8)).astype(np.float32)}


@pytest.mark.parametrize("budget", [2500, 6000, 14000])
def test_land_table_lands_within_the_tolerance(budget: int) -> None:
    tensors = _tensors()
    steps, coded = land_table(tensors, {"table": 0.05, "mlp0.w": 2.0**-6}, budget, None)
    size, _ = coded_bytes(coded, steps)
    assert 0.95 * budget <= size <= budget


def test_land_table_meets_a_quality_with_the_largest_step() -> None:
    tensors = _tensors()
    table = tensors["table"]

    def meets(decoded: dict[str, np.ndarray]) -> bool:
        return float(np.mean((decoded["table"] - table) ** 2)) <= 1e-5

    steps, _ = land_table(tensors, {"table": 0.05, "mlp0.w": 2.0**-6}, None, meets)
    assert meets(coded_bytes(tensors, steps)[1])
    coarser = {**steps, "table": steps["table"] * 1.2}
    assert not meets(coded_bytes(tensors, coarser)[1])


def test_deadzone_moves_values_towards_zero_only() -> None:
    values = np.array([-0.3, -0.05, 0.0, 0.04, 0.26], np.float32)
    out = deadzone(values, 0.5, 0.1)
    assert np.allclose(out, [-0.25, 0.0, 0.0, 0.0, 0.21])


def test_weight_steps_trade_distortion_for_bits() -> None:
    tensors = _tensors(1)
    w = tensors["mlp0.w"]

    def distortion(decoded: dict[str, np.ndarray]) -> float:
        return float(np.mean((decoded["mlp0.w"] - w) ** 2))

    cheap = choose_weight_steps(tensors, 0.05, lam=10.0, points=1000, evaluate=distortion)["mlp0.w"]
    fine = choose_weight_steps(tensors, 0.05, lam=1e-6, points=1000, evaluate=distortion)["mlp0.w"]
    assert cheap > fine
    assert min_step(w) <= fine
