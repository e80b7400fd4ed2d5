"""3-D padded patches and the PETSc corrector backend on hexahedra (paper 000, Secs. 3.4-3.5):
S_{A,T} and Q_T λ_j against the whole-grid SciPy reference (``lod_reference``) on N_H = 3 and 4,
n = 2, at corner, edge, face and interior elements; invariants; torch and memory refusals."""

import re

import numpy as np
import pytest
from lod_reference import galerkin_lod_matrix, patch_local_matrix

from lod_fenicsx import corrector
from lod_fenicsx.corrector import PatchSolver, check_memory, patch_fine_nodes
from lod_fenicsx.interpolation import interpolation_matrix
from lod_fenicsx.patch import (
    constrained_coarse_nodes,
    element_node_positions,
    free_fine_nodes,
    padded_node_indices,
    padded_patches,
    patch_type,
)

N_SUB, ELL = 2, 1
# (tz, ty, tx) of a corner, an edge, a face and an interior element on N_H = 3 and 4.
POSITIONS = {"corner": (0, 0, 0), "edge": (0, 0, 1), "face": (0, 1, 1), "interior": (1, 1, 1)}


def _coefficient(n_coarse, kind, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n_coarse * N_SUB,) * 3
    if kind == "iid":
        return rng.uniform(1.0, 10.0, shape)
    # High contrast: inclusions of 1e4 in a matrix of 1 (a quarter of the cells).
    return np.where(rng.random(shape) < 0.25, 1e4, 1.0)


def _element(n_coarse, position):
    return int(np.ravel_multi_index(POSITIONS[position], (n_coarse,) * 3))


@pytest.fixture(scope="module", params=[(3, "iid"), (4, "contrast")], ids=["N3-iid", "N4-contrast"])
def solved(request):
    n_coarse, kind = request.param
    a = _coefficient(n_coarse, kind, seed=n_coarse)
    elements = np.array([_element(n_coarse, p) for p in POSITIONS])
    with PatchSolver(n_coarse, N_SUB, ELL, dim=3) as ps:
        local, corr = ps.local_matrices_and_correctors(a, elements)
        full = ps.full_local_matrices(a, elements)
    return n_coarse, a, elements, local, corr, full


def test_layout_of_the_3d_local_matrices(solved):
    n_coarse, _, elements, local, corr, _ = solved
    s, m = 2 * ELL + 2, (2 * ELL + 1) * N_SUB + 1
    assert local.shape == (elements.size, s**3, 8)
    assert corr.shape == (elements.size, m**3, 8)


@pytest.mark.parametrize("position", list(POSITIONS))
def test_padded_3d_equals_the_whole_grid_reference(solved, position):
    """S_{A,T} and Q_T λ_j on the padded patch equal the dense solve on N^ℓ(T) ∩ D."""
    n_coarse, a, elements, local, corr, _ = solved
    i = list(POSITIONS).index(position)
    t = elements[i]
    patch_nodes, ref, q_ref = patch_local_matrix(a, n_coarse, N_SUB, ELL, t)
    nodes = padded_node_indices(n_coarse, ELL, dim=3)[t]
    inside = nodes >= 0
    mine = np.zeros(((n_coarse + 1) ** 3, 8))
    mine[nodes[inside]] = local[i][inside]
    theirs = np.zeros_like(mine)
    theirs[patch_nodes] = ref
    scale = np.abs(theirs).max()
    assert scale > 0
    assert np.abs(mine - theirs).max() < 1e-12 * scale
    assert np.all(local[i][~inside] == 0)  # rows of nodes on ∂D or outside D
    fine = patch_fine_nodes(n_coarse, N_SUB, ELL, t, dim=3)
    q = np.zeros_like(q_ref)
    q[fine[fine >= 0]] = corr[i][fine >= 0]
    assert np.abs(q - q_ref).max() < 1e-12 * np.abs(q_ref).max()


def test_3d_factorisation_packages_agree_and_fall_back(monkeypatch):
    """MUMPS (the 3-D default where PETSc has it) and PETSc's native Cholesky (the fallback,
    and the 2-D default) give the same S_{A,T} and Q_T λ_j, high contrast included."""
    from petsc4py import PETSc

    from lod_fenicsx import corrector_petsc

    assert corrector_petsc.default_factor_solver(2) == "petsc"
    if not PETSc.Sys.hasExternalPackage("mumps"):
        pytest.skip("this PETSc has no MUMPS")
    assert corrector_petsc.default_factor_solver(3) == "mumps"
    n_coarse, n_sub = 3, 3
    rng = np.random.default_rng(11)
    a = np.where(rng.random((n_coarse * n_sub,) * 3) < 0.25, 1e4, 1.0)
    results = {}
    for package in ("mumps", "petsc"):
        with PatchSolver(n_coarse, n_sub, ELL, dim=3, factor_solver=package) as ps:
            results[package] = ps.local_matrices_and_correctors(a)
            assert ps.backend.factorization.startswith(package)
    for mine, theirs in zip(results["mumps"], results["petsc"]):
        assert np.abs(mine - theirs).max() < 1e-12 * np.abs(theirs).max()
    monkeypatch.setattr(corrector_petsc, "_has_package", lambda name: False)
    with PatchSolver(n_coarse, n_sub, ELL, dim=3) as ps:
        assert ps.backend.factor_solver == "petsc"


