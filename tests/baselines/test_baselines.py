"""The classic codecs of every modality (nfcodec.baselines) on the bundled samples: bytes, rate and
quality measured as the modality measures our stages, unavailability said in one line."""
from __future__ import annotations

import importlib.util
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nfcodec.baselines import BASELINES, Baseline, BaselineError, BaselinePoint, baselines_for, sweep
from nfcodec.errors import NfcError, UsageError
from nfcodec.modalities.image import IMAGE, ImageSignal

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IMAGE_CODECS = ["jpeg", "webp", "avif", "jxl"]


@pytest.fixture(scope="module")
def crop() -> ImageSignal:
    pixels = IMAGE.read(SAMPLES / "kodim23.png", {}).pixels
    return ImageSignal(np.ascontiguousarray(pixels[200:264, 300:396]), 8)


def test_the_registry_lists_each_modalitys_codecs() -> None:
    assert [b.name for b in baselines_for("image")] == IMAGE_CODECS
    assert [b.name for b in baselines_for("video")] == ["x264", "x265", "svt-av1", "vvc"]
    assert [b.name for b in baselines_for("shape")] == ["draco"]
    assert list(BASELINES) == IMAGE_CODECS + ["x264", "x265", "svt-av1", "vvc", "draco"]
    for b in BASELINES.values():
        assert b.label and b.setting_name and len(b.settings) >= 4
    with pytest.raises(UsageError):
        baselines_for("audio")


@pytest.mark.parametrize("name", IMAGE_CODECS)
def test_each_image_codec_on_a_kodak_crop(crop: ImageSignal, name: str) -> None:
    baseline = BASELINES[name]
    if baseline.unavailable(crop):
        pytest.skip(baseline.unavailable(crop))
    worse, better = (baseline.run(crop, s) for s in (baseline.settings[1], baseline.settings[-2]))
    for point in (worse, better):
        assert point.codec == name and point.bytes > 0 and point.seconds > 0
        assert point.rate == pytest.approx(8 * point.bytes / (64 * 96))
        assert math.isfinite(point.metrics["psnr"]) and set(point.metrics) == {"psnr"}
    assert better.metrics["psnr"] > worse.metrics["psnr"] and better.bytes > worse.bytes
    assert worse.to_json() == {"codec": name, "setting": baseline.settings[1], "bytes": worse.bytes, "rate": worse.rate,
                               "metrics": worse.metrics, "seconds": worse.seconds}


def test_the_psnr_is_the_modalitys_own(crop: ImageSignal) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(crop.pixels).save(buffer, format="JPEG", quality=50, subsampling=2)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    point = BASELINES["jpeg"].run(crop, 50)
    assert point.bytes == len(buffer.getvalue())
    assert point.metrics == IMAGE.quality(crop, [decoded])


def test_grey_and_alpha_images(crop: ImageSignal) -> None:
    grey = ImageSignal(np.ascontiguousarray(crop.pixels[..., :1]), 8)
    alpha = np.broadcast_to(np.linspace(60, 255, 96).astype(np.uint8), (64, 96))[..., None]
    rgba = ImageSignal(np.ascontiguousarray(np.concatenate([crop.pixels, alpha], axis=2)), 8)
    points, skipped = sweep("image", grey, names=["jpeg", "webp"], settings={"jpeg": [75], "webp": [75]})
    assert skipped == {} and [p.codec for p in points] == ["jpeg", "webp"]
    assert all(25 < p.metrics["psnr"] < 60 for p in points)
    assert BASELINES["jpeg"].unavailable(rgba) == "JPEG has no alpha channel; the image has one"
    points, skipped = sweep("image", rgba, settings={n: [BASELINES[n].settings[-2]] for n in IMAGE_CODECS})
    assert skipped["jpeg"] == "JPEG has no alpha channel; the image has one"
    assert {p.codec for p in points} == {"webp", "avif", "jxl"} - set(skipped)
    assert all(35 < p.metrics["psnr"] < 70 for p in points)  # measured over all four channels
    hidden = rgba.pixels.copy()
    hidden[:, :20, 3] = 0  # WebP keeps the colour under fully transparent pixels, which the PSNR counts
    assert BASELINES["webp"].run(ImageSignal(hidden, 8), 90).metrics["psnr"] > 35


