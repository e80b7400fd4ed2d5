"""PG-LOD end to end: local matrices on every rank, S_A, the coarse solve (paper 000, Sec. 3.4).

``pglod_solve`` computes the element correctors and local matrices S_{A,T} (eq. (3.9)) for this
rank's block of elements, assembles S_A (eq. (3.10)) on DOLFINx's coarse dofs, the load
F_i = (f, λ_i) (``loads.coarse_load``) and solves S_A U = F (eq. (3.7)); optionally the fine
function (1 − Q^ℓ) u_H. Neumann data ψ get boundary-load correctors R_T on the same patches
(``pglod_solve``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from lod_fenicsx.assembly import assemble_global
from lod_fenicsx.boundary import (
    check_data,
    dirichlet_values,
    flux_load,
    neumann_faces,
    neumann_mask,
)
from lod_fenicsx.coefficient import validate_coefficient
from lod_fenicsx.corrector import PatchSolver, patch_fine_nodes
from lod_fenicsx.discretization import Discretization
from lod_fenicsx.interpolation import prolongation
from lod_fenicsx.linalg import coarse_solve
from lod_fenicsx.loads import coarse_load, rhs_function
from lod_fenicsx.patch import element_node_positions, padded_nodes_in_domain
from plumbing.checks import (
    check_flag,
    check_indices,
    check_instance,
    check_real_array,
    check_size,
)
from plumbing.timing import phase


def check_sizes(n_coarse, n_sub, ell) -> tuple[int, int, int]:
    """N_H >= 1, n >= 1 and ℓ >= 0 as ints (``plumbing.checks.check_size``)."""
    return check_size("n_coarse", n_coarse), check_size("n_sub", n_sub), check_size("ell", ell, 0)


def rank_elements(comm: MPI.Comm, n_coarse: int, dim: int = 2) -> np.ndarray:
    """This rank's contiguous block of the N_H^d coarse elements (rows or planes of patches
    balance the work)."""
    bounds = np.linspace(0, n_coarse**dim, comm.size + 1).round().astype(int)
    return np.arange(bounds[comm.rank], bounds[comm.rank + 1])


def distributed_local_matrices(
    comm: MPI.Comm,
    coefficient: np.ndarray,
    n_coarse: int,
    n_sub: int,
    ell: int,
    root: int | None = None,
    patch_solver: PatchSolver | None = None,
    neumann=None,
):
    """Local matrices of all elements, computed in contiguous blocks of elements per rank.

    Each rank computes S_{A,T} (eq. (3.9)) for its block of coarse elements T; the blocks are
    then gathered (the training data of ``nn_compress.dataset`` is made this way).

    Parameters
    ----------
    comm : MPI.Comm
        The elements are split over its ranks.
    coefficient : numpy.ndarray
        The whole fine coefficient on every rank, ``[iy, ix]`` (``[iz, iy, ix]`` in 3-D) of
        shape ``(n_coarse n_sub,) * d``; d is its number of axes.
    n_coarse : int
        Coarse elements per side (N_H = 1/H).
    n_sub : int
        Fine cells per coarse element per side (n = H/h).
    ell : int
        Oversampling layers ℓ of the patches N^ℓ(T).
    root : int, optional
        The rank that receives all local matrices; None (default): every rank does.
    patch_solver : PatchSolver, optional
        A solver to reuse (same ``n_coarse``, ``n_sub``, ``ell``, d and Neumann faces);
        default: one made here and discarded.
    neumann : sequence of str, optional
        The Neumann faces (``lod_fenicsx.boundary``, e.g. ``("y0", "y1")``) of a solver made
        here; default: all faces Dirichlet.

    Returns
    -------
    mine : numpy.ndarray
        This rank's coarse element numbers ``t`` (C order, ``lod_fenicsx.patch``).
    local_mine : numpy.ndarray
        Their padded S_{A,T}, shape ``(len(mine), (2ℓ+2)^d, 2^d)``.
    all_local : numpy.ndarray or None
        All elements' S_{A,T}, shape ``(n_coarse^d, (2ℓ+2)^d, 2^d)`` in element order, on
        ``root`` (on all ranks if ``root`` is None); None on the other ranks.

    Examples
    --------
    >>> import numpy as np
    >>> from mpi4py import MPI
    >>> mine, local, every = distributed_local_matrices(MPI.COMM_SELF, np.ones((8, 8)), 4, 2, 1)
    >>> every.shape
    (16, 16, 4)
    """
    check_instance("comm", comm, MPI.Comm)
    n_coarse, n_sub, ell = check_sizes(n_coarse, n_sub, ell)
    if root is not None and check_size("root", root, 0) >= comm.size:
        raise ValueError(f"root {root}: the communicator has ranks 0 to {comm.size - 1}")
    check_instance("patch_solver", patch_solver, (PatchSolver, type(None)), "PatchSolver or None")
    dim = np.ndim(coefficient) if np.ndim(coefficient) in (2, 3) else 2
    coefficient = validate_coefficient(coefficient, n_coarse, n_sub, dim=dim)
    ps = patch_solver or PatchSolver(n_coarse, n_sub, ell, dim=dim, neumann=neumann)
    mine = rank_elements(comm, n_coarse, dim)
    local = ps.local_matrices(coefficient, mine)
    parts = comm.allgather(local) if root is None else comm.gather(local, root=root)
    every = np.concatenate(parts) if parts is not None else None
    return mine, local, every


@dataclass
class PGLODResult:
    """Output of ``pglod_solve``: coarse solution ``[iy, ix]`` (``[iz, iy, ix]`` in 3-D, on all
    ranks) and what produced it.

    The PETSc objects belong to the result: free them with ``destroy()`` or use the result as a
    context manager (``with pglod_solve(...) as result:``).

    Attributes
    ----------
    u_coarse : numpy.ndarray
        Nodal values of u_H on all coarse nodes (boundary included), shape
        ``(n_coarse + 1,) * d``, ``[iy, ix]`` or ``[iz, iy, ix]``; the same on every rank.
    matrix : petsc4py.PETSc.Mat
        The global S_A (eq. (3.10)) on DOLFINx's coarse dofs (MPIAIJ).
    load : petsc4py.PETSc.Vec
        The load F_i = (f, λ_i) (eq. (3.7)), with the boundary data's contributions.
    solution : petsc4py.PETSc.Vec
        U, the solution of S_A U = F in DOLFINx's dof order.
    discretization : Discretization
        The coarse mesh and space used.
    elements : numpy.ndarray
        This rank's coarse elements.
    local_matrices : numpy.ndarray
        Their padded S_{A,T}, shape ``(len(elements), (2ℓ+2)^d, 2^d)`` (``lod_fenicsx.patch``).
    timings : dict
        Wall-clock seconds per phase (``meshes``, ``local_matrices``, ``assembly``,
        ``coarse_solve``, ``corrected_solution``).
    patch_timings : dict
        Seconds per phase of the patch solver (``PatchSolver.timings``).
    u_corrected : numpy.ndarray or None
        With ``corrected=True``: (1 − Q^ℓ) u_H on all fine nodes, shape
        ``(n_coarse n_sub + 1,) * d``, plus the boundary-load correctors R of the flux data
        (``pglod_solve``); otherwise None.
    neumann : tuple of str
        The Neumann faces; all others are Dirichlet.
    reaction : numpy.ndarray or None
        With boundary data: a((1 − Q^ℓ) u_H + R, λ_i) − (f, λ_i) − (ψ, λ_i) on every coarse
        node (R: the boundary-load correctors of ψ, ``pglod_solve``), shape of ``u_coarse``:
        the flux ∫ A∇u·ν λ_i through ∂D at the Dirichlet nodes (about 0
        elsewhere). Otherwise None.
    """

    u_coarse: np.ndarray
    matrix: PETSc.Mat
    load: PETSc.Vec
    solution: PETSc.Vec
    discretization: Discretization
    elements: np.ndarray
    local_matrices: np.ndarray
    timings: dict = field(default_factory=dict)
    patch_timings: dict = field(default_factory=dict)
    u_corrected: np.ndarray | None = None
    neumann: tuple[str, ...] = ()  # the Neumann faces; all others Dirichlet
    # With boundary data: a((1 − Q^ℓ) u_H + R, λ_i) − (f, λ_i) − (ψ, λ_i) on every coarse node,
    # the flux ∫ A∇u·ν λ_i through ∂D at the Dirichlet nodes (about 0 elsewhere).
    reaction: np.ndarray | None = None

    def destroy(self):
        """Destroy the PETSc matrix and vectors (the arrays stay)."""
        for obj in (self.matrix, self.load, self.solution):
            if obj is not None:
                obj.destroy()
        self.matrix = self.load = self.solution = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


def apply_local(
    comm: MPI.Comm, local: np.ndarray, elements: np.ndarray, values: np.ndarray, ell: int
) -> np.ndarray:
    """Σ_T S_{A,T} (values at T's nodes) on all coarse nodes of the closed domain, summed over
    ``comm``: S_A times a nodal array, with the rows and columns of the boundary nodes that
    ``full_local_matrices`` keeps. ``values`` and the result have shape ``(N + 1,) * d``."""
    dim, n_coarse = values.ndim, values.shape[0] - 1
    nodes = padded_nodes_in_domain(n_coarse, ell, dim)[elements]  # (k, s^d), -1 outside D
    t_values = values.ravel()[nodes[:, element_node_positions(ell, dim)]]  # (k, 2^d)
    contribution = np.einsum("kij,kj->ki", local, t_values)
    total = np.zeros(values.size)
    inside = nodes >= 0
    np.add.at(total, nodes[inside], contribution[inside])
    comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
    return total.reshape(values.shape)


def sum_local(comm: MPI.Comm, vectors: np.ndarray, elements: np.ndarray, n_coarse: int, ell: int):
    """Σ_T of per-patch vectors ``(k, (2ℓ+2)^d)`` on the padded patches' coarse nodes, on all
    coarse nodes of the closed domain (nodes outside D dropped), summed over ``comm``."""
    dim = round(np.log(vectors.shape[1]) / np.log(2 * ell + 2))
    nodes = padded_nodes_in_domain(n_coarse, ell, dim)[elements]
    total = np.zeros((n_coarse + 1) ** dim)
    inside = nodes >= 0
    np.add.at(total, nodes[inside], vectors[inside])
    comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
    return total.reshape((n_coarse + 1,) * dim)


def corrected_solution(
    comm: MPI.Comm,
    correctors: np.ndarray,
    elements: np.ndarray,
    u_coarse: np.ndarray,
    n_sub: int,
    ell: int,
    load_correctors: np.ndarray | None = None,
) -> np.ndarray:
    """(1 − Q^ℓ) u_H = P u_H − Σ_T Q_T(u_H|_T) on the fine nodes (structured, all ranks), plus
    Σ_T R_T with ``load_correctors``.

    ``correctors`` are this rank's Q_T λ_j (``PatchSolver.correctors``) for ``elements``;
    the sum over T is completed across ``comm``. This is the fine-scale function whose
    energy error the LOD theory bounds by O(H) (paper 000, Sec. 3.3).
    ``pglod_solve(..., corrected=True)`` calls it.

    Parameters
    ----------
    comm : MPI.Comm
        The communicator the elements are split over (every rank calls).
    correctors : numpy.ndarray
        This rank's element correctors Q_T λ_j (eq. (3.5)), shape
        ``(len(elements), ((2ℓ+1) n + 1)^d, 2^d)``: their values at the padded patch's fine
        nodes (C order) for T's 2^d hat functions (C order of T's nodes).
    elements : numpy.ndarray
        This rank's coarse element numbers.
    u_coarse : numpy.ndarray
        u_H on all coarse nodes, ``[iy, ix]`` (``[iz, iy, ix]``) of shape
        ``(n_coarse + 1,) * d``, the same on every rank.
    n_sub : int
        Fine cells per coarse element per side.
    ell : int
        Oversampling layers ℓ the correctors were computed with.
    load_correctors : numpy.ndarray, optional
        This rank's boundary-load correctors R_T (``PatchSolver.boundary_load_correctors``),
        shape ``(len(elements), ((2ℓ+1) n + 1)^d)``, added: (1 − Q^ℓ) u_H + Σ_T R_T.

    Returns
    -------
    numpy.ndarray
        (1 − Q^ℓ) u_H (+ Σ_T R_T) on all fine nodes, shape ``(n_coarse n_sub + 1,) * d``, on
        every rank.
    """
    check_instance("comm", comm, MPI.Comm)
    n_sub, ell = check_size("n_sub", n_sub), check_size("ell", ell, 0)
    u_coarse = check_real_array("u_coarse", u_coarse, ndim=(2, 3))
    dim, n_coarse = u_coarse.ndim, u_coarse.shape[0] - 1
    if n_coarse < 1 or u_coarse.shape != (n_coarse + 1,) * dim:
        raise ValueError(
            f"u_coarse has shape {u_coarse.shape}, expected (n_coarse + 1,) * d with n_coarse >= 1"
        )
    elements = check_indices("elements", elements, n_coarse**dim)
    side = (2 * ell + 1) * n_sub + 1
    correctors = check_real_array(
        "correctors", correctors, shape=(elements.size, side**dim, 2**dim)
    )
    n_fine = n_coarse * n_sub
    nodes_shape = (n_coarse + 1,) * dim
    first = np.ravel_multi_index(np.unravel_index(elements, (n_coarse,) * dim), nodes_shape)
    corners = np.ravel_multi_index(np.indices((2,) * dim).reshape(dim, -1), nodes_shape)
    t_nodes = np.asarray(first, dtype=np.int64)[:, None] + corners[None, :]
    values = np.einsum("tfj,tj->tf", correctors, u_coarse.ravel()[t_nodes])
    if load_correctors is not None:
        load_correctors = check_real_array(
            "load_correctors", load_correctors, shape=(elements.size, side**dim)
        )
        values = values - load_correctors  # subtracted from P u_H below: + R_T
    fine = (
        np.stack([patch_fine_nodes(n_coarse, n_sub, ell, t, dim) for t in elements])
        if len(elements)
        else None
    )
    total = np.zeros((n_fine + 1) ** dim)
    if fine is not None:
        inside = fine >= 0
        np.add.at(total, fine[inside], values[inside])
    comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
    total = prolongation(n_coarse, n_sub, dim) @ u_coarse.ravel() - total
    return total.reshape((n_fine + 1,) * dim)


def pglod_solve(
    comm: MPI.Comm,
    coefficient: np.ndarray,
    n_coarse: int,
    n_sub: int,
    ell: int,
    rhs="one",
    disc: Discretization | None = None,
    corrected: bool = False,
    patch_solver: PatchSolver | None = None,
    neumann=None,
    dirichlet=None,
    flux=None,
) -> PGLODResult:
    """PG-LOD approximation u_H, eq. (3.7): correctors, S_A (3.10), F_i = (f, λ_i), LU solve.

    Every rank passes the whole coefficient, ``[iy, ix]`` in 2-D or ``[iz, iy, ix]`` in 3-D
    (d is its number of axes); patches are split over the ranks. With ``corrected`` the fine
    function (1 − Q^ℓ) u_H (+ R with flux data, below) is also returned (``u_corrected``).
    Pass a ``patch_solver`` to reuse its set-up over many coefficients (built with the same
    ``neumann`` faces).

    ``neumann`` names the faces with A∇u·ν = ψ, e.g. ``("y0", "y1")``; the others have u = g
    (``lod_fenicsx.boundary``; default: all Dirichlet). The data, by default g = 0 and ψ = 0:
    ``dirichlet`` a callable g(x, y[, z]) or ``{face: constant or callable}`` on Dirichlet
    faces, ``flux`` ``{face: constant or callable ψ}`` on Neumann faces.

    Non-zero data by a corrected lifting and corrected boundary loads: u_H = u_0 + g̃ with
    g̃ ∈ V_H the nodal interpolant of g on the Dirichlet nodes (0 at the free ones) and u_0 ∈ V_H
    (0 on the Dirichlet faces) from

        a((1 − Q^ℓ) u_0, λ_i) = (f, λ_i) + (ψ, λ_i)_{Γ_N} − a(R, λ_i) − a((1 − Q^ℓ) g̃, λ_i)

    for the free nodes i: the columns of S_A of the Dirichlet nodes, with the correctors of
    their hats, carry g̃ (``PatchSolver.full_local_matrices``). R = Σ_T R_T are the
    boundary-load correctors of ψ: for each element T with a face on a Neumann face with data,
    R_T in the correctors' space of T's patch (I_H R_T = 0, the same boundary conditions) with
    a(R_T, w) = (ψ, w)_{∂D_N ∩ ∂T} for all its w, the load being the fine reference's
    (``reference.fine_solve``) cut per element; one more right-hand side of T's patch problem
    (``PatchSolver.boundary_load_correctors``, the petsc backend). Without R the fine-scale
    part of the flux would be lost, an O(H^½) error. The fine function is
    (1 − Q^ℓ) u_H + R (``u_corrected``); it equals g̃ on the Dirichlet faces (Q and R vanish
    there), and with ℓ >= N_H − 1 and f = 0 it is the fine solution with the same ψ (tested
    for g that the coarse hats reproduce, g̃ = g).

    Parameters
    ----------
    comm : MPI.Comm
        The communicator the coarse mesh is distributed on and the patches split over.
    coefficient : numpy.ndarray
        The fine coefficient A_ε, positive, shape ``(n_coarse n_sub,) * d`` (checked by
        ``validate_coefficient``), the same on every rank.
    n_coarse : int
        Coarse elements per side (N_H = 1/H).
    n_sub : int
        Fine cells per coarse element per side (n = H/h).
    ell : int
        Oversampling layers ℓ of the patches N^ℓ(T).
    rhs : str or callable
        f: a name in ``RHS`` (default ``"one"``) or a callable f(x, y[, z]) of coordinate
        arrays.
    disc : Discretization, optional
        A coarse discretization of the same ``n_coarse`` and d to reuse.
    corrected : bool
        Also compute (1 − Q^ℓ) u_H (+ R) on the fine nodes (``u_corrected``).
    patch_solver : PatchSolver, optional
        A solver to reuse, built with the same parameters and ``neumann`` faces; the caller
        closes it. Default: one made and closed here.
    neumann : sequence of str, optional
        Neumann faces, from ``"x0", "x1", "y0", "y1"`` (and ``"z0", "z1"`` in 3-D).
    dirichlet : callable or dict, optional
        Dirichlet data g.
    flux : dict, optional
        Neumann data ψ per face.

    Returns
    -------
    PGLODResult
        u_H on all coarse nodes (``u_coarse``, shape ``(n_coarse + 1,) * d``) and the PETSc
        objects, which the caller destroys (``with`` or ``destroy()``).

    Raises
    ------
    TypeError
        If an argument has the wrong type (``True`` or 4.0 as a size, a complex or boolean
        coefficient, a string for ``corrected``): ``plumbing.checks.ArgumentTypeError``, a
        ValueError too. All arguments are checked before any work (README, "API contract").
    ValueError
        If the coefficient is invalid, a size is out of range, ``rhs`` is unknown, the data or
        Neumann faces do not fit (or differ from ``patch_solver``'s), or ``disc`` has another
        dimension.
    RuntimeError
        If the coarse solve fails.

    Examples
    --------
    A 4 x 4 coarse grid with 2 fine cells per element and side, A = 1, f = 1:

    >>> import numpy as np
    >>> from mpi4py import MPI
    >>> with pglod_solve(MPI.COMM_SELF, np.ones((8, 8)), 4, 2, 1) as result:
    ...     print(result.u_coarse.shape, round(float(result.u_coarse[2, 2]), 4))
    (5, 5) 0.0761
    """
    check_instance("comm", comm, MPI.Comm)
    n_coarse, n_sub, ell = check_sizes(n_coarse, n_sub, ell)
    rhs_function(rhs)  # a name or a callable, before any work
    corrected = check_flag("corrected", corrected)
    check_instance("disc", disc, (Discretization, type(None)), "Discretization or None")
    check_instance("patch_solver", patch_solver, (PatchSolver, type(None)), "PatchSolver or None")
    dim = np.ndim(coefficient) if np.ndim(coefficient) in (2, 3) else 2
    mask = neumann_mask(neumann, dim)
    check_data(mask, dirichlet, flux)
    data = dirichlet is not None or flux is not None
    if patch_solver is not None and not np.array_equal(patch_solver.neumann, mask):
        raise ValueError(
            f"neumann: the patch_solver was built for the Neumann faces "
            f"{neumann_faces(patch_solver.neumann)}, this solve asks for {neumann_faces(mask)}"
        )
    coefficient = validate_coefficient(coefficient, n_coarse, n_sub, dim=dim)
    timings = {}
    with phase(timings, "meshes"):
        disc = disc or Discretization(comm, n_coarse, n_sub, fine=False, dim=dim)
    if disc.dim != dim:
        raise ValueError(f"the discretization is {disc.dim}-D, the coefficient {dim}-D")
    with phase(timings, "local_matrices"):
        ps = patch_solver or PatchSolver(n_coarse, n_sub, ell, dim=dim, neumann=mask)
        ps.reset_timings()
        mine = rank_elements(comm, n_coarse, dim)
        load_correctors = None
        if flux:  # and the boundary-load correctors R_T of ψ, one more column of the patches
            full, correctors, flux_products, load_correctors = ps.boundary_load_correctors(
                coefficient, flux, mine, want_correctors=corrected
            )
            local = ps.masked(full, mine)
        elif data:  # the full matrices carry the lifting and the reactions
            if corrected:
                full, correctors = ps.local_matrices_and_correctors(coefficient, mine, full=True)
            else:
                full = ps.full_local_matrices(coefficient, mine)
            local = ps.masked(full, mine)
        elif corrected:
            local, correctors = ps.local_matrices_and_correctors(coefficient, mine)
        else:
            local = ps.local_matrices(coefficient, mine)
        comm.Barrier()
    with phase(timings, "assembly", event="global_assembly"):
        matrix = assemble_global(
            comm, local, mine, n_coarse, ell, layout=disc.coarse_layout, neumann=mask
        )
        load = coarse_load(disc, rhs, neumann=mask)
        if data:
            g = dirichlet_values(n_coarse, mask, dirichlet)
            psi = flux_load(n_coarse, mask, flux)
            extra = psi - apply_local(comm, full, mine, g, ell)
            if flux:
                load_products = sum_local(comm, flux_products, mine, n_coarse, ell)
                extra = extra - load_products  # − a(R, λ_i), R = Σ_T R_T
            extra.ravel()[disc.coarse_layout.dirichlet_nodes(mask)] = 0.0
            lo, hi = load.getOwnershipRange()
            load.getArray()[: hi - lo] += disc.coarse_layout.from_structured(extra)
            load.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    with phase(timings, "coarse_solve"):
        sol = coarse_solve(matrix, load)
    lo, hi = sol.getOwnershipRange()
    u = disc.coarse_layout.to_structured(comm, sol.getArray()[: hi - lo])
    if data:
        u = u + g  # the solve gives u_0 = 0 on the Dirichlet faces
    result = PGLODResult(u, matrix, load, sol, disc, mine, local, timings, dict(ps.timings))
    result.neumann = neumann_faces(mask)
    if data:
        f_all = coarse_load(disc, rhs, neumann=mask, keep_dirichlet=True)
        lo, hi = f_all.getOwnershipRange()
        f_all_structured = disc.coarse_layout.to_structured(comm, f_all.getArray()[: hi - lo])
        f_all.destroy()
        reaction = apply_local(comm, full, mine, u, ell)
        if flux:
            reaction = reaction + load_products
        result.reaction = reaction - f_all_structured - psi
    if corrected:
        with phase(timings, "corrected_solution"):
            result.u_corrected = corrected_solution(
                comm, correctors, mine, u, n_sub, ell, load_correctors
            )
    if patch_solver is None:
        ps.close()
    return result
