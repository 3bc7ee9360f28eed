"""Data sets by name, file or folder; validation, label mapping, seeded splits, an in-memory batch loader.

`load_data(...)` gives a split `DataBundle`; the readers give the arrays themselves (`RawData`:
x, y, x_test, y_test, class_names): `read_cifar10`, `read_cifar100`, `read_image_folder`,
`read_npz`, `read_npy`, `read_csv`.
"""
from trainwell.data.bundle import DataBundle
from trainwell.data.cifar import read_cifar10, read_cifar100
from trainwell.data.image_folder import read_image_folder
from trainwell.data.labels import encode_labels
from trainwell.data.layout import arrange, detect_layout
from trainwell.data.load import load_data
from trainwell.data.loader import BatchLoader
from trainwell.data.numpy_files import read_npy, read_npz
from trainwell.data.raw import RawData
from trainwell.data.sources import DATASETS, FORMATS
from trainwell.data.split import train_val_split
from trainwell.data.tables import read_csv
from trainwell.data.validate import check_arrays

__all__ = [
    "DataBundle", "BatchLoader", "DATASETS", "FORMATS", "RawData", "load_data", "train_val_split", "check_arrays",
    "encode_labels", "arrange", "detect_layout", "read_cifar10", "read_cifar100", "read_image_folder",
    "read_npz", "read_npy", "read_csv",
]
