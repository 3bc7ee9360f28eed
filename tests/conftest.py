"""Test session settings: one intra-op thread per pytest worker.

The suite runs with two xdist workers on two cores; letting each worker's torch use two threads
oversubscribes the CPU and makes OpenMP spin, which slows small ops by an order of magnitude.
"""
import torch

torch.set_num_threads(1)
