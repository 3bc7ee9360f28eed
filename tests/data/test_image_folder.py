import sys

import numpy as np
import pytest
import torch
from PIL import Image

from trainwell.data import load_data, read_image_folder
from trainwell.errors import UserError


def save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_folder(root, classes=("dog", "cat", "bird"), n=3, hw=(6, 5), seed=0):
    """Random RGB PNGs (lossless); returns {relative path: array}."""
    rng = np.random.default_rng(seed)
    pixels = {}
    for c in classes:
        for i in range(n):
            arr = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
            save(root / c / f"{i}.png", arr)
            pixels[f"{c}/{i}.png"] = arr
    return pixels


def test_classes_are_sorted_folder_names_and_pixels_exact(tmp_path):
    pixels = make_folder(tmp_path)
    d = read_image_folder(tmp_path)
    assert d.class_names == ["bird", "cat", "dog"] and d.x.shape == (9, 3, 6, 5) and d.x.dtype == np.uint8
    assert d.y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.array_equal(d.x[4], pixels["cat/1.png"].transpose(2, 0, 1))  # N×C×H×W, class then file order


def test_greyscale_and_resize_match_pillow(tmp_path):
    pixels = make_folder(tmp_path, hw=(9, 7))
    d = read_image_folder(tmp_path, size=[4, 6], channels=1)
    assert d.x.shape == (9, 1, 4, 6)
    expected = np.asarray(Image.fromarray(pixels["bird/2.png"]).convert("L").resize((6, 4), Image.Resampling.BILINEAR))
    assert np.array_equal(d.x[2, 0], expected)
    b = load_data(path=tmp_path, size=[4, 6], channels=1, val_fraction=0)
    assert b.input_shape == (1, 4, 6) and b.class_names == ["bird", "cat", "dog"] and "greyscale" in b.describe()


def test_palette_and_rgba_images_become_rgb(tmp_path):
    make_folder(tmp_path, classes=("a",), n=2)
    (tmp_path / "b").mkdir()
    Image.fromarray(np.full((6, 5, 4), 200, np.uint8), "RGBA").save(tmp_path / "b" / "x.png")
    Image.fromarray(np.full((6, 5), 3, np.uint8)).convert("P").save(tmp_path / "b" / "y.gif")
    d = read_image_folder(tmp_path)
    assert d.x.shape == (4, 3, 6, 5) and (d.x[2] == 200).all() and (d.x[3] == 3).all()


def test_different_sizes_need_data_size(tmp_path):
    make_folder(tmp_path, classes=("a", "b"), n=2)
    save(tmp_path / "b" / "big.jpg", np.zeros((9, 9, 3), np.uint8))
    with pytest.raises(UserError, match=r"a/0.png is 6×5, b/big.jpg is 9×9\); set data.size = \[H, W\]"):
        load_data(path=tmp_path)
    assert load_data(path=tmp_path, size=[8, 8]).input_shape == (3, 8, 8)


def test_corrupt_and_truncated_images_are_named(tmp_path):
    make_folder(tmp_path, classes=("a", "b"), n=2)
    (tmp_path / "b" / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(UserError, match=r"b/junk.png: cannot read it as an image"):
        read_image_folder(tmp_path)
    (tmp_path / "b" / "junk.png").unlink()
    save(tmp_path / "b" / "cut.jpg", np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "b" / "cut.jpg").read_bytes()
    (tmp_path / "b" / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"b/cut.jpg: cannot read it as an image"):
        read_image_folder(tmp_path, size=[6, 5])


def test_train_and_test_subfolders_are_the_splits(tmp_path):
    make_folder(tmp_path / "train", classes=("cat", "dog"), n=4)
    test_pixels = make_folder(tmp_path / "test", classes=("dog",), n=2, seed=5)
    d = read_image_folder(tmp_path)
    assert d.class_names == ["cat", "dog"] and d.y_test.tolist() == [1, 1]  # test has only dogs: still class 1
    assert np.array_equal(d.x_test[1], test_pixels["dog/1.png"].transpose(2, 0, 1))
    b = load_data(path=tmp_path, val_fraction=0.25)
    assert (len(b.x_train), len(b.x_val), len(b.x_test)) == (6, 2, 2)
    make_folder(tmp_path / "test", classes=("cow",), n=1)
    with pytest.raises(UserError, match=r"\['cow'\] do not exist"):
        read_image_folder(tmp_path)


def test_empty_class_single_class_and_skipped_files(tmp_path):
    make_folder(tmp_path, classes=("a",), n=2)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "README.txt").write_text("not an image")
    with pytest.raises(UserError, match="class folder 'b' holds no images"):
        read_image_folder(tmp_path)
    (tmp_path / "b" / "README.txt").unlink()
    (tmp_path / "b").rmdir()
    with pytest.raises(UserError, match="needs at least 2 classes"):
        load_data(path=tmp_path)
    make_folder(tmp_path, classes=("c",), n=2)
    (tmp_path / "c" / "notes.txt").write_text("x")
    (tmp_path / "c" / ".DS_Store").write_text("x")
    assert "skipped 1 non-image file" in load_data(path=tmp_path).describe()


def test_options_are_checked(tmp_path):
    make_folder(tmp_path, classes=("a", "b"), n=2)
    with pytest.raises(UserError, match="data.channels must be 1"):
        load_data(path=tmp_path, channels=2)
    with pytest.raises(UserError, match=r"data.size must be \[H, W\]"):
        load_data(path=tmp_path, size=[0, 4])
    with pytest.raises(UserError, match="data.size does not apply to npz"):
        np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
        load_data(path=tmp_path / "d.npz", size=[4, 4])


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    make_folder(tmp_path, classes=("a", "b"), n=1)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` now raises ImportError
    with pytest.raises(UserError, match=r"pip install 'trainwell\[images\]'"):
        read_image_folder(tmp_path)


def test_a_folder_recipe_trains_end_to_end(tmp_path):
    from trainwell.config import recipe_from_dict
    from trainwell.assemble.rundir import train_recipe as run_recipe

    make_folder(tmp_path / "imgs", classes=("a", "b"), n=8, hw=(8, 8))
    recipe = recipe_from_dict({"name": "imgs", "data": {"path": str(tmp_path / "imgs"), "val_fraction": 0.25,
                                                        "preprocess": ["standardize"]},
                               "model": {"name": "mlp"}, "train": {"steps": 3, "batch_size": 4}})
    summary = run_recipe(recipe, tmp_path / "run", progress=False)
    assert summary["status"] == "done" and "image folder" in summary["data"] and "(a, b)" in summary["data"]
    assert torch.isfinite(torch.tensor(summary["train_loss"]))
