"""Input validation: every problem gets a message that names the source and what was wrong."""
from __future__ import annotations

import numpy as np

from trainwell.errors import UserError


def check_arrays(x: np.ndarray, y: np.ndarray, source: str, num_classes: int | None = None) -> int:
    """Check one (x, y) pair and return the number of classes.

    Raises UserError for: empty sets, mismatched lengths, non-numeric x, NaN/Inf in x,
    non-integer or negative labels, labels >= num_classes (when given), y that is not 1-D.
    """
    if x.ndim < 2:
        raise UserError(f"{source}: x must have an example axis and at least one feature axis, got shape {x.shape}")
    if len(x) == 0:
        raise UserError(f"{source}: the data set is empty (x has shape {x.shape})")
    if y.ndim != 1:
        raise UserError(f"{source}: y must be a 1-D array of class labels, got shape {y.shape}")
    if len(x) != len(y):
        raise UserError(f"{source}: x has {len(x)} examples but y has {len(y)} labels")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise UserError(f"{source}: x must be real numbers, got dtype {x.dtype}")
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.argwhere(~finite.reshape(len(x), -1))
        kind = "NaN" if np.isnan(x).any() else "Inf"
        raise UserError(
            f"{source}: x contains {kind} ({(~finite).sum()} values; first at example {bad[0][0]}, "
            f"feature {bad[0][1]}); clean or impute the data first"
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise UserError(f"{source}: labels y must be integers 0..C-1, found non-integer values")
    elif not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"{source}: labels y must be integers 0..C-1, got dtype {y.dtype}")
    if (y < 0).any():
        raise UserError(f"{source}: labels must be in [0, C), found {int(y.min())}")
    top = int(y.max())
    if num_classes is not None and top >= num_classes:
        raise UserError(
            f"{source}: label {top} is out of range [0, {num_classes}) (the training labels define {num_classes} classes)"
        )
    return top + 1