def test_a_16_bit_image(crop: ImageSignal) -> None:
    deep = ImageSignal(crop.pixels.astype(np.uint16) * 257, 16)
    assert "8-bit samples" in BASELINES["webp"].unavailable(deep)
    if BASELINES["jxl"].unavailable(deep):
        pytest.skip(BASELINES["jxl"].unavailable(deep))
    point = BASELINES["jxl"].run(deep, 0.5)  # coded at 16 bits, measured at peak 65535
    assert 30 < point.metrics["psnr"] < 70 and point.rate == pytest.approx(8 * point.bytes / (64 * 96))


@dataclass(frozen=True)
class NotInstalled(Baseline):
    def unavailable(self, signal: object = None) -> str | None:
        return "the codec is not installed here"


def test_sweep_skips_an_unavailable_codec_with_its_reason(crop: ImageSignal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BASELINES, "absent", NotInstalled("absent", "image", "Absent", "quality", (50,)))
    points, skipped = sweep("image", crop, names=["absent", "jpeg"], settings={"jpeg": [50, 90]})
    assert skipped == {"absent": "the codec is not installed here"}
    assert [(p.codec, p.setting) for p in points] == [("jpeg", 50), ("jpeg", 90)]
    with pytest.raises(UsageError):
        sweep("image", crop, names=["x264"])  # a clip's codec


def test_a_failing_codec_is_a_one_line_error_and_a_skip(crop: ImageSignal) -> None:
    if BASELINES["jxl"].unavailable(crop):
        pytest.skip(BASELINES["jxl"].unavailable(crop))
    with pytest.raises(BaselineError) as caught:
        BASELINES["jxl"].run(crop, -5.0)  # outside libjxl's distances: ffmpeg refuses
    assert isinstance(caught.value, NfcError) and "jxl at distance -5" in str(caught.value) and "\n" not in str(caught.value)
    points, skipped = sweep("image", crop, names=["jxl"], settings={"jxl": [1.0, -5.0]})
    assert points == [] and "jxl at distance -5" in skipped["jxl"]


def test_x264_on_a_small_clip() -> None:
    from nfcodec.modalities.video import VIDEO

    clip = VIDEO.read(SAMPLES / "carphone_24f.mp4", {"frames": "0:3", "resize": "48x40"})
    x264 = BASELINES["x264"]
    assert x264.unavailable(clip) is None
    worse, better = x264.run(clip, 38), x264.run(clip, 23)
    for point in (worse, better):
        assert point.bytes > 0 and point.rate == pytest.approx(8 * point.bytes / (3 * 48 * 40))
        assert point.metrics["frames"] == 3 and 15 < point.metrics["psnr"] < 60
    assert better.metrics["psnr"] > worse.metrics["psnr"] and better.bytes > worse.bytes


def test_draco_on_the_bunny() -> None:
    if importlib.util.find_spec("DracoPy") is None:
        assert BASELINES["draco"].unavailable() == "DracoPy is not installed (pip install DracoPy)"
        pytest.skip("DracoPy is not installed")
    from nfcodec.modalities.shape import SHAPE

    signal = SHAPE.read(SAMPLES / "bunny_6k.obj", {"seed": 0})
    coarse, fine = (BASELINES["draco"].run(signal, bits) for bits in (8, 12))
    triangles = len(signal.mesh.faces)
    for point in (coarse, fine):
        assert point.bytes > 0 and point.rate == pytest.approx(8 * point.bytes / triangles)
        assert set(point.metrics) >= {"chamfer_l1", "normal_consistency", "fscore_1pct", "iou"}
    assert fine.bytes > coarse.bytes and fine.metrics["chamfer_l1"] < coarse.metrics["chamfer_l1"] < 0.01
    assert isinstance(fine, BaselinePoint) and fine.to_json()["metrics"]["iou"] == pytest.approx(fine.metrics["iou"])
