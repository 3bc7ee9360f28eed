import pickle
import tarfile

import numpy as np
import pytest
import torch

from trainwell.config import load_recipe
from trainwell.data import load_data, read_cifar10, read_cifar100
from trainwell.data.safe_pickle import load_plain_pickle
from trainwell.errors import UserError


def raw_batch(folder, name):
    with open(folder / name, "rb") as fh:  # the reference reader: plain pickle on our own test files
        return pickle.load(fh, encoding="latin1")


def test_python2_batches_read_as_nchw_with_names(tmp_path, cifar_tools):
    folder = cifar_tools["cifar10"](tmp_path, per_batch=6)
    d = read_cifar10(folder)
    assert d.x.shape == (30, 3, 32, 32) and d.x.dtype == np.uint8 and d.x_test.shape == (6, 3, 32, 32)
    assert d.class_names == cifar_tools["names10"] and d.layout == "nchw"
    # image 0 of batch 2: red plane = the first 1024 bytes of its row, row by row; green the next 1024
    b2 = raw_batch(folder, "data_batch_2")
    row = b2["data"][0]
    assert np.array_equal(d.x[6, 0], row[:1024].reshape(32, 32)) and np.array_equal(d.x[6, 1, 5], row[1024 + 160:1024 + 192])
    assert d.y[6:12].tolist() == b2["labels"]


def test_load_data_keeps_pixels_and_the_real_test_batch(tmp_path, cifar_tools):
    folder = cifar_tools["cifar10"](tmp_path, per_batch=10)
    b = load_data("cifar10", folder, val_fraction=0.2, seed=3)
    assert (len(b.x_train), len(b.x_val), len(b.x_test)) == (40, 10, 10)
    assert b.x_train.dtype == torch.float32 and float(b.x_train.max()) <= 255 and float(b.x_train.max()) > 200
    assert b.num_classes == 10 and b.class_names[0] == "airplane" and b.name == "cifar10"
    test = raw_batch(folder, "test_batch")
    assert torch.equal(b.x_test, torch.as_tensor(test["data"].reshape(-1, 3, 32, 32), dtype=torch.float32))
    assert "CIFAR-10 python batches" in b.describe() and "airplane" in b.describe()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python3_pickles_of_the_same_data_read_alike(tmp_path, cifar_tools, protocol):
    a = read_cifar10(cifar_tools["cifar10"](tmp_path / "a", seed=1))
    writer = lambda v: pickle.dumps(v, protocol=protocol)  # noqa: E731  (bytes keys, _codecs, _frombuffer)
    b = read_cifar10(cifar_tools["cifar10"](tmp_path / "b", seed=1, writer=writer))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and a.class_names == b.class_names


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_values_round_trip_like_pickle(tmp_path, protocol):
    value = {"f": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "i": np.int64(-7), "u": np.array(["ab", "c"]),
             "b": np.array([True, False]), "e": np.zeros((0, 4), np.float32), "nested": [(1, 2.5, None), b"raw", "txt"]}
    (tmp_path / "p").write_bytes(pickle.dumps(value, protocol=protocol))
    out = load_plain_pickle(tmp_path / "p")
    ref = pickle.loads((tmp_path / "p").read_bytes())
    assert out.keys() == ref.keys() and out["nested"] == ref["nested"] and out["i"] == -7
    for k in ("f", "u", "b", "e"):
        assert out[k].dtype == ref[k].dtype and out[k].shape == ref[k].shape and np.array_equal(out[k], ref[k])
    assert out["f"].flags.f_contiguous and out["f"].flags.writeable


