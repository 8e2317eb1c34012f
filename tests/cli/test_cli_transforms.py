"""`nfc encode --transform` and `nfc decode --scale` (tiny images, few steps)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nfcodec.errors import ExitStatus

from cli_support import assert_one_line_error, run

FAST = ["--stages", "2", "--steps", "5", "-q"]




@pytest.fixture(scope="module")
def files(tmp_path_factory, sample_pixels) -> dict[str, Path]:
    import imageio.v3 as iio

    folder = tmp_path_factory.mktemp("cli_transforms")
    png = folder / "crop.png"
    iio.imwrite(png, sample_pixels[200:212, 300:316])
    out = {"png": png}
    for name in ("none", "rpp", "ordered", "gamma0.5"):
        nff = folder / f"{name}.nff"
        result = run("encode", str(png), "-o", str(nff), "--transform", name, "--json", *FAST)
        assert result.exit_code == 0, result.output
        out[name] = nff
        out[name + ".json"] = json.loads(result.stdout)
    return out


def test_encode_records_the_transform(files):
    assert files["none.json"]["transform"] == {"id": 0, "name": "identity", "preset": "identity", "params": {}}
    assert files["rpp.json"]["transform"]["name"] == "rpp" and files["rpp.json"]["transform"]["params"] == {"seed": 0}
    assert files["gamma0.5.json"]["transform"]["params"] == {"gamma": 0.5}
    info = json.loads(run("info", str(files["ordered"]), "--json").stdout)
    assert info["transform"]["name"] == "ordered"
    assert [c["type"] for c in info["chunks"]] == ["NHDR", "NXFM", "NSTG", "NSTG", "NEND"]
    assert info["file_size"] == files["ordered.json"]["bytes"]


@pytest.mark.parametrize("name", ["rpp", "ordered", "gamma0.5"])
def test_decode_inverts_the_transform(files, name, tmp_path):
    import imageio.v3 as iio

    from nfcodec.metrics import psnr

    png = tmp_path / "out.png"
    result = run("decode", str(files[name]), "-o", str(png), "--json")
    assert result.exit_code == 0, result.output
    decoded = iio.imread(png)
    original = iio.imread(files["png"])
    assert psnr(original, decoded, 255) == pytest.approx(files[name + ".json"]["stages"][-1]["psnr"], abs=1e-4)


def test_unknown_transform_is_one_line_listing_the_known_names(files, tmp_path):
    result = run("encode", str(files["png"]), "-o", str(tmp_path / "x.nff"), "--transform", "gamma3", *FAST)
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "gamma3", "known", "none", "rpp", "ordered", "halve")
    assert not (tmp_path / "x.nff").exists()


def test_decode_at_double_scale(files, tmp_path):
    import imageio.v3 as iio

    png = tmp_path / "big.png"
    result = run("decode", str(files["gamma0.5"]), "-o", str(png), "--scale", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["shape"] == [24, 32, 3]
    assert iio.imread(png).shape == (24, 32, 3)


@pytest.mark.parametrize("name", ["rpp", "ordered"])
def test_scale_is_refused_for_permutations(files, name, tmp_path):
    result = run("decode", str(files[name]), "-o", str(tmp_path / "p.png"), "--scale", "2")
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "scale", name)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("scale", ["0", "-2", "nan", "inf"])
def test_bad_scale_values(files, scale, tmp_path):
    result = run("decode", str(files["none"]), "-o", str(tmp_path / "s.png"), "--scale", scale)
    assert_one_line_error(result, ExitStatus.USAGE_ERROR, "scale")
