"""The scatter-free tile pool: which pools it takes over, and that it equals torch's pooling
(forward and gradient) on those. (Its body was once lost and it silently returned None.)"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainwell.vectorized.batched_layers import _tile_pool, tiled_pool


def test_tile_pools_are_recognised_and_others_refused():
    assert tiled_pool(nn.MaxPool2d(2)) == 2 and tiled_pool(nn.MaxPool1d(3)) == 3 and tiled_pool(nn.AvgPool2d(2)) == 2
    for m in (nn.MaxPool2d(3, stride=2), nn.MaxPool2d(2, padding=1), nn.MaxPool2d(2, ceil_mode=True),
              nn.AvgPool2d(2, divisor_override=3), nn.ReLU(), nn.AdaptiveAvgPool2d(1)):
        assert tiled_pool(m) is None, m


@pytest.mark.parametrize("dims,use_max", [(1, True), (1, False), (2, True), (2, False)])
def test_tile_pool_equals_torch_forward_and_gradient(dims, use_max):
    g = torch.Generator().manual_seed(0)
    shape = (3, 4, 9) if dims == 1 else (3, 4, 9, 7)  # remainders dropped, as floor mode
    x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_(True)
    pool = {(1, True): F.max_pool1d, (1, False): F.avg_pool1d, (2, True): F.max_pool2d, (2, False): F.avg_pool2d}
    out, ref = _tile_pool(x, 2, dims, use_max), pool[(dims, use_max)](ref_x, 2)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-15)
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    (out * up).sum().backward()
    (ref * up).sum().backward()
    torch.testing.assert_close(x.grad, ref_x.grad, rtol=0, atol=1e-15)
