"""Reproductions of the lectures' claims, one claim per module (`trainwell experiment NAME`).

Each module's `run(budget, progress, out_dir)` returns an `ExperimentResult` (claim, source, table,
verdict with its criterion, plot records); `registry` names them with their sources, `common` holds
the shared training helper (through `trainwell.assemble`), `figures` the plot records and `toy` the
2-D optimization toys. Drawing is `trainwell.report`'s job.
"""
