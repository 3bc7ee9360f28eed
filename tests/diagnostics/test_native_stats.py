"""The C statistics kernels (trainwell/diagnostics/native): float64 references, the torch path, the build."""
import copy
import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from trainwell.diagnostics import stats as S
from trainwell.diagnostics.capture import LayerStats
from trainwell.diagnostics.native import stats_kernels, why_unavailable
from trainwell.diagnostics.native import layouts as L
from trainwell.diagnostics.native.kernels import activation_layout
from trainwell.diagnostics.native.layouts import contiguous_strides, is_dense, memory_order, sample_offsets, unit_steps

HAS_CC = any(shutil.which(c) for c in ("cc", "gcc", "clang"))


@pytest.fixture(scope="module")
def kernels():
    k = stats_kernels()
    if k is None:
        pytest.skip(f"native statistics kernels unavailable: {why_unavailable()}")
    return k


def test_kernels_build_wherever_a_c_compiler_exists():
    if not HAS_CC:
        pytest.skip("no C compiler on this machine: the torch path is used")
    assert stats_kernels() is not None, why_unavailable()


def activation(kernels, y: torch.Tensor, kind, hist=64):
    """Run tw_activation on y (read in place: C order or channels-last) the way LayerStats does;
    returns (out[5], sample, width, count, stride)."""
    n = y.numel()
    examples, units, positions = S.unit_shape(tuple(y.shape))
    per_example = n // y.shape[0] if y.dim() > 1 else n
    count, stride = S.sample_stride(n, hist, per_example)
    width = max(hist, count)
    rows, cols = (examples, units * positions) if kind == "relu" else (1, n)
    scratch = np.empty(max(cols, 1), dtype=np.float32)
    sample = np.full(width, -7.0, dtype=np.float32)
    out = np.full(5, -1.0)
    order = memory_order(tuple(y.shape), y.stride())
    offsets = sample_offsets(tuple(y.shape), y.stride(), count, stride)
    steps = unit_steps(tuple(y.shape), order) if kind == "relu" else (1, 1)
    layout = activation_layout(rows, cols, kind, units, scratch, offsets, sample, *steps)
    kernels.activation(y.data_ptr(), layout.ctypes.data, out.ctypes.data)
    return out, sample, width, count, stride


SHAPES = [(64, 6), (37, 5, 13), (8, 3, 5, 7), (1000,), (3, 1), (5, 70, 3)]  # short and odd rows, 1-D
CHANNELS_LAST = [(8, 3, 5, 7), (6, 20, 4, 4), (4, 2, 3, 3, 3)]  # read in place with unit step 1


@pytest.mark.parametrize("shape", SHAPES + [("cl",) + s for s in CHANNELS_LAST])
@pytest.mark.parametrize("kind", [None, "relu", "tanh", "sigmoid"])
def test_activation_kernel_matches_float64(kernels, shape, kind):
    channels_last = shape[0] == "cl"
    shape = shape[1:] if channels_last else shape
    g = torch.Generator().manual_seed(len(shape) * 7 + sum(shape))
    y = torch.randn(*shape, generator=g) * 1.7 + 0.2
    if channels_last:
        y = y.to(memory_format=torch.channels_last if y.dim() == 4 else torch.channels_last_3d)
        assert not y.is_contiguous() and memory_order(tuple(y.shape), y.stride()) == "channels_last"
    if kind == "relu":
        y = torch.relu(y)
        if y.dim() > 1:
            y[:, 0] = 0.0  # unit 0 dead in every example
    elif kind == "tanh":
        y = torch.tanh(3 * y)
    elif kind == "sigmoid":
        y = torch.sigmoid(4 * y)
    out, sample, width, count, stride = activation(kernels, y, kind)
    d = y.double().reshape(-1)
    assert out[0] == pytest.approx(float(d.sum()), rel=1e-6, abs=1e-9)
    assert out[1] == pytest.approx(float(((d - d.mean()) ** 2).sum()), rel=1e-5, abs=1e-9)
    assert out[2] == float(y.min()) and out[3] == float(y.max())
    if kind == "relu":
        assert out[4] == float(S.dead_count(y))
        if y.dim() > 1:
            assert out[4] >= 1
    elif kind in ("tanh", "sigmoid"):
        assert out[4] == float(S.saturated_count(y.reshape(-1), kind))
    else:
        assert out[4] == 0
    flat = y.reshape(-1).numpy()  # logical (C) order: the same elements as the torch path's sample
    np.testing.assert_array_equal(sample[:count], flat[: count * stride: stride][:count])
    np.testing.assert_array_equal(sample[count:], np.full(width - count, flat[0], dtype=np.float32))


