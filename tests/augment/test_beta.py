"""Gamma/Beta draws from a generator, against scipy's distributions (KS statistic, fixed seeds)."""
import math

import pytest
import torch
from scipy import stats

from trainwell.augment import sample_beta, sample_gamma, sample_log_gamma

N = 20000
# The 1 % critical value of the one-sample KS statistic for n = 20000 is 1.63 / sqrt(n) = 0.0115.
KS_TOL = 0.0115


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5])
def test_gamma_matches_scipy(a):
    g = torch.Generator().manual_seed(11)
    x = sample_gamma(a, N, g).numpy()
    assert stats.kstest(x, stats.gamma(a).cdf).statistic < KS_TOL


@pytest.mark.parametrize("alpha,beta", [(0.2, 0.2), (1.0, 1.0), (2.0, 0.5)])
def test_beta_matches_scipy(alpha, beta):
    g = torch.Generator().manual_seed(12)
    x = sample_beta(alpha, beta, N, g)
    assert x.dtype == torch.float64 and torch.all((x >= 0) & (x <= 1))
    assert stats.kstest(x.numpy(), stats.beta(alpha, beta).cdf).statistic < KS_TOL


def test_tiny_alpha_stays_finite():
    g = torch.Generator().manual_seed(13)
    lg = sample_log_gamma(0.02, 5000, g)
    assert torch.isfinite(lg).all()                   # U^(1/a) underflows, its log does not
    lam = sample_beta(0.02, 0.02, 5000, g)
    assert torch.isfinite(lam).all()
    # Beta(0.02, 0.02) puts almost all mass near 0 and 1, symmetric: mean 0.5 ± 0.03
    assert abs(lam.mean().item() - 0.5) < 0.03
    assert ((lam < 0.01) | (lam > 0.99)).float().mean() > 0.85


def test_same_seed_same_draws_other_seed_differs():
    a = sample_beta(0.4, 0.4, 100, torch.Generator().manual_seed(5))
    b = sample_beta(0.4, 0.4, 100, torch.Generator().manual_seed(5))
    c = sample_beta(0.4, 0.4, 100, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_beta_moments():
    g = torch.Generator().manual_seed(14)
    a = 0.4
    lam = sample_beta(a, a, N, g)
    var = 1 / (4 * (2 * a + 1))                       # Var Beta(a, a) = 1 / (4 (2a + 1))
    assert abs(lam.mean().item() - 0.5) < 4 * math.sqrt(var / N)
    assert abs(lam.var().item() / var - 1) < 0.05
