"""Stage extents (formats/nff.md 4.5): the form is the container's to check, the fit the modality's."""
from __future__ import annotations

import numpy as np
import pytest

from nfcodec import container
from nfcodec.errors import InvalidHeader


def _with_extent(mv, extent):
    stage = dict(mv.BASE_STAGES[0], extent=extent)
    return mv.build(mv.header_map([stage]), mv.BASE_BODY)


def test_an_extent_is_read_as_pairs_and_absent_means_the_whole_domain(mv):
    assert container.read_header(mv.base()).stages[0].extent is None
    header = container.read_header(_with_extent(mv, [[0, 12], [0, 640], [0, 360]]))
    assert header.stages[0].extent == ((0, 12), (0, 640), (0, 360))


@pytest.mark.parametrize("extent", [
    [], [[0, 1]] * 9, "all", [[0]], [[0, 1, 2]], [[1, 1]], [[2, 1]], [[-1, 3]], [[0, 2**26 + 1]],
    [[0, 1.5]], [[False, True]], [{"start": 0, "stop": 1}],
])
def test_malformed_extents_are_refused(mv, extent):
    with pytest.raises(InvalidHeader, match="extent"):
        container.read(_with_extent(mv, extent))


def test_the_writer_stores_extents():
    stages = [
        container.encode_stage(container.StageData(k, [("a", np.full(2, k, np.float32), "f32")], extent=((0, 4 * k), (0, 8))), "zstd")
        for k in (1, 2)
    ]
    data = container.assemble(modality="test", signal={}, transform={"id": 0, "name": "identity"},
                              field_info={"arch": "test", "config": {}}, stages=stages)
    assert [s.extent for s in container.read_header(data).stages] == [((0, 4), (0, 8)), ((0, 8), (0, 8))]
