"""The two grids of PG-LOD on D = (0,1)^d as DOLFINx quadrilateral (d = 2) or hexahedral (d = 3)
meshes (paper 000, Sec. 3.2-3.4).

DOLFINx reorders and distributes cells and dofs, so every object here also carries the map
between DOLFINx's numbering and the structured numbering of ``lod_fenicsx.patch``, C order of
the axes with x fastest:

* fine cells ``[iy, ix]`` -> ``iy * (n_coarse n_sub) + ix``; coarse elements ``ty * n_coarse + tx``;
* coarse nodes ``iy * (n_coarse + 1) + ix``; fine nodes ``iy * (n_coarse n_sub + 1) + ix``;
* in 3-D the same with ``[iz, iy, ix]``, e.g. node ``(iz * (n + 1) + iy) * (n + 1) + ix``.

The maps are computed by index arithmetic on cell midpoints and dof coordinates, which is
exact on the structured grid (coordinates are multiples of the mesh size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

from lod_fenicsx.boundary import free_nodes, neumann_mask
from plumbing.checks import check_dim, check_flag, check_instance, check_size


def _structured(coords: np.ndarray, n: int) -> np.ndarray:
    """Integer grid index of coordinates that are multiples of 1/n (rounding absorbs round-off)."""
    return np.rint(np.asarray(coords) * n).astype(np.int64)


def unit_square(comm: MPI.Comm, n: int, cell_type: str = "quadrilateral"):
    """The uniform mesh of (0,1)^2, n x n squares on ``comm`` (or each cut into two triangles)."""
    from dolfinx.mesh import CellType, create_unit_square

    if int(n) != n or n < 1:
        raise ValueError(f"the number of cells per side must be a positive integer, got {n!r}")
    kinds = {"quadrilateral": CellType.quadrilateral, "triangle": CellType.triangle}
    if cell_type not in kinds:
        raise ValueError(f"cell_type must be one of {sorted(kinds)}, got {cell_type!r}")
    return create_unit_square(comm, int(n), int(n), cell_type=kinds[cell_type])


def unit_cube(comm: MPI.Comm, n: int):
    """The uniform mesh of (0,1)^3, n x n x n hexahedra on ``comm``."""
    from dolfinx.mesh import CellType, create_unit_cube

    if int(n) != n or n < 1:
        raise ValueError(f"the number of cells per side must be a positive integer, got {n!r}")
    return create_unit_cube(comm, int(n), int(n), int(n), cell_type=CellType.hexahedron)


def unit_mesh(comm: MPI.Comm, n: int, dim: int = 2):
    """(0,1)^dim cut into n^dim squares (dim 2) or cubes (dim 3)."""
    if dim not in (2, 3):
        raise ValueError(f"the PG-LOD meshes are 2-D or 3-D, got dim={dim!r}")
    return unit_square(comm, n) if dim == 2 else unit_cube(comm, n)


def _c_order(index: np.ndarray, side: int) -> np.ndarray:
    """Flat C-order index, x fastest, of integer coordinates ``index[:, axis]`` (x, y[, z])."""
    flat = np.zeros(index.shape[0], dtype=np.int64)
    for axis in reversed(range(index.shape[1])):
        flat = flat * side + index[:, axis]
    return flat


def structured_cell_index(mesh, n: int) -> np.ndarray:
    """Structured index (``iy * n + ix``, in 3-D ``(iz * n + iy) * n + ix``) of every owned cell
    of an n^d mesh, from the cell midpoints."""
    from dolfinx.mesh import compute_midpoints

    tdim = mesh.topology.dim
    num_owned = mesh.topology.index_map(tdim).size_local
    mid = compute_midpoints(mesh, tdim, np.arange(num_owned, dtype=np.int32))
    return _c_order(np.floor(mid[:, :tdim] * n).astype(np.int64), n)


def structured_dof_index(space, n: int) -> np.ndarray:
    """Structured node (``iy * (n + 1) + ix`` in 2-D) of each local dof (owned, then ghost) of a
    Q1 space on an n^d mesh."""
    tdim = space.mesh.topology.dim
    return _c_order(_structured(space.tabulate_dof_coordinates()[:, :tdim], n), n + 1)


@dataclass
class DofLayout:
    """Where each structured node of a Q1 space lives in DOLFINx's global (PETSc) numbering.

    Attributes
    ----------
    n : cells per side.
    node_to_dof : ``(n+1)**d`` global dof of every structured node (the same on all ranks).
    dof_to_node : inverse permutation of ``node_to_dof``.
    local_range : ``[first, last)`` global dofs owned by this rank (PETSc ownership range).
    local_nodes : structured node of each owned dof, in DOLFINx's local order.
    dim : d, the dimension of the mesh.
    """

    n: int
    node_to_dof: np.ndarray
    dof_to_node: np.ndarray
    local_range: tuple[int, int]
    local_nodes: np.ndarray
    dim: int = 2

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape ``(n + 1,) * d`` of a nodal array, ``[iy, ix]`` or ``[iz, iy, ix]``."""
        return (self.n + 1,) * self.dim

    @property
    def boundary_nodes(self) -> np.ndarray:
        """Structured indices of the nodes on the boundary of D (Dirichlet nodes)."""
        index = np.indices(self.shape).reshape(self.dim, -1)
        return np.flatnonzero(((index == 0) | (index == self.n)).any(axis=0))

    def dirichlet_nodes(self, neumann=None) -> np.ndarray:
        """Structured indices of the nodes on the Dirichlet faces (all of ∂D by default)."""
        index = np.indices(self.shape).reshape(self.dim, -1)
        return np.flatnonzero(~free_nodes(index, self.n, neumann_mask(neumann, self.dim)))

    def to_structured(self, comm: MPI.Comm, owned_values: np.ndarray) -> np.ndarray:
        """Gather owned-dof values into a nodal array of shape ``(n+1,) * d`` on all ranks."""
        nodes = comm.allgather(self.local_nodes)
        values = comm.allgather(np.asarray(owned_values))
        out = np.empty(self.node_to_dof.size, dtype=np.result_type(*values))
        out[np.concatenate(nodes)] = np.concatenate(values)
        return out.reshape(self.shape)

    def from_structured(self, values: np.ndarray) -> np.ndarray:
        """Values on the owned dofs (DOLFINx local order) from a structured nodal array."""
        return np.asarray(values).reshape(-1)[self.local_nodes]


