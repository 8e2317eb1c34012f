"""The coverage-guided fuzz corpus, replayed; and a test per attack of issue 16 that fails if the
protection it checks is removed.

formats/fuzz-corpus/ holds the inputs the campaign (tools/fuzz_nff.py; benchmarks/results/
fuzz_campaign.md) kept, minimised: each goes through the campaign's own target, without atheris,
and must end in a decoded result or an NfcError with a one-line message, within 1 s of CPU time
and CASE_RSS_MIB above the RSS it started from.

Attack -> where it is checked (here unless a file is named):
  truncations              test_attack[truncated_in_stage2]; test_nff_prefixes (every prefix)
  bit flips                test_attack[bit_flip_stage1]; test_nff_prefixes (every bit)
  chunks reordered         test_attack[reordered_stages], test_reordered_chunks_in_place
  chunks duplicated        test_attack[duplicated_stage]; test_nff_errors::test_invalid_chunk_layout
  huge declared lengths    test_attack[huge_chunk_length, huge_header_length]; test_nff_errors::test_limit_exceeded
  inconsistent headers     test_attack[shape_mismatch, extent_out_of_range, signal_too_large, index_past_end, index_overlap]
  decompression bombs      test_memory_of_bombs_and_of_the_largest_decodes (zstd_lying_bomb, zstd_declares_huge,
                           search_table_bomb); test_attack[zstd_*, search_table_bomb]; test_nff_errors::test_invalid_payload
  deep / enormous msgpack  test_attack[msgpack_deep, msgpack_enormous], test_memory_... (msgpack_enormous)
  unknown chunks           test_attack[unknown_critical_chunk, unknown_ancillary_chunk]
  hostile qe streams       test_attack[qe_*]; test_entropy (differential fuzzing against the reference decoder)
  fields too large         test_memory_... (field_over_limit, field_shapes_mismatch, field_at_limit, wide_layer_render)
  signals too large        test_attack[signal_too_large], test_a_clip_frame_is_bounded_as_an_image_is
"""
from __future__ import annotations

import importlib.util
import json
import mmap
import subprocess
import sys
import time
from types import ModuleType

import pytest

from nfcodec import container, decoding
from nfcodec.container import limits
from nfcodec.errors import (
    ChunkChecksumError,
    InvalidChunkLayout,
    InvalidHeader,
    InvalidPayload,
    LimitExceeded,
    TruncatedFile,
    UnknownCriticalChunk,
)

from nff_support import ROOT, SPEC

CORPUS = ROOT / "formats" / "fuzz-corpus"


def load_tool() -> ModuleType:
    """tools/fuzz_nff.py is a script, not a package module: import it by path."""
    name = "nfcodec_fuzz_nff_tool"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "fuzz_nff.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool()


@pytest.fixture(scope="module")
def attacks(tool: ModuleType) -> dict[str, bytes]:
    return tool.attack_cases()


def test_the_corpus_is_committed_and_small():
    files = [p for p in CORPUS.iterdir() if p.is_file()]
    assert 50 <= len(files) <= 600
    assert sum(p.stat().st_size for p in files) <= 4 << 20


def test_every_corpus_file_ends_in_a_result_or_a_one_line_error(tool, attacks):
    cases = {p.name: p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.is_file()}
    cases.update((f"attack_{name}", data) for name, data in attacks.items())
    tool.warm_up(list(cases.values())[:20])
    findings, labels = [], []
    for name, data in cases.items():
        try:
            label, _, _ = tool.guarded(tool.run_case, data)
        except tool.Finding as exc:
            if "CPU time" not in str(exc):
                findings.append(f"{name}: {exc}")
                continue
            tool.run_case(data)  # a first run may pay for compiling a kernel (the timer cut it short): unguarded
            try:
                label, _, _ = tool.guarded(tool.run_case, data)
            except tool.Finding as again:
                findings.append(f"{name}: {again}")
                continue
        labels.append(label)  # anything else (not an NfcError, not a Finding) propagates: the test fails
    assert not findings, findings
    # the cases reach every part of the target: errors of the reader, decodes, both renderings
    assert sum("render:full" in label for label in labels) >= 20 and any("render:block" in label for label in labels)
    assert any("InvalidPayload" in label for label in labels) and any("decoded:video" in label for label in labels)


