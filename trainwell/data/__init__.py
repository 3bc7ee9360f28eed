"""Data sets by name or file, validation, seeded splits and an in-memory batch loader."""
from trainwell.data.bundle import DataBundle
from trainwell.data.loader import BatchLoader
from trainwell.data.sources import DATASETS, load_data
from trainwell.data.split import train_val_split
from trainwell.data.validate import check_arrays

__all__ = ["DataBundle", "BatchLoader", "DATASETS", "load_data", "train_val_split", "check_arrays"]
