"""Positional transforms: the seeded random pixel permutation and the ordered (J-shell) one.

Both store a permutation `perm` of the N flat positions with trained[p] = original[perm[p]].
The random one is regenerated from a 32-bit seed by the counter-based generator specified in
formats/annex-transforms.md (no library RNG: its stream could change between versions); the ordered one
depends on the data, so it is stored in the NXFM chunk as N little-endian u32.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Mapping

import numpy as np

from ..errors import InvalidHeader, InvalidPayload
from .base import describe_transform, flat, param_int, refuse_data

WHERE = "header.transform.params"
MAX_POSITIONS = 1 << 26  # the largest signal a file may describe (formats/annex-image.md)
MAX_SEED = (1 << 32) - 1

# splitmix64 (Steele, Lea, Flood 2014; Vigna's public-domain C code): the state increment and
# the two multipliers of its finaliser.
SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The first output of splitmix64 seeded with state x, for each uint64 x (vectorised)."""
    z = np.asarray(x, dtype=np.uint64) + SPLITMIX_GAMMA  # a new array: x is never modified
    # Wraparound modulo 2^64 is the algorithm, not an accident: numpy would only warn.
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= SPLITMIX_M1
        z ^= z >> np.uint64(27)
        z *= SPLITMIX_M2
        z ^= z >> np.uint64(31)
    return z


def rpp_keys(seed: int, n: int) -> np.ndarray:
    """key_i = splitmix64(seed * 2^32 + i + 1) for i = 0..n-1 (uint64)."""
    if not 0 <= seed <= MAX_SEED or not 0 <= n <= MAX_POSITIONS:
        raise ValueError(f"seed {seed} / length {n} out of range")
    x = np.arange(1, n + 1, dtype=np.uint64)
    x += np.uint64(seed) << np.uint64(32)  # no overflow: seed < 2^32 and n <= 2^26
    return splitmix64(x)


def rpp_permutation(seed: int, n: int) -> np.ndarray:
    """The positions 0..n-1 sorted ascending by (key_i, i): trained[p] = original[perm[p]]."""
    # A stable sort breaks (impossible: splitmix64 is a bijection) key ties by index.
    return np.argsort(rpp_keys(seed, n), kind="stable")


def j_shell_path(height: int, width: int) -> np.ndarray:
    """Path index of every flat grid position (row-major) along the J-shaped shells.

    Shell s holds the cells with max(r, c) = s. Odd shells run clockwise: down column s
    (r = 0..min(s, H-1), when s < W), then left along row s (c = min(s, W)-1..0, when s < H).
    Even shells run the same cells in reverse (counter-clockwise). Shells come in order, so a
    cell's index is the count of cells in earlier shells, min(s, H) * min(s, W), plus its rank."""
    r, c = np.divmod(np.arange(height * width, dtype=np.int64), width)
    s = np.maximum(r, c)
    before = np.minimum(s, height) * np.minimum(s, width)
    vertical = np.where(s < width, np.minimum(s, height - 1) + 1, 0)
    horizontal = np.where(s < height, np.minimum(s, width), 0)
    clockwise_rank = np.where(c == s, r, vertical + np.minimum(s, width) - 1 - c)
    rank = np.where(s % 2 == 1, clockwise_rank, vertical + horizontal - 1 - clockwise_rank)
    return before + rank


def ordered_permutation(values: np.ndarray) -> np.ndarray:
    """Pixels sorted by luma (channel mean) ascending, ties by index, laid along the J-shell
    path: the k-th darkest pixel goes to the cell whose path index is k. values: [H, W, C]."""
    if values.ndim != 3:
        raise ValueError(f"the ordered permutation needs values of shape [H, W, C], got {values.shape}")
    height, width, channels = values.shape
    # Sum instead of mean (same order): at most 4 binary32 values, exact in binary64.
    luma = values.reshape(-1, channels).astype(np.float64).sum(axis=1)
    darkest_first = np.argsort(luma, kind="stable")
    return darkest_first[j_shell_path(height, width)]


