"""`Ensemble`: K trained classifiers as one module — average their probabilities, then argmax.

    p(y | x) = (1/K) Σ_k softmax(f_k(x))          prediction = argmax_y p(y | x)

Probabilities, not logits, are averaged (the lectures; Hansen & Salamon 1990; Krizhevsky et al.
2012 averaged 7 CNNs). Independent members err on different examples, so the average is usually
better than the average member ("typically about +2%").

With test-time augmentation (`tta=`) each member's probabilities are first averaged over the
views, then over the members — the same mean over K × V predictions.

One artifact: `save(path)` writes ONE checkpoint with every member's state_dict and, per member,
the spec that rebuilds it (``{"model": <MODELS spec>, "input_shape": [...], "num_classes": C}``),
plus optional plain data (the recipe, the preprocessing state); `Ensemble.load(path)` reads it
with ``torch.load(weights_only=True)`` (a file can never run code) and checks each state_dict
against the rebuilt architecture, listing mismatching tensors.

Example:
    >>> ens = Ensemble([model_a, model_b], specs=spec_for(recipe.model, (1, 40), 10))
    >>> probs = ens(x)                      # N×C, rows sum to 1 (mean of the members' softmax)
    >>> ens.member_proba(x).shape           # K×N×C
    >>> ens.save("runs/ens/ensemble.pt"); same = Ensemble.load("runs/ens/ensemble.pt")
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainwell.errors import UserError
from trainwell.train.checkpoint import check_compatible, save_checkpoint

FORMAT = "trainwell-ensemble-1"


def spec_for(model_spec: Mapping[str, Any] | str, input_shape: Sequence[int], num_classes: int) -> dict[str, Any]:
    """The plain-data spec that rebuilds one member: ``MODELS.build(model, input_shape, num_classes)``."""
    spec = {"name": model_spec} if isinstance(model_spec, str) else dict(model_spec)
    return {"model": spec, "input_shape": [int(s) for s in input_shape], "num_classes": int(num_classes)}


def build_member(spec: Mapping[str, Any]) -> nn.Module:
    """Rebuild one member's architecture from its spec (weights initialized from seed 0)."""
    from trainwell.models import MODELS

    try:
        return MODELS.build(dict(spec["model"]), input_shape=tuple(spec["input_shape"]),
                            num_classes=int(spec["num_classes"]), generator=torch.Generator().manual_seed(0))
    except KeyError as exc:
        raise UserError(f"ensemble member spec lacks {exc}; expected keys model, input_shape, num_classes") from exc


