"""Reproductions of the lectures' claims: each a function returning an `ExperimentResult` table."""
