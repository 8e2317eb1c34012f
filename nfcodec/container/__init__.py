"""The `.nff` container: chunk framing, header schema, stage payloads. Imports no torch.

Specification: formats/nff.md. Public entry points: `read` (whole file or prefix),
`read_header` (first bytes only), `assemble` / `encode_stage` (writer).
"""
from .chunks import CHUNK_OVERHEAD, END_TYPE, HEADER_TYPE, SIGNATURE, STAGE_TYPE, TRANSFORM_DATA_TYPE
from .header import FORMAT_VERSION, ChunkRef, Header, StageSpec, TensorSpec
from .reader import NffFile, header_bytes_needed, read, read_header
from .limits import MAX_STAGES
from .writer import EncodedStage, StageData, assemble, bytes_before_stages, encode_stage, transform_data_chunk

__all__ = [
    "CHUNK_OVERHEAD",
    "END_TYPE",
    "HEADER_TYPE",
    "SIGNATURE",
    "STAGE_TYPE",
    "TRANSFORM_DATA_TYPE",
    "FORMAT_VERSION",
    "ChunkRef",
    "Header",
    "StageSpec",
    "TensorSpec",
    "NffFile",
    "header_bytes_needed",
    "read",
    "read_header",
    "EncodedStage",
    "StageData",
    "assemble",
    "bytes_before_stages",
    "encode_stage",
    "transform_data_chunk",
    "MAX_STAGES",
    "limits_max_stages",
]


def limits_max_stages() -> int:
    return MAX_STAGES
