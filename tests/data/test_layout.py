import numpy as np
import pytest
import torch

from trainwell.data import arrange, detect_layout, load_data, read_npy
from trainwell.data.layout import RESULT
from trainwell.errors import UserError


@pytest.mark.parametrize(
    "shape, layout",
    [
        ((9, 12), "flat"),
        ((9, 1, 40), "ncl"), ((9, 40, 1), "nlc"), ((9, 1000, 3), "nlc"), ((9, 8, 100), "ncl"),
        ((9, 28, 28), "ncl"), ((9, 4, 4), "ncl"),
        ((9, 3, 32, 32), "nchw"), ((9, 32, 32, 3), "nhwc"), ((9, 28, 28, 1), "nhwc"), ((9, 1, 28, 28), "nchw"),
        ((9, 16, 16, 4), "nhwc"), ((9, 3, 32, 3), "nchw"), ((9, 5, 5, 5), "nchw"),
    ],
)
def test_detection_table(shape, layout):
    assert detect_layout(shape)[0] == layout


def test_channels_last_moves_to_channels_first_exactly():
    x = np.random.default_rng(0).normal(size=(4, 6, 5, 3))
    out, stored, said = arrange(x, None, None, "x")
    assert (stored, RESULT[stored]) == ("nhwc", "nchw") and out.shape == (4, 3, 6, 5) and np.array_equal(out, x.transpose(0, 3, 1, 2))
    assert "nhwc detected" in said
    s = np.random.default_rng(1).normal(size=(4, 50, 2))
    out, stored, _ = arrange(s, None, None, "s")
    assert (stored, RESULT[stored]) == ("nlc", "ncl") and np.array_equal(out[:, 1], s[:, :, 1])
    g = np.zeros((4, 28, 28))
    out, stored, said = arrange(g, "nhw", None, "g")
    assert out.shape == (4, 1, 28, 28) and RESULT[stored] == "nchw" and "data.layout" in said


def test_npz_layout_is_stated_in_the_description(tmp_path):
    rng = np.random.default_rng(0)
    x, xt = rng.integers(0, 255, (30, 8, 8, 3)), rng.integers(0, 255, (6, 8, 8, 3))
    np.savez(tmp_path / "img.npz", x=x, y=np.arange(30) % 2, x_test=xt, y_test=np.arange(6) % 2)
    b = load_data(path=tmp_path / "img.npz", val_fraction=0)
    assert b.input_shape == (3, 8, 8) and b.layout == "nchw"
    assert "layout nhwc detected" in b.describe()
    assert torch.equal(b.x_test, torch.as_tensor(xt.transpose(0, 3, 1, 2), dtype=torch.float32))  # test moved alike
    b2 = load_data(path=tmp_path / "img.npz", layout="nchw", val_fraction=0)  # the user overrides: taken as stored
    assert b2.input_shape == (8, 8, 3) and "layout nchw (data.layout)" in b2.describe()
    with pytest.raises(UserError, match=r"data.layout = 'ncl' needs 3-axis data; x has shape \(30, 8, 8, 3\)"):
        load_data(path=tmp_path / "img.npz", layout="ncl")
    with pytest.raises(UserError, match="data.layout must be one of"):
        load_data(path=tmp_path / "img.npz", layout="hwc")


def test_csv_rows_become_images_with_data_shape(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 2, 5, 6))  # N×C×H×W
    lines = ["label," + ",".join(f"p{i}" for i in range(60))]
    lines += [f"{i % 3}," + ",".join(str(v) for v in img.ravel()) for i, img in enumerate(images)]
    (tmp_path / "img.csv").write_text("\n".join(lines) + "\n")
    b = load_data(path=tmp_path / "img.csv", shape=[2, 5, 6], val_fraction=0, test_fraction=0.25)
    assert b.input_shape == (2, 5, 6) and "rows reshaped to [2, 5, 6]" in b.describe()
    all_x = torch.cat([b.x_train, b.x_test])
    assert {tuple(v.flatten().tolist()) for v in all_x} == {tuple(map(float, img.ravel())) for img in images}
    assert load_data(path=tmp_path / "img.csv").input_shape == (60,)  # without shape: flat features
    with pytest.raises(UserError, match=r"data.shape = \[5, 5\] holds 25 values, but each row has 60"):
        load_data(path=tmp_path / "img.csv", shape=[5, 5])
    with pytest.raises(UserError, match="needs data.shape"):
        load_data(path=tmp_path / "img.csv", layout="nchw")
    # HWC-ordered rows: data.shape in stored order, the layout detected on it
    hwc = load_data(path=tmp_path / "img.csv", shape=[5, 6, 2], val_fraction=0)
    assert hwc.input_shape == (2, 5, 6) and "nhwc detected" in hwc.describe()


def test_npy_pair_convention(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(20, 1, 10)).astype(np.float32))
    np.save(tmp_path / "y.npy", np.arange(20) % 4)
    np.save(tmp_path / "class_names.npy", np.array(["w", "x", "y", "z"]))
    for path in (tmp_path, tmp_path / "x.npy"):
        b = load_data(path=path, val_fraction=0.1)
        assert b.input_shape == (1, 10) and b.class_names == ["w", "x", "y", "z"] and b.name == tmp_path.name
    assert read_npy(tmp_path).x.shape == (20, 1, 10)
    (tmp_path / "y.npy").rename(tmp_path / "labels.npy")
    with pytest.raises(UserError, match=r"missing \['y'\]"):
        load_data(path=tmp_path)
    np.save(tmp_path / "feats.npy", np.zeros((3, 2)))
    with pytest.raises(UserError, match="a folder holding x.npy and y.npy"):
        load_data(path=tmp_path / "feats.npy")


def test_recipe_keys_reach_the_reader(tmp_path):
    from trainwell.config import load_recipe
    from trainwell.assemble.data import load_recipe_data

    np.savez(tmp_path / "g.npz", x=np.zeros((20, 9, 9)), y=np.arange(20) % 2)
    (tmp_path / "r.toml").write_text('[data]\npath = "g.npz"\nlayout = "nhw"\n')
    b = load_recipe_data(load_recipe(tmp_path / "r.toml"))
    assert b.input_shape == (1, 9, 9) and "layout nhw (data.layout)" in b.describe()
    (tmp_path / "r.toml").write_text('[data]\npath = "g.npz"\nsize = [4]\n')
    with pytest.raises(UserError, match="data.size"):
        load_recipe(tmp_path / "r.toml")
    (tmp_path / "r.toml").write_text('[data]\npath = "g.npz"\nsize = [4, 4]\n')
    with pytest.raises(UserError, match="data.size does not apply to npz"):
        load_recipe_data(load_recipe(tmp_path / "r.toml"))