def dof_layout(space, n: int) -> DofLayout:
    """The DofLayout of a Q1 space on an n^d structured mesh (collective on the mesh's comm)."""
    comm = space.mesh.comm
    dim = space.mesh.topology.dim
    imap = space.dofmap.index_map
    size_local = imap.size_local
    local_nodes = structured_dof_index(space, n)[:size_local]
    first, last = imap.local_range
    nodes = np.concatenate(comm.allgather(local_nodes))
    dofs = np.concatenate(comm.allgather(np.arange(first, last, dtype=np.int64)))
    node_to_dof = np.empty((n + 1) ** dim, dtype=np.int64)
    node_to_dof[nodes] = dofs
    dof_to_node = np.empty_like(node_to_dof)
    dof_to_node[node_to_dof] = np.arange(node_to_dof.size)
    return DofLayout(n, node_to_dof, dof_to_node, (int(first), int(last)), local_nodes, dim)


class Discretization:
    """Coarse (n_coarse^d elements) and fine ((n_coarse n_sub)^d cells) Q1 discretizations of D.

    Parameters
    ----------
    comm : MPI.Comm
        The communicator both meshes are distributed on.
    n_coarse : int
        Coarse elements per side (N_H = 1/H).
    n_sub : int
        Fine cells per coarse element per side (n = H/h).
    fine : bool
        Build the fine mesh too (it is not needed for the coarse PG-LOD solve).
    dim : int
        d = 2 (quadrilaterals) or 3 (hexahedra).
    """

    def __init__(self, comm: MPI.Comm, n_coarse: int, n_sub: int, fine: bool = True, dim: int = 2):
        from dolfinx import fem

        check_instance("comm", comm, MPI.Comm)
        self.comm = comm
        self.n_coarse, self.n_sub = check_size("n_coarse", n_coarse), check_size("n_sub", n_sub)
        self.dim = check_dim(dim)
        fine = check_flag("fine", fine)
        self.n_fine = self.n_coarse * self.n_sub
        self.coarse_mesh = unit_mesh(comm, self.n_coarse, self.dim)
        self.coarse_space = fem.functionspace(self.coarse_mesh, ("Lagrange", 1))
        self.coarse_layout = dof_layout(self.coarse_space, self.n_coarse)
        self.fine_mesh = self.fine_space = self.fine_layout = None
        if fine:
            self.fine_mesh = unit_mesh(comm, self.n_fine, self.dim)
            self.fine_space = fem.functionspace(self.fine_mesh, ("Lagrange", 1))
            self.fine_layout = dof_layout(self.fine_space, self.n_fine)

    def fine_cells(self) -> np.ndarray:
        """Structured index of each owned fine cell (``iy * N n + ix``), DOLFINx's local order."""
        return structured_cell_index(self.fine_mesh, self.n_fine)

    def coarse_cells(self) -> np.ndarray:
        """Structured element index ``t = ty * n_coarse + tx`` of each owned coarse cell."""
        return structured_cell_index(self.coarse_mesh, self.n_coarse)

    def child_to_parent(self) -> np.ndarray:
        """Coarse element ``t`` containing each owned fine cell (DOLFINx local order)."""
        return parent_element(self.fine_cells(), self.n_coarse, self.n_sub, self.dim)


def check_fine_discretization(disc) -> None:
    """``disc`` is a Discretization built with ``fine=True`` (the fine solves need its mesh)."""
    check_instance("disc", disc, Discretization)
    if disc.fine_space is None:
        raise ValueError("disc has no fine mesh: build the Discretization with fine=True")


def parent_element(fine_cells: np.ndarray, n_coarse: int, n_sub: int, dim: int = 2) -> np.ndarray:
    """Coarse element (``ty * n_coarse + tx`` in 2-D) of fine cells (``iy * (n_coarse n_sub) +
    ix``), both in C order of the axes."""
    index = np.unravel_index(np.asarray(fine_cells), (n_coarse * n_sub,) * dim)
    return np.ravel_multi_index(tuple(i // n_sub for i in index), (n_coarse,) * dim)
