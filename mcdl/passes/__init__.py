"""Compiler passes: each module checks one concern and returns diagnostics.

``mcdl.compiler`` runs them in order: ``resolve`` builds the scope of a
network and checks its names; ``values`` folds constant settings with their
units; ``functions`` checks and inlines calls; ``couplings`` builds the
compartments of each neuron type; ``locality`` checks plasticity rules;
``shapes`` checks populations, projections and nudgings; ``derive`` fills in
the derived quantities and assembles the network-level IR.
"""
