"""Training a spec from the command line: data, engines, checkpoints, plots.

The generated package carries its own training loop; this package only
drives it (or the reference simulator) over a dataset, epoch by epoch, with
checkpoints and curves.
"""