def test_the_target_reports_what_a_decoder_must_never_do(tool, attacks, monkeypatch):
    """A bug planted in the decoder, a slow case and a large one are findings, not passes."""
    base = attacks["unknown_ancillary_chunk"]
    assert tool.guarded(tool.run_case, base)[0].endswith("render:full:image")

    def broken(*args, **kwargs):
        raise KeyError("planted")

    monkeypatch.setattr(decoding, "decode_bytes", broken)
    with pytest.raises(KeyError):
        tool.run_case(base)

    def slow(data: bytes) -> str:
        spin(2)
        return ""

    with pytest.raises(tool.Finding, match="CPU time"):
        tool.guarded(slow, base, cpu_seconds=0.2)

    def large(data: bytes) -> str:
        # fresh pages from the kernel (a bytearray could reuse freed heap that is resident
        # already in a long test process, and not raise the RSS at all)
        with mmap.mmap(-1, 96 << 20) as block:
            for offset in range(0, len(block), 4096):  # touch every page
                block[offset] = 1
            return str(len(block))

    with pytest.raises(tool.Finding, match="MiB"):
        tool.guarded(large, base, rss_mib=32)


def spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_cpu_cut_waits_for_a_compile_or_an_import_to_end(tool, tmp_path, monkeypatch):
    """A cut inside numba's compiler or an import would break the process for every later case
    (seen: a worker crash in CI, `numba.core` missing after a cut import): it waits for them."""
    from numba.core.compiler_lock import global_compiler_lock

    finished = []

    def compiling(data: bytes) -> str:
        with global_compiler_lock:
            spin(0.3)
            finished.append("compile")
        spin(2)
        return ""

    with pytest.raises(tool.Finding, match="CPU time"):
        tool.guarded(compiling, b"", cpu_seconds=0.05)
    assert finished == ["compile"]

    (tmp_path / "slow_to_import.py").write_text(
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass\nDONE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_to_import", raising=False)

    def importing(data: bytes) -> str:
        import slow_to_import  # noqa: F401 -- the import itself is the slow part

        spin(2)
        return ""

    with pytest.raises(tool.Finding, match="CPU time"):
        tool.guarded(importing, b"", cpu_seconds=0.05)
    assert sys.modules["slow_to_import"].DONE


def test_an_error_message_must_be_one_line(tool):
    with pytest.raises(tool.Finding, match="one line"):
        tool.one_line(InvalidHeader("first line\nsecond line"))


def test_every_mutator_runs_bare_on_chains_of_its_own_output(attacks):
    """`mutate` falls back to a bit flip if a mutator raises (a campaign must not stop): so here
    each runs bare, on seeds and on what the mutators made of them."""
    import random

    from nfcodec.container import fuzz_mutators as fm

    seeds = [p.read_bytes() for p in sorted(CORPUS.iterdir())[:60]] + list(attacks.values())
    seeds = [s for s in seeds if len(s) <= 1 << 16]
    rng, pool, changed = random.Random(16), list(seeds), set()
    for _ in range(1500):
        mutator = rng.choice(fm.MUTATORS)
        source = rng.choice(pool)
        out = bytes(mutator(bytearray(source), rng, seeds))[: 1 << 16]
        if out != source:
            changed.add(mutator.__name__)
        if len(pool) < 400:
            pool.append(out)
        else:
            pool[rng.randrange(len(pool))] = out
    assert changed == {m.__name__ for m in fm.MUTATORS}


# ---- the attacks ---------------------------------------------------------------------------------


def read_both(data: bytes) -> container.NffFile:
    container.read(data, strict=True)
    return container.read(data)


def decode(data: bytes):
    return decoding.decode_bytes(data)


def stage1(data: bytes):
    return container.read(data).stage_tensors(1)


EXPECTED = {
    # name: (operation, error class or None for a decoded result)
    "bit_flip_stage1": (read_both, ChunkChecksumError),
    "duplicated_stage": (read_both, InvalidChunkLayout),
    "huge_chunk_length": (read_both, InvalidChunkLayout),
    "huge_header_length": (read_both, LimitExceeded),
    "index_past_end": (read_both, InvalidChunkLayout),
    "index_overlap": (read_both, InvalidChunkLayout),
    "reordered_stages": (stage1, InvalidPayload),  # stage 2's frame where stage 1's is declared
    "shape_mismatch": (decode, InvalidPayload),  # the bytes fit the shapes, the field does not
    "extent_out_of_range": (decode, InvalidHeader),
    "signal_too_large": (decode, InvalidHeader),
    "signal_large": (read_both, None),  # valid (rendered in the corpus replay: one block)
    "zstd_lying_bomb": (stage1, InvalidPayload),
    "zstd_declares_huge": (stage1, InvalidPayload),
    "msgpack_deep": (read_both, InvalidHeader),
    "msgpack_deep_declared": (read_both, InvalidHeader),
    "msgpack_enormous": (read_both, InvalidHeader),
    "unknown_critical_chunk": (read_both, UnknownCriticalChunk),
    "unknown_ancillary_chunk": (decode, None),
    "search_table_valid": (decode, None),
    "qe_alphabet_too_large": (stage1, InvalidPayload),
    "qe_leftover_word": (stage1, InvalidPayload),
    "qe_table_overflow": (stage1, InvalidPayload),
    "qe_zero_last_word": (stage1, InvalidPayload),
    "qe_too_many_codes": (read_both, LimitExceeded),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attack(attacks, name):
    operation, error = EXPECTED[name]
    start = time.process_time()
    if error is None:
        result = operation(attacks[name])
        assert isinstance(result, container.NffFile) or result.pixels.size
    else:
        with pytest.raises(error) as info:
            operation(attacks[name])
        assert "\n" not in str(info.value)
    assert time.process_time() - start < 1.0


def test_attack_list_is_covered(attacks):
    assert set(attacks) == set(EXPECTED) | {"truncated_in_stage2", "search_table_bomb"}


def test_truncated_file_decodes_its_complete_stages(attacks):
    data = attacks["truncated_in_stage2"]
    result = decoding.decode_bytes(data)
    assert (result.width, result.stages_total, result.complete) == (1, 2, False) and "truncated" in result.note
    with pytest.raises(TruncatedFile):
        decoding.decode_bytes(data, strict=True)


def test_search_table_bomb_is_reported_not_inflated(attacks):
    summary = decoding.info(attacks["search_table_bomb"])
    assert summary["search_error"] == "unreadable search table (InvalidPayload)"
    assert "search" in decoding.info(attacks["search_table_valid"])


def test_reordered_chunks_in_place():
    """Stages swapped without rewriting the index: the lengths disagree with it."""
    from nfcodec.container import fuzz_mutators as fm

    base = bytearray((ROOT / "formats" / "vectors" / "ok_siren_image.nff").read_bytes())
    chunks = fm.walk(base)
    body = [bytes(base[p : p + 12 + n]) for p, n, _ in chunks[1:]]
    swapped = bytes(base[: chunks[1][0]]) + body[1] + body[0] + body[2]
    with pytest.raises(InvalidChunkLayout):
        container.read(swapped)


def test_a_clip_frame_is_bounded_as_an_image_is(tool):
    """Frames are rendered whole: one of 16,384 x 16,384 pixels (each side within the limits)
    would take about 12 GiB; at most 2^26 pixels are accepted, as for an image."""
    def clip(height: int, width: int) -> bytes:
        signal = {"schema": "video", "schema_version": 1, "shape": [1, height, width], "channels": 3, "bit_depth": 8, "fps": 25.0}
        return tool.field_file("siren", {"in_dim": 3, "out_dim": 3, "hidden_layers": 0, "omega": 30.0}, [1], signal, "video")

    with pytest.raises(InvalidHeader, match="frames of 16384x16384"):
        decoding.decode_bytes(clip(1 << 14, 1 << 14))
    assert decoding.decode_bytes(clip(8, 1 << 14)).shape == [1, 8, 1 << 14, 3]


def test_enormous_msgpack_is_refused_within_the_container_limit(attacks):
    start = time.process_time()
    with pytest.raises(InvalidHeader, match="arrays and maps"):
        container.read(attacks["msgpack_enormous"])
    assert time.process_time() - start < 0.5


def test_spec_states_the_container_limit_and_the_memory_bound():
    section = SPEC.read_text().split("## 8. Limits", 1)[1].split("\n## ", 1)[0]
    assert f"| header arrays and maps in all | {limits.MAX_HEADER_CONTAINERS:,} |" in section
    assert "Memory." in section


# ---- memory, in a fresh process ---------------------------------------------------------------------

# (bound in MiB above the RSS before the decode, what it guards)
MEMORY_BOUNDS = {
    "zstd_lying_bomb": 64,  # a frame that declares 16 MiB and expands to 1 GiB
    "zstd_declares_huge": 64,  # a frame declaring 2^40 bytes
    "search_table_bomb": 64,  # an ancillary table of 1 GiB (python-zstandard ignores max_output_size)
    "msgpack_enormous": 64,  # 983,040 arrays in a 1 MiB header
    "msgpack_deep_declared": 128,  # 1,023 nested arrays declaring 65,535 entries each, cut short
    "qe_too_many_codes": 64,  # 2^28 + 4 codes from 15 bytes of streams
    "field_over_limit": 64,  # MAX_FIELD_PARAMS, checked before allocating
    "field_shapes_mismatch": 64,  # tensors that do not match the field, refused before allocating it
    "field_at_limit": 2048,  # the stated bound (formats/nff.md, Limits), at the largest field
    "stage_at_limit": 1536,  # the stated bound for one stage (formats/nff.md), at the largest stage
    "stage_elements_over_limit": 64,  # 2^28 q8 codes and 128 qe codes: refused before decompressing
    "wide_layer_render": 640,  # a 2^20-unit layer over 256 pixels: 1 GiB per activation unbounded
}


def test_memory_of_bombs_and_of_the_largest_decodes():
    try:  # each case's peak is measured from a reset counter; ru_maxrss never resets
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pytest.skip("this kernel cannot reset the peak-RSS counter (/proc/self/clear_refs)")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "fuzz_nff.py"), "memory", *MEMORY_BOUNDS],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    measured = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(measured) == set(MEMORY_BOUNDS)
    for name, bound in MEMORY_BOUNDS.items():
        row = measured[name]
        assert row["peak_mib"] <= bound, row
        assert "Error" not in row["outcome"] or name not in ("field_at_limit", "stage_at_limit", "wide_layer_render"), row
    assert measured["field_at_limit"]["outcome"] == "decoded width 2"
    assert measured["field_over_limit"]["outcome"].startswith("InvalidHeader")
    assert measured["field_shapes_mismatch"]["outcome"].startswith("InvalidPayload")
    assert measured["stage_at_limit"]["outcome"] == "decoded 4 tensors"
    assert measured["stage_elements_over_limit"]["outcome"].startswith("LimitExceeded")
    assert all(measured[n]["cpu_seconds"] < 1.0 for n in MEMORY_BOUNDS if n not in ("field_at_limit", "stage_at_limit", "wide_layer_render"))
