from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nfcodec.errors import InputError, InvalidHeader
from nfcodec.modalities.image import ImageGeometry, pixel_coords, read_image, write_png


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_round_trip_keeps_depth_and_channels(tmp_path: Path, channels: int, dtype):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, np.iinfo(dtype).max, size=(5, 7, channels), endpoint=True).astype(dtype)
    write_png(tmp_path / "x.png", pixels)
    image = read_image(tmp_path / "x.png")
    assert image.bit_depth == (8 if dtype == np.uint8 else 16)
    assert np.array_equal(image.pixels, pixels)


def test_values_and_back_are_exact():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    geometry = ImageGeometry(16, 16, 1, 8)
    from nfcodec.modalities.image import ImageSignal

    values = ImageSignal(pixels, 8).values()
    assert values.min() == 0.0 and values.max() == 1.0
    assert np.array_equal(geometry.to_pixels(values, 16, 16), pixels)


def test_pixel_centres_in_row_column_order():
    coords = pixel_coords(2, 4)
    assert coords.shape == (8, 2)
    assert np.allclose(coords[0], [0.25, 0.125]) and np.allclose(coords[1], [0.25, 0.375])
    assert np.allclose(coords[-1], [0.75, 0.875])


def test_jpeg_is_read(tmp_path: Path, sample_pixels):
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "x.jpg", sample_pixels[:32, :48])
    assert read_image(tmp_path / "x.jpg").pixels.shape == (32, 48, 3)


def test_bad_inputs(tmp_path: Path):
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(InputError):
        read_image(tmp_path / "t.png")
    with pytest.raises(InputError):
        read_image(tmp_path / "missing.png")


@pytest.mark.parametrize(
    "desc",
    [{}, {"shape": [0, 4], "channels": 3, "bit_depth": 8}, {"shape": [1 << 20, 1 << 20], "channels": 3, "bit_depth": 8},
     {"shape": [4, 4], "channels": 5, "bit_depth": 8}, {"shape": [4, 4], "channels": 3, "bit_depth": 12}],
)
def test_hostile_descriptions_are_refused(desc):
    with pytest.raises(InvalidHeader):
        ImageGeometry.from_description(desc)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path, sample_pixels):
    from PIL import Image

    Image.fromarray(sample_pixels[:16, :24]).convert("CMYK").save(tmp_path / "c.jpg")
    image = read_image(tmp_path / "c.jpg")
    assert image.channels == 3 and image.description()["color"] == "rgb"
