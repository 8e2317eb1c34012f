"""imageio reads `.nff` after `import nfcodec` (nfcodec.plugins.imageio_nff): real tiny encodes,
pixels equal to `decode_bytes` at width 1 and all, clips frame by frame, truncated files, the
refusals (a shape, writing, bytes that are no .nff) and imports in either order."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nfcodec  # noqa: F401  (registers the plugin)
import imageio.v3 as iio
from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode, encode_image
from nfcodec.errors import UsageError
from nfcodec.modalities.image import ImageSignal

ROOT = Path(__file__).resolve().parents[2]
TINY = EncodeConfig(stages=2, steps=5, transform="none", device="cpu")


def _channels(rgb: np.ndarray, kind: str) -> np.ndarray:
    if kind == "grey":
        return rgb.mean(axis=2, keepdims=True).astype(np.uint8)
    if kind == "rgba":
        alpha = np.linspace(0, 255, rgb.shape[0] * rgb.shape[1]).astype(np.uint8).reshape(*rgb.shape[:2], 1)
        return np.concatenate([rgb, alpha], axis=2)
    return rgb


@pytest.fixture(scope="module")
def images(tmp_path_factory, sample_pixels) -> dict[str, Path]:
    """A 24x32 crop of the Kodak sample as RGB, grey and RGBA files, 2 stages each."""
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    for kind in ("rgb", "grey", "rgba"):
        pixels = np.ascontiguousarray(_channels(sample_pixels[200:224, 300:332], kind))
        paths[kind] = folder / f"{kind}.nff"
        paths[kind].write_bytes(encode_image(ImageSignal(pixels, 8), TINY).data)
    return paths


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 frames of the bundled clip at 32x24; temporal growth: width 1 covers 2 frames."""
    out = tmp_path_factory.mktemp("clip") / "clip.nff"
    options = {"frames": "0:3", "resize": "32x24"}
    encode(ROOT / "samples" / "carphone_24f.mp4", out, EncodeConfig(stages=2, steps=5, transform="none", device="cpu",
                                                                     grow="temporal", input_options=options))
    return out


def _as_read(pixels: np.ndarray) -> np.ndarray:
    return pixels[:, :, 0] if pixels.shape[-1] == 1 else pixels  # grey: [H, W], as imageio returns it


@pytest.mark.parametrize("kind", ["rgb", "grey", "rgba"])
def test_reads_exactly_what_decode_bytes_gives_at_width_1_and_all(images, kind: str):
    path = images[kind]
    data = path.read_bytes()
    for width in (1, None):
        expected = _as_read(decode_bytes(data, width=width).pixels)
        assert np.array_equal(iio.imread(path, width=width), expected)
        assert np.array_equal(iio.imread(data, width=width), expected)  # bytes, no name
        assert np.array_equal(iio.imread(io.BytesIO(data), width=width, extension=".nff"), expected)
    props = iio.improps(path)
    assert (props.shape, props.dtype, props.is_batch) == (expected.shape, np.uint8, False)
    assert iio.imread(path, index=...).shape == (1, *expected.shape)


def test_meta_and_props_come_from_the_header(images):
    meta = iio.immeta(images["rgb"])
    assert meta == {"modality": "image", "stages_total": 2, "widths_available": 2, "complete": True,
                    "transform": "identity", "width": 2}
    assert iio.immeta(images["rgb"], width=1)["width"] == 1


def test_a_clip_reads_whole_by_frame_and_frame_by_frame(clip):
    data = clip.read_bytes()
    for width, frames in ((1, 2), (None, 3)):
        expected = decode_bytes(data, width=width).pixels
        assert expected.shape == (frames, 24, 32, 3)
        assert np.array_equal(iio.imread(clip, width=width), expected)
        for k in range(frames):
            assert np.array_equal(iio.imread(clip, index=k, width=width), expected[k])
        assert np.array_equal(np.stack(list(iio.imiter(clip, width=width))), expected)
        props = iio.improps(clip, width=width)
        assert (props.shape, props.n_images, props.is_batch) == ((frames, 24, 32, 3), frames, True)
    assert iio.improps(clip, index=0).shape == (24, 32, 3)
    with pytest.raises(ValueError, match="index 3 is out of range"):
        iio.imread(clip, index=3)


