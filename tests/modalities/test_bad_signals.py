"""Bad signals (issue 16), each through `nfc encode`: it works (and decodes right) or gets the
one-line error, and each test fails if the protection it checks is removed.

Images: 1x1 (works: the pixel comes back), 0 pixels (refused), 32-bit and float samples with
NaN / inf (refused), animations (refused before their frames are decoded; one frame works),
CMYK (Pillow's RGB), EXIF orientation (all 8, JPEG / PNG / WebP / TIFF / 16-bit PNG: the
displayed orientation), images larger than a batch (streamed: bounded memory, the same batches).
Clips: truncated, frameless, audio-only and garbage MP4s. Meshes: point clouds, NaN / inf
vertices, duplicate, reversed and zero-area faces, fins, unused vertices.
"""
from __future__ import annotations

import json
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from nfcodec import container
from nfcodec.errors import ExitStatus, InputError
from nfcodec.modalities.image import IMAGE, ImageSignal, read_image, sum_squared_error
from nfcodec.modalities.shape_io import load_mesh, signed_distance
from nfcodec.metrics import psnr

from cli_support import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "samples" / "carphone_24f.mp4"
FAST = ["--widths", "3,6", "--steps", "2", "--transform", "none", "-q"]


def encode(path: Path, *args: str) -> tuple[object, Path]:
    out = path.with_name(path.name + ".nff")
    return run("encode", str(path), "-o", str(out), *args), out


def decoded_pixels(nff: Path) -> np.ndarray:
    import imageio.v3 as iio

    png = nff.with_suffix(".decoded.png")
    result = run("decode", str(nff), "-o", str(png))
    assert result.exit_code == 0, result.output
    pixels = np.asarray(iio.imread(png))
    return pixels if pixels.ndim == 3 else pixels[:, :, None]


# ---- images ------------------------------------------------------------------------------


@pytest.mark.parametrize("pixels", [np.array([[77]], np.uint8), np.array([[[10, 200, 30]]], np.uint8)], ids=["grey", "rgb"])
def test_a_1x1_image_encodes_and_decodes_to_its_pixel(tmp_path: Path, pixels: np.ndarray):
    from PIL import Image

    path = tmp_path / "one.png"
    Image.fromarray(pixels).save(path)
    result, out = encode(path, "--steps", "20", "--json", "-q")  # the default field, 4 stages
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any("tiny (1x1)" in w for w in report["warnings"])
    assert container.read_header(out.read_bytes()).signal["shape"] == [1, 1]
    assert np.array_equal(decoded_pixels(out).reshape(-1), pixels.reshape(-1))


def _png(width: int, height: int, rows_written: int | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\0" + bytes(3 * width) for _ in range(height if rows_written is None else rows_written))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width, height", [(0, 10), (10, 0)])
def test_a_png_that_declares_no_pixels_is_refused(tmp_path: Path, width: int, height: int):
    path = tmp_path / "empty.png"
    path.write_bytes(_png(width, height))
    assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, "no pixels", f"{width} wide, {height} high")


def test_a_png_too_large_to_encode_is_refused_from_its_header(tmp_path: Path):
    # 10000 x 10000 (over 2^26 pixels), one row of data: refused from the IHDR, before any
    # decoding (which would take 300 MB here, and fail on the missing rows)
    path = tmp_path / "huge.png"
    path.write_bytes(_png(10000, 10000, rows_written=1))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="10000x10000 image is too large"):
            read_image(path)
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()
    assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, "too large", "split it into tiles")


def test_a_tiff_of_no_pixels_is_refused(tmp_path: Path):
    import tifffile

    path = tmp_path / "empty.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tifffile: "writing zero-size array to nonconformant TIFF"
        tifffile.imwrite(path, np.zeros((0, 10, 3), np.uint8))
    assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, "no pixels", "10 wide, 0 high")
    with pytest.raises(InputError, match="no pixels"):
        read_image(path)


