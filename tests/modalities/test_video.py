"""Video end to end on the bundled 24-frame clip, cut small: inputs (ffmpeg files, UVG-named raw
YUV), outputs (MP4, Y4M, YUV, PNG frames), temporal growth and truncation, remote widths, and the
one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nfcodec import container
from nfcodec.errors import ExitStatus
from nfcodec.modalities.video import VIDEO

from cli_support import assert_one_line_error, run
from http_servers import FileServer

CLIP = Path(__file__).resolve().parents[2] / "samples" / "carphone_24f.mp4"
SMALL = ["--frames", "0:6", "--resize", "48x32"]
FAST = ["--widths", "3,6", "--steps", "4", "--batch-size", "4096", "-q"]


def _ffmpeg(*args: str) -> None:
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def uvg_yuv(tmp_path_factory) -> Path:
    """A UVG-named raw 8-bit 4:2:0 file made from the bundled clip (6 frames, 48x32)."""
    path = tmp_path_factory.mktemp("uvg") / "Carphone_48x32_30fps_420_8bit_YUV.yuv"
    _ffmpeg("-i", str(CLIP), "-frames:v", "6", "-vf", "scale=48:32", "-f", "rawvideo", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="module")
def clip_nff(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clip") / "clip.nff"
    result = run("encode", str(CLIP), "-o", str(out), "--json", *SMALL, *FAST)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_encode_a_clip_reports_psnr_and_bpp_per_stage(clip_nff):
    out, obj = clip_nff
    assert obj["modality"] == "video" and obj["bytes"] == out.stat().st_size
    assert obj["bpp"] == pytest.approx(obj["bytes"] * 8 / (6 * 48 * 32), rel=1e-4)
    assert [s["width"] for s in obj["stages"]] == [3, 6] and all(s["extent"] is None for s in obj["stages"])
    assert all(isinstance(s["psnr"], float) and s["psnr"] > 5 for s in obj["stages"])
    signal = container.read_header(out.read_bytes()).signal
    assert (signal["schema"], signal["shape"], signal["fps"]) == ("video", [6, 32, 48], pytest.approx(29.97, abs=0.01))


@pytest.mark.parametrize("suffix, expected_bytes", [(".y4m", None), (".yuv", 6 * 48 * 32 * 3 // 2), (".mp4", None)])
def test_decode_to_each_video_format(tmp_path: Path, clip_nff, suffix: str, expected_bytes):
    out = tmp_path / f"o{suffix}"
    result = run("decode", str(clip_nff[0]), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["shape"] == [6, 32, 48, 3] and obj["written_as"]
    if expected_bytes:
        assert out.stat().st_size == expected_bytes
    else:  # read back as nfc reads clips: every frame, at the clip's size
        assert VIDEO.read(out, {}).frames.shape == (6, 32, 48, 3)


def test_lossless_mp4_holds_exactly_the_decoded_frames(tmp_path: Path, clip_nff):
    from nfcodec.codec import decode_bytes

    out = tmp_path / "l.mp4"
    result = run("decode", str(clip_nff[0]), "-o", str(out), "--lossless")
    assert result.exit_code == 0 and "lossless" in result.stdout
    frames = decode_bytes(clip_nff[0].read_bytes()).pixels
    assert np.array_equal(np.asarray(VIDEO.read(out, {}).frames), frames)


def test_frames_dir_writes_pngs(tmp_path: Path, clip_nff):
    folder = tmp_path / "frames"
    result = run("decode", str(clip_nff[0]), "--width", "1", "--frames-dir", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:06d}.png" for i in range(1, 7)]


def _grown(tmp_path: Path, grow: str, frames: int) -> tuple[Path, list[dict]]:
    """The first `frames` frames at 48x32 encoded in 3 stages grown `grow`: the file, its stages."""
    out = tmp_path / f"{grow}.nff"
    result = run("encode", str(CLIP), "-o", str(out), "--json", "--grow", grow, "--frames", f"0:{frames}", "--resize", "48x32",
                 "--widths", "2,4,6", "--steps", "3", "--batch-size", "2048", "-q")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)["stages"]


def test_temporal_growth_cut_after_stage_k_decodes_the_frames_stage_k_covers(tmp_path: Path):
    out, stages = _grown(tmp_path, "temporal", frames=5)
    assert [s["extent"][0] for s in stages] == [[0, 2], [0, 4], [0, 5]]  # ceil(k * 5 / 3) frames
    data = out.read_bytes()
    header = container.read_header(data)
    cut = tmp_path / "cut.nff"
    cut.write_bytes(data[: header.prefix_bytes(2)])
    decoded = run("decode", str(cut), "-o", str(tmp_path / "cut.y4m"), "--json")
    assert decoded.exit_code == 0 and "truncated" in decoded.stderr
    obj = json.loads(decoded.stdout)
    assert obj["width"] == 2 and obj["shape"] == [4, 32, 48, 3]


def test_spatial_growth_width_k_decodes_the_columns_stage_k_covers(tmp_path: Path):
    out, stages = _grown(tmp_path, "spatial", frames=4)
    assert [s["extent"] for s in stages] == [[[0, 4], [0, 32], [0, c]] for c in (16, 32, 48)]
    # strips stay even (4:2:0 outputs): 46 columns in 3 stages -> 16 (ceil 15.3 -> 16), 32 (31), 46
    from nfcodec.modalities.video import VideoGeometry

    assert [e[2] for e in VIDEO.stage_extents(VideoGeometry(4, 32, 46, 30.0), 3, "spatial")] == [(0, 16), (0, 32), (0, 46)]
    decoded = run("decode", str(out), "--width", "1", "-o", str(tmp_path / "w1.y4m"), "--json")
    assert decoded.exit_code == 0, decoded.output
    assert json.loads(decoded.stdout)["shape"] == [4, 32, 16, 3]
    assert_one_line_error(run("decode", str(out), "--width", "1", "--scale", "2", "-o", str(tmp_path / "x.y4m")),
                          ExitStatus.USAGE_ERROR, "spatial")


def test_frame_batches_are_declared_lattices_inside_the_extent():
    """Training batches are frames x a band of rows x the stage's columns, declared as a lattice
    (the grid's separable kernels), with values that match the frames at those coordinates."""
    import torch

    from nfcodec.transforms import fit_transform

    signal = VIDEO.read(CLIP, {"frames": "0:6", "resize": "48x32"})
    identity = fit_transform("identity", VIDEO.search_lattice(signal), 0)
    sampler = VIDEO.sampler(signal, identity, 3 * 10 * 24, torch.device("cpu"), ((0, 5), (0, 32), (0, 24)))
    coords, values, lattice = sampler.batch(torch.Generator().manual_seed(0))
    t, rows, cols = lattice.shape
    assert (t, cols) == (5, 24) and rows == 6 and np.array_equal(lattice.coords(), coords.numpy())
    frames = np.rint(coords[:, 0].numpy() * 6 - 0.5).astype(int)
    r = np.rint(coords[:, 1].numpy() * 32 - 0.5).astype(int)
    c = np.rint(coords[:, 2].numpy() * 48 - 0.5).astype(int)
    assert c.max() < 24 and frames.max() < 5
    expected = np.stack([signal.frames[f][y, x] for f, y, x in zip(frames, r, c)]) / 255.0
    assert np.allclose(values.numpy(), expected, atol=1e-6)


def test_uvg_named_raw_yuv_encodes_without_size_flags(tmp_path: Path, uvg_yuv: Path):
    result = run("encode", str(uvg_yuv), "-o", str(tmp_path / "u.nff"), "--json", *FAST)
    assert result.exit_code == 0, result.output
    signal = container.read_header((tmp_path / "u.nff").read_bytes()).signal
    assert signal["shape"] == [6, 32, 48] and signal["fps"] == 30.0


def test_remote_width_1_fetches_the_header_and_stage_1_only(tmp_path: Path, clip_nff):
    server = FileServer(clip_nff[0].parent)
    try:
        url = server.url("range", clip_nff[0].name)
        result = run("decode", url, "--width", "1", "-o", str(tmp_path / "r.y4m"), "--json")
        assert result.exit_code == 0, result.output
        obj = json.loads(result.stdout)
        header = container.read_header(clip_nff[0].read_bytes())
        assert obj["bytes_fetched"] == max(header.prefix_bytes(1), min(4096, header.file_size))
        assert obj["requests"] <= 2 and obj["shape"] == [6, 32, 48, 3]
    finally:
        server.stop()


def test_bad_video_inputs_get_one_line_errors(tmp_path: Path, uvg_yuv: Path):
    ragged = tmp_path / "Clip_48x32_30fps_420_8bit_YUV.yuv"
    ragged.write_bytes(uvg_yuv.read_bytes()[:-5])
    assert_one_line_error(run("encode", str(ragged), "-q"), ExitStatus.DATA_ERROR, "whole number of")
    unnamed = tmp_path / "clip.yuv"
    unnamed.write_bytes(uvg_yuv.read_bytes())
    assert_one_line_error(run("encode", str(unnamed), "-q"), ExitStatus.USAGE_ERROR, "--size")
    assert run("encode", str(unnamed), "--size", "48x32", "-o", str(tmp_path / "s.nff"), *FAST).exit_code == 0
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(300))
    assert_one_line_error(run("encode", str(broken), "-q"), ExitStatus.DATA_ERROR, "cannot read", "video")
    assert_one_line_error(run("encode", str(CLIP), "--frames", "20:40", "-q", "-o", str(tmp_path / "f.nff")),
                          ExitStatus.USAGE_ERROR, "outside the clip")
    assert_one_line_error(run("encode", str(CLIP), "--frames", "5:2", "-q"), ExitStatus.USAGE_ERROR, "empty")
    assert_one_line_error(run("encode", str(CLIP), "--resize", "33x20", "-q"), ExitStatus.USAGE_ERROR, "even")
    assert not list(tmp_path.glob("*.nff.*"))


