"""An image folder: one subfolder per class, read with Pillow (`pip install 'trainwell[images]'`).

    root/                         root/
      cat/  001.png 002.jpg         train/  cat/ ...  dog/ ...
      dog/  a.jpeg ...              test/   cat/ ...  dog/ ...     (test/ optional)

Class i is the i-th subfolder name in sorted order (the names are kept as `class_names`). When the
root holds exactly `train/` (and optionally `test/`), those are the splits and the classes come
from `train/`; a test class that training lacks is an error. Images (.png, .jpg, .jpeg, .bmp,
.gif, .webp, .tif, .tiff; hidden files skipped, other files skipped and counted) are converted to
RGB (`channels=3`) or greyscale "L" (`channels=1`) and, with `size=(H, W)`, resized with bilinear
filtering; without `size` every image must have the same size. Output: uint8 N×C×H×W, in sorted
order of class then file name. An image Pillow cannot decode is an error naming the file.

Example:
    >>> d = read_image_folder("pets", size=(64, 64), channels=3)
    >>> d.x.shape, d.class_names
    ((1200, 3, 64, 64), ['cat', 'dog'])
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainwell.data.raw import RawData
from trainwell.errors import UserError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
MODES = {1: "L", 3: "RGB"}


def pillow() -> Any:
    """The PIL.Image module, or a UserError that names the install command."""
    try:
        from PIL import Image
    except ImportError:
        raise UserError("reading an image folder needs Pillow: pip install 'trainwell[images]'") from None
    return Image


def _subfolders(path: Path) -> list[Path]:
    return sorted((p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def is_split_root(path: Path) -> bool:
    """True when `path` holds exactly train/ (and optionally test/) and nothing else as folders."""
    names = {p.name for p in _subfolders(path)}
    return names in ({"train"}, {"train", "test"})


def looks_like_image_folder(path: Path) -> bool:
    return path.is_dir() and bool(_subfolders(path))


def _list_images(folder: Path, skipped: list[Path]) -> list[Path]:
    files = []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.name.startswith(".") or p.is_dir():
            continue
        (files if p.suffix.lower() in IMAGE_SUFFIXES else skipped).append(p)
    return files


def _read(image_module: Any, file: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    from trainwell.io import regular_file

    regular_file(file, "image")  # a link to /dev/zero or a FIFO named like an image is refused, not read
    try:
        with image_module.open(file) as img:
            img = img.convert(mode)  # decodes the whole image: truncated or corrupt data fails here
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), image_module.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as exc:
        raise UserError(f"{file}: cannot read it as an image ({type(exc).__name__}: {exc})") from exc


def _read_split(root: Path, classes: list[str], channels: int, size: tuple[int, int] | None,
                skipped: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    image_module = pillow()
    files: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        found = _list_images(root / name, skipped)
        if not found:
            raise UserError(f"{root / name}: class folder {name!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        files += found
        labels += [index] * len(found)
    first_shape: tuple[tuple[int, ...], Path] | None = None
    images = []
    for file in files:
        arr = _read(image_module, file, MODES[channels], size)
        if first_shape is None:
            first_shape = (arr.shape, file)
        elif arr.shape != first_shape[0]:
            (h0, w0), (h, w) = first_shape[0][:2], arr.shape[:2]
            raise UserError(
                f"{root}: images differ in size ({first_shape[1].relative_to(root)} is {h0}×{w0}, {file.relative_to(root)} is "
                f"{h}×{w}); set data.size = [H, W] to resize them all"
            )
        images.append(arr)
    x = np.stack(images)
    x = x[:, None] if channels == 1 else x.transpose(0, 3, 1, 2)  # N×H×W(×C) -> N×C×H×W
    return np.ascontiguousarray(x), np.asarray(labels, dtype=np.int64)


def read_image_folder(path: str | Path, size: Sequence[int] | int | None = None, channels: int = 3) -> RawData:
    """Images in class subfolders (see the module docstring) as uint8 N×C×H×W with class names."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"image folder {path} is not a folder")
    if channels not in MODES:
        raise UserError(f"data.channels must be 1 (greyscale) or 3 (RGB), got {channels}")
    hw = normalize_size(size)
    split = is_split_root(path)
    train_root = path / "train" if split else path
    classes = [p.name for p in _subfolders(train_root)]
    if not classes:
        raise UserError(f"image folder {train_root}: no class subfolders (expected one folder of images per class)")
    skipped: list[Path] = []
    x, y = _read_split(train_root, classes, channels, hw, skipped)
    xt = yt = None
    if split and (path / "test").is_dir():
        test_classes = [p.name for p in _subfolders(path / "test")]
        unknown = [c for c in test_classes if c not in classes]
        if unknown:
            raise UserError(f"{path / 'test'}: class folder(s) {unknown} do not exist in {train_root} ({', '.join(classes)})")
        xt, yt_local = _read_split(path / "test", test_classes, channels, hw, skipped)
        if xt.shape[2:] != x.shape[2:]:
            raise UserError(f"{path}: test images are {xt.shape[2]}×{xt.shape[3]}, training images {x.shape[2]}×{x.shape[3]}; "
                            "set data.size = [H, W] to resize them all")
        yt = np.asarray([classes.index(c) for c in test_classes], dtype=np.int64)[yt_local]
    notes = [f"skipped {len(skipped)} non-image file(s) such as {skipped[0]}"] if skipped else []
    sized = f", resized to {hw[0]}×{hw[1]}" if hw else ""
    mode = "RGB" if channels == 3 else "greyscale"
    return RawData(x, y, xt, yt, class_names=classes, layout="nchw", notes=notes,
                   source=f"image folder {path} ({mode}{sized})")


def normalize_size(size: Sequence[int] | int | None) -> tuple[int, int] | None:
    """None, H×W from [H, W], or H×H from one int; positive integers only."""
    if size is None:
        return None
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or not all(isinstance(v, int) and v >= 1 for v in hw):
        raise UserError(f"data.size must be [H, W] of positive integers (or one integer), got {size!r}")
    return hw  # type: ignore[return-value]