class Touch:
    """Unpickling this creates a file: the proof that code from a pickle ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def test_code_in_a_pickle_is_refused_and_does_not_run(tmp_path, cifar_tools):
    folder = cifar_tools["cifar10"](tmp_path)
    marker = tmp_path / "pwned"
    batch = raw_batch(folder, "data_batch_3")
    batch["evil"] = Touch(marker)
    (folder / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(UserError, match=r"data_batch_3: refused to unpickle.*builtins\.open|data_batch_3: refused.*io\.open"):
        read_cifar10(folder)
    assert not marker.exists()
    # a pickle that only names os.system is refused the same way
    (folder / "data_batch_3").write_bytes(b"\x80\x02cposix\nsystem\nU\x04trueq\x00\x85R.")
    with pytest.raises(UserError, match="posix.system"):
        read_cifar10(folder)


def test_object_structured_and_foreign_arrays_are_refused(tmp_path):
    path = tmp_path / "b"
    cases = [
        (np.array([1, "a"], dtype=object), "the dtype 'O8'"),
        (np.zeros(2, dtype=[("a", "<i4")]), "the dtype 'V4'"),
        (np.ma.masked_array([1, 2]), "numpy.ma.core"),
    ]
    for value, needle in cases:
        path.write_bytes(pickle.dumps({"data": value}, protocol=2))
        with pytest.raises(UserError, match=needle):
            load_plain_pickle(path)


def test_dtype_flags_in_a_pickle_are_never_applied(tmp_path):
    """NumPy's dtype.__setstate__ would take flags 63 ("holds objects") for a uint8 dtype; then raw
    bytes would be read as object pointers. The flags are ignored: a plain uint8 array comes out."""
    good = pickle.dumps(np.arange(4, dtype=np.uint8), protocol=2)
    flags = b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
    assert good.count(flags) == 1
    (tmp_path / "b").write_bytes(good.replace(flags, flags[:-3] + b"K\x3ft"))
    out = load_plain_pickle(tmp_path / "b")
    assert out.dtype == np.uint8 and not out.dtype.hasobject and out.tolist() == [0, 1, 2, 3]
    big_endian = pickle.dumps(np.arange(3, dtype=">i4"), protocol=2)
    (tmp_path / "c").write_bytes(big_endian)
    assert load_plain_pickle(tmp_path / "c").tolist() == [0, 1, 2]


def test_truncated_batch_is_named(tmp_path, cifar_tools):
    folder = cifar_tools["cifar10"](tmp_path)
    (folder / "test_batch").write_bytes((folder / "test_batch").read_bytes()[:500])
    with pytest.raises(UserError, match="test_batch: not a readable pickle"):
        read_cifar10(folder)


def test_missing_batch_wrong_keys_wrong_sizes(tmp_path, cifar_tools):
    folder = cifar_tools["cifar10"](tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(UserError, match="missing data_batch_4"):
        load_data(path=folder)  # still detected as CIFAR-10 by batches.meta
    py2 = cifar_tools["py2_pickle"]
    cases = [
        ({"data": np.zeros((2, 3072), np.uint8), "label": [0, 1]}, r"keys 'data' and 'labels'.*missing \['labels'\]"),
        ({"data": np.zeros((2, 3000), np.uint8), "labels": [0, 1]}, r"N×3072.*\(2, 3000\)"),
        ({"data": np.zeros((3, 3072), np.uint8), "labels": [0, 1]}, "must be 3 integers"),
    ]
    for batch, needle in cases:
        (folder / "data_batch_4").write_bytes(py2(batch))
        with pytest.raises(UserError, match=needle) as err:
            read_cifar10(folder)
        assert "data_batch_4" in str(err.value)
    (folder / "data_batch_4").write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}))
    with pytest.raises(UserError, match="uint8"):
        read_cifar10(folder)
    (folder / "data_batch_4").write_bytes(py2({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}))
    with pytest.raises(UserError, match=r"label 10 is outside \[0, 10\)"):
        load_data(path=folder)
    (folder / "batches.meta").write_bytes(py2({"names": ["a"]}))
    with pytest.raises(UserError, match="batches.meta: needs 'label_names'"):
        read_cifar10(folder)


def test_tar_gz_download_reads_like_the_folder(tmp_path, cifar_tools):
    folder = cifar_tools["cifar10"](tmp_path)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    a, b = read_cifar10(folder), load_data(path=archive, val_fraction=0)
    assert torch.equal(b.x_train, torch.as_tensor(a.x, dtype=torch.float32)) and b.class_names == a.class_names


def test_cifar100_fine_and_coarse(tmp_path, cifar_tools):
    folder = cifar_tools["cifar100"](tmp_path)
    fine, coarse = read_cifar100(folder), read_cifar100(folder, coarse=True)
    assert len(fine.class_names) == 100 and len(coarse.class_names) == 20
    assert np.array_equal(coarse.y, fine.y // 5) and np.array_equal(fine.x, coarse.x)
    b = load_data(path=folder, coarse_labels=True)  # detected by its meta/train/test files
    assert b.num_classes == 20 and "coarse labels" in b.describe()
    with pytest.raises(UserError, match="coarse_labels does not apply to cifar10"):
        load_data(path=cifar_tools["cifar10"](tmp_path), coarse_labels=True)


def test_recipe_with_a_relative_cifar_path(tmp_path, cifar_tools):
    cifar_tools["cifar10"](tmp_path / "data")
    recipe = tmp_path / "r.toml"
    recipe.write_text('[data]\nname = "cifar10"\npath = "data/cifar-10-batches-py"\nval_fraction = 0.1\n')
    from trainwell.assemble.data import load_recipe_data

    b = load_recipe_data(load_recipe(recipe))
    assert b.input_shape == (3, 32, 32) and b.num_classes == 10
    with pytest.raises(UserError, match="data.name = 'cifar10' reads files: set data.path"):
        load_data("cifar10")
    with pytest.raises(UserError, match="data.layout does not apply to cifar10"):
        load_data(path=tmp_path / "data" / "cifar-10-batches-py", layout="nhwc")
