"""`deploy matrix`: models x backends x precisions, each cell converted and verified in a process of its own under a
time and memory limit, fanned out on a local pool, Ray or Dask, cached by what the cell depends on, and written
as the support table (docs/support-matrix.md)."""
