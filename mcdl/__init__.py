"""mcdl: a compiler for networks of multi-compartment rate neurons.

MCDL specs (``*.mcdl``) describe layers, compartments, couplings and local
plasticity rules; mcdl checks them and compiles them into Lava packages for a
floating-point CPU target or a fixed-point Loihi target.
"""

__version__ = "0.1.0"
