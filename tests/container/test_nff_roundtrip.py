"""Round trips through the writer and the reader, as properties over random tensors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nfcodec import container
from nfcodec.container import limits
from nfcodec.container.tensors import quantise

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
finite32 = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


def assemble(stages: list[container.EncodedStage], compression: str) -> bytes:
    return container.assemble(
        modality="test",
        signal={},
        transform={"id": 0, "name": "identity"},
        field_info={"arch": "test", "config": {}},
        stages=stages,
        compression=compression,
    )


def round_trip(values: np.ndarray, dtype: str, compression: str) -> tuple[container.EncodedStage, np.ndarray]:
    enc = container.encode_stage(container.StageData(1, [("x", values, dtype)]), compression)
    nff = container.read(assemble([enc], compression), strict=True)
    out = nff.stage_tensors(1)["x"]
    assert out.dtype == np.float32 and out.shape == values.shape
    # The writer's promise (what the encoder snaps its model to) is what the reader decodes.
    np.testing.assert_array_equal(out, enc.decoded["x"])
    return enc, out


@SETTINGS
@given(values=hnp.arrays(np.float32, shapes, elements=finite32), compression=st.sampled_from(["zstd", "none"]))
def test_f32_is_exact(values, compression):
    _, out = round_trip(values, "f32", compression)
    np.testing.assert_array_equal(out, values)


@SETTINGS
@given(values=hnp.arrays(np.float16, shapes, elements=st.floats(width=16, allow_nan=False, allow_infinity=False)),
       compression=st.sampled_from(["zstd", "none"]))
def test_f16_is_exact_on_f16_values(values, compression):
    _, out = round_trip(values.astype(np.float32), "f16", compression)
    np.testing.assert_array_equal(out, values.astype(np.float32))


@SETTINGS
@given(values=hnp.arrays(np.float32, shapes, elements=finite32), dtype=st.sampled_from(["q8", "q16"]),
       compression=st.sampled_from(["zstd", "none"]))
def test_q_error_is_at_most_half_a_step(values, dtype, compression):
    enc, out = round_trip(values, dtype, compression)
    step = enc.specs[0].step
    assert limits.MIN_QUANT_STEP <= step <= limits.MAX_QUANT_STEP
    assert float(np.float32(step)) == step
    # step/2, plus binary32 rounding of the division and of the product.
    slack = 4 * float(np.finfo(np.float32).eps) * float(np.max(np.abs(values), initial=0.0))
    assert float(np.max(np.abs(out - values), initial=0.0)) <= step / 2 + slack


@SETTINGS
@given(
    stages=st.lists(
        st.lists(st.tuples(hnp.arrays(np.float32, shapes, elements=st.floats(-4, 4, width=32)), st.sampled_from(["f32", "f16", "q8", "q16"])),
                 max_size=4),
        min_size=1,
        max_size=5,
    ),
    compression=st.sampled_from(["zstd", "none"]),
    cut=st.floats(0, 1),
)
def test_many_stages_and_any_prefix(stages, compression, cut):
    encoded = [
        container.encode_stage(container.StageData(k + 1, [(f"t{i}", v, d) for i, (v, d) in enumerate(tensors)]), compression)
        for k, tensors in enumerate(stages)
    ]
    data = assemble(encoded, compression)
    full = container.read(data, strict=True)
    header = full.header
    assert full.complete and full.stages_available == len(stages) and header.file_size == len(data)
    for k, enc in enumerate(encoded, start=1):
        got = full.stage_tensors(k)
        assert list(got) == [s.name for s in enc.specs]
        for name, value in enc.decoded.items():
            np.testing.assert_array_equal(got[name], value)
        assert header.params_at(k) == sum(sum(v.size for v, _ in s) for s in stages[:k])
        assert header.prefix_bytes(k) == header.stages[k - 1].chunk.end
    # Any prefix: stages available are exactly those whose chunk ends inside the prefix.
    n = int(cut * len(data))
    if n >= header.header_end:
        part = container.read(data[:n])
        assert part.stages_available == sum(1 for s in header.stages if s.chunk.end <= n)
        for k in range(1, part.stages_available + 1):
            assert part.stage_tensors(k).keys() == full.stage_tensors(k).keys()


def test_q_steps_for_tiny_and_zero_tensors():
    tiny = np.array([1e-44, -3e-45, 0.0], np.float32)  # binary32 subnormals
    for dtype in ("q8", "q16"):
        spec, _, decoded = quantise(tiny, dtype)
        assert spec.step == limits.MIN_QUANT_STEP and np.all(decoded == 0.0)
        spec, raw, decoded = quantise(np.zeros(3), dtype)
        assert spec.step == 1.0 and not any(raw)
        spec, raw, decoded = quantise(np.zeros((0, 2)), dtype)
        assert spec.step == 1.0 and raw == b""


def test_q_step_given_explicitly():
    spec, raw, decoded = quantise(np.array([1.0, -1.0, 0.26]), "q8", step=0.25)
    assert spec.step == 0.25 and list(np.frombuffer(raw, np.int8)) == [4, -4, 1]
    np.testing.assert_array_equal(decoded, [1.0, -1.0, 0.25])
    spec, _, _ = quantise(np.array([1.0]), "q8", step=0.1)  # stored as the nearest binary32
    assert spec.step == float(np.float32(0.1))


@pytest.mark.parametrize("dtype", ["q8", "q16"])
def test_q_saturates_at_the_symmetric_limit(dtype):
    limit = 127 if dtype == "q8" else 32767
    _, raw, decoded = quantise(np.array([10.0, -10.0]), dtype, step=1.0 / limit)
    ints = np.frombuffer(raw, np.int8 if dtype == "q8" else "<i2")
    assert list(ints) == [limit, -limit]  # never -limit - 1, which readers still accept
    assert math.isclose(float(decoded[0]), 1.0, rel_tol=1e-6)
