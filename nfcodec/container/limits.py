"""Hard limits of NFF version 1 (formats/nff.md, "Limits"); enforced before any allocation."""
from __future__ import annotations

MAX_HEADER_BYTES = 1 << 20  # data length of the NHDR chunk
MAX_CHUNK_BYTES = 1 << 28  # data length of any other chunk
MAX_CHUNKS = 256  # entries of the header's chunk index (NEND included)
MAX_STAGES = 64
MAX_TENSORS_PER_STAGE = 64
MAX_TENSOR_RANK = 4
MAX_TENSOR_ELEMENTS = 1 << 26
MAX_STAGE_RAW_BYTES = 1 << 28  # decompressed size of one stage chunk
MAX_TOTAL_RAW_BYTES = 1 << 30  # decompressed size of all stage chunks together
MAX_NAME_LENGTH = 64
MAX_MSGPACK_DEPTH = 16
