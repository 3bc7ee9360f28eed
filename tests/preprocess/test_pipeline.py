"""Pipeline: order, fit on the previous step's output, inverse, rebuild from a checkpoint; registry."""
import io

import pytest
import torch

from trainwell.errors import UserError
from trainwell.preprocess import (
    PCA,
    PREPROCESSORS,
    Center,
    NotFittedError,
    Pipeline,
    Standardize,
    build_pipeline,
)


def data(n=60, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64)) * torch.arange(1.0, d + 1, dtype=torch.float64) + 5


def test_pipeline_equals_manual_composition_and_fits_on_previous_output():
    x, test = data(), data(n=10, seed=1)
    pipe = Pipeline([Standardize(), PCA(k=3)]).fit(x)
    s = Standardize().fit(x)
    p = PCA(k=3).fit(s.transform(x))
    assert torch.equal(pipe.transform(test), p.transform(s.transform(test)))
    # step 2 was fitted on standardized data: its mean is ≈ 0, unlike a PCA of the raw data
    assert pipe[1].state_dict()["stats"]["mean"].abs().max() < 1e-12
    assert PCA(k=3).fit(x).state_dict()["stats"]["mean"].abs().max() > 1


def test_pipeline_order_matters():
    x = data()
    a = Pipeline([Standardize(), PCA(k=3)]).fit_transform(x)
    b = Pipeline([PCA(), Standardize()]).fit(x)
    # PCA then standardize = PCA whitening (unit variance per component); standardize then PCA is not
    cov_a = torch.cov(a.T, correction=0)
    assert (cov_a.diagonal() - 1).abs().max() > 0.1
    cov_b = torch.cov(b.transform(x).T, correction=0)
    torch.testing.assert_close(cov_b, torch.eye(6, dtype=torch.float64), rtol=0, atol=1e-10)


def test_pipeline_inverse_in_reverse_order():
    x, test = data(), data(n=10, seed=2)
    pipe = build_pipeline(["center", "standardize", {"name": "pca_whiten", "eps": 1e-9}]).fit(x)
    back = pipe.inverse_transform(pipe.transform(test))
    assert ((back - test).norm() / test.norm()).item() < 1e-12


def test_pipeline_state_dict_rebuilds_from_checkpoint():
    x, test = data(), data(n=10, seed=3)
    pipe = build_pipeline(["standardize", {"name": "pca", "k": 4}, {"name": "minmax", "low": 0.0, "high": 1.0}]).fit(x)
    buf = io.BytesIO()
    torch.save({"preprocess": pipe.state_dict()}, buf)
    buf.seek(0)
    sd = torch.load(buf, weights_only=True)["preprocess"]
    assert [s["name"] for s in sd["steps"]] == ["standardize", "pca", "minmax"]
    rebuilt = Pipeline.from_state_dict(sd)
    assert torch.equal(rebuilt.transform(test), pipe.transform(test))
    assert repr(rebuilt) == repr(pipe)
    again = build_pipeline(["standardize", "pca", "minmax"]).load_state_dict(sd)
    assert torch.equal(again.transform(test), pipe.transform(test)) and again[1].k == 4
    with pytest.raises(UserError, match=r"this pipeline has steps \['standardize', 'pca'\], the state dict has"):
        build_pipeline(["standardize", "pca"]).load_state_dict(sd)
    with pytest.raises(UserError, match="expected a pipeline state dict"):
        Pipeline.from_state_dict(pipe[0].state_dict())


def test_pipeline_errors_and_repr():
    pipe = build_pipeline(["standardize", "pca"])
    assert not pipe.fitted
    with pytest.raises(NotFittedError, match=r"\['0:standardize', '1:pca'\] are not fitted"):
        pipe.transform(data())
    with pytest.raises(UserError, match="step 1 must be a preprocessor"):
        Pipeline([Center(), "pca"])
    with pytest.raises(UserError, match='unknown preprocessor \'standardise\' \\(did you mean "standardize"\\?\\)'):
        build_pipeline(["standardise"])
    pipe.fit(data())
    assert pipe.fitted
    assert repr(pipe).splitlines()[1].strip().startswith("(0) Standardize(eps=1e-08; fitted on examples of shape (6,)")
    empty = Pipeline([]).fit(data())
    assert torch.equal(empty.transform(data()), data())


def test_registry_has_every_transform_with_one_line_help():
    expected = {"center", "standardize", "global_standardize", "minmax", "mean_image", "channel_mean",
                "channel_standardize", "pca", "pca_whiten", "zca_whiten"}
    assert set(PREPROCESSORS.names()) == expected
    for entry in PREPROCESSORS.entries():
        assert entry.help and "\n" not in entry.help
        assert entry.constructor.name == entry.name  # the name recorded in state dicts