class Ensemble(nn.Module):
    """Average of the softmax probabilities of `members` (any classifiers mapping x → N×C logits).

    Args:
        members: the trained models (same number of classes). They are held in an
            ``nn.ModuleList`` (``ens.members``), so ``.to(device)`` moves them all.
        specs: one spec per member (or one for all) from `spec_for`; needed only for `save`.
        config, preprocess: optional plain data stored by `save` (the recipe; the preprocessing
            state the members' inputs went through — apply it to raw data before predicting).

    `forward(x)` returns the mean probabilities N×C (differentiable; the members' train/eval mode
    is left as it is). `predict_proba` / `predict` switch to eval mode and no_grad, in batches.
    """

    def __init__(
        self,
        members: Sequence[nn.Module],
        specs: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        preprocess: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        members = list(members)
        if not members:
            raise UserError("an Ensemble needs at least one member model, got none")
        for i, m in enumerate(members):
            if not isinstance(m, nn.Module):
                raise UserError(f"ensemble member {i} must be an nn.Module, got {type(m).__name__}")
        self.members = nn.ModuleList(members)
        if isinstance(specs, Mapping):
            specs = [specs] * len(members)
        if specs is not None and len(specs) != len(members):
            raise UserError(f"Ensemble got {len(members)} members but {len(specs)} specs (give one per member, or one for all)")
        self.specs = [dict(s) for s in specs] if specs is not None else None
        self.config = dict(config) if config is not None else None
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over members of softmax(member(x)): N×C probabilities."""
        return torch.stack([torch.softmax(m(x).float(), dim=-1) for m in self.members]).mean(0)

    @torch.no_grad()
    def member_proba(self, x: torch.Tensor, tta: Any = None, batch_size: int = 1024) -> torch.Tensor:
        """K×N×C probabilities of each member, in eval mode (with test-time augmentation if `tta`).

        `tta` is a `trainwell.augment.TTA`, a list of views, or a spec for `build_tta`
        ("flip", {"name": "shift", "shifts": [-2, 0, 2]}, ...); None = plain prediction.
        """
        views = _views(tta)
        out = []
        for member in self.members:
            was = member.training
            member.eval()
            try:
                if views is None:
                    parts = [torch.softmax(member(x[i : i + batch_size]).float(), -1) for i in range(0, len(x), batch_size)]
                    out.append(torch.cat(parts) if parts else x.new_zeros(0, 0))
                else:
                    from trainwell.augment import tta_predict

                    out.append(tta_predict(member, x, views, batch_size=batch_size))
            finally:
                member.train(was)
        return torch.stack(out)

    def predict_proba(self, x: torch.Tensor, tta: Any = None, batch_size: int = 1024) -> torch.Tensor:
        """N×C ensemble probabilities (eval mode, no gradients): the mean of `member_proba`."""
        return self.member_proba(x, tta, batch_size).mean(0)

    def predict(self, x: torch.Tensor, tta: Any = None, batch_size: int = 1024) -> torch.Tensor:
        """N predicted classes: argmax of `predict_proba`."""
        return self.predict_proba(x, tta, batch_size).argmax(-1)

    # ------------------------------------------------------------------ one artifact
    def save(self, path: str | Path, info: Mapping[str, Any] | None = None) -> Path:
        """Write the ensemble as ONE checkpoint (atomic). Needs `specs` to rebuild the members."""
        if self.specs is None:
            raise UserError(
                "this Ensemble has no member specs, so it cannot be rebuilt from a file; build it with "
                "Ensemble(models, specs=spec_for(model_spec, input_shape, num_classes))"
            )
        path = Path(path)
        save_checkpoint(path, {
            "format": FORMAT,
            "members": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in self.members],
            "specs": self.specs,
            "config": self.config,
            "preprocess": self.preprocess,
            "info": dict(info or {}),
        })
        return path

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "Ensemble":
        """Rebuild an ensemble saved by `save` (safe loading; mismatching tensors are listed)."""
        payload = _load_payload(Path(path), map_location)
        members = []
        for i, (spec, state) in enumerate(zip(payload["specs"], payload["members"])):
            model = build_member(spec)
            check_compatible(model, state, f"{path} (member {i})")
            model.load_state_dict(state)
            members.append(model.to(map_location))
        ens = cls(members, payload["specs"], config=payload.get("config"), preprocess=payload.get("preprocess"))
        ens.info = payload.get("info") or {}
        return ens

    def extra_repr(self) -> str:
        return f"members={len(self.members)}, combine=mean of softmax probabilities"


def _views(tta: Any):
    if tta is None:
        return None
    from trainwell.augment import TTA, build_tta

    if isinstance(tta, TTA):
        return tta.views
    if isinstance(tta, (list, tuple)) and tta and callable(tta[0]):
        return list(tta)
    return build_tta(tta).views


def _load_payload(path: Path, map_location) -> dict[str, Any]:
    from trainwell.train.checkpoint import safe_load

    payload = safe_load(path, map_location, "ensemble")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise UserError(f"{path} is not a trainwell ensemble (format {found!r}, expected {FORMAT!r})")
    if len(payload["specs"]) != len(payload["members"]):
        raise UserError(f"{path}: {len(payload['members'])} member state_dicts but {len(payload['specs'])} specs")
    return payload


__all__ = ["Ensemble", "FORMAT", "build_member", "spec_for"]
