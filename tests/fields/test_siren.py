from __future__ import annotations

import numpy as np
import pytest
import torch

from nfcodec.fields.siren import siren_field, dense_params, matched_widths, progressive_params
from nfcodec.train import InMemorySampler, TrainConfig, fit_stage

PAPER_WIDTHS = (30, 69, 110, 151)


def test_parameter_counts_match_the_paper():
    assert progressive_params(PAPER_WIDTHS) == [3903, 15057, 33507, 58681]
    assert [dense_params(w) for w in (30, 60, 90, 120)] == [3903, 15003, 33303, 58803]
    # the other rows of the paper's table exercise in_dim / out_dim / depth
    assert progressive_params((296, 479, 619), in_dim=3, hidden_layers=5) == [441635, 882116, 1317096]
    assert progressive_params((148, 240, 309), in_dim=3, out_dim=1, hidden_layers=3) == [66897, 133873, 198388]
    assert progressive_params((59, 96, 126, 149)) == [14517, 29095, 44515, 58453]


def test_matched_widths_reproduce_the_paper_rule():
    assert matched_widths(4) == PAPER_WIDTHS


def test_stage_tensors_hold_exactly_the_new_parameters():
    field = siren_field(PAPER_WIDTHS)
    g = torch.Generator().manual_seed(0)
    counts = []
    for stage in range(1, 5):
        field.grow(stage, g)
        counts.append(sum(v.size for v in field.stage_tensors(stage).values()))
    assert np.cumsum(counts).tolist() == [3903, 15057, 33507, 58681]


def _coords_values(n: int = 12):
    g = torch.Generator().manual_seed(1)
    coords = torch.rand(n * n, 2, generator=g)
    values = torch.sin(7 * coords[:, :1]) * torch.cos(5 * coords[:, 1:]) * torch.ones(1, 3) * 0.4 + 0.5
    return coords, values


def test_earlier_widths_stay_bit_identical_while_later_stages_train():
    widths = (6, 11, 17, 24)
    field = siren_field(widths)
    coords, values = _coords_values()
    g = torch.Generator().manual_seed(0)
    config = TrainConfig(steps=15, lr=1e-3)
    snapshots: dict[int, torch.Tensor] = {}
    for stage in range(1, len(widths) + 1):
        field.grow(stage, g)
        fit_stage(field, stage, InMemorySampler(coords, values, config.batch_size), config, g)
        with torch.no_grad():
            snapshots[stage] = field.forward(coords, stage).clone()
            for earlier in range(1, stage):
                assert torch.equal(field.forward(coords, earlier), snapshots[earlier]), (stage, earlier)
    # and training did something at every stage
    for stage in range(2, len(widths) + 1):
        assert not torch.equal(snapshots[stage], snapshots[stage - 1])


def test_new_to_old_blocks_stay_zero():
    widths = (5, 9)
    field = siren_field(widths)
    coords, values = _coords_values(8)
    g = torch.Generator().manual_seed(0)
    for stage in (1, 2):
        field.grow(stage, g)
        fit_stage(field, stage, InMemorySampler(coords, values, 1 << 15), TrainConfig(steps=5, lr=1e-2), g)
    for weight in field.mlp.weights[1:]:
        assert torch.count_nonzero(weight[:5, 5:9]) == 0


def test_load_stage_tensors_round_trips_and_rejects_wrong_shapes():
    field = siren_field((4, 8))
    g = torch.Generator().manual_seed(3)
    field.grow(1, g)
    field.grow(2, g)
    other = siren_field((4, 8))
    for stage in (1, 2):
        other.load_stage_tensors(stage, field.stage_tensors(stage))
    coords, _ = _coords_values(4)
    assert torch.equal(other.forward(coords, 2), field.forward(coords, 2))
    bad = field.stage_tensors(2)
    bad["first.w"] = bad["first.w"][:1]
    from nfcodec.errors import InvalidPayload

    with pytest.raises(InvalidPayload):
        other.load_stage_tensors(2, bad)


def test_widths_must_increase():
    with pytest.raises(ValueError):
        siren_field((10, 10))
