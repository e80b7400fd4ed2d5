"""The padded patch conventions of lod_fenicsx.patch."""

import numpy as np

from lod_fenicsx.patch import (
    element_node_positions,
    padded_cell_indices,
    padded_node_indices,
    padded_patches,
)


def test_padded_patch_of_corner_and_centre():
    n_coarse, n_sub, ell = 4, 2, 1
    field = 1.0 + np.arange(64.0).reshape(8, 8)  # [iy, ix], positive everywhere
    patches = padded_patches(field, n_coarse, n_sub, ell)
    m = (2 * ell + 1) * n_sub
    assert patches.shape == (16, m * m)
    # Corner element t = 0: the first ℓ n rows and columns lie outside D and are zero.
    corner = patches[0].reshape(m, m)
    assert np.count_nonzero(corner == 0) == m * m - 4 * 4
    np.testing.assert_array_equal(corner[2:, 2:], field[:4, :4])
    # Element (ty, tx) = (1, 2): its patch is the fine block rows 0..5, cols 2..7.
    t = 1 * n_coarse + 2
    np.testing.assert_array_equal(patches[t].reshape(m, m), field[0:6, 2:8])
    assert padded_cell_indices(32, 8, 2).shape == (1024, 1600)


def test_padded_nodes():
    nodes = padded_node_indices(4, 1)
    assert nodes.shape == (16, 16)
    # Node row iy lies in the padded patches of element rows ty in [iy - ℓ - 1, iy + ℓ] ∩ [0, 3]:
    # 3, 4, 3 of them for iy = 1, 2, 3, so (3 + 4 + 3)^2 (patch, interior node) pairs in 2-D.
    assert np.count_nonzero(nodes >= 0) == (3 + 4 + 3) ** 2
    # The middle element (1, 1): its 4 nodes are (1,1), (1,2), (2,1), (2,2) -> 6, 7, 11, 12.
    t = 1 * 4 + 1
    np.testing.assert_array_equal(nodes[t, element_node_positions(1)], [6, 7, 11, 12])
    # Corner element 0: only node (1, 1) = 6 of its four nodes is interior.
    np.testing.assert_array_equal(nodes[0, element_node_positions(1)], [-1, -1, -1, 6])