def _float_tiffs(folder: Path) -> list[Path]:
    """Float samples holding NaN and infinities: Pillow's F mode, float64, float16, RGB float32;
    and 32-bit integers (Pillow's I mode)."""
    import tifffile
    from PIL import Image

    values = np.linspace(0, 1, 80, dtype=np.float32).reshape(8, 10)
    values[2, 3], values[4, 5], values[6, 7] = np.nan, np.inf, -np.inf
    Image.fromarray(values).save(folder / "f32.tif")
    tifffile.imwrite(folder / "f64.tif", values.astype(np.float64))
    tifffile.imwrite(folder / "f16.tif", values.astype(np.float16))
    tifffile.imwrite(folder / "rgb_f32.tif", np.repeat(values[:, :, None], 3, axis=2), photometric="rgb")
    tifffile.imwrite(folder / "i32.tif", (np.arange(80, dtype=np.int32) * 1 << 24).reshape(8, 10))
    return sorted(folder.glob("*.tif"))


def test_float_and_32_bit_samples_with_nan_or_inf_are_refused(tmp_path: Path):
    """Pillow's F and I modes are refused by mode (imageio would read them as float32 / int32
    arrays); the floats only tifffile reads, by sample type."""
    paths = _float_tiffs(tmp_path)
    said = {"f32.tif": "F-mode", "i32.tif": "I-mode", "f64.tif": "float64", "f16.tif": "float16", "rgb_f32.tif": "float32"}
    assert sorted(said) == [p.name for p in paths]
    for path in paths:
        assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, said[path.name], "8- or 16-bit")
        assert not path.with_name(path.name + ".nff").exists()


def _frames(count: int) -> list:
    from PIL import Image

    rng = np.random.default_rng(count)
    return [Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)) for _ in range(count)]


def test_a_one_frame_gif_encodes_with_pillows_colours(tmp_path: Path):
    from PIL import Image

    path = tmp_path / "still.gif"
    _frames(1)[0].save(path)
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB"))
    assert np.array_equal(read_image(path).pixels, expected)
    assert encode(path, *FAST)[0].exit_code == 0


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_an_animation_is_refused_before_its_frames_are_decoded(tmp_path: Path, monkeypatch, suffix: str):
    import imageio.v3 as iio

    path = tmp_path / f"anim{suffix}"
    first, *rest = _frames(3)
    first.save(path, save_all=True, append_images=rest)

    def decode_every_frame(*args, **kwargs):  # what a refusal after decoding would do
        raise AssertionError("the frames were decoded")

    monkeypatch.setattr(iio, "imread", decode_every_frame)
    line = assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, "3 frames", "animation", "video")
    assert "still images" in line


def test_a_phone_photo_with_preview_frames_is_a_still_image(tmp_path: Path, portrait: np.ndarray):
    """Phones write MPO JPEGs: the photo, then previews or depth maps as further frames. The
    photo is encoded (an animation's refusal must not catch it), upright."""
    from PIL import Image

    path = tmp_path / "phone.jpg"
    preview = Image.fromarray(portrait[::2, ::2])
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(portrait).save(path, format="MPO", save_all=True, append_images=[preview], exif=exif, quality=95)
    with Image.open(path) as image:
        assert image.format == "MPO" and image.n_frames == 2
    assert read_image(path).pixels.shape == (40, 24, 3)
    assert encode(path, *FAST)[0].exit_code == 0


def test_a_cmyk_jpeg_reads_as_pillows_rgb(tmp_path: Path, sample_pixels):
    from PIL import Image

    path = tmp_path / "cmyk.jpg"
    Image.fromarray(sample_pixels[100:164, 200:296]).convert("CMYK").save(path, quality=95)
    with Image.open(path) as image:
        assert image.mode == "CMYK"
        expected = np.asarray(image.convert("RGB"))
    image = read_image(path)
    assert image.pixels.shape == (64, 96, 3) and np.array_equal(image.pixels, expected)
    result, out = encode(path, "--steps", "30", "--stages", "1", "--transform", "none", "-q")
    assert result.exit_code == 0, result.output
    assert container.read_header(out.read_bytes()).signal["color"] == "rgb"
    assert psnr(expected, decoded_pixels(out), 255) > 15  # the colours, not inverted ink


def _oriented(path: Path, pixels: np.ndarray, orientation: int, **save) -> Path:
    from PIL import Image

    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, **save)
    return path


def _displayed(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image))