def test_shifted_moments_stay_accurate_far_from_zero_mean(kernels):
    """|mean| = 1e4·std: a plain float32 Σy² − (Σy)²/n would lose every digit; the shift keeps ≤ 1e-5."""
    g = torch.Generator().manual_seed(3)
    y = 1e4 + torch.randn(200, 50, generator=g)
    out, *_ = activation(kernels, y, None)
    d = y.double().reshape(-1)
    assert out[1] == pytest.approx(float(((d - d.mean()) ** 2).sum()), rel=1e-5)
    m = kernels.moments([y.reshape(-1)])
    assert m[0, 1] == pytest.approx(float(((d - d.mean()) ** 2).sum()), rel=1e-5)


def test_non_finite_values_give_nan_range_and_counts_like_torch(kernels):
    y = torch.tanh(torch.randn(16, 40))
    y[3, 7] = float("nan")
    out, *_ = activation(kernels, y, "tanh")
    assert np.isnan(out[0]) and np.isnan(out[2]) and np.isnan(out[3]) and np.isnan(out[4])
    y = torch.randn(16, 40)
    y[0, 0] = float("inf")  # the first element: the shift falls back to 0, Σy stays +inf
    out, *_ = activation(kernels, y, None)
    assert out[0] == float("inf") and out[3] == float("inf") and out[2] == float(y.min())
    assert np.isnan(out[1])  # inf − inf: std NaN, as the torch path gives


@pytest.mark.parametrize("sizes", [[1, 7, 8, 9, 63, 1000, 4097], [3]])
def test_multi_tensor_kernels_match_float64(kernels, sizes):
    g = torch.Generator().manual_seed(len(sizes))
    a = [torch.randn(n, generator=g) * 2 + 0.5 for n in sizes]
    b = [t + 1e-3 * torch.randn(t.shape, generator=g) for t in a]
    ref = [t.double() for t in a]
    np.testing.assert_allclose(kernels.moments(a)[:, 0], [float(t.sum()) for t in ref], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(kernels.moments(a)[:, 1], [float(((t - t.mean()) ** 2).sum()) for t in ref],
                               rtol=1e-5, atol=1e-9)
    snap = [torch.full_like(t, -1.0) for t in b]
    out = kernels.param_stats(a, b, snap)  # a as the gradients of weights b
    np.testing.assert_allclose(out[:, 0], [float((t ** 2).sum()) for t in ref], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [float((t.double() ** 2).sum()) for t in b], rtol=1e-6)
    assert all(torch.equal(s, t) for s, t in zip(snap, b))
    stepped = [t - 0.01 * g for t, g in zip(b, a)]  # an SGD step: Δw = 0.01·g
    kernels.param_finish(snap, stepped, out)
    np.testing.assert_allclose(out[:, 0], [float(t.norm()) for t in ref], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [float(t.double().norm()) for t in b], rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], [float((s.double() - t.double()).norm()) for s, t in zip(b, stepped)],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="match"):
        kernels.param_stats(a, b[::-1] if len(b) > 1 else [torch.zeros(5)], snap)
    with pytest.raises(ValueError, match="match"):
        kernels.param_finish(snap, b, out[:-1] if len(b) > 1 else np.zeros((1, 2)))

