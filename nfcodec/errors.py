"""Typed errors shared by every layer, and the exit status each maps to.

Stdlib only: the container imports this module and must stay free of torch.
"""
from __future__ import annotations

import enum


@enum.unique
class ExitStatus(enum.IntEnum):
    """Process exit codes of the `nfc` command (kept in one place, tested)."""

    OK = 0
    DATA_ERROR = 1  # the input (image, .nff file, ...) is bad or unsupported
    USAGE_ERROR = 2  # the command line is wrong (click also exits 2)
    INTERRUPTED = 130


class NfcError(Exception):
    """Base of every error nfcodec raises on purpose; its message is one line for users."""

    exit_status = ExitStatus.DATA_ERROR


class UsageError(NfcError):
    """The request cannot be satisfied as asked (bad option combination, missing folder)."""

    exit_status = ExitStatus.USAGE_ERROR


class InputError(NfcError):
    """An input signal (image, video, mesh) cannot be read or is not supported."""


# ---- .nff container errors -------------------------------------------------------------


class NffError(NfcError):
    """A `.nff` file is invalid, corrupt, truncated or unsupported."""


class BadSignature(NffError):
    """The file does not start with the NFF signature."""


class UnsupportedVersion(NffError):
    """The header declares a format version this reader does not implement."""


class TruncatedFile(NffError):
    """The data ends before a structure that must be complete."""


class ChunkChecksumError(NffError):
    """A chunk's CRC-32 does not match its type and data."""


class UnknownCriticalChunk(NffError):
    """A chunk type with an upper-case first letter that this reader does not know."""


class LimitExceeded(NffError):
    """A declared size or count is above the hard limits of the specification."""


class InvalidHeader(NffError):
    """The header chunk is not a valid header (schema, types, consistency)."""


class InvalidChunkLayout(NffError):
    """Chunks are out of order, overlap, leave holes, or disagree with the header index."""


class InvalidPayload(NffError):
    """A stage chunk's payload does not decompress to exactly what the header declares."""


class UnknownCodecId(NffError):
    """The header names a field architecture, transform or modality this decoder lacks."""


def last_words(output: bytes | str | None, default: str = "no message") -> str:
    """A tool's last non-empty line of error output (at most 200 characters), for a one-line
    error; `default` when it said nothing."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else (output or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else default
