"""`DataBundle`: the tensors of one task (train / validation / test) and what they are."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass
class DataBundle:
    """Train, validation and test tensors of a classification task.

    x tensors are float32 with the example axis first (N×F, N×C×L or N×C×H×W); y tensors are
    int64 labels in [0, num_classes). `x_val`/`y_val` are carved from the training set.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def to(self, device: torch.device | str) -> "DataBundle":
        return replace(
            self,
            **{k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")},
        )

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} val / {len(self.x_test)} test, "
            f"input {tuple(self.input_shape)}, {self.num_classes} classes"
        )