def test_3d_constants_in_the_kernel_and_correctors_in_ker_ih(solved):
    """Unmasked S_{A,T}: zero row and column sums; I_H (whole domain) Q_T λ_j = 0."""
    n_coarse, _, elements, _, corr, full = solved
    scale = np.abs(full).max()
    assert np.abs(full.sum(axis=2)).max() < 1e-11 * scale
    assert np.abs(full.sum(axis=1)).max() < 1e-11 * scale
    i_h = interpolation_matrix(n_coarse, N_SUB, dim=3)
    for i, t in enumerate(elements):
        fine = patch_fine_nodes(n_coarse, N_SUB, ELL, t, dim=3)
        q = np.zeros(((n_coarse * N_SUB + 1) ** 3, 8))
        q[fine[fine >= 0]] = corr[i][fine >= 0]
        assert np.abs(q).max() > 1e-3
        assert np.abs(i_h @ q).max() < 1e-12 * np.abs(q).max()


def test_3d_whole_domain_patches_give_the_galerkin_lod_matrix():
    """ℓ = 3 > N_H − 1 (solved on ℓ = 2, embedded): S_A is the ideal Galerkin LOD matrix."""
    n_coarse, ell = 3, 3
    a = _coefficient(n_coarse, "iid", seed=7)
    local = PatchSolver(n_coarse, N_SUB, ell, dim=3).local_matrices(a)
    assert local.shape == (n_coarse**3, (2 * ell + 2) ** 3, 8)
    nodes = padded_node_indices(n_coarse, ell, dim=3)
    cols = nodes[:, element_node_positions(ell, dim=3)]
    size = (n_coarse + 1) ** 3
    s_a = np.zeros((size, size))
    for t in range(n_coarse**3):
        rows, c = nodes[t] >= 0, cols[t] >= 0
        s_a[np.ix_(nodes[t][rows], cols[t][c])] += local[t][np.ix_(rows, c)]
    interior = np.flatnonzero(
        np.all((np.indices((n_coarse + 1,) * 3).reshape(3, -1) % n_coarse) != 0, axis=0)
    )
    ideal, _ = galerkin_lod_matrix(a, n_coarse, N_SUB)
    inner = s_a[np.ix_(interior, interior)]
    assert np.abs(inner - ideal).max() < 1e-10 * np.abs(ideal).max()


def test_3d_padded_geometry():
    """Patch windows, node maps and constraint counts of the 3-D padded patch."""
    n_coarse, ell = 5, 1
    field = 1.0 + np.arange(1000.0).reshape(10, 10, 10)  # [iz, iy, ix]
    patches = padded_patches(field, n_coarse, N_SUB, ell)
    m = (2 * ell + 1) * N_SUB
    assert patches.shape == (125, m**3)
    # Element (1, 2, 3): its patch is the fine block z 0..5, y 2..7, x 4..9.
    t = int(np.ravel_multi_index((1, 2, 3), (5, 5, 5)))
    np.testing.assert_array_equal(patches[t].reshape(m, m, m), field[0:6, 2:8, 4:10])
    assert np.count_nonzero(patches[0] == 0) == m**3 - 4**3  # corner: 2 x 2 x 2 elements in D
    nodes = padded_node_indices(n_coarse, ell, dim=3)
    # T = (1, 1, 1): its nodes (1|2, 1|2, 1|2) in C order.
    expected = [iz * 36 + iy * 6 + ix for iz in (1, 2) for iy in (1, 2) for ix in (1, 2)]
    t = int(np.ravel_multi_index((1, 1, 1), (5, 5, 5)))
    np.testing.assert_array_equal(nodes[t, element_node_positions(ell, dim=3)], expected)
    # Per axis 3 + 4 + 4 + 3 (patch, interior node) pairs, as in the 2-D test.
    assert np.count_nonzero(nodes >= 0) == (3 + 4 + 4 + 3) ** 3
    centre, corner = patch_type(n_coarse, ell, 62, dim=3), patch_type(n_coarse, ell, 0, dim=3)
    assert len(centre) == 6
    assert constrained_coarse_nodes(centre, ell).sum() == 64
    assert constrained_coarse_nodes(corner, ell).sum() == (ell + 1) ** 3
    assert free_fine_nodes(centre, N_SUB, ell).sum() == (3 * N_SUB - 1) ** 3
    assert free_fine_nodes(corner, N_SUB, ell).sum() == (2 * N_SUB - 1) ** 3