@pytest.fixture()
def portrait(sample_pixels) -> np.ndarray:
    """A non-square crop with no symmetry: each orientation gives different pixels."""
    return np.ascontiguousarray(sample_pixels[150:174, 250:290])  # 24 x 40


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_of_a_jpeg_is_honoured(tmp_path: Path, portrait: np.ndarray, orientation: int):
    path = _oriented(tmp_path / "photo.jpg", portrait, orientation, quality=95)
    displayed = _displayed(path)
    assert displayed.shape[:2] == ((24, 40) if orientation < 5 else (40, 24))
    assert np.array_equal(read_image(path).pixels, displayed)
    result, out = encode(path, *FAST)
    assert result.exit_code == 0, result.output
    assert container.read_header(out.read_bytes()).signal["shape"] == list(displayed.shape[:2])
    assert decoded_pixels(out).shape == displayed.shape


@pytest.mark.parametrize("suffix, save", [(".png", {}), (".webp", {"lossless": True}), (".tif", {})])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_of_png_webp_and_tiff_is_honoured(tmp_path: Path, portrait: np.ndarray, suffix: str, save: dict,
                                                            orientation: int):
    path = _oriented(tmp_path / f"photo{suffix}", portrait, orientation, **save)
    displayed = _displayed(path)
    assert displayed.shape[:2] == ((24, 40) if orientation == 3 else (40, 24))
    assert np.array_equal(read_image(path).pixels, displayed)


def test_exif_orientation_of_a_16_bit_png_is_honoured(tmp_path: Path, portrait: np.ndarray):
    """16-bit colour PNGs are read by pypng, not Pillow: the orientation still applies."""
    from PIL import Image

    pixels = portrait.astype(np.uint16) * 257 + 3
    plain, rotated = tmp_path / "plain.png", tmp_path / "rotated.png"
    import png

    png.from_array(pixels.reshape(24, -1), "RGB;16").save(str(plain))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    data = plain.read_bytes()
    iend = data.rindex(b"IEND") - 4
    payload = exif.tobytes()
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload + struct.pack(">I", zlib.crc32(b"eXIf" + payload))
    idat = data.index(b"IDAT") - 4  # eXIf before the pixels, where writers put it
    rotated.write_bytes(data[:idat] + chunk + data[idat:iend] + data[iend:])
    image = read_image(rotated)
    assert image.bit_depth == 16 and np.array_equal(image.pixels, np.rot90(pixels, -1))


# ---- 50-megapixel images: the streamed path, checked on small ones -----------------------


def test_an_image_larger_than_a_batch_streams_the_same_batches_in_bounded_memory(monkeypatch):
    """Above the batch size, batches come from the integer pixels: the same coordinates and
    values as the in-memory sampler (the same indices from the same generator), with no
    per-pixel float array (the in-memory path holds 20 bytes a pixel: coordinates and targets).
    The mean (the field's initial output) is torch's own up to 4 MP (those encodes keep their
    bytes), summed in float64 blocks beyond: checked here by lowering that bound."""
    from nfcodec.modalities import image as image_module
    from nfcodec.train.samplers import InMemorySampler, LatticeSampler
    from nfcodec.transforms import fit_transform

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (1000, 1500, 3), dtype=np.uint8)
    signal = ImageSignal(pixels, 8)
    cpu = torch.device("cpu")
    for name in ("identity", "gamma0.5", "standardise", "rpp"):
        transform = fit_transform(name, signal.values().reshape(pixels.shape), 3)
        whole = IMAGE.sampler(signal, transform, 1 << 30, cpu)
        reference = InMemorySampler(whole.coords, whole.values, 4096)
        assert torch.equal(IMAGE.sampler(signal, transform, 4096, cpu).mean, reference.mean)
        transform.inverse_positions(np.zeros(1, np.int64))  # a permutation's table: the transform's, not the sampler's
        monkeypatch.setattr(image_module, "EXACT_MEAN_POINTS", 0)  # as for 50 megapixels
        tracemalloc.start()
        streamed = IMAGE.sampler(signal, transform, 4096, cpu)
        _, built = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        first = streamed.batch(torch.Generator().manual_seed(5))
        _, stepped = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        monkeypatch.undo()
        assert isinstance(streamed, LatticeSampler) and not streamed.full_batch
        # blocks of a few MB to build (its mean), not one float per pixel (the in-memory sampler keeps 5)
        assert built < 4 * 1000 * 1500 and stepped < 128 * 4096, (name, built, stepped)
        expected = reference.batch(torch.Generator().manual_seed(5))
        assert torch.equal(first.coords, expected.coords) and torch.equal(first.values, expected.values), name
        assert torch.allclose(streamed.mean, reference.mean, rtol=0, atol=1e-6)


