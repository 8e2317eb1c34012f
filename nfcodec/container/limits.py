"""Hard limits of NFF version 1 (formats/nff.md, "Limits"); enforced before any allocation."""
from __future__ import annotations

MAX_HEADER_BYTES = 1 << 20  # data length of the NHDR chunk
MAX_CHUNK_BYTES = 1 << 28  # data length of any other chunk
MAX_CHUNKS = 256  # entries of the header's chunk index (NEND included)
MAX_STAGES = 64
MAX_TENSORS_PER_STAGE = 64
MAX_TENSOR_RANK = 4
MAX_TENSOR_ELEMENTS = 1 << 26  # per dimension and per tensor
MAX_STAGE_RAW_BYTES = 1 << 28  # decompressed size of one stage chunk
MAX_TOTAL_RAW_BYTES = 1 << 30  # decompressed size of all stage chunks together
# elements of one stage's tensors together: 1 GiB once decoded to binary32 (the raw-size limit
# alone does not bound it: a qe tensor stores only its stream)
MAX_STAGE_ELEMENTS = 1 << 28
# elements of entropy-coded (qe) tensors in all: 1 GiB once decoded to binary32
MAX_TOTAL_CODED_ELEMENTS = 1 << 28
# Decompressed size of the NXFM chunk: a u32 per position of the largest signal (2^26 pixels).
MAX_TRANSFORM_DATA_BYTES = 1 << 28
MAX_EXTENT_AXES = 8  # axes of a stage's extent (a signal's domain has at most this many)
MAX_EXTENT_INDEX = 1 << 26  # a sample index on one axis (the largest signal has 2^26 positions)
MAX_NAME_LENGTH = 64
MAX_MSGPACK_DEPTH = 16
MAX_HEADER_ARRAY_LEN = 1 << 16  # entries of any msgpack array in the header
MAX_HEADER_MAP_LEN = 1 << 12  # entries of any msgpack map in the header
# arrays and maps in the whole header: each costs an allocation, and a 1 MiB header could
# otherwise hold a million of them (seconds to parse); the largest header a writer makes
# (64 stages of 64 tensors, 256 chunks) holds under 10,000
MAX_HEADER_CONTAINERS = 1 << 15
MAX_REGISTRY_ID = (1 << 16) - 1  # transform / field ids are u16
# q8 / q16 steps are normal binary32 numbers in this range, so that raw * step is exact to
# compute in binary32 and can never overflow to infinity (32767 * 2^64 < 2^80).
MIN_QUANT_STEP = 2.0**-126
MAX_QUANT_STEP = 2.0**64
# libzstd's default decoder limit; a larger window could make a reader allocate more than the
# stage's declared size implies, and other zstd implementations refuse it by default.
MAX_ZSTD_WINDOW = 1 << 27
