"""PCA, PCA whitening and ZCA whitening: references (sklearn, numpy float64), statistics, invariants."""
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SkPCA

from trainwell.preprocess import PCA, PCAWhiten, ZCAWhiten, eigen_basis


def correlated(n=300, d=8, seed=0, dtype=torch.float64, shape=None):
    """Correlated data x = g A + b with a well-spread spectrum (eigenvalues ~0.05 .. ~40)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(a)
    a = q * torch.logspace(-0.5, 0.8, d, dtype=torch.float64).flip(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) @ a.T + torch.arange(d, dtype=torch.float64)
    x = x.to(dtype)
    return x if shape is None else x.reshape(n, *shape)


def cov(z):
    z = z.double().reshape(z.shape[0], -1)
    zc = z - z.mean(0)
    return zc.T @ zc / z.shape[0]


def align_signs(ours, ref):
    """Flip each column of `ours` to the sign of the matching column of `ref`."""
    signs = torch.sign((ours * ref).sum(0))
    return ours * signs


# ---- reference: sklearn -----------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 3, 8])
def test_pca_matches_sklearn_up_to_sign(k):
    train, test = correlated(seed=0), correlated(n=50, seed=1)
    ours = PCA(k=k).fit(train)
    sk = SkPCA(n_components=k, svd_solver="full").fit(train.numpy())
    ref = torch.from_numpy(sk.transform(test.numpy()))
    z = ours.transform(test)
    assert z.shape == (50, k)
    torch.testing.assert_close(align_signs(z, ref), ref, rtol=0, atol=1e-9)
    n = train.shape[0]
    # our variances use 1/N, sklearn's 1/(N-1)
    torch.testing.assert_close(ours.explained_variance * n / (n - 1), torch.from_numpy(sk.explained_variance_), rtol=1e-10, atol=0)
    torch.testing.assert_close(ours.explained_variance_ratio, torch.from_numpy(sk.explained_variance_ratio_), rtol=1e-10, atol=0)
    # projection back matches sklearn's inverse_transform (sign-free)
    torch.testing.assert_close(ours.inverse_transform(z), torch.from_numpy(sk.inverse_transform(sk.transform(test.numpy()))), rtol=0, atol=1e-9)


def test_pca_whiten_matches_sklearn_whiten_with_eps0():
    train, test = correlated(seed=2), correlated(n=40, seed=3)
    n = train.shape[0]
    sk = SkPCA(n_components=5, whiten=True, svd_solver="full").fit(train.numpy())
    ref = torch.from_numpy(sk.transform(test.numpy()))
    z = PCAWhiten(k=5, eps=0.0).fit(train).transform(test)
    # sklearn divides by sqrt of the 1/(N-1) variance, we by the 1/N one: factor sqrt(N/(N-1))
    torch.testing.assert_close(align_signs(z, ref), ref * (n / (n - 1)) ** 0.5, rtol=0, atol=1e-9)


def test_eigen_basis_against_numpy_float64():
    x = correlated(seed=4)
    mean, evals, evecs = eigen_basis(x)
    xn = x.numpy()
    c = np.cov(xn, rowvar=False, bias=True)
    w, v = np.linalg.eigh(c)
    np.testing.assert_allclose(evals.numpy(), w[::-1], rtol=1e-12)
    np.testing.assert_allclose(np.abs(evecs.numpy().T @ v[:, ::-1]), np.eye(8), atol=1e-9)
    np.testing.assert_allclose(mean.numpy(), xn.mean(0), rtol=1e-14)
    # sign convention: each eigenvector's largest-magnitude entry is positive
    idx = evecs.abs().argmax(0)
    assert (evecs[idx, torch.arange(8)] > 0).all()


# ---- statistical: whitened covariance ≈ identity ----------------------------------------------

@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_pca_whitened_covariance_is_identity(dtype, tol):
    x = correlated(dtype=dtype)
    eps = 1e-5
    w = PCAWhiten(eps=eps).fit(x)
    c = cov(w.transform(x))
    lam = w.explained_variance
    # exactly diag(λ/(λ+eps)) up to rounding (tol), and that is within eps/λ_min ≈ 2e-4 of I
    torch.testing.assert_close(c, torch.diag(lam / (lam + eps)), rtol=0, atol=tol)
    torch.testing.assert_close(c, torch.eye(8, dtype=torch.float64), rtol=0, atol=float(eps / lam.min()) + tol)
    # plain PCA decorrelates: Cov = diag(λ), descending
    cp = cov(PCA().fit_transform(x))
    torch.testing.assert_close(cp, torch.diag(lam), rtol=0, atol=tol * float(lam.max()))
    assert (lam[:-1] >= lam[1:]).all()


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_zca_whitened_covariance_is_identity_and_shape_kept(dtype, tol):
    x = correlated(dtype=dtype, shape=(2, 4))
    eps = 1e-5
    zca = ZCAWhiten(eps=eps).fit(x)
    z = zca.transform(x)
    assert z.shape == x.shape and z.dtype == dtype
    lam = eigen_basis(x.double())[1]
    torch.testing.assert_close(cov(z), torch.eye(8, dtype=torch.float64), rtol=0, atol=float(eps / lam.min()) + tol)


def test_zca_matrix_is_symmetric_inverse_sqrt_of_covariance():
    x = correlated(seed=5)
    eps = 1e-3
    zca = ZCAWhiten(eps=eps).fit(x)
    w = zca.matrix
    torch.testing.assert_close(w, w.T, rtol=0, atol=1e-12)
    # numpy reference: U diag(1/sqrt(λ+eps)) Uᵀ from the biased covariance
    lam, u = np.linalg.eigh(np.cov(x.numpy(), rowvar=False, bias=True))
    ref = (u / np.sqrt(lam + eps)) @ u.T
    np.testing.assert_allclose(w.numpy(), ref, rtol=0, atol=1e-10)
    # W (Σ + eps I) W = I
    c = torch.from_numpy(np.cov(x.numpy(), rowvar=False, bias=True))
    torch.testing.assert_close(w @ (c + eps * torch.eye(8, dtype=torch.float64)) @ w, torch.eye(8, dtype=torch.float64), rtol=0, atol=1e-10)


def test_zca_is_the_whitening_closest_to_the_input():
    """Among whitenings Q·W (Q orthogonal), ZCA minimizes the mean squared distance to x - μ."""
    x = correlated(seed=6)
    xc = x - x.mean(0)
    z = ZCAWhiten(eps=1e-8).fit_transform(x)
    d_zca = (xc - z).square().sum(1).mean()
    # PCA whitening (k = D) is one such rotation of ZCA
    d_pca = (xc - PCAWhiten(eps=1e-8).fit_transform(x)).square().sum(1).mean()
    assert d_zca < d_pca
    g = torch.Generator().manual_seed(7)
    for _ in range(20):
        q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
        assert d_zca < (xc - z @ q).square().sum(1).mean()


# ---- invariants: inverse / projection ----------------------------------------------------------

@pytest.mark.parametrize("cls", [PCA, PCAWhiten, ZCAWhiten])
@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_full_rank_inverse_round_trip(cls, dtype, rtol):
    x = correlated(dtype=dtype, shape=(2, 4))
    t = cls().fit(x)
    test = correlated(n=30, seed=8, dtype=dtype, shape=(2, 4))
    back = t.inverse_transform(t.transform(test))
    assert back.shape == test.shape and back.dtype == dtype
    assert ((back - test).norm() / test.norm()).item() < rtol


@pytest.mark.parametrize("cls", [PCA, PCAWhiten])
def test_truncated_inverse_is_the_projection(cls):
    x = correlated()
    t = cls(k=3).fit(x)
    test = correlated(n=30, seed=9)
    xhat = t.inverse_transform(t.transform(test))
    # idempotent: projecting a projection changes nothing
    torch.testing.assert_close(t.inverse_transform(t.transform(xhat)), xhat, rtol=0, atol=1e-10)
    # the residual is orthogonal to the kept components
    resid = test - xhat
    torch.testing.assert_close(resid @ t.components.T, torch.zeros(30, 3, dtype=torch.float64), rtol=0, atol=1e-9)
    # and it is the best rank-3 reconstruction: the lost variance on train is Σ of the dropped λ
    lam = eigen_basis(x)[1]
    xtr = t.inverse_transform(t.transform(x))
    lost = (x - xtr).square().sum(1).mean()
    assert lost.item() == pytest.approx(lam[3:].sum().item(), rel=1e-10)


def test_pca_flattens_images():
    x = correlated(shape=(2, 2, 2))
    p = PCA(k=4).fit(x)
    assert p.transform(x).shape == (300, 4)
    assert p.inverse_transform(p.transform(x)).shape == (300, 2, 2, 2)
    torch.testing.assert_close(p.transform(x), PCA(k=4).fit(x.reshape(300, 8)).transform(x.reshape(300, 8)))