def test_transforms_and_outputs_a_clip_does_not_take_are_refused_before_work(tmp_path: Path, clip_nff):
    assert_one_line_error(run("encode", str(CLIP), "--transform", "rpp", "-q"), ExitStatus.USAGE_ERROR, "does not apply to video")
    assert_one_line_error(run("decode", str(clip_nff[0]), "-o", str(tmp_path / "x.png")), ExitStatus.USAGE_ERROR, ".mp4")
    assert not (tmp_path / "x.png").exists()
    assert_one_line_error(run("encode", str(CLIP), "--grow", "temporal", "--frames", "0:2", "--stages", "3", "-q"),
                          ExitStatus.USAGE_ERROR, "3 stages")


def test_an_output_ffmpeg_refuses_is_an_error_not_an_empty_file(tmp_path: Path):
    from nfcodec.errors import UsageError
    from nfcodec.modalities.video_io import write_frames

    out = tmp_path / "odd.mp4"
    with pytest.raises(UsageError, match="needs even frame sides, the frames are 7x8"):
        write_frames(out, [np.zeros((8, 7, 3), np.uint8)] * 2, 30.0, {})  # libx264 needs even sides
    assert not out.exists() and not list(tmp_path.iterdir())


def test_ffmpeg_failing_is_its_last_words_not_an_exit_status_ignored(tmp_path: Path):
    from nfcodec.errors import UsageError
    from nfcodec.modalities.video_io import pipe_frames_to_ffmpeg

    out = tmp_path / "x.mp4"
    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "8x8", "-i", "-", "-c:v", "no-such-encoder", str(out)]
    with pytest.raises(UsageError, match=r"ffmpeg failed \(.*Encoder not found\)"):
        pipe_frames_to_ffmpeg(args, [np.zeros((8, 8, 3), np.uint8)] * 2)