class _Permutation:
    """Shared members of the positional transforms (subclasses define `perm`)."""

    preserves_interpolation: ClassVar[bool] = False  # neighbours in the field are not neighbours in the signal
    moves_positions: ClassVar[bool] = True
    perm: np.ndarray

    @cached_property
    def inverse_perm(self) -> np.ndarray:
        inv = np.empty_like(self.perm)
        inv[self.perm] = np.arange(self.perm.size, dtype=self.perm.dtype)
        return inv

    def _flat(self, values: np.ndarray) -> np.ndarray:
        values2d = flat(np.asarray(values))
        if values2d.shape[0] != self.perm.size:
            raise ValueError(f"a permutation of {self.perm.size} positions cannot apply to {values2d.shape[0]}")
        return values2d

    def forward(self, values: np.ndarray) -> np.ndarray:
        """trained[p] = original[perm[p]]; any dtype (the decoder permutes integer pixels)."""
        return self._flat(values)[self.perm].reshape(np.shape(values))

    def inverse(self, values: np.ndarray) -> np.ndarray:
        values2d = self._flat(values)
        out = np.empty_like(values2d)
        out[self.perm] = values2d
        return out.reshape(np.shape(values))

    def forward_positions(self, idx: np.ndarray) -> np.ndarray:
        return self.inverse_perm[np.asarray(idx)]

    def inverse_positions(self, idx: np.ndarray) -> np.ndarray:
        return self.perm[np.asarray(idx)]

    def mse_factor(self) -> float | None:
        return 1.0  # the same errors, at other positions

    def data(self) -> bytes | None:
        return None

    def describe(self) -> dict[str, Any]:
        return describe_transform(self)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RandomPermutation(_Permutation):
    """Random pixel permutation ("rpp"), regenerated from `seed` by any reader."""

    seed: int
    n: int
    id: ClassVar[int] = 2
    name: ClassVar[str] = "rpp"

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED or not 1 <= self.n <= MAX_POSITIONS:
            raise ValueError(f"rpp seed {self.seed} / length {self.n} out of range")

    @cached_property
    def perm(self) -> np.ndarray:  # type: ignore[override]
        return rpp_permutation(self.seed, self.n)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "RandomPermutation":
        refuse_data(data, cls.name)
        return cls(param_int(params, "seed", 0, MAX_SEED, WHERE), n_positions)


@dataclass(frozen=True, eq=False)
class OrderedPermutation(_Permutation):
    """Pixels sorted by intensity along J-shaped shells; the permutation is stored (NXFM)."""

    perm: np.ndarray = field(repr=False)
    id: ClassVar[int] = 3
    name: ClassVar[str] = "ordered"

    @classmethod
    def fit(cls, values: np.ndarray) -> "OrderedPermutation":
        return cls(ordered_permutation(values))

    def params(self) -> dict[str, Any]:
        # The container's key: the NXFM chunk's exact decompressed size.
        return {"data_bytes": 4 * self.perm.size}

    def data(self) -> bytes | None:
        return self.perm.astype("<u4").tobytes()

    @classmethod
    def from_params(cls, params: Mapping[str, Any], data: bytes | None, n_positions: int, channels: int) -> "OrderedPermutation":
        expected = 4 * n_positions
        declared = params.get("data_bytes")
        if not isinstance(declared, int) or isinstance(declared, bool) or declared != expected:
            raise InvalidHeader(f"{WHERE}: 'data_bytes' must be {expected} (4 bytes per position)")
        if data is None:
            raise InvalidHeader(f"header.transform: {cls.name!r} needs its permutation in an NXFM chunk")
        if len(data) != expected:
            raise InvalidPayload(f"transform data: {len(data)} bytes, expected {expected}")
        perm = np.frombuffer(data, dtype="<u4").astype(np.intp)
        # n values, each < n, all distinct <=> a permutation of 0..n-1.
        if perm.size and int(perm.max()) >= n_positions:
            raise InvalidPayload("transform data: not a permutation (an index is out of range)")
        seen = np.zeros(n_positions, dtype=bool)
        seen[perm] = True
        if not seen.all():
            raise InvalidPayload("transform data: not a permutation (an index repeats)")
        return cls(perm)
