"""`DataBundle`: the tensors of one task (train / validation / test) and what they are."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

TENSORS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


@dataclass
class DataBundle:
    """Train, validation and test tensors of a classification task.

    x tensors are float32 with the example axis first (N×F, N×C×L or N×C×H×W); y tensors are
    int64 labels in [0, num_classes). `x_val`/`y_val` are carved from the training set; with
    `val_fraction = 0` they are empty (0 examples, same feature shape) and `has_val` is False.

    Attributes beyond the tensors (all optional, for people and for later reports):
        class_names: the name of class i at index i (CIFAR's label names, image-folder names, or the
            original label values when labels were remapped); None means "0".."C-1" (`class_labels`).
        source: what was read ("CIFAR-10 python batches in /data/cifar-10-batches-py").
        layout: the axis order of x ("nchw", "ncl", "flat"), after any conversion.
        notes: sentences `describe()` adds (a detected layout, a label mapping, skipped files).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    class_names: list[str] | None = None
    source: str = ""
    layout: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def has_val(self) -> bool:
        """True when there is a validation split (False after `val_fraction = 0`)."""
        return len(self.x_val) > 0

    @property
    def class_labels(self) -> list[str]:
        """`class_names`, or "0".."C-1" when the source named no classes."""
        return list(self.class_names) if self.class_names is not None else [str(i) for i in range(self.num_classes)]

    def to(self, device: torch.device | str) -> "DataBundle":
        return replace(self, **{k: getattr(self, k).to(device) for k in TENSORS})

    def describe(self) -> str:
        """One paragraph: source, split sizes, input shape and layout, classes, and the notes.

        Example: "cifar10 (CIFAR-10 python batches in /data/cifar-10-batches-py): 45000 train /
        5000 val / 10000 test, input (3, 32, 32) nchw, 10 classes (airplane, automobile, bird, ...)."
        """
        head = f"{self.name} ({self.source})" if self.source and self.source != self.name else self.name
        val = f"{len(self.x_val)} val" if self.has_val else "no val (val_fraction = 0)"
        layout = f" {self.layout}" if self.layout else ""
        text = (f"{head}: {len(self.x_train)} train / {val} / {len(self.x_test)} test, "
                f"input {tuple(self.input_shape)}{layout}, {self.num_classes} classes")
        if self.class_names is not None:
            shown = self.class_names if len(self.class_names) <= 6 else [*self.class_names[:4], "...", self.class_names[-1]]
            text += f" ({', '.join(shown)})"
        return text + "".join(f"; {note}" for note in self.notes)
