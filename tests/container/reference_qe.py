"""A second, independent decoder of entropy-coded (qe) tensor streams, written from
formats/nff.md section 6.4 alone: pure Python integers, no numpy, no constriction. The tests
check that it decodes what nfcodec writes, symbol for symbol, so the spec says what the code does."""
from __future__ import annotations

import bisect

PRECISION = 24


class StreamError(ValueError):
    pass


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(5):
        if pos >= len(data):
            raise StreamError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise StreamError("varint longer than 5 bytes")


def _frequencies(weights: list[int]) -> list[int]:
    n = len(weights)
    if sum(weights) == 0:
        weights = [1] * n
    free, total = (1 << PRECISION) - n, sum(weights)
    freqs = [1 + w * free // total for w in weights]
    top = max(range(n), key=lambda i: (freqs[i], -i))  # the first largest
    freqs[top] += (1 << PRECISION) - sum(freqs)
    return freqs


def _byte(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise StreamError("truncated model")
    return data[pos], pos + 1


def decode(data: bytes, count: int) -> list[int]:
    kind, pos = _byte(data, 0)
    zz, pos = _uvarint(data, pos)
    lo = zz >> 1 if not zz & 1 else -((zz + 1) >> 1)
    n, pos = _uvarint(data, pos)
    if not 1 <= n <= min(1 << 16, max(256, 4 * count)) or lo < -(1 << 30) or lo + n - 1 > 1 << 30:
        raise StreamError("alphabet out of range")
    if kind == 0:
        if pos != len(data) or n != 1:
            raise StreamError("constant model")
        return [lo] * count
    if n < 2:
        raise StreamError("a coded model needs two symbols")
    if kind == 1:
        centre, pos = _uvarint(data, pos)
        theta, pos = _byte(data, pos)
        if centre >= n or theta == 0:
            raise StreamError("geometric model out of range")
        by_distance = [1 << 16]
        while len(by_distance) < n:
            by_distance.append((by_distance[-1] * theta) >> 8)
        weights = [by_distance[abs(i - centre)] for i in range(n)]
    elif kind == 2:
        shift, pos = _byte(data, pos)
        if shift > 24:
            raise StreamError("table shift out of range")
        weights = []
        for _ in range(n):
            s, pos = _uvarint(data, pos)
            if s << shift >= 1 << 38:
                raise StreamError("table weight out of range")
            weights.append(s << shift)
    else:
        raise StreamError("unknown model kind")
    freqs = _frequencies(weights)
    cdf = [0]
    for f in freqs:
        cdf.append(cdf[-1] + f)
    body = data[pos:]
    if len(body) % 4:
        raise StreamError("partial word")
    words = [int.from_bytes(body[i : i + 4], "little") for i in range(0, len(body), 4)]
    if words and words[-1] == 0:
        raise StreamError("the stream ends in a zero word")
    # the state: the last word (high half) and the one before it (low half), when present
    head = words.pop() if words else 0
    if words:
        head = head << 32 | words.pop()
    out = []
    mask = (1 << PRECISION) - 1
    for _ in range(count):
        quantile = head & mask
        symbol = bisect.bisect_right(cdf, quantile) - 1  # the i with cdf[i] <= quantile < cdf[i + 1]
        head = (head >> PRECISION) * freqs[symbol] + quantile - cdf[symbol]
        if head < 1 << 32 and words:
            head = head << 32 | words.pop()
        out.append(symbol + lo)
    if head != 0 or words:
        raise StreamError("stream not fully consumed")
    return out