def test_histogram_kernel_equals_the_numpy_reference_exactly(kernels):
    g = np.random.default_rng(0)
    rows, width, bins = 6, 300, 17
    samples = g.normal(size=(rows, width)).astype(np.float32)
    samples[1] *= 1e-30  # a tiny spread
    samples[2] = 0.25  # a constant row
    samples[3, 5] = np.nan
    samples[4, 9] = np.inf
    sizes = np.array([300, 120, 300, 300, 250, 1], dtype=np.int64)
    lo = np.array([samples[r, :k].min() for r, k in enumerate(sizes)], dtype=np.float64)
    hi = np.array([samples[r, :k].max() for r, k in enumerate(sizes)], dtype=np.float64)
    lo[3], hi[3] = np.nan, np.nan  # a NaN layer: everything lands in bin 0 in both
    got = kernels.histograms(list(samples), sizes, lo, hi, bins)
    want = S.histograms_host(samples.reshape(-1), sizes.tolist(), lo, hi, bins, width)
    np.testing.assert_array_equal(got, want)
    assert got.sum(axis=1).tolist() == sizes.tolist()
    with pytest.raises(ValueError, match="float32"):
        kernels.histograms(list(samples.astype(np.float64)), sizes, lo, hi, bins)
    with pytest.raises(ValueError, match="at least sizes"):
        kernels.histograms(list(samples[:, :100]), sizes, lo, hi, bins)


def conv_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(2, 6, 3, padding=1), nn.ReLU(), nn.Conv1d(6, 4, 3), nn.Tanh(),
                         nn.Flatten(), nn.Linear(4 * 10, 8), nn.Sigmoid(), nn.Linear(8, 3))


def one_step(net, stats, x, y, opt):
    stats.start(0)
    loss = nn.functional.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    stats.after_backward()
    opt.step()
    return stats.finish()


def test_native_and_torch_records_agree(kernels):
    """Same model, same step, both paths: every number within float32 tolerance, histograms identical."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(50, 2, 12, generator=g), torch.randint(0, 3, (50,), generator=g)
    records = {}
    for backend in ("native", "torch"):
        net = conv_net()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        stats = LayerStats(net, every=1, bins=16, hist_samples=100, backend=backend)
        records[backend] = one_step(net, stats, x, y, opt)
        assert stats.native == (backend == "native")
    a, b = records["native"], records["torch"]
    assert [layer["name"] for layer in a["layers"]] == [layer["name"] for layer in b["layers"]]
    for la, lb in zip(a["layers"], b["layers"]):
        assert la.keys() == lb.keys()
        for key in ("mean", "std", "grad_mean", "grad_std"):
            assert la[key] == pytest.approx(lb[key], rel=2e-5, abs=1e-7), (la["name"], key)
        assert la["lo"] == lb["lo"] and la["hi"] == lb["hi"] and la["hist"] == lb["hist"]
        for key in ("dead_frac", "saturated_frac"):
            assert la.get(key) == lb.get(key)
    for pa, pb in zip(a["params"], b["params"]):
        for key in ("grad_norm", "weight_norm", "delta_norm", "update_ratio"):
            assert pa[key] == pytest.approx(pb[key], rel=1e-5), (pa["name"], key)


def test_backend_choice_and_errors(kernels):
    net = conv_net()
    with pytest.raises(Exception, match="backend must be one of"):
        LayerStats(net, backend="fast")
    stats = LayerStats(net, backend="auto")
    stats.start(0)
    assert stats.native  # a CPU model with kernels available
    stats.cancel()
    stats = LayerStats(net, backend="torch")
    stats.start(0)
    assert not stats.native
    stats.cancel()


def test_a_copy_or_pickle_of_an_observed_model_is_not_observed(kernels):
    """Hooks kept between captures travel into deepcopy/pickle as inert hooks (an EMA copy, torch.save)."""
    net = conv_net()
    stats = LayerStats(net, every=1, backend="native")
    x = torch.randn(4, 2, 12)
    stats.start(0)
    twin = copy.deepcopy(net)
    restored = pickle.loads(pickle.dumps(net))
    twin(x)
    restored(x)
    assert stats._entries == []  # neither copy reported to the recorder
    net(x)
    assert len(stats._entries) == 8
    stats.close()


def _run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=240)


PROBE = """
    import torch
    from torch import nn
    from trainwell.diagnostics.capture import LayerStats
    from trainwell.diagnostics.native import stats_kernels, why_unavailable
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    stats = LayerStats(net, every=1)
    stats.start(0)
    net(torch.randn(5, 3)).sum().backward()
    stats.after_backward()
    rec = stats.finish()
    print(stats_kernels() is not None, len(rec["layers"]), "|", why_unavailable())
