import numpy as np

from trainwell.data import sources
from trainwell.data.cache import load_npz_cached, save_npz_atomic


def test_atomic_write_leaves_no_temp_files(tmp_path):
    save_npz_atomic(tmp_path / "a.npz", x=np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]
    assert load_npz_cached(tmp_path / "a.npz", ("x",))["x"].tolist() == [0, 1, 2]
    assert load_npz_cached(tmp_path / "a.npz", ("x", "y")) is None  # a missing key means rebuild


def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINWELL_CACHE", str(tmp_path))
    (tmp_path / "mnist1d.npz").write_bytes(b"garbage from a killed write")
    x, y, xt, yt = sources.mnist1d()
    assert x.shape == (4000, 1, 40) and xt.shape == (1000, 1, 40)
    again = load_npz_cached(tmp_path / "mnist1d.npz", sources.KEYS)
    assert again is not None and np.array_equal(again["x"][:, None, :], x)
