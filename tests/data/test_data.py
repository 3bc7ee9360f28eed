import numpy as np
import pytest
import torch

from trainwell.data import BatchLoader, load_data, train_val_split
from trainwell.errors import UserError


def small_npz(tmp_path, **over):
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(50, 3)).astype(np.float32), "y": rng.integers(0, 4, 50)}
    arrays.update(over)
    path = tmp_path / "d.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_mnist1d_shapes_and_split_sizes():
    b = load_data("mnist1d", val_fraction=0.1, seed=0)
    assert b.x_train.shape == (3600, 1, 40) and b.x_val.shape == (400, 1, 40) and b.x_test.shape == (1000, 1, 40)
    assert b.num_classes == 10 and b.x_train.dtype == torch.float32 and b.y_train.dtype == torch.int64


def test_digits_is_images_with_fixed_test_split():
    a = load_data("digits", seed=0)
    b = load_data("digits", seed=5)
    assert a.x_train.shape[1:] == (1, 8, 8)
    # the test split does not depend on the run seed; the validation split does
    assert torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_val, b.x_val)
    assert len(a.x_train) + len(a.x_val) + len(a.x_test) == 1797


def test_split_is_seeded_and_disjoint():
    x = torch.arange(100).float()[:, None]
    y = torch.arange(100) % 3
    xa, ya, xv, yv = train_val_split(x, y, 0.2, seed=1)
    xa2, _, xv2, _ = train_val_split(x, y, 0.2, seed=1)
    assert torch.equal(xv, xv2) and len(xv) == 20 and len(xa) == 80
    assert set(xa[:, 0].tolist()).isdisjoint(xv[:, 0].tolist())
    assert torch.equal(y[xv[:, 0].long()], yv)


def test_npz_roundtrip_and_test_arrays(tmp_path):
    path = small_npz(tmp_path, x_test=np.zeros((5, 3), np.float32), y_test=np.array([0, 1, 2, 3, 3]))
    b = load_data(path=path, val_fraction=0.2)
    assert len(b.x_test) == 5 and len(b.x_train) == 40 and b.num_classes == 4


@pytest.mark.parametrize(
    "over, needle",
    [
        ({"x": np.full((50, 3), np.nan, np.float32)}, "NaN"),
        ({"y": np.full(50, -1)}, "needs at least 2 classes"),
        ({"y": np.zeros(49, int)}, "50 examples but y has 49"),
        ({"x": np.zeros((0, 3)), "y": np.zeros(0, int)}, "empty"),
        ({"y": np.full(50, 0.5)}, "integers"),
    ],
)
def test_bad_npz_is_named(tmp_path, over, needle):
    path = small_npz(tmp_path, **over)
    with pytest.raises(UserError) as err:
        load_data(path=path)
    assert needle in str(err.value) and "d.npz" in str(err.value)


def test_test_label_out_of_training_range_is_reported(tmp_path):
    path = small_npz(tmp_path, x_test=np.zeros((2, 3), np.float32), y_test=np.array([0, -3]))
    with pytest.raises(UserError, match="test"):
        load_data(path=path)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="bad.npz"):
        load_data(path=bad)
    with pytest.raises(UserError, match="does not exist"):
        load_data(path=tmp_path / "nope.npz")
    with pytest.raises(UserError, match="unsupported"):
        load_data(path=small_npz(tmp_path).rename(tmp_path / "d.txt"))


def test_csv_label_column(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["a,b,label"] + [f"{i},{2 * i},{i % 2}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    b = load_data(path=path, label_column="label", val_fraction=0.0, test_fraction=0.25)
    assert b.x_train.shape[1] == 2 and b.num_classes == 2
    # features are the non-label columns in order: b == 2a
    assert torch.allclose(b.x_train[:, 1], 2 * b.x_train[:, 0])
    with pytest.raises(UserError, match='did you mean "label"'):
        load_data(path=path, label_column="labl")


def test_loader_epochs_are_permutations_and_seeded():
    x = torch.arange(10).float()[:, None]
    y = torch.arange(10)
    loader = BatchLoader(x, y, 3, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 3
    epoch = [yb for _, yb in loader]
    seen = torch.cat(epoch)
    assert len(seen) == 9 and len(set(seen.tolist())) == 9  # 9 distinct of 10, one dropped
    again = BatchLoader(x, y, 3, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, (_, b) in zip(epoch, again))
    full = BatchLoader(x, y, 3, shuffle=False, drop_last=False)
    assert [len(b) for _, b in full] == [3, 3, 3, 1]


def test_loader_state_roundtrip_continues_identically():
    x, y = torch.randn(20, 2), torch.arange(20)
    a = BatchLoader(x, y, 4, generator=torch.Generator().manual_seed(3))
    for _ in range(7):
        a.next_batch()
    saved = a.state_dict()
    expected = [a.next_batch()[1] for _ in range(6)]
    b = BatchLoader(x, y, 4, generator=torch.Generator().manual_seed(99))
    b.load_state_dict(saved)
    assert all(torch.equal(e, b.next_batch()[1]) for e in expected)


def test_loader_errors():
    with pytest.raises(UserError, match="explicit torch.Generator"):
        BatchLoader(torch.zeros(4, 1), torch.zeros(4), 2, shuffle=True)
    with pytest.raises(UserError, match="larger than"):
        BatchLoader(torch.zeros(4, 1), torch.zeros(4), 8, shuffle=False)