"""


def test_without_a_compiler_or_when_disabled_the_torch_path_records(tmp_path):
    env = dict(os.environ, TRAINWELL_CACHE=str(tmp_path / "cache"), PATH=str(tmp_path), CC="")
    done = _run_python(PROBE, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("False 3 |") and "no C compiler" in done.stdout
    env = dict(os.environ, TRAINWELL_NATIVE="0")
    done = _run_python(PROBE, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("False 3 |") and "TRAINWELL_NATIVE=0" in done.stdout


def test_a_fresh_cache_builds_once_and_a_second_process_reuses_it(tmp_path):
    if not HAS_CC:
        pytest.skip("no C compiler on this machine")
    env = dict(os.environ, TRAINWELL_CACHE=str(tmp_path))
    env.pop("TRAINWELL_NATIVE", None)
    first = _run_python(PROBE, env)
    assert first.returncode == 0 and first.stdout.startswith("True 3 |"), first.stdout + first.stderr
    built = sorted((tmp_path / "native").glob("stats_kernels-*.so"))
    assert len(built) == 1 and not list((tmp_path / "native").glob("*.tmp.so"))
    stamp = built[0].stat().st_mtime_ns
    second = _run_python(PROBE, env)
    assert second.returncode == 0 and second.stdout.startswith("True 3 |")
    assert built[0].stat().st_mtime_ns == stamp  # reused, not rebuilt


def _records_both_ways(make_net, x, y):
    records = {}
    for backend in ("native", "torch"):
        net = make_net()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        records[backend] = one_step(net, LayerStats(net, every=1, bins=16, backend=backend), x, y, opt)
    return records["native"], records["torch"]


def _assert_close(a, b, rel):
    for la, lb in zip(a["layers"], b["layers"], strict=True):
        for key in ("mean", "std", "lo", "hi", "grad_mean", "grad_std", "dead_frac", "saturated_frac"):
            if key in la or key in lb:
                assert la[key] == pytest.approx(lb[key], rel=rel, abs=1e-7), (la["name"], key)
        assert sum(la["hist"]) == sum(lb["hist"])
    for pa, pb in zip(a["params"], b["params"], strict=True):
        for key in ("grad_norm", "weight_norm", "delta_norm"):
            assert pa[key] == pytest.approx(pb[key], rel=rel), (pa["name"], key)


def test_a_float64_model_uses_torch_norms_for_its_parameters_and_agrees(kernels):
    """float64 weights are not read by the kernels (Δw would drown in float32 rounding): the native
    path takes their norms with torch ops and the activations in float32, like the torch path."""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(40, 2, 12, generator=g).double(), torch.randint(0, 3, (40,), generator=g)
    a, b = _records_both_ways(lambda: conv_net().double(), x, y)
    _assert_close(a, b, rel=2e-5)
    assert all(p["delta_norm"] > 0 for p in a["params"])


def test_a_channels_last_image_model_agrees(kernels):
    """Non-contiguous (channels_last) outputs are read in logical order: per-channel dead units and
    the histogram sample match the torch path."""
    def image_net():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3),
                            nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
        with torch.no_grad():
            net[3].bias[:2] = -50.0  # two dead channels after the second ReLU
        return net.to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(16, 3, 8, 8, generator=g).to(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (16,), generator=g)
    a, b = _records_both_ways(image_net, x, y)
    _assert_close(a, b, rel=2e-5)
    assert [la["hist"] for la in a["layers"]] == [lb["hist"] for lb in b["layers"]]
    assert a["layers"][4]["dead_frac"] == 0.5


@pytest.mark.parametrize("backend", ["native", "torch"])
def test_a_second_backward_through_the_graph_keeps_the_first_gradients(kernels, backend):
    """retain_graph=True and a second backward in one captured step: each layer reports its first
    gradient (the gradient rows are never overrun)."""
    net = conv_net()
    x = torch.randn(10, 2, 12)
    stats = LayerStats(net, every=1, backend=backend)
    stats.start(0)
    out = net(x)
    out.pow(2).sum().backward(retain_graph=True)
    first = [m.weight.grad.clone() for m in (net[0], net[2])]
    (3 * out).sum().backward()
    stats.after_backward()
    record = stats.finish()
    ref = conv_net()
    stats_ref = LayerStats(ref, every=1, backend=backend)
    stats_ref.start(0)
    ref(x).pow(2).sum().backward()
    stats_ref.after_backward()
    want = stats_ref.finish()
    assert torch.equal(first[0], ref[0].weight.grad) and torch.equal(first[1], ref[2].weight.grad)
    for got, exp in zip(record["layers"], want["layers"], strict=True):
        assert got["grad_std"] == pytest.approx(exp["grad_std"], rel=1e-6), got["name"]


def test_a_weight_given_new_memory_during_the_step_still_gets_its_update_norm(kernels):
    net = conv_net()
    stats = LayerStats(net, every=1, backend="native")
    stats.start(0)
    net(torch.randn(6, 2, 12)).sum().backward()
    stats.after_backward()
    with torch.no_grad():
        before = net[0].weight.detach().clone()
        net[0].weight.data = net[0].weight.data + 0.5  # new memory, same shape
        net[2].weight.data = torch.zeros(3)  # new memory, another size: Δw undefined
    record = stats.finish()
    by_name = {p["name"]: p for p in record["params"]}
    assert by_name["0.weight"]["delta_norm"] == pytest.approx(0.5 * before.numel() ** 0.5, rel=1e-5)
    assert by_name["2.weight"]["delta_norm"] != by_name["2.weight"]["delta_norm"]  # NaN
    assert by_name["0.bias"]["delta_norm"] == 0.0


def test_a_sparse_output_is_skipped_not_fatal(kernels):
    class Sparsify(nn.Module):
        def forward(self, x):
            return x.to_sparse()

    net = nn.Sequential(nn.Linear(4, 3), Sparsify())
    for backend in ("native", "torch"):
        stats = LayerStats(net, every=1, backend=backend)
        stats.start(0)
        with torch.no_grad():
            net(torch.randn(5, 4))
        assert [layer["name"] for layer in stats.finish()["layers"]] == ["0"]


def test_a_layout_that_would_read_past_the_output_is_refused():
    scratch, sample = np.empty(10, dtype=np.float32), np.empty(8, dtype=np.float32)
    off = np.array([0, 3, 6, 9], dtype=np.int64)
    activation_layout(2, 5, None, 5, scratch, off, sample, 1, 1)  # elements 0, 3, 6, 9 of 10
    with pytest.raises(ValueError, match="inconsistent layout"):
        activation_layout(2, 5, None, 5, scratch, off + 3, sample, 1, 1)  # element 12 of an output of 10
    with pytest.raises(ValueError, match="inconsistent layout"):
        activation_layout(2, 6, "relu", 4, scratch, off, sample, 1, 4)  # 6 columns are not 4 units × positions
    with pytest.raises(ValueError, match="inconsistent layout"):
        activation_layout(2, 6, "relu", 3, scratch, off, sample, 1, 4)  # unit 2, position 1 at 6 ≥ 6 columns
    with pytest.raises(ValueError, match="float32"):
        activation_layout(2, 5, None, 5, scratch, np.arange(9, dtype=np.int64), sample, 1, 1)  # sample too short


def test_memory_orders_and_offsets_against_torch():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    cl = x.to(memory_format=torch.channels_last)
    assert memory_order(x.shape, x.stride()) == "contiguous" and contiguous_strides(x.shape) == x.stride()
    assert memory_order(cl.shape, cl.stride()) == "channels_last" and unit_steps(cl.shape, "channels_last") == (1, 3)
    assert memory_order((2, 3, 4, 5), x.transpose(2, 3).contiguous().transpose(2, 3).stride()) == "dense"
    assert memory_order(x[:, :2].shape, x[:, :2].stride()) is None and not is_dense(x[:, :2].shape, x[:, :2].stride())
    assert memory_order(x.expand(2, 3, 4, 5).shape, (0, 20, 5, 1)) is None  # broadcast: overlapping
    assert memory_order((1, 3, 1, 1), (3, 1, 3, 3)) == "contiguous"  # size-1 dims take any stride
    # the memory offsets of the logical elements: reading the raw storage there gives y.reshape(-1)[i]
    for t in (x, cl, x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)):
        storage = torch.as_strided(t, (t.numel(),), (1,))
        logical = np.arange(0, t.numel(), 7)
        off = sample_offsets(t.shape, t.stride(), len(logical), 7)
        np.testing.assert_array_equal(storage.numpy()[off], t.reshape(-1).numpy()[logical])


def test_channels_last_outputs_and_weights_are_read_in_place(kernels):
    """No copy of a channels_last activation, gradient or weight: the layouts read the memory as it
    is (the numbers themselves are checked against the torch path above)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3), nn.Tanh(), nn.Flatten(),
                        nn.Linear(4 * 6 * 6, 5)).to(memory_format=torch.channels_last)
    x = torch.randn(6, 3, 8, 8).to(memory_format=torch.channels_last)
    stats = LayerStats(net, every=1, backend="native")
    stats.start(0)
    nn.functional.cross_entropy(net(x), torch.arange(6) % 5).backward()
    stats.after_backward()
    assert stats._param_native  # the channels_last conv weights went through the kernels
    stats.finish()
    conv_layouts = [lay for lay in stats._layouts.values() if len(lay.shape) == 4]
    assert conv_layouts and all(not lay.copy and lay.strides != L.contiguous_strides(lay.shape) for lay in conv_layouts)


