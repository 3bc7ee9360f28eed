import logging
import os
import stat
import tempfile

import numpy as np
import pytest

from trainwell.data import sources
from trainwell.data.cache import load_npz_cached, save_npz_atomic, usable_cache_dir


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


def unwritable_cache(tmp_path, monkeypatch):
    """TRAINWELL_CACHE below a regular file (cannot be created, even by root); temp dir in tmp_path."""
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TRAINWELL_CACHE", str(tmp_path / "a-file" / "cache"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path / "tmp" / f"trainwell-cache-{os.getuid()}"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="private temp cache needs POSIX uids")
def test_unwritable_cache_falls_back_to_a_private_temp_dir(tmp_path, monkeypatch, caplog):
    private = unwritable_cache(tmp_path, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="trainwell"):
        x, _, _, _ = sources.mnist1d()  # before: NotADirectoryError from deep inside np.savez
        sources.mnist1d()
    assert x.shape == (4000, 1, 40)
    assert (private / "mnist1d.npz").is_file() and stat.S_IMODE(private.stat().st_mode) == 0o700
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "not writable" in warnings[0] and str(private) in warnings[0]


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="private temp cache needs POSIX uids")
@pytest.mark.parametrize("planted", ["symlink", "open to others"])
def test_a_temp_cache_we_do_not_own_alone_is_not_used(tmp_path, monkeypatch, caplog, planted):
    private = unwritable_cache(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if planted == "symlink":
        private.symlink_to(elsewhere)
    else:
        private.mkdir()
        private.chmod(0o777)
    with caplog.at_level(logging.WARNING, logger="trainwell"):
        assert usable_cache_dir() is None
    assert "will not be cached" in caplog.text
    assert list(elsewhere.iterdir()) == [] and (planted == "symlink" or list(private.iterdir()) == [])


def test_writable_cache_is_used_silently(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TRAINWELL_CACHE", str(tmp_path / "c"))
    with caplog.at_level(logging.WARNING, logger="trainwell"):
        assert usable_cache_dir() == tmp_path / "c"
    assert caplog.text == "" and (tmp_path / "c").is_dir()
