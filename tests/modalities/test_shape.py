"""Shapes end to end on the bundled decimated bunny (an open scan): mesh formats in, one-line
errors, signed distances on an open mesh, marching cubes in slabs, metrics with their
conventions, encode -> decode to a mesh in the original place, --sdf-grid, remote width 1."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nfcodec import container
from nfcodec.errors import ExitStatus, InputError
from nfcodec.modalities.shape_io import Mesh, Normalisation, load_mesh, marching_cubes, signed_distance

from cli_support import assert_one_line_error, run
from http_servers import FileServer

BUNNY = Path(__file__).resolve().parents[2] / "samples" / "bunny_6k.obj"
FAST = ["--stages", "2", "--steps", "4", "-q"]


@pytest.fixture(scope="module")
def bunny_nff(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("shape") / "bunny.nff"
    result = run("encode", str(BUNNY), "-o", str(out), "--json", *FAST)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.mark.parametrize("suffix", [".ply", ".stl", ".off", ".obj"])
def test_every_mesh_format_reads_the_same_triangles(tmp_path: Path, suffix: str):
    import trimesh

    source = load_mesh(BUNNY)
    path = tmp_path / f"b{suffix}"
    trimesh.Trimesh(source.vertices, source.faces, process=False).export(path)
    mesh = load_mesh(path)
    assert len(mesh.faces) == len(source.faces) == 6000
    assert np.allclose(np.sort(mesh.vertices[mesh.faces].reshape(-1, 3), axis=0),
                       np.sort(source.vertices[source.faces].reshape(-1, 3), axis=0), atol=1e-5)


def test_an_open_scan_gets_a_sensible_inside():
    mesh = load_mesh(BUNNY)
    norm = Normalisation.of(mesh)
    shape = Mesh(norm.to_shape(mesh.vertices), mesh.faces)
    centre = shape.vertices.mean(axis=0)
    far = np.array([[0.6, 0.6, 0.6], [-0.6, 0.0, 0.0]])
    distance = signed_distance(shape, np.vstack([centre, far]))
    assert distance[0] < 0 < distance[1] and distance[2] > 0  # inside the body, outside far away
    assert distance[1] == pytest.approx(np.min(np.linalg.norm(shape.vertices - far[0], axis=1)), rel=0.05)


def test_marching_cubes_in_slabs_equals_the_whole_volume():
    n = 40
    axis = (np.arange(n) + 0.5) / n - 0.5
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    volume = (np.sqrt(x**2 + y**2 + z**2) - 0.3).astype(np.float32)
    whole_v, whole_f = marching_cubes([volume])
    slab_v, slab_f = marching_cubes([volume[i : i + 7] for i in range(0, n, 7)])
    assert len(slab_f) == len(whole_f) and len(slab_v) == len(whole_v)
    assert np.allclose(np.sort(slab_v, axis=0), np.sort(whole_v, axis=0), atol=1e-3)


@pytest.mark.parametrize("touch", [-1.0, 0.0, 1.0])
def test_a_field_that_only_touches_zero_has_no_surface(touch: float):
    # all of one sign with some values exactly 0: no sign change, so no triangles (skimage
    # itself raises "No surface found" here)
    volume = np.full((6, 6, 6), touch, np.float32)
    volume[2, 3, 1] = volume[4, 0, 5] = 0.0
    vertices, faces = marching_cubes([volume[:3], volume[3:]])
    assert vertices.shape == (0, 3) and faces.shape == (0, 3)


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces"),
    (b"v 0 0 0\nv 1 0 0\nf 1 2 9\n", "cannot read"),
    (b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n0\n", "cannot read"),
    (b"v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n", "no extent"),
])
def test_bad_meshes_get_one_line_errors(tmp_path: Path, content: bytes, fragment: str):
    path = tmp_path / ("m.ply" if content.startswith(b"ply") else "m.obj")
    path.write_bytes(content)
    line = assert_one_line_error(run("encode", str(path), "-q", "-o", str(tmp_path / "o.nff")), ExitStatus.DATA_ERROR, fragment)
    assert "Traceback" not in line and not (tmp_path / "o.nff").exists()


def test_a_point_cloud_is_not_a_mesh(tmp_path: Path):
    path = tmp_path / "cloud.ply"
    path.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
                     b"0 0 0\n1 0 0\n0 1 0\n")
    with pytest.raises(InputError, match="no faces|point cloud"):
        load_mesh(path)


def test_encode_reports_every_metric_with_its_convention(bunny_nff):
    out, obj = bunny_nff
    assert obj["modality"] == "shape" and obj["rate_unit"] == "bits/triangle"
    assert obj["rate"] == pytest.approx(obj["bytes"] * 8 / 6000, rel=1e-4)
    for stage in obj["stages"]:
        metrics = stage["metrics"]
        assert set(metrics) == {"chamfer_l1", "chamfer_l2", "chamfer_deepsdf", "normal_consistency", "fscore_1pct", "iou"}
        assert 0 < metrics["chamfer_l1"] < 0.2 and 0 <= metrics["iou"] <= 1 and "psnr" not in stage
    signal = container.read_header(out.read_bytes()).signal
    assert signal["schema"] == "shape" and signal["box"] == 1.1 and signal["triangles"] == 6000


def test_decode_restores_the_original_place_and_scale(tmp_path: Path, bunny_nff):
    import trimesh

    out = tmp_path / "b.ply"
    result = run("decode", str(bunny_nff[0]), "--resolution", "48", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert "marching cubes at 48^3" in json.loads(result.stdout)["written_as"]
    decoded, source = trimesh.load(out), load_mesh(BUNNY)
    extent = np.ptp(source.vertices, axis=0).max()
    assert np.allclose(decoded.bounds, [source.vertices.min(0), source.vertices.max(0)], atol=0.1 * extent)


def test_sdf_grid_and_width_1(tmp_path: Path, bunny_nff):
    grid = tmp_path / "g.npy"
    assert run("decode", str(bunny_nff[0]), "--width", "1", "--resolution", "16", "--sdf-grid", str(grid)).exit_code == 0
    values = np.load(grid)
    assert values.shape == (16, 16, 16) and values.dtype == np.float32 and values.min() < 0 < values.max()
    assert_one_line_error(run("decode", str(bunny_nff[0]), "-o", str(tmp_path / "x.png")), ExitStatus.USAGE_ERROR, ".ply")
    assert_one_line_error(run("decode", str(bunny_nff[0]), "--sdf-grid", str(tmp_path / "g.txt")), ExitStatus.USAGE_ERROR, ".npy")


def test_remote_width_1_fetches_the_header_and_stage_1_only(tmp_path: Path, bunny_nff):
    server = FileServer(bunny_nff[0].parent)
    try:
        result = run("decode", server.url("range", bunny_nff[0].name), "--width", "1", "--resolution", "16",
                     "-o", str(tmp_path / "r.obj"), "--json")
        assert result.exit_code == 0, result.output
        header = container.read_header(bunny_nff[0].read_bytes())
        assert json.loads(result.stdout)["bytes_fetched"] == max(header.prefix_bytes(1), min(4096, header.file_size))
    finally:
        server.stop()


def test_transforms_for_pixels_are_refused_for_shapes():
    assert_one_line_error(run("encode", str(BUNNY), "--transform", "invert", "-q"), ExitStatus.USAGE_ERROR, "does not apply to shape")


def test_a_file_cut_after_stage_1_decodes_width_1(tmp_path: Path, bunny_nff):
    data = bunny_nff[0].read_bytes()
    cut = tmp_path / "cut.nff"
    cut.write_bytes(data[: container.read_header(data).prefix_bytes(1)])
    result = run("decode", str(cut), "--resolution", "16", "-o", str(tmp_path / "cut.stl"), "--json")
    assert result.exit_code == 0 and "truncated" in result.stderr
    assert json.loads(result.stdout)["width"] == 1 and (tmp_path / "cut.stl").stat().st_size > 84


def test_the_same_mesh_and_options_give_the_same_bytes(tmp_path: Path, bunny_nff):
    again = tmp_path / "again.nff"
    assert run("encode", str(BUNNY), "-o", str(again), *FAST).exit_code == 0
    assert again.read_bytes() == bunny_nff[0].read_bytes()
    assert "OccNet" in bunny_nff[1]["conventions"]["chamfer_l1"]


def test_a_large_lattice_decodes_in_whole_planes(bunny_nff):
    """Past 512 a plane holds more than one evaluation block: slabs must still be whole planes,
    joined in memory as one volume."""
    from nfcodec.codec import decode_bytes
    from nfcodec.modalities import shape

    data = bunny_nff[0].read_bytes()
    original = shape.SLAB_POINTS
    try:
        shape.SLAB_POINTS = 200  # a 20^3 lattice: 400 points a plane, two blocks each
        result = decode_bytes(data, options={"resolution": 20})
        slabs = list(result.decoder.blocks(result.width))
        assert all(s.shape[1:] == (20, 20) for s in slabs) and sum(len(s) for s in slabs) == 20
        assert result.pixels.shape == (20, 20, 20)
    finally:
        shape.SLAB_POINTS = original
    assert np.allclose(np.concatenate(slabs), decode_bytes(data, options={"resolution": 20}).pixels, atol=1e-6)


def test_a_hostile_description_is_refused_or_bounded(bunny_nff):
    from nfcodec.errors import InvalidHeader
    from nfcodec.modalities.shape import SHAPE

    desc = dict(container.read_header(bunny_nff[0].read_bytes()).signal)
    for change in ({"sdf": "positive-inside"}, {"schema_version": True}, {"schema_version": 1.0}, {"coords": "corner"},
                   {"centre": [0, 0, float("inf")]}, {"scale": 0}):
        with pytest.raises(InvalidHeader):
            SHAPE.from_description({**desc, **change})
    # a header's own resolution is used up to 512^3 unless the decoder is asked for more
    geometry = SHAPE.from_description({**desc, "resolution": 2048})
    assert SHAPE.output_geometry(geometry, {}).resolution == 512
    assert SHAPE.output_geometry(geometry, {"resolution": 600}).resolution == 600


def test_meshes_that_cannot_be_stored_or_indexed_get_one_line_errors(tmp_path: Path):
    far = tmp_path / "far.obj"
    far.write_text("v 1e300 0 0\nv 1e300 1 0\nv 1e300 0 1\nf 1 2 3\n")
    assert_one_line_error(run("encode", str(far), "-q", "-o", str(tmp_path / "f.nff")), ExitStatus.DATA_ERROR, "cannot be stored")
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                    b"element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n")
    assert_one_line_error(run("encode", str(bad), "-q", "-o", str(tmp_path / "b.nff")), ExitStatus.DATA_ERROR, "vertices it does not have")


def test_the_seed_draws_the_training_points_and_search_says_there_is_nothing_to_search(tmp_path: Path, bunny_nff):
    from nfcodec.modalities.shape import SHAPE

    a, b = SHAPE.read(BUNNY, {"seed": 1}), SHAPE.read(BUNNY, {"seed": 2})
    assert not np.array_equal(a.coords, b.coords) and np.array_equal(a.coords, SHAPE.read(BUNNY, {"seed": 1}).coords)
    assert_one_line_error(run("search", str(BUNNY)), ExitStatus.USAGE_ERROR, "nothing to search")