def test_a_stage_is_measured_without_a_float_copy_of_the_image():
    """The quality of a stage: its exact integer squared error, in blocks of rows; the same
    PSNR as metrics.psnr's float64 difference (4 copies of 8 bytes a sample) computes."""
    rng = np.random.default_rng(1)
    for dtype in (np.uint8, np.uint16):
        top = np.iinfo(dtype).max
        reference = rng.integers(0, top, (1000, 1000, 3), dtype=dtype, endpoint=True)
        decoded = np.clip(reference.astype(np.int64) + rng.integers(-900, 900, reference.shape), 0, top).astype(dtype)
        signal = ImageSignal(reference, 8 if dtype == np.uint8 else 16)
        tracemalloc.start()
        quality = IMAGE.quality(signal, [decoded])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert quality["psnr"] == psnr(reference, decoded, top)
        assert peak < 2 * reference.size  # under 2 bytes a sample, not 32
        assert sum_squared_error(reference, reference) == 0


def test_a_streamed_encode_decodes_like_the_image(tmp_path: Path, sample_pixels):
    """An encode whose batches are streamed (an image larger than --batch-size) trains and
    measures like any other: the reported PSNR is the decoded file's."""
    import imageio.v3 as iio

    path = tmp_path / "crop.png"
    iio.imwrite(path, sample_pixels[:96, :128])
    result, out = encode(path, "--stages", "1", "--steps", "40", "--batch-size", "2048", "--transform", "none", "--json", "-q")
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout)["stages"][-1]["psnr"]
    assert reported == pytest.approx(psnr(sample_pixels[:96, :128], decoded_pixels(out), 255), abs=1e-3) and reported > 18


# ---- clips -------------------------------------------------------------------------------

SMALL_CLIP = ["--resize", "48x32", "--widths", "3,6", "--steps", "2", "--batch-size", "4096", "--transform", "none"]


def _ffmpeg(*args: str) -> None:
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def faststart(tmp_path_factory) -> bytes:
    """The bundled clip with its index (moov) first, as streaming MP4s have it: a truncated copy
    still decodes its first frames."""
    path = tmp_path_factory.mktemp("clip") / "faststart.mp4"
    _ffmpeg("-i", str(CLIP), "-c", "copy", "-movflags", "+faststart", str(path))
    return path.read_bytes()