@pytest.mark.parametrize("kind", [None, "relu", "tanh"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_a_large_output_stays_within_the_stated_rounding_bound(kernels, kind, channels_last):
    """~1M elements (about 1900 flushes of the float32 lanes): Σy within the kernel's stated bound,
    M2 within 1e-5, exact min/max and dead channels, in C order and channels-last."""
    g = torch.Generator().manual_seed(5)
    y = torch.randn(37, 16, 40, 41, generator=g)  # 970 880 elements, an odd number of examples
    if kind == "relu":
        y = torch.relu(y)
        y[:, 3] = -1.0  # channel 3 dead
        y[20, 5] = -1.0  # channel 5 alive in the other examples
    elif kind == "tanh":
        y = torch.tanh(y)
    if channels_last:
        y = y.to(memory_format=torch.channels_last)
    out, *_ = activation(kernels, y, kind)
    d = y.double().reshape(-1)
    # float32 lanes flushed every FLUSH = 512 elements (≤ 128 terms a lane without AVX) lose
    # ≲ 128·2⁻²⁴ of Σ|y − k|; repeated equal values (ReLU zeros) round the same way every time
    bound = 128 * 2.0 ** -24 * float((d - d[0]).abs().sum())
    assert out[0] == pytest.approx(float(d.sum()), abs=bound)
    assert out[1] == pytest.approx(float(((d - d.mean()) ** 2).sum()), rel=1e-5)
    assert out[2] == float(y.min()) and out[3] == float(y.max())
    if kind == "relu":
        assert out[4] == float(S.dead_count(y)) == 1.0
