"""Entropy-coded tensors: the stream format (formats/nff.md 6.4) against an independent
reference decoder, exact integer models, and hostile streams."""
from __future__ import annotations

import numpy as np
import pytest

from nfcodec.container import entropy
from nfcodec.container.header import TensorSpec
from nfcodec.container.tensors import decode_tensor, quantise
from nfcodec.errors import InvalidPayload

from reference_qe import StreamError
from reference_qe import decode as reference_decode


def _streams() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "constant": np.full(50, -3),
        "empty": np.zeros(0, dtype=np.int64),
        "laplace": np.rint(rng.laplace(0.0, 2.0, 3000)).astype(np.int64),  # the geometric model
        "bimodal": np.concatenate([np.full(900, 5), np.full(700, -6), rng.integers(-6, 6, 60)]),  # the table model
        "offset": rng.integers(1000, 1040, 500),
        "two": np.array([0, 1, 1, 0, 1]),
        "wide": rng.integers(-20000, 20000, 16000),  # an alphabet of ~40k: 4 x 16000 allows it
    }


@pytest.mark.parametrize("name", list(_streams()))
def test_reference_decoder_reads_what_nfcodec_writes(name: str) -> None:
    symbols = _streams()[name]
    data = entropy.encode_symbols(symbols)
    assert entropy.decode_symbols(data, symbols.size).tolist() == symbols.tolist()
    assert reference_decode(data, symbols.size) == symbols.tolist()


def test_both_models_are_used_and_near_the_entropy() -> None:
    streams = _streams()
    kinds = {name: entropy.encode_symbols(streams[name])[0] for name in ("laplace", "bimodal", "constant")}
    assert kinds == {"laplace": entropy.GEOMETRIC, "bimodal": entropy.TABLE, "constant": entropy.CONSTANT}
    symbols = streams["laplace"]
    _, counts = np.unique(symbols, return_counts=True)
    ideal = float(-(counts * np.log2(counts / counts.sum())).sum()) / 8
    assert len(entropy.encode_symbols(symbols)) < 1.05 * ideal + 16


@pytest.mark.parametrize("weights", [[0, 0, 0], [1, 2, 3], [5, 0, 0, 1 << 37], [7] * 1000])
def test_frequencies_are_exact_integers_summing_to_the_precision(weights: list[int]) -> None:
    freqs = entropy.frequencies(np.array(weights))
    assert freqs.sum() == 1 << entropy.PRECISION and freqs.min() >= 1


def test_geometric_weights_are_the_integer_recurrence() -> None:
    w = entropy.geometric_weights(7, 3, 128)
    assert w.tolist() == [8192, 16384, 32768, 65536, 32768, 16384, 8192]


def test_qe_tensor_round_trip_through_the_container_codec() -> None:
    values = np.random.default_rng(1).normal(0, 0.3, (40, 3)).astype(np.float32)
    spec, raw, decoded = quantise(values, "qe", 0.05)
    assert spec.coded_bytes == len(raw) and spec.nbytes == len(raw)
    back = decode_tensor(TensorSpec("t", spec.shape, "qe", spec.step, spec.coded_bytes), raw)
    assert np.array_equal(back, decoded)
    assert np.max(np.abs(back - values)) <= 0.025 + 1e-7
    with pytest.raises(ValueError, match="step"):
        quantise(values, "qe")


def _hostile(data: bytes, rng: np.random.Generator) -> bytes:
    raw = bytearray(data)
    choice = rng.integers(4)
    if choice == 0 and raw:
        raw[rng.integers(len(raw))] ^= 1 << int(rng.integers(8))
    elif choice == 1:
        raw = raw[: rng.integers(len(raw) + 1)]
    elif choice == 2:
        raw += bytes(rng.integers(0, 256, 4, dtype=np.uint8))
    else:
        raw = bytearray(rng.integers(0, 256, rng.integers(1, 40), dtype=np.uint8))
    return bytes(raw)


def test_hostile_streams_decode_or_raise_invalid_payload() -> None:
    rng = np.random.default_rng(3)
    seeds = [entropy.encode_symbols(s) for s in _streams().values()]
    for i in range(600):
        data = _hostile(seeds[i % len(seeds)], rng)
        count = int(rng.integers(0, 80))
        try:
            out = entropy.decode_symbols(data, count)
        except InvalidPayload:
            continue
        assert len(out) == count
        # whatever nfcodec accepts, the reference reads the same way
        assert reference_decode(data, count) == out.tolist()


def test_nfcodec_and_the_reference_accept_and_refuse_the_same_streams() -> None:
    """Differential fuzzing of short model headers (every kind, edge parameters) and words."""
    rng = np.random.default_rng(11)
    for _ in range(3000):
        kind = int(rng.choice([0, 1, 2, 3]))
        head = bytes([kind]) + bytes(rng.integers(0, 256, int(rng.integers(0, 6)), dtype=np.uint8))
        words = bytes(rng.integers(0, 256, 4 * int(rng.integers(0, 3)), dtype=np.uint8))
        data, count = head + words, int(rng.integers(0, 5))
        try:
            ours = entropy.decode_symbols(data, count).tolist()
        except InvalidPayload:
            ours = None
        try:
            theirs = reference_decode(data, count)
        except StreamError:
            theirs = None
        assert ours == theirs, data.hex()


@pytest.mark.parametrize("data, message", [
    (b"", "truncated"),
    (bytes([9, 0, 1]), "unknown model"),
    (bytes([0, 0, 2]), "one symbol"),
    (bytes([1, 0, 0x81, 0x80, 0x04]), "alphabet"),
    (bytes([1, 0, 0x81, 0x02]), "alphabet"),  # 257 symbols for 3 codes: more than max(256, 4 x 3)
    (bytes([2, 0, 3, 30]), "shift"),
    (bytes([1, 0, 3, 5, 100]), "geometric"),
    (bytes([1, 0, 3, 1, 100, 1, 0, 0]), "whole 32-bit"),
    (bytes([1, 0, 3, 1, 100, 0, 0, 0, 0]), "zero word"),
    (bytes([0, 0, 1, 7]), "after a constant"),
])
def test_malformed_streams_name_their_fault(data: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        entropy.decode_symbols(data, 3)


def test_a_stream_must_hold_exactly_its_symbols() -> None:
    data = entropy.encode_symbols(_streams()["laplace"])
    with pytest.raises(InvalidPayload):
        entropy.decode_symbols(data, 2999)
    with pytest.raises(StreamError):
        reference_decode(data, 2999)
