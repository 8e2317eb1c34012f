"""Rate and quality goals end to end (issue 14): --bpp / --size / --psnr / --stage-bpp land
where asked on images, clips and shapes, and coded files decode the same bytes every time and
at every thread count."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nfcodec import container
from nfcodec.codec import EncodeConfig, decode_bytes, encode
from nfcodec.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "samples" / "carphone_24f.mp4"
MESH = ROOT / "samples" / "bunny_6k.obj"


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory, sample_pixels: np.ndarray) -> Path:
    """A 128x192 crop of the Kodak sample: big enough that a 2-stage header is a small share."""
    import imageio.v3 as iio

    path = tmp_path_factory.mktemp("goals") / "crop.png"
    iio.imwrite(path, sample_pixels[150:278, 250:442])
    return path


def _encode(src: Path, out: Path, **kw) -> object:
    return encode(src, out, EncodeConfig(transform="none", steps=kw.pop("steps", 40), **kw))


def test_bpp_lands_within_five_percent_below(photo: Path, tmp_path: Path) -> None:
    result = _encode(photo, tmp_path / "a.nff", bpp=2.0, stages=2)
    assert 0.95 * 2.0 <= result.bpp <= 2.0
    header = container.read_header(result.data)
    assert header.version == (1, 1) and header.compression == "none"
    assert all(t.dtype == "qe" for s in header.stages for t in s.tensors)
    assert result.stages[1].psnr > result.stages[0].psnr > 15
    assert not result.warnings


def test_size_lands_and_the_file_decodes_to_its_reported_quality(photo: Path, tmp_path: Path) -> None:
    result = _encode(photo, tmp_path / "b.nff", size="5KB", stages=1)
    assert 4750 <= len(result.data) <= 5000
    decoded = decode_bytes(result.data)
    assert decoded.pixels.shape == (128, 192, 3)


def test_stage_bpp_sets_every_prefix(photo: Path, tmp_path: Path) -> None:
    result = _encode(photo, tmp_path / "c.nff", stage_bpp="0.8,2.4", stages=2)
    for stage, asked in zip(result.stages, (0.8, 2.4)):
        rate = stage.prefix_bytes * 8 / result.pixels
        assert 0.9 * asked <= rate <= asked * 1.01, (stage.index, rate)


def test_psnr_goal_reaches_the_quality_in_fewer_bytes_than_more_quality(photo: Path, tmp_path: Path) -> None:
    low = _encode(photo, tmp_path / "d.nff", psnr=22.0, stages=1)
    high = _encode(photo, tmp_path / "e.nff", psnr=26.0, stages=1)
    assert low.stages[-1].psnr >= 22.0 - 0.3
    assert high.stages[-1].psnr >= 26.0 - 0.3
    assert len(low.data) < len(high.data)


def test_same_options_same_bytes(photo: Path, tmp_path: Path) -> None:
    a = _encode(photo, tmp_path / "f.nff", bpp=1.0, stages=1, steps=20)
    b = _encode(photo, tmp_path / "g.nff", bpp=1.0, stages=1, steps=20)
    assert a.data == b.data


def _decode_digest(path: Path, threads: int, width: int) -> str:
    code = ("import hashlib, sys; from nfcodec.threads import configure_threads;"
            f"configure_threads({threads}); from nfcodec.codec import decode_bytes;"
            f"r = decode_bytes(open(sys.argv[1], 'rb').read(), width={width});"
            "print(hashlib.sha256(r.pixels.tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_goals_refuse_what_they_cannot_mean(photo: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="choose one"):
        _encode(photo, tmp_path / "i.nff", bpp=1.0, psnr=30.0)
    with pytest.raises(UsageError, match="ask for more"):
        _encode(photo, tmp_path / "j.nff", size="300", stages=4)
    with pytest.raises(UsageError, match="PSNR"):
        _encode(MESH, tmp_path / "k.nff", psnr=30.0)


def test_a_clip_lands_on_its_bpp(tmp_path: Path) -> None:
    result = _encode(CLIP, tmp_path / "v.nff", bpp=1.0, stages=1, steps=40, input_options={"frames": "0:4", "resize": "96x80"})
    assert 0.95 <= result.bpp <= 1.0
    assert result.stages[0].psnr > 15


def test_a_shape_lands_on_its_size(tmp_path: Path) -> None:
    result = _encode(MESH, tmp_path / "s.nff", size="12KB", stages=1, steps=15)
    assert 0.95 * 12000 <= len(result.data) <= 12000
    assert result.stages[0].metrics["chamfer_l1"] < 0.05


def test_cli_takes_the_goals(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.nff"
    proc = subprocess.run([sys.executable, "-m", "nfcodec", "encode", str(photo), "-o", str(out), "--size", "4KB", "--stages", "1",
                           "--steps", "20", "--transform", "none", "--json", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert 3800 <= report["bytes"] <= 4000 and out.stat().st_size == report["bytes"]
    bad = subprocess.run([sys.executable, "-m", "nfcodec", "encode", str(photo), "-o", str(tmp_path / "x.nff"), "--bpp", "1", "--psnr", "30"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "choose one" in bad.stderr and "Traceback" not in bad.stderr


def test_a_goal_defaults_to_two_stages_and_a_siren_refuses_goals(photo: Path, tmp_path: Path) -> None:
    result = encode(photo, tmp_path / "two.nff", EncodeConfig(transform="none", steps=20, bpp=2.0))
    assert len(result.stages) == 2
    assert len(encode(photo, tmp_path / "four.nff", EncodeConfig(transform="none", steps=5)).stages) == 4
    with pytest.raises(UsageError, match="SIREN"):
        _encode(photo, tmp_path / "siren.nff", arch="siren", bpp=1.0)
    with pytest.raises(UsageError, match="64 bytes"):
        _encode(photo, tmp_path / "tiny.nff", size=True)


def test_a_psnr_goal_is_met_through_a_rescaling_transform(photo: Path, tmp_path: Path) -> None:
    """'halve' trains on values / 2: the controller must aim 6 dB above the goal in its domain."""
    result = encode(photo, tmp_path / "halve.nff", EncodeConfig(transform="halve", steps=40, psnr=24.0, stages=1))
    assert result.transform["name"] == "affine" and result.stages[-1].psnr >= 24.0 - 0.3