def test_3d_scale_and_n1_coarse_stiffness():
    """n = 1: S_{A,T} is the Q1 element stiffness h (A∇λ_j, ∇λ_i) of the unit cell (3-D scaling)."""
    from lod_fenicsx.q1 import reference_element_matrices

    n_coarse = 3
    a = _coefficient(n_coarse, "iid", seed=9)[:3, :3, :3]
    local = PatchSolver(n_coarse, 1, 1, dim=3).full_local_matrices(a)
    t = 13
    k_ref = reference_element_matrices(3)[0]
    centre = local[t, element_node_positions(1, dim=3)]
    np.testing.assert_allclose(centre, a[1, 1, 1] / n_coarse * k_ref, rtol=1e-14, atol=0)


def test_torch_backend_and_wrong_dimension_are_refused():
    with pytest.raises(ValueError, match="the torch backend is 2-D only; use backend='petsc'"):
        PatchSolver(3, 2, 1, backend="torch", dim=3)
    ps = PatchSolver(3, 2, 1)  # 2-D
    with pytest.raises(ValueError, match=r"3-D, this PatchSolver 2-D: build .*dim=3"):
        ps.local_matrices(np.ones((6, 6, 6)))
    with pytest.raises(ValueError, match=r"shape \(6, 6, 5\), expected \(6, 6, 6\)"):
        PatchSolver(3, 2, 1, dim=3).local_matrices(np.ones((6, 6, 5)))
    a = np.ones((6, 6, 6))
    a[1, 2, 3] = np.nan
    with pytest.raises(
        ValueError, match=r"1 non-finite value.*first at \[iz, iy, ix\] = \[1, 2, 3\]"
    ):
        PatchSolver(3, 2, 1, dim=3).local_matrices(a)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        PatchSolver(3, 2, 1, dim=4)


def test_memory_check_counts_the_3d_patch(monkeypatch):
    """n = 16, ℓ = 2 with 4 GiB free: the 2-D patch (81^2 fine nodes) fits, the 3-D one (81^3
    fine nodes, 216 coarse nodes, up to 125 patch types) needs ~ 56 GiB and is refused before
    anything is built."""
    monkeypatch.setattr(corrector, "_available_memory", lambda: 4 * 2**30)
    check_memory("petsc", 16, 2, patches=8**2)
    with pytest.raises(ValueError, match=r"n_sub=16, ell=2, dim=3.*needs about") as refused:
        check_memory("petsc", 16, 2, patches=8**3, dim=3)
    need = float(re.search(r"needs about ([0-9.]+) GiB", str(refused.value)).group(1))
    assert 40 < need < 80
    with pytest.raises(ValueError, match="GiB"):
        PatchSolver(8, 16, 2, dim=3)


def test_assembled_3d_matrix_equals_the_reference_and_solves_a_constant_load():
    """Σ_T π_T S_{A,T} φ_T^T from the padded 3-D local matrices = lod_reference.pglod_matrix on
    the interior nodes, and the coarse system it gives is solvable with u_H > 0 for f > 0."""
    import scipy.sparse as sp
    from lod_reference import coarse_interior, pglod_matrix

    from lod_fenicsx.assembly import local_to_global_coo

    n_coarse, n_sub, ell = 3, 2, 1
    a = np.random.default_rng(5).uniform(1.0, 10.0, (n_coarse * n_sub,) * 3)
    with PatchSolver(n_coarse, n_sub, ell, dim=3) as solver:
        local = solver.local_matrices(a)
    size = (n_coarse + 1) ** 3
    rows, cols, vals = local_to_global_coo(local, np.arange(n_coarse**3), n_coarse, ell)
    ours = sp.coo_matrix((vals, (rows, cols)), shape=(size, size)).toarray()
    reference = pglod_matrix(a, n_coarse, n_sub, ell)
    inner = np.flatnonzero(coarse_interior(n_coarse, 3))
    assert np.abs(ours - reference).max() < 1e-10 * np.abs(reference).max()
    assert np.abs(np.delete(ours, inner, axis=0)).max() == 0
    u = np.linalg.solve(ours[np.ix_(inner, inner)], np.full(inner.size, 1.0 / n_coarse**3))
    assert np.all(u > 0)
