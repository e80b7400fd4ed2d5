"""Neural-network compression of the coefficient-to-surrogate map (NN-LOD).

Papers: Kröpfl, Maier, Peterseim (2022), Sec. 2.5–2.7 and 4; Kröpfl, Peterseim, Ullmann (2025),
Secs. 5–6.
"""

__version__ = "0.1.0"
