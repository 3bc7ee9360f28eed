"""The data readers on full-size synthetic data: what reading costs, and what safety costs.

1. CIFAR-10 python batches of the real size (5 × 10000 + 10000 images) written byte for byte as
   the real files are (Python 2 protocol-2 pickles, by tests/data/conftest.py's writer): the
   restricted unpickler (`load_plain_pickle`) against plain `pickle.load` on the same file,
   interleaved per repeat, median; then the whole `read_cifar10` and `load_data` (float32, splits).
2. An image folder of PNGs (`--images`, 32×32 RGB, 10 classes): images per second.
3. A CSV of `--csv-rows` rows × 785 integer columns (MNIST-CSV shaped): `read_csv` against
   `np.loadtxt` on the same file, interleaved, median.

    .venv/bin/python bench/bench_data_readers.py [--repeats 5] [--images 2000] [--csv-rows 10000]

Writes bench/results/data_readers.json. Data are built in a temporary folder and removed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from trainwell.data import load_data, read_cifar10, read_csv, read_image_folder
from trainwell.data.safe_pickle import load_plain_pickle


def py2_writer():
    """The Python-2 pickle writer of the tests (one copy of it), loaded from its file."""
    spec = importlib.util.spec_from_file_location("cifar_fakes", Path(__file__).parents[1] / "tests" / "data" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--csv-rows", type=int, default=10000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "data_readers.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = py2_writer().make_cifar10(root, per_batch=10000)
        batch = folder / "data_batch_1"

        def plain() -> None:
            with open(batch, "rb") as fh:
                pickle.load(fh, encoding="latin1")

        safe, ref = [], []
        for _ in range(args.repeats):
            safe.append(timed(lambda: load_plain_pickle(batch)))
            ref.append(timed(plain))
        result["batch_restricted_s"], result["batch_plain_s"] = statistics.median(safe), statistics.median(ref)
        result["restricted_over_plain"] = result["batch_restricted_s"] / result["batch_plain_s"]
        result["read_cifar10_s"] = statistics.median(timed(lambda: read_cifar10(folder)) for _ in range(args.repeats))
        result["load_data_cifar10_s"] = timed(lambda: load_data("cifar10", folder, val_fraction=0.1))

        from PIL import Image

        images = root / "images"
        for i in range(args.images):
            path = images / f"class{i % 10}" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
        seconds = statistics.median(timed(lambda: read_image_folder(images)) for _ in range(max(1, args.repeats // 2)))
        result["image_folder_images_per_s"] = args.images / seconds

        csv_path = root / "table.csv"
        table = rng.integers(0, 256, (args.csv_rows, 785))
        table[:, 0] %= 10
        header = "label," + ",".join(f"pixel{i}" for i in range(784))
        csv_path.write_text(header + "\n" + "\n".join(",".join(map(str, row)) for row in table) + "\n")
        ours, numpy_s = [], []
        for _ in range(max(1, args.repeats // 2)):
            ours.append(timed(lambda: read_csv(csv_path)))
            numpy_s.append(timed(lambda: np.loadtxt(csv_path, delimiter=",", skiprows=1)))
        result["csv_s"], result["csv_loadtxt_s"] = statistics.median(ours), statistics.median(numpy_s)
        result["csv_over_loadtxt"] = result["csv_s"] / result["csv_loadtxt_s"]

    print(f"one CIFAR batch (10000 images): restricted unpickler {result['batch_restricted_s'] * 1e3:.0f} ms, "
          f"plain pickle.load {result['batch_plain_s'] * 1e3:.0f} ms -> {result['restricted_over_plain']:.2f}x")
    print(f"read_cifar10 (60000 images): {result['read_cifar10_s']:.2f} s; load_data('cifar10'): {result['load_data_cifar10_s']:.2f} s")
    print(f"image folder, {args.images} 32x32 PNGs: {result['image_folder_images_per_s']:.0f} images/s")
    print(f"CSV {args.csv_rows}x785: read_csv {result['csv_s']:.2f} s, np.loadtxt {result['csv_loadtxt_s']:.2f} s "
          f"-> {result['csv_over_loadtxt']:.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), **result}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
