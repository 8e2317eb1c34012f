"""Entropy-coded integer tensors (dtype "qe", formats/nff.md 6.4): a small integer probability
model followed by an rANS stream written by `constriction`'s AnsCoder.

Every probability a decoder uses is an integer computed from integers (the model's stored
parameters), so encoder and decoder agree bit for bit on every machine; `constriction` only
runs the coder. Its categorical model receives frequencies it reproduces exactly: weights
f_i - 1 that sum to 2^24 - n scale by exactly 1.0 in its quantiser (checked against the pure
reference decoder of the spec in tests/container/test_entropy.py).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidPayload

PRECISION = 24  # frequencies sum to 2^24 (constriction's default AnsCoder precision)
TOTAL = 1 << PRECISION
MAX_ALPHABET = 1 << 16  # symbols lo .. lo + n - 1, n at most this (and max_alphabet(count))
MAX_SYMBOL = 1 << 30  # |symbol| bound: codes times a binary32 step stay finite and exact
CONSTANT, GEOMETRIC, TABLE = 0, 1, 2
GEOMETRIC_UNIT = 1 << 16  # the geometric model's weight at its centre
MAX_TABLE_SHIFT = 24


def max_alphabet(count: int) -> int:
    """The largest alphabet a stream of `count` codes may declare: max(256, 4 count), at most
    2^16, so a model's cost stays proportional to the codes it serves."""
    return min(MAX_ALPHABET, max(256, 4 * count))


# ---- varints ---------------------------------------------------------------------------


def _put_uvarint(out: bytearray, value: int) -> None:
    if not 0 <= value < 1 << 35:
        raise ValueError(f"varint {value} out of range")
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return


def _uvarint_len(values: np.ndarray) -> int:
    """Bytes of the LEB128 encodings of non-negative `values`, summed."""
    v = np.asarray(values, dtype=np.int64)
    return int(np.sum(1 + (v >= 1 << 7) + (v >= 1 << 14) + (v >= 1 << 21) + (v >= 1 << 28)))


class _Cursor:
    def __init__(self, data: bytes | memoryview):
        self.data, self.pos = memoryview(data), 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise InvalidPayload("entropy-coded tensor: model truncated")
        self.pos += 1
        return int(self.data[self.pos - 1])

    def uvarint(self) -> int:
        value = 0
        for shift in range(0, 35, 7):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise InvalidPayload("entropy-coded tensor: varint longer than 5 bytes")


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(u: int) -> int:
    return u >> 1 if not u & 1 else -((u + 1) >> 1)


# ---- models ------------------------------------------------------------------------------


MAX_WEIGHT = 1 << 38  # weights x (2^24 - n) stay below 2^63


def frequencies(weights: np.ndarray) -> np.ndarray:
    """Integer weights (>= 0, < 2^38) -> frequencies f_i >= 1 summing to exactly 2^24:
    f_i = 1 + floor(w_i * (2^24 - n) / W) (W = sum of weights; all-zero weights count as all
    ones), the remainder added to the first largest frequency. Integer arithmetic only."""
    w = np.asarray(weights, dtype=np.int64)
    n = len(w)
    if np.any(w < 0) or np.any(w >= MAX_WEIGHT):
        raise ValueError("weights out of range")
    if int(w.sum()) == 0:
        w = np.ones(n, dtype=np.int64)
    free, total = TOTAL - n, int(w.sum())  # total < 2^16 * 2^38: int64
    f = 1 + (w * free) // total
    f[int(np.argmax(f))] += TOTAL - int(f.sum())
    return f


def geometric_weights(n: int, centre: int, theta: int) -> np.ndarray:
    """Two-sided geometric weights: 2^16 at `centre`, each step away multiplies by theta/256
    (integer: w_d = (w_{d-1} * theta) >> 8)."""
    dist = np.abs(np.arange(n, dtype=np.int64) - centre)
    by_distance = np.zeros(int(dist.max()) + 1, dtype=np.int64)
    w = GEOMETRIC_UNIT
    for d in range(len(by_distance)):
        by_distance[d] = w
        w = (w * theta) >> 8
        if w == 0:
            break
    return by_distance[dist]


def _ideal_bytes(counts: np.ndarray, freqs: np.ndarray) -> float:
    used = counts > 0
    return float(np.sum(counts[used] * (PRECISION - np.log2(freqs[used])))) / 8.0


def _best_geometric(counts: np.ndarray) -> tuple[float, int, int]:
    centre = int(np.argmax(counts))
    best = (math.inf, centre, 1)
    for theta in _theta_candidates(counts, centre):
        cost = _ideal_bytes(counts, frequencies(geometric_weights(len(counts), centre, theta)))
        best = min(best, (cost, centre, theta))
    return best


def _theta_candidates(counts: np.ndarray, centre: int) -> list[int]:
    """theta/256 near the maximum-likelihood ratio E|d| / (1 + E|d|) (a one-sided geometric's),
    and a spread around it."""
    dist = np.abs(np.arange(len(counts)) - centre)
    mean = float(np.sum(counts * dist) / max(1, counts.sum()))
    guess = 256.0 * mean / (1.0 + mean)
    raw = {round(guess * f) for f in (0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2)}
    return sorted(min(255, max(1, t)) for t in raw)


def _best_table(counts: np.ndarray) -> tuple[float, int, np.ndarray]:
    n = len(counts)
    ideal = counts.astype(np.float64) * (TOTAL - n) / max(1, counts.sum())
    best: tuple[float, int, np.ndarray] = (math.inf, 0, counts)
    for shift in range(0, MAX_TABLE_SHIFT + 1):
        stored = np.rint(ideal / (1 << shift)).astype(np.int64)
        stored[(counts > 0) & (stored == 0)] = 1  # a used symbol keeps more than the floor
        cost = _ideal_bytes(counts, frequencies(stored << shift)) + 1 + _uvarint_len(stored)
        if cost < best[0]:
            best = (cost, shift, stored)
    return best


