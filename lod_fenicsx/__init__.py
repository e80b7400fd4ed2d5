"""Petrov–Galerkin Localized Orthogonal Decomposition (PG-LOD) on DOLFINx quadrilateral meshes.

Paper: Kröpfl, Maier, Peterseim, *Operator compression with deep neural networks* (2022),
Sec. 3.3–3.4.
"""

__version__ = "0.1.0"