def test_a_truncated_mp4_with_its_index_first_encodes_the_frames_that_decode(tmp_path: Path, faststart: bytes):
    path = tmp_path / "cut.mp4"
    path.write_bytes(faststart[: len(faststart) * 3 // 4])
    result, out = encode(path, *SMALL_CLIP, "--json", "-q")
    assert result.exit_code == 0, result.output
    frames = container.read_header(out.read_bytes()).signal["shape"][0]
    assert 0 < frames < 24
    warning = [w for w in json.loads(result.stdout)["warnings"] if "truncated" in w]
    assert len(warning) == 1 and f"encoding the {frames} frames that decode" in warning[0]
    assert f"of the {len(faststart)} bytes" in warning[0]
    assert run("decode", str(out), "-o", str(tmp_path / "cut.y4m")).exit_code == 0
    # frames past the cut: refused as the file's fault, not as a bad --frames
    assert_one_line_error(encode(path, *SMALL_CLIP, "--frames", "0:24", "-q")[0], ExitStatus.DATA_ERROR, "truncated",
                          "do not decode")


def test_a_truncated_mkv_is_found_cut_short_by_its_duration(tmp_path: Path):
    """Containers without ISO boxes: the frames the stated duration holds against those that
    decode (the whole clip gets no warning)."""
    whole = tmp_path / "clip.mkv"
    _ffmpeg("-i", str(CLIP), "-c", "copy", str(whole))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    result, out = encode(cut, *SMALL_CLIP, "--json", "-q")
    assert result.exit_code == 0, result.output
    frames = container.read_header(out.read_bytes()).signal["shape"][0]
    assert [w for w in json.loads(result.stdout)["warnings"] if "cut short" in w] == [
        f"{cut} is cut short (its duration says 24 frames, {frames} decode): encoding the {frames} frames that decode"]
    result, _ = encode(whole, *SMALL_CLIP, "--json", "-q")
    assert result.exit_code == 0 and not [w for w in json.loads(result.stdout)["warnings"] if "cut short" in w]


@pytest.mark.parametrize("cut", ["index last", "before the first frame"])
def test_a_truncated_mp4_without_decodable_frames_gets_one_line(tmp_path: Path, faststart: bytes, cut: str):
    path = tmp_path / "cut.mp4"
    data = CLIP.read_bytes() if cut == "index last" else faststart
    path.write_bytes(data[: len(data) // 2] if cut == "index last" else data[:1300])
    assert_one_line_error(encode(path, *SMALL_CLIP, "-q")[0], ExitStatus.DATA_ERROR, "cannot read", "truncated", "bytes its boxes declare")


def test_mp4s_with_no_video_get_one_line(tmp_path: Path):
    frameless, audio = tmp_path / "frameless.mp4", tmp_path / "audio.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x24:r=25", "-frames:v", "0", "-c:v", "libx264", str(frameless))
    _ffmpeg("-f", "lavfi", "-i", "sine=d=0.3", "-c:a", "aac", str(audio))
    for path in (frameless, audio):
        assert_one_line_error(encode(path, *SMALL_CLIP, "-q")[0], ExitStatus.DATA_ERROR, "cannot read", "no video stream")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    line = assert_one_line_error(encode(garbage, *SMALL_CLIP, "-q")[0], ExitStatus.DATA_ERROR, "cannot read", "no video")
    assert "truncated" not in line


def test_a_clip_with_frames_larger_than_a_decoder_renders_is_refused_before_reading(tmp_path: Path):
    # 8200x8200 > 2^26 pixels a frame (annex V): a decoder would refuse the file, so the encoder
    # does, before any frame is read (the raw file is sparse: nothing is on disk)
    path = tmp_path / "Big_8200x8200_30fps_420_8bit_YUV.yuv"
    with open(path, "wb") as fh:
        fh.truncate(8200 * 8200 * 3 // 2)
    assert_one_line_error(encode(path, "-q")[0], ExitStatus.DATA_ERROR, "8200x8200", "exceed", "--resize")


# ---- meshes ------------------------------------------------------------------------------

CUBE_VERTICES = [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]  # index 4x + 2y + z
CUBE_FACES = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1), (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4),
              (1, 5, 7), (1, 7, 3)]  # outward


def _obj(path: Path, vertices, faces) -> Path:
    path.write_text("".join(f"v {x} {y} {z}\n" for x, y, z in vertices) + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces))
    return path


def _ply(path: Path, vertices, faces, binary: bool = False) -> Path:
    vertices, faces = np.asarray(vertices, "<f4").reshape(-1, 3), np.asarray(faces, np.int64).reshape(-1, 3)
    header = ("ply\nformat " + ("binary_little_endian" if binary else "ascii") + " 1.0\n"
              f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
              + (f"element face {len(faces)}\nproperty list uchar int vertex_indices\n" if len(faces) else "") + "end_header\n")
    if binary:
        body = vertices.tobytes() + b"".join(struct.pack("<B3i", 3, *map(int, f)) for f in faces)
    else:
        body = ("".join(f"{x} {y} {z}\n" for x, y, z in vertices) + "".join(f"3 {a} {b} {c}\n" for a, b, c in faces)).encode()
    path.write_bytes(header.encode() + body)
    return path


def _centre_distance(path: Path) -> float:
    mesh = load_mesh(path)
    return float(signed_distance(mesh, np.array([[0.5, 0.5, 0.5]]))[0])


@pytest.mark.parametrize("name", ["cloud.obj", "cloud.ply"])
def test_a_point_cloud_gets_one_line(tmp_path: Path, name: str):
    path = (_obj if name.endswith(".obj") else _ply)(tmp_path / name, CUBE_VERTICES, np.zeros((0, 3), np.int64))
    assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, "no faces")


@pytest.mark.parametrize("bad", ["nan", "inf"])
@pytest.mark.parametrize("writer", ["obj", "ply", "binary ply"])
def test_a_vertex_a_face_uses_that_is_not_a_number_gets_one_line(tmp_path: Path, bad: str, writer: str):
    vertices = CUBE_VERTICES[:-1] + [(float(bad), 1.0, 1.0)]
    path = tmp_path / f"m.{writer.split()[-1]}"
    _obj(path, vertices, CUBE_FACES) if writer == "obj" else _ply(path, vertices, CUBE_FACES, binary=writer == "binary ply")
    assert_one_line_error(encode(path, *FAST)[0], ExitStatus.DATA_ERROR, "not finite")