# ---- streams -----------------------------------------------------------------------------


def encode_symbols(symbols: np.ndarray) -> bytes:
    """The stream of integer `symbols` (any shape, C order), with whichever model makes it
    shortest."""
    import constriction

    flat = np.asarray(symbols).reshape(-1).astype(np.int64)
    if flat.size == 0:
        return bytes([CONSTANT]) + _model_prefix(0, 1)
    lo, hi = int(flat.min()), int(flat.max())
    if max(-lo, hi) > MAX_SYMBOL:
        raise ValueError(f"symbols up to {max(-lo, hi)} exceed {MAX_SYMBOL}")
    n = hi - lo + 1
    if n > max_alphabet(flat.size):
        raise ValueError(f"{flat.size} symbols span {n} values, more than {max_alphabet(flat.size)}")
    if n == 1:
        return bytes([CONSTANT]) + _model_prefix(lo, 1)
    counts = np.bincount(flat - lo, minlength=n).astype(np.int64)
    g_cost, centre, theta = _best_geometric(counts)
    t_cost, shift, stored = _best_table(counts)
    out = bytearray()
    if g_cost + 4 <= t_cost:
        out.append(GEOMETRIC)
        out += _model_prefix(lo, n)
        _put_uvarint(out, centre)
        out.append(theta)
        freqs = frequencies(geometric_weights(n, centre, theta))
    else:
        out.append(TABLE)
        out += _model_prefix(lo, n)
        out.append(shift)
        for s in stored:
            _put_uvarint(out, int(s))
        freqs = frequencies(stored << shift)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse((flat - lo).astype(np.int32), _categorical(freqs))
    out += coder.get_compressed().astype("<u4").tobytes()
    return bytes(out)


def _model_prefix(lo: int, n: int) -> bytes:
    out = bytearray()
    _put_uvarint(out, _zigzag(lo))
    _put_uvarint(out, n)
    return bytes(out)


def _categorical(freqs: np.ndarray):  # noqa: ANN202 - constriction model
    import constriction

    return constriction.stream.model.Categorical((freqs - 1).astype(np.float64), perfect=False)


def read_model(data: bytes | memoryview, count: int) -> tuple[int, int, np.ndarray | None, int]:
    """(kind, lo, frequencies or None for a constant, offset of the coded words) of a stream
    of `count` codes, validated."""
    cur = _Cursor(data)
    kind = cur.byte()
    if kind not in (CONSTANT, GEOMETRIC, TABLE):
        raise InvalidPayload(f"entropy-coded tensor: unknown model kind {kind}")
    lo, n = _unzigzag(cur.uvarint()), cur.uvarint()
    if not 1 <= n <= max_alphabet(count) or lo < -MAX_SYMBOL or lo + n - 1 > MAX_SYMBOL:
        raise InvalidPayload(f"entropy-coded tensor: alphabet of {n} symbols from {lo} is out of range")
    if kind == CONSTANT:
        if n != 1:
            raise InvalidPayload("entropy-coded tensor: a constant model has one symbol")
        return kind, lo, None, cur.pos
    if n < 2:
        raise InvalidPayload("entropy-coded tensor: a coded model needs at least two symbols")
    if kind == GEOMETRIC:
        centre, theta = cur.uvarint(), cur.byte()
        if centre >= n or theta == 0:
            raise InvalidPayload("entropy-coded tensor: geometric model out of range")
        return kind, lo, frequencies(geometric_weights(n, centre, theta)), cur.pos
    shift = cur.byte()
    if shift > MAX_TABLE_SHIFT:
        raise InvalidPayload(f"entropy-coded tensor: table shift {shift} > {MAX_TABLE_SHIFT}")
    stored = np.array([cur.uvarint() for _ in range(n)], dtype=np.int64)
    if np.any(stored >= MAX_WEIGHT >> shift):
        raise InvalidPayload("entropy-coded tensor: table weight out of range")
    return kind, lo, frequencies(stored << shift), cur.pos


def decode_symbols(data: bytes | memoryview, count: int) -> np.ndarray:
    """`count` int32 symbols from a stream; InvalidPayload unless the stream holds exactly them
    (the coder ends in its initial state with every word read)."""
    import constriction

    kind, lo, freqs, offset = read_model(data, count)
    words_bytes = len(data) - offset
    if kind == CONSTANT:
        if words_bytes:
            raise InvalidPayload("entropy-coded tensor: bytes after a constant model")
        return np.full(count, lo, dtype=np.int32)
    if words_bytes % 4:
        raise InvalidPayload("entropy-coded tensor: coded words are not whole 32-bit words")
    words = np.frombuffer(bytes(memoryview(data)[offset:]), dtype="<u4").astype(np.uint32)
    if len(words) and words[-1] == 0:
        raise InvalidPayload("entropy-coded tensor: the stream ends in a zero word")
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        symbols = coder.decode(_categorical(freqs), count) if count else np.zeros(0, np.int32)
        consumed = coder.is_empty()
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise InvalidPayload(f"entropy-coded tensor: corrupt stream ({exc})") from None
    if not consumed:
        raise InvalidPayload("entropy-coded tensor: the stream holds more than its symbols")
    symbols += np.int32(lo)  # in place: |code| <= 2^30 fits int32
    return symbols