def test_a_truncated_file_reads_its_largest_complete_width(tmp_path: Path, images):
    data = images["rgb"].read_bytes()
    cut = data[: container.read_header(data).stages[-1].chunk.offset + 10]  # inside stage 2
    path = tmp_path / "cut.nff"
    path.write_bytes(cut)
    assert np.array_equal(iio.imread(path), decode_bytes(data, width=1).pixels)
    meta = iio.immeta(path)
    assert (meta["complete"], meta["widths_available"], meta["note"]) == (False, 1, decode_bytes(cut).note)
    assert iio.immeta(path, width=2)["note"] == decode_bytes(cut, width=2).note
    with pytest.raises(UsageError, match="width 3 is out of range"):
        iio.imread(path, width=3)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # imageio's legacy plugins, tried in turn
def test_bytes_that_are_no_nff_fall_through_to_other_plugins(tmp_path: Path, images):
    garbage = tmp_path / "garbage.nff"
    garbage.write_bytes(b"not a neural field " * 20)
    with pytest.raises(OSError, match="garbage.nff"):
        iio.imread(garbage)
    png = tmp_path / "misnamed.nff"  # a PNG with the wrong suffix: imageio's Pillow plugin reads it
    iio.imwrite(tmp_path / "a.png", iio.imread(ROOT / "samples" / "kodim23.png")[:8, :8])
    png.write_bytes((tmp_path / "a.png").read_bytes())
    assert iio.imread(png).shape == (8, 8, 3)


def test_a_shape_is_refused_with_one_line(tmp_path: Path):
    out = tmp_path / "bunny.nff"
    encode(ROOT / "samples" / "bunny_6k.obj", out, EncodeConfig(stages=1, steps=1, transform="none", device="cpu"))
    with pytest.raises(UsageError) as caught:
        iio.imread(out)
    message = str(caught.value)
    assert "holds a 3D shape, not an image" in message and "nfc decode" in message and "\n" not in message


def test_writing_nff_is_refused_and_writes_nothing(tmp_path: Path):
    target = tmp_path / "x.nff"
    with pytest.raises(UsageError, match="nfc encode"):
        iio.imwrite(target, np.zeros((4, 4, 3), np.uint8))
    assert not target.exists()


def test_ordinary_images_still_read_and_write(tmp_path: Path, sample_pixels):
    for suffix in (".png", ".jpg"):
        path = tmp_path / f"x{suffix}"
        iio.imwrite(path, sample_pixels[:16, :16])
        assert iio.imread(path).shape == (16, 16, 3)
    assert np.array_equal(iio.imread(tmp_path / "x.png"), sample_pixels[:16, :16])


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_nfcodec_loads_no_library_and_registers_in_either_order(images):
    path, expected = images["rgb"], decode_bytes(images["rgb"].read_bytes()).pixels
    shape = _python(f"""
        import sys
        import nfcodec
        loaded = [m for m in ("numpy", "torch", "imageio", "PIL") if m in sys.modules]
        assert not loaded, loaded
        import imageio.v3 as iio
        from PIL import Image
        assert not any(type(f).__name__ == "_Finder" for f in sys.meta_path)  # done: it removed itself
        print(iio.imread({str(path)!r}).shape)
        """)
    assert shape == str(expected.shape)
    shape = _python(f"""
        import imageio.v3 as iio
        import nfcodec
        print(iio.imread({str(path)!r}).shape)
        """)
    assert shape == str(expected.shape)


def test_a_failing_registration_does_not_break_the_import():
    assert _python("""
        import nfcodec.plugins as plugins
        plugins._PENDING["imageio"] = "nfcodec.no_such_module"
        import imageio.v3 as iio
        import imageio.config
        print("nff" in imageio.config.known_plugins, iio.imread("samples/kodim23.png").shape)
        """) == "False (512, 768, 3)"
