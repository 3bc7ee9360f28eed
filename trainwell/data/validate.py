"""Input validation: every problem gets a message that names the source and what was wrong.

Labels are checked (and mapped to 0..C-1) by `trainwell.data.labels.encode_labels`.
"""
from __future__ import annotations

import numpy as np

from trainwell.errors import UserError


def check_arrays(x: np.ndarray, y: np.ndarray, source: str) -> None:
    """Check one (x, y) pair: an example axis and a feature axis, as many labels as examples, real
    finite numbers in x. Raises UserError for empty sets, mismatched lengths, non-numeric x (object or
    string arrays included), NaN/Inf in x, and y that is not 1-D."""
    if x.ndim < 2:
        raise UserError(f"{source}: x must have an example axis and at least one feature axis, got shape {x.shape}")
    if len(x) == 0:
        raise UserError(f"{source}: the data set is empty (x has shape {x.shape})")
    if y.ndim != 1:
        raise UserError(f"{source}: y must be a 1-D array of class labels, got shape {y.shape}")
    if len(x) != len(y):
        raise UserError(f"{source}: x has {len(x)} examples but y has {len(y)} labels")
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise UserError(f"{source}: x must be real numbers, got dtype {x.dtype}")
    if not np.issubdtype(x.dtype, np.floating):
        return  # integers are always finite
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.argwhere(~finite.reshape(len(x), -1))
        kind = "NaN" if np.isnan(x).any() else "Inf"
        raise UserError(
            f"{source}: x contains {kind} ({(~finite).sum()} values; first at example {bad[0][0]}, "
            f"feature {bad[0][1]}); clean or impute the data first"
        )
