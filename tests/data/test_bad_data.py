"""Bad data from the issue tracker: each is caught with a message that names what is wrong."""
import numpy as np
import pytest
import torch

from trainwell.data import encode_labels, load_data
from trainwell.errors import UserError


def npz(tmp_path, x=None, y=None, **more):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(y), 3)).astype(np.float32) if x is None else x
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y, **more)
    return path


def test_a_huge_label_makes_one_class_not_a_huge_head(tmp_path):
    y = np.array([3, 7, 1_000_000_000_000] * 10)
    b = load_data(path=npz(tmp_path, y=y), val_fraction=0)
    assert b.num_classes == 3 and b.class_names == ["3", "7", "1000000000000"]
    assert "labels {3, 7, 1000000000000} mapped to 0..2" in b.describe()
    assert set(torch.cat([b.y_train, b.y_test]).tolist()) == {0, 1, 2}


def test_labels_one_to_ten_are_ten_classes(tmp_path):
    y = np.arange(50) % 10 + 1
    b = load_data(path=npz(tmp_path, y=y), val_fraction=0)
    assert b.num_classes == 10 and b.class_names == [str(i) for i in range(1, 11)]
    # the mapping is the sorted order: label k is class k-1
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    found = {tuple(row.tolist()): int(c) for row, c in zip(torch.cat([b.x_train, b.x_test]), torch.cat([b.y_train, b.y_test]))}
    assert all(found[tuple(x[i].tolist())] == y[i] - 1 for i in range(50))


def test_labels_already_zero_based_are_untouched_and_unnamed(tmp_path):
    b = load_data(path=npz(tmp_path, y=np.arange(40) % 4))
    assert b.class_names is None and b.class_labels == ["0", "1", "2", "3"] and "mapped" not in b.describe()


def test_single_class_is_refused(tmp_path):
    with pytest.raises(UserError, match="d.npz: needs at least 2 classes, but every training label is 5"):
        load_data(path=npz(tmp_path, y=np.full(20, 5)))


def test_test_labels_must_be_training_classes():
    y, yt, names, _ = encode_labels(np.array([2, 4, 4]), np.array([4, 2]), None, "s")
    assert yt.tolist() == [1, 0] and names == ["2", "4"]
    with pytest.raises(UserError, match="label 9 never occurs in the training labels"):
        encode_labels(np.array([0, 1]), np.array([9]), None, "s")
    with pytest.raises(UserError, match="more than 100000 classes"):
        encode_labels(np.arange(100_001), None, None, "s")


def test_csv_header_and_blank_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n\n")
    with pytest.raises(UserError, match=r"t.csv: has a header \(a, b, label\) but no data rows"):
        load_data(path=path)
    path.write_text("")
    with pytest.raises(UserError, match="t.csv: the file is empty"):
        load_data(path=path)


def test_ragged_csv_names_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2,0\n\n3,4,1\n5,1\n")
    with pytest.raises(UserError, match="t.csv: line 5 has 2 fields, the header has 3"):
        load_data(path=path)


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2,0\n3,4x,1\n")
    with pytest.raises(UserError, match=r"t.csv: line 3, column 'b' \(column 2 of 3\): '4x' is not a number"):
        load_data(path=path)
    path.write_text("a,b,label\n1,,0\n")
    with pytest.raises(UserError, match=r"line 2, column 'b' .*an empty cell"):
        load_data(path=path)


def test_csv_label_names_and_mixed_labels(tmp_path):
    path = tmp_path / "iris.csv"
    rows = [f"{i / 10},{i % 3},{['setosa', 'virginica', 'versicolor'][i % 3]}" for i in range(30)]
    path.write_text("\ufeffsepal,petal,species\n" + "\n".join(rows) + "\n")  # with Excel's byte-order mark
    b = load_data(path=path, label_column="species", val_fraction=0)
    assert b.class_names == ["setosa", "versicolor", "virginica"] and b.num_classes == 3
    # petal was i % 3 and species index is (0, 2, 1)[i % 3] in sorted names
    xs, ys = torch.cat([b.x_train, b.x_test]), torch.cat([b.y_train, b.y_test])
    assert all(int(c) == (0, 2, 1)[int(p)] for p, c in zip(xs[:, 1], ys))
    path.write_text("a,label\n1,0\n2,cat\n")
    with pytest.raises(UserError, match=r"mixes numbers \(line 2: '0'\) and names \(line 3: 'cat'\)"):
        load_data(path=path)


class Touch:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_npz_object_array_refused_without_unpickling(tmp_path):
    marker = tmp_path / "ran"
    y = np.empty(4, dtype=object)
    y[:] = [Touch(marker), 1, 0, 1]
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2)), y=y)  # np.savez pickles object arrays
    with pytest.raises(UserError, match=r"d.npz: array 'y' holds Python objects \(dtype=object\).*never unpickles"):
        load_data(path=path)
    assert not marker.exists()
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))
    np.save(tmp_path / "y.npy", y, allow_pickle=True)
    with pytest.raises(UserError, match=r"y.npy holds Python objects"):
        load_data(path=tmp_path)
    assert not marker.exists()


def test_val_fraction_zero_means_no_validation_split(tmp_path):
    b = load_data(path=npz(tmp_path, y=np.arange(30) % 3), val_fraction=0.0)
    assert not b.has_val and b.x_val.shape == (0, 3) and b.y_val.dtype == torch.int64
    assert len(b.x_train) + len(b.x_test) == 30 and "no val (val_fraction = 0)" in b.describe()
    small = load_data(path=npz(tmp_path, y=np.arange(30) % 3), val_fraction=0.01)
    assert small.has_val and len(small.x_val) == 1  # a tiny fraction still gives a validation example


def test_options_for_another_source_are_refused():
    with pytest.raises(UserError, match="data.shape does not apply to mnist1d"):
        load_data("mnist1d", shape=[1, 40])
    with pytest.raises(UserError, match=r"unknown data set .cifar. \(did you mean \"cifar10\"\?\)"):
        load_data("cifar")


def test_csv_fast_and_line_by_line_readers_agree(tmp_path):
    from trainwell.data import read_csv

    path = tmp_path / "t.csv"
    rows = [f'{i * 0.37:.6g},"{-i}",{1e-3 * i:.3e},{i % 4}' for i in range(40)]
    path.write_text("\ufeff\na, b ,c,label\n" + "\n".join(rows[:20]) + "\n\n" + "\n".join(rows[20:]) + "\n")
    fast, slow = read_csv(path), read_csv(path, fast=False)
    assert fast.x.shape == (40, 3) and np.array_equal(fast.x, slow.x) and np.array_equal(fast.y, slow.y)
    assert fast.x[5].tolist() == [float("1.85"), -5.0, 5e-3]
