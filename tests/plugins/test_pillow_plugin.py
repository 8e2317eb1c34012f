"""Pillow opens `.nff` after `import nfcodec` (nfcodec.plugins.pillow_nff): real tiny encodes,
pixels equal to `decode_bytes` at width 1 and all (8-bit, 16-bit grey, 16-bit colour rounded),
clips as frames, truncated files, the refusals and imports in either order."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import nfcodec  # noqa: F401  (registers the plugin)
from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode, encode_image
from nfcodec.errors import UsageError
from nfcodec.modalities.image import ImageSignal
from nfcodec.plugins import pillow_nff

ROOT = Path(__file__).resolve().parents[2]
TINY = EncodeConfig(stages=2, steps=5, transform="none", device="cpu")
KINDS = {"rgb": "RGB", "grey": "L", "rgba": "RGBA", "grey16": "I;16", "rgb16": "RGB"}


def _pixels(crop: np.ndarray, kind: str) -> np.ndarray:
    grey = crop.mean(axis=2, keepdims=True)
    alpha = np.linspace(0, 255, crop.shape[0] * crop.shape[1]).reshape(*crop.shape[:2], 1)
    pixels = {"rgb": crop, "grey": grey, "rgba": np.concatenate([crop, alpha], axis=2), "grey16": grey * 257.0,
              "rgb16": crop * 257.0 + 100}[kind]
    return np.ascontiguousarray(pixels.astype(np.uint16 if kind.endswith("16") else np.uint8))


@pytest.fixture(scope="module")
def images(tmp_path_factory, sample_pixels) -> dict[str, Path]:
    """A 24x32 crop of the Kodak sample in each mode, 2 stages each."""
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    for kind in KINDS:
        pixels = _pixels(sample_pixels[200:224, 300:332].astype(np.float64), kind)
        paths[kind] = folder / f"{kind}.nff"
        paths[kind].write_bytes(encode_image(ImageSignal(pixels, 8 * pixels.itemsize), TINY).data)
    return paths


def _opened(path: Path, width: int | None) -> Image.Image:
    im = Image.open(path)
    if width is not None:
        im.nff_width = width
    return im


def _as_pillow(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[-1] == 1:
        return pixels[:, :, 0]  # a one-band image is [H, W] in numpy
    if pixels.dtype == np.uint16:  # 16-bit colour: the nearest 8-bit value
        return np.rint(pixels / 257.0).astype(np.uint8)
    return pixels


@pytest.mark.parametrize("kind", list(KINDS))
def test_opens_each_mode_with_the_pixels_decode_bytes_gives(images, kind: str):
    data = images[kind].read_bytes()
    for width in (1, None):
        expected = _as_pillow(decode_bytes(data, width=width).pixels)
        with _opened(images[kind], width) as im:
            assert (im.format, im.mode, im.size, im.n_frames) == ("NFF", KINDS[kind], (32, 24), 1)
            assert np.array_equal(np.asarray(im), expected)
    assert Image.open(images[kind]).info["nff_bit_depth"] == (16 if kind.endswith("16") else 8)
    with Image.open(io.BytesIO(data)) as im:  # a stream, no name
        assert np.array_equal(np.asarray(im), _as_pillow(decode_bytes(data).pixels))


def test_convert_and_save_as_png(tmp_path: Path, images):
    with Image.open(images["rgba"]) as im:
        im.convert("RGB").save(tmp_path / "rgb.png")
        im.save(tmp_path / "rgba.png")
    with Image.open(tmp_path / "rgba.png") as back:
        assert back.mode == "RGBA" and np.array_equal(np.asarray(back), decode_bytes(images["rgba"].read_bytes()).pixels)
    assert Image.open(tmp_path / "rgb.png").mode == "RGB"


def test_the_width_is_checked_and_can_change_after_a_load(images):
    im = Image.open(images["rgb"])
    data = images["rgb"].read_bytes()
    assert im.nff_width == 2
    with pytest.raises(UsageError, match="width 3 is out of range"):
        im.nff_width = 3
    assert np.array_equal(np.asarray(im), decode_bytes(data).pixels)
    im.nff_width = 1
    assert np.array_equal(np.asarray(im), decode_bytes(data, width=1).pixels)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 frames of the bundled clip at 32x24; temporal growth: width 1 covers 2 frames."""
    out = tmp_path_factory.mktemp("clip") / "clip.nff"
    options = {"frames": "0:3", "resize": "32x24"}
    encode(ROOT / "samples" / "carphone_24f.mp4", out, EncodeConfig(stages=2, steps=5, transform="none", device="cpu",
                                                                     grow="temporal", input_options=options))
    return out


def test_a_clip_is_a_multi_frame_image(clip):
    data = clip.read_bytes()
    for width, frames in ((1, 2), (None, 3)):
        expected = decode_bytes(data, width=width).pixels
        im = _opened(clip, width)
        assert (im.n_frames, im.is_animated, im.size, im.mode) == (frames, True, (32, 24), "RGB")
        for k in reversed(range(frames)):  # any order: each frame is rendered on its own
            im.seek(k)
            assert im.tell() == k and np.array_equal(np.asarray(im), expected[k])
        with pytest.raises(EOFError):
            im.seek(frames)


def test_a_truncated_file_decodes_its_largest_complete_width(tmp_path: Path, images):
    data = images["rgb"].read_bytes()
    cut = data[: container.read_header(data).stages[-1].chunk.offset + 10]  # inside stage 2
    path = tmp_path / "cut.nff"
    path.write_bytes(cut)
    im = Image.open(path)
    assert im.info["nff_note"] == decode_bytes(cut).note and im.nff_width == 1
    assert np.array_equal(np.asarray(im), decode_bytes(data, width=1).pixels)
    im.nff_width = 2
    assert im.info["nff_note"] == decode_bytes(cut, width=2).note and im.nff_width == 1
    assert "nff_note" not in Image.open(images["rgb"]).info


def test_refusals_are_clear(tmp_path: Path):
    garbage = tmp_path / "garbage.nff"
    garbage.write_bytes(b"not a neural field " * 20)
    with pytest.raises(UnidentifiedImageError, match="garbage.nff"):
        Image.open(garbage)
    bunny = tmp_path / "bunny.nff"
    encode(ROOT / "samples" / "bunny_6k.obj", bunny, EncodeConfig(stages=1, steps=1, transform="none", device="cpu"))
    with pytest.raises(UsageError, match=r"holds a 3D shape, not an image: decode it with `nfc decode`"):
        Image.open(bunny)


def test_ordinary_images_still_open_and_the_registration_is_complete(tmp_path: Path, sample_pixels):
    for suffix, mode in ((".png", "RGB"), (".jpg", "RGB"), (".gif", "P")):
        path = tmp_path / f"x{suffix}"
        Image.fromarray(sample_pixels[:16, :16]).save(path)
        with Image.open(path) as im:
            assert (im.mode, im.size) == (mode, (16, 16))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), sample_pixels[:16, :16])
    assert pillow_nff.SIGNATURE == container.SIGNATURE
    assert (Image.EXTENSION[".nff"], Image.MIME["NFF"]) == ("NFF", "application/x-nff")


def test_either_import_order_registers(images):
    path, expected = images["rgb"], str(decode_bytes(images["rgb"].read_bytes()).pixels.shape)
    for imports in ("import nfcodec\nfrom PIL import Image", "from PIL import Image\nimport nfcodec"):
        code = f"{imports}\nimport numpy as np\nprint(np.asarray(Image.open({str(path)!r})).shape)"
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
