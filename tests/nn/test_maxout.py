import pytest
import torch

from trainwell.errors import UserError
from trainwell.nn.maxout import MaxoutConv, MaxoutLinear, maxout

G = lambda s: torch.Generator().manual_seed(s)  # noqa: E731


def test_maxout_k2_with_zero_piece_is_relu_linear():
    m = MaxoutLinear(6, 4, k=2).double()
    ref = torch.nn.Linear(6, 4).double()
    with torch.no_grad():
        w = m.linear.weight.view(4, 2, 6)
        b = m.linear.bias.view(4, 2)
        w[:, 0] = ref.weight
        b[:, 0] = ref.bias
        w[:, 1] = 0.0
        b[:, 1] = 0.0
    x = torch.randn(32, 6, generator=G(0), dtype=torch.float64)
    torch.testing.assert_close(m(x), torch.relu(ref(x)), rtol=0, atol=0)


def test_maxout_k2_leaky_relu_case_conv():
    m = MaxoutConv(2, 3, 5, 3, k=2, padding=1).double()
    ref = torch.nn.Conv2d(3, 5, 3, padding=1).double()
    with torch.no_grad():
        w = m.conv.weight.view(5, 2, 3, 3, 3)
        b = m.conv.bias.view(5, 2)
        w[:, 0], b[:, 0] = ref.weight, ref.bias
        w[:, 1], b[:, 1] = 0.2 * ref.weight, 0.2 * ref.bias
    x = torch.randn(4, 3, 8, 8, generator=G(1), dtype=torch.float64)
    torch.testing.assert_close(m(x), torch.nn.functional.leaky_relu(ref(x), 0.2))


def test_maxout_function_table():
    z = torch.tensor([[1.0, 3.0, -2.0, -5.0, 0.0, 7.0]])
    torch.testing.assert_close(maxout(z, 2), torch.tensor([[3.0, -2.0, 7.0]]))
    torch.testing.assert_close(maxout(z, 3), torch.tensor([[3.0, 7.0]]))
    with pytest.raises(UserError, match="multiple of k=4"):
        maxout(z, 4)


def test_maxout_conv1d_shape_and_gradient_reaches_only_winning_piece():
    m = MaxoutConv(1, 2, 3, 3, k=3)
    x = torch.randn(2, 2, 10, generator=G(2))
    y = m(x)
    assert y.shape == (2, 3, 8)
    y.sum().backward()
    # the bias gradient of each piece counts the positions where that piece won
    z = m.conv(x).detach().unflatten(1, (3, 3))
    wins = (z == z.amax(dim=2, keepdim=True)).float().sum(dim=(0, 3)).flatten()
    torch.testing.assert_close(m.conv.bias.grad, wins)