def test_unused_vertices_are_no_part_of_the_shape_whatever_they_hold(tmp_path: Path):
    path = _ply(tmp_path / "m.ply", CUBE_VERTICES + [(np.nan, 0.0, 0.0), (50.0, 50.0, 50.0)], CUBE_FACES)
    mesh = load_mesh(path)
    assert len(mesh.vertices) == 8 and np.isfinite(mesh.vertices).all() and np.ptp(mesh.vertices, axis=0).max() == 1
    assert np.array_equal(mesh.vertices[mesh.faces], np.asarray(CUBE_VERTICES, float)[np.asarray(CUBE_FACES)])


def test_repeated_and_reversed_faces_count_once(tmp_path: Path):
    """A reversed repeat of every face would cancel the winding number (no inside at all); a
    repeat of some would count them twice. Kept once, the cube's centre is inside."""
    reversed_repeats = [(a, c, b) for a, b, c in CUBE_FACES]
    path = _obj(tmp_path / "twice.obj", CUBE_VERTICES, CUBE_FACES + reversed_repeats + [CUBE_FACES[0][::-1]])
    assert len(load_mesh(path).faces) == 12 and load_mesh(path).triangles == 25
    assert _centre_distance(path) == pytest.approx(-0.5)
    # an unwelded STL (three vertices of its own per face) has its repeats found by position
    import trimesh

    stl = tmp_path / "twice.stl"
    corners = np.asarray(CUBE_VERTICES, float)[np.asarray(CUBE_FACES + reversed_repeats)]
    trimesh.Trimesh(corners.reshape(-1, 3), np.arange(3 * len(corners)).reshape(-1, 3), process=False).export(stl)
    assert len(load_mesh(stl).faces) == 12 and _centre_distance(stl) == pytest.approx(-0.5)


def test_zero_area_faces_are_dropped(tmp_path: Path):
    """A collapsed triangle is a segment: along the cube's diagonal it would pull the distance
    at the centre to zero."""
    degenerate = [(0, 7, 7), (0, 0, 0), (0, 8, 7)]  # a repeated corner, a point, collinear corners
    path = _obj(tmp_path / "m.obj", CUBE_VERTICES + [(0.5, 0.5, 0.5)], CUBE_FACES + degenerate)
    assert len(load_mesh(path).faces) == 12
    assert _centre_distance(path) == pytest.approx(-0.5)
    flat = _obj(tmp_path / "flat.obj", [(0, 0, 0), (1, 0, 0), (2, 0, 0)], [(0, 1, 2)])
    assert_one_line_error(encode(flat, *FAST)[0], ExitStatus.DATA_ERROR, "zero area")


def test_a_mesh_with_a_fin_and_every_other_fault_encodes_and_decodes_a_cube(tmp_path: Path):
    """Non-manifold edges work: a fin (a third triangle on a cube edge), repeats, zero-area
    faces and a far unused vertex, together, encode and decode to the cube in its place."""
    import trimesh

    vertices = CUBE_VERTICES + [(0.5, -0.6, 0.5), (9.0, 9.0, 9.0)]
    faces = CUBE_FACES + [(0, 1, 8)] + CUBE_FACES[:4] + [(0, 7, 7)]
    path = _obj(tmp_path / "messy.obj", vertices, faces)
    assert len(load_mesh(path).faces) == 13  # the cube and its fin
    result, out = encode(path, "--stages", "1", "--steps", "30", "--batch-size", "65536", "--json", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rate"] == pytest.approx(out.stat().st_size * 8 / len(faces), rel=1e-3)
    decoded = tmp_path / "cube.ply"
    assert run("decode", str(out), "-o", str(decoded), "--resolution", "48").exit_code == 0
    (x0, y0, z0), (x1, y1, z1) = trimesh.load(decoded, process=False).bounds
    assert max(x0, z0) < 0.15 and min(x1, y1, z1) > 0.85, (x0, y0, z0, x1, y1, z1)  # the cube, in its place
    assert min(x0, z0) > -0.2 and y0 > -0.8 and max(x1, y1, z1) < 1.2  # the fin at most, not the far vertex
