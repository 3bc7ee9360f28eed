"""Recipe search for MNIST-1D: >= 99% test accuracy within ~30 s of CPU training (2 threads).

Self-contained, plain PyTorch. Usage:

    python bench/mnist1d_recipe_search.py --config best --seeds 0 1 2 --threads 2
    python bench/mnist1d_recipe_search.py --list

Protocol: the 4000 MNIST-1D training examples are split (seeded by the run seed) into
3600 train / 400 validation; the model is trained on the 3600; val and test (1000) accuracy
are reported. Only the training loop is timed (wall seconds and process CPU seconds);
data building and final evaluation are excluded.
"""
import argparse
import copy
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CACHE = "/tmp/mnist1d.npz"


# ----------------------------------------------------------------------------- data
def load_data():
    if os.path.exists(CACHE):
        d = np.load(CACHE)
        return {k: d[k] for k in ("x", "y", "x_test", "y_test")}
    from mnist1d.data import make_dataset, get_dataset_args
    d = make_dataset(get_dataset_args())
    out = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
    np.savez(CACHE, **out)
    return out


def split(d, seed, val_frac=0.1):
    rng = np.random.RandomState(seed)
    n = len(d["x"])
    perm = rng.permutation(n)
    nv = int(round(n * val_frac))
    vi, ti = perm[:nv], perm[nv:]
    f = lambda a: torch.tensor(a, dtype=torch.float32)
    li = lambda a: torch.tensor(a, dtype=torch.long)
    return (f(d["x"][ti]), li(d["y"][ti]), f(d["x"][vi]), li(d["y"][vi]),
            f(d["x_test"]), li(d["y_test"]))


# ----------------------------------------------------------------------------- model
ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, dil=1, pad_mode="circular", act="gelu"):
        pad = dil * (k - 1) // 2
        super().__init__(
            nn.Conv1d(cin, cout, k, stride=stride, padding=pad, dilation=dil,
                      padding_mode=pad_mode, bias=False),
            nn.BatchNorm1d(cout),
            ACTS[act](),
        )


class Res(nn.Module):
    """x + f(x) where f = ConvBN -> ConvBN (same channels, no stride)."""

    def __init__(self, c, k, dil=1, pad_mode="circular", act="gelu"):
        super().__init__()
        self.f = nn.Sequential(ConvBN(c, c, k, 1, dil, pad_mode, act),
                               ConvBN(c, c, k, 1, dil, pad_mode, act))

    def forward(self, x):
        return x + self.f(x)


def build_model(cfg):
    """cfg['layers']: list of tuples
         ('c', cout, k, stride, dil)   conv-bn-act
         ('r', k, dil)                 residual block (2x conv-bn-act, same width)
         ('mp', 2) / ('ap', 2)         max/avg pool
         ('drop', p)                   dropout
       followed by global average (+ optional max) pooling and a linear head."""
    pm, act = cfg.get("pad_mode", "circular"), cfg.get("act", "gelu")
    mods, c = [], 1
    for L in cfg["layers"]:
        if L[0] == "c":
            _, cout, k, s, dil = L
            mods.append(ConvBN(c, cout, k, s, dil, pm, act))
            c = cout
        elif L[0] == "r":
            mods.append(Res(c, L[1], L[2], pm, act))
        elif L[0] == "mp":
            mods.append(nn.MaxPool1d(L[1]))
        elif L[0] == "ap":
            mods.append(nn.AvgPool1d(L[1]))
        elif L[0] == "drop":
            mods.append(nn.Dropout(L[1]))
        else:
            raise ValueError(L)
    body = nn.Sequential(*mods)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body
            self.gmax = cfg.get("head_max", False)
            self.drop = nn.Dropout(cfg.get("head_drop", 0.0))
            self.fc = nn.Linear(c * (2 if self.gmax else 1), 10)

        def forward(self, x):
            h = self.body(x)
            z = h.mean(-1)
            if self.gmax:
                z = torch.cat([z, h.amax(-1)], 1)
            return self.fc(self.drop(z))

    net = Net()
    for m in net.modules():  # default PyTorch init except zero-init of last BN in res blocks
        if isinstance(m, Res) and cfg.get("zero_init_res", True):
            nn.init.zeros_(m.f[1][1].weight)
    return net


# ----------------------------------------------------------------------------- augmentation
def augment(x, cfg, g):
    """x: N x 40 (already standardized). All ops per-sample, on the batch."""
    n, T = x.shape
    a = cfg.get("aug", {})
    if a.get("ramp", 0) > 0:  # remove/perturb linear trend (data has random shear)
        r = (torch.rand(n, 1, generator=g) * 2 - 1) * a["ramp"]
        x = x + r * torch.linspace(-0.5, 0.5, T)
    shift, stretch = a.get("shift", 0), a.get("stretch", 0)
    if shift or stretch:
        p = a.get("shift_p", 1.0)
        on = (torch.rand(n, 1, generator=g) < p).float()
        t = torch.arange(T, dtype=torch.float32)
        sh = torch.zeros(n, 1)
        if shift:
            if a.get("int_shift", False):
                sh = torch.randint(-shift, shift + 1, (n, 1), generator=g).float()
            else:
                sh = (torch.rand(n, 1, generator=g) * 2 - 1) * shift
        sc = torch.ones(n, 1)
        if stretch:
            sc = torch.exp((torch.rand(n, 1, generator=g) * 2 - 1) * math.log(1 + stretch))
        c = (T - 1) / 2
        pos = (t - c) / sc + c - sh  # source position for each output sample
        pos = on * pos + (1 - on) * t
        if a.get("wrap", "circular") == "circular":
            pos = torch.remainder(pos, T)
            i0 = pos.floor().long()
            w = pos - i0
            i0 = i0 % T
            i1 = (i0 + 1) % T
            x = x.gather(1, i0) * (1 - w) + x.gather(1, i1) * w
        else:  # zero fill outside
            i0 = pos.floor().long()
            w = pos - i0
            i1 = i0 + 1
            xp = F.pad(x, (1, 1))
            v0 = xp.gather(1, (i0 + 1).clamp(0, T + 1)) * ((i0 >= 0) & (i0 < T))
            v1 = xp.gather(1, (i1 + 1).clamp(0, T + 1)) * ((i1 >= 0) & (i1 < T))
            x = v0 * (1 - w) + v1 * w
    if a.get("amp", 0) > 0:
        x = x * (1 + (torch.rand(n, 1, generator=g) * 2 - 1) * a["amp"])
    if a.get("noise", 0) > 0:
        x = x + torch.randn(x.shape, generator=g) * a["noise"]
    if a.get("cutout", 0) > 0:
        L = a["cutout"]
        st = torch.randint(0, T, (n, 1), generator=g)
        idx = (torch.arange(T) - st) % T
        x = x * (idx >= L).float()
    return x


# ----------------------------------------------------------------------------- training
def lr_at(step, total, cfg):
    s = cfg.get("sched", "onecycle")
    wu = int(cfg.get("warmup", 0.2) * total)
    if step < wu:
        return (step + 1) / wu
    p = (step - wu) / max(1, total - wu)
    if s == "onecycle":  # linear warmup then linear decay to 0
        return 1 - p
    if s == "cosine":
        return 0.5 * (1 + math.cos(math.pi * p))
    if s == "const":
        return 1.0
    raise ValueError(s)


@torch.no_grad()
def evaluate(model, x, y, cfg, bs=1000):
    model.eval()
    tta = cfg.get("tta", [0])
    correct = 0
    for i in range(0, len(x), bs):
        xb = x[i:i + bs]
        logits = 0
        for s in tta:
            logits = logits + F.softmax(model(torch.roll(xb, s, -1).unsqueeze(1)), -1)
        correct += (logits.argmax(1) == y[i:i + bs]).sum().item()
    return correct / len(x)


def run(cfg, seed, verbose=False):
    d = load_data()
    xtr, ytr, xva, yva, xte, yte = split(d, seed)
    # global standardization (per-feature would break translation equivariance), fit on train
    if cfg.get("norm", "global") == "global":
        mu, sd = xtr.mean(), xtr.std()
    else:
        mu, sd = xtr.mean(0, keepdim=True), xtr.std(0, keepdim=True)
    xtr, xva, xte = (xtr - mu) / sd, (xva - mu) / sd, (xte - mu) / sd

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1000)
    model = build_model(cfg)
    nparams = sum(p.numel() for p in model.parameters())
    bs, epochs = cfg.get("bs", 128), cfg["epochs"]
    n = len(xtr)
    steps_per_epoch = n // bs  # drop last
    total = steps_per_epoch * epochs
    lr, wd = cfg.get("lr", 3e-3), cfg.get("wd", 5e-2)
    decay = [p for p in model.parameters() if p.ndim > 1]
    nodecay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": wd}, {"params": nodecay, "weight_decay": 0.0}]
    if cfg.get("opt", "adamw") == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr, betas=cfg.get("betas", (0.9, 0.99)))
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    ls = cfg.get("ls", 0.0)
    mix = cfg.get("mixup", 0.0)
    ema_decay = cfg.get("ema", 0.0)
    ema = copy.deepcopy(model) if ema_decay else None
    if ema is not None:
        for p in ema.parameters():
            p.requires_grad_(False)
        ema_p, mod_p = list(ema.parameters()), list(model.parameters())
        ema_b, mod_b = list(ema.buffers()), list(model.buffers())

    time_cap = cfg.get("time_cap", None)  # optional wall-time cap (seconds)
    t0w, t0c = time.perf_counter(), time.process_time()
    step = 0
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(n, generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            xb, yb = augment(xtr[idx], cfg, g), ytr[idx]
            f = lr_at(step, total, cfg)
            for pg in opt.param_groups:
                pg["lr"] = lr * f
            if mix > 0 and torch.rand(1, generator=g).item() < cfg.get("mix_p", 1.0):
                lam = float(np.random.RandomState(step + seed * 100003).beta(mix, mix))
                j = torch.randperm(len(xb), generator=g)
                out = model((lam * xb + (1 - lam) * xb[j]).unsqueeze(1))
                loss = lam * F.cross_entropy(out, yb, label_smoothing=ls) + \
                    (1 - lam) * F.cross_entropy(out, yb[j], label_smoothing=ls)
            else:
                loss = F.cross_entropy(model(xb.unsqueeze(1)), yb, label_smoothing=ls)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                dcy = min(ema_decay, (1 + step) / (10 + step))
                with torch.no_grad():
                    torch._foreach_lerp_(ema_p, mod_p, 1 - dcy)
                    for eb, mb in zip(ema_b, mod_b):
                        eb.copy_(mb)
            step += 1
        if verbose:
            print(f"  ep {ep + 1} loss {loss.item():.3f} t {time.perf_counter() - t0w:.1f}s", flush=True)
        if time_cap and time.perf_counter() - t0w > time_cap:
            break
    wall, cpu = time.perf_counter() - t0w, time.process_time() - t0c
    final = ema if ema is not None else model
    va, te = evaluate(final, xva, yva, cfg), evaluate(final, xte, yte, cfg)
    return dict(val=va, test=te, wall=wall, cpu=cpu, params=nparams, steps=step)


# ----------------------------------------------------------------------------- configs
BASE_AUG = dict(shift=20, stretch=0.0, amp=0.0, noise=0.0)

# Architectures
A_SMALL = [("c", 32, 5, 1, 1), ("c", 64, 5, 1, 1), ("mp", 2), ("c", 64, 3, 1, 1), ("c", 64, 3, 1, 1)]
A_MED = [("c", 64, 5, 1, 1), ("c", 64, 5, 1, 1), ("mp", 2), ("c", 128, 3, 1, 1), ("c", 128, 3, 1, 1),
         ("mp", 2), ("c", 128, 3, 1, 1)]
A_DIL = [("c", 64, 5, 1, 1), ("c", 64, 3, 1, 2), ("c", 64, 3, 1, 4), ("c", 64, 3, 1, 8)]
A_STRIDE = [("c", 64, 7, 1, 1), ("c", 128, 5, 2, 1), ("c", 128, 3, 1, 1), ("c", 128, 3, 2, 1),
            ("c", 128, 3, 1, 1)]

CONFIGS = {}


def reg(name, **kw):
    cfg = dict(layers=A_MED, epochs=30, bs=128, lr=3e-3, wd=5e-2, sched="onecycle", warmup=0.2, pad_mode="zeros",
               ls=0.0, aug=dict(BASE_AUG), ema=0.0, tta=[0])
    for k, v in kw.items():
        if k == "aug":
            cfg["aug"] = dict(cfg["aug"], **v)
        else:
            cfg[k] = v
    CONFIGS[name] = cfg


# Round 1 (circular padding everywhere, 10-20 epochs): shift augmentation hurt.
reg("circ_noaug", pad_mode="circular", aug=dict(shift=0), epochs=20)
reg("circ_shift20", pad_mode="circular", epochs=20)
reg("circ_shift4", pad_mode="circular", aug=dict(shift=4), epochs=20)
reg("circ_shift20_ramp", pad_mode="circular", aug=dict(shift=20, ramp=1.0), epochs=20)
reg("circ_ema", pad_mode="circular", aug=dict(shift=0), epochs=20, ema=0.99)
# Round 2: zero padding (gives the net absolute position; MNIST-1D translations are NOT uniform
# over the period and the shear ramp is position dependent, so position is informative).
reg("noaug", aug=dict(shift=0), epochs=20)               # zero-pad baseline
reg("zshift3", aug=dict(shift=3, int_shift=True, wrap="zero"), epochs=20)
reg("zstretch", aug=dict(shift=0, stretch=0.15, wrap="zero"), epochs=20)
reg("amp_noise", aug=dict(shift=0, amp=0.2, noise=0.05), epochs=20)
reg("mixup", aug=dict(shift=0), mixup=0.2, epochs=20)
reg("drop_wd", aug=dict(shift=0), head_drop=0.3, wd=0.2, epochs=20)
reg("lr1e-2", aug=dict(shift=0), lr=1e-2, epochs=20)
reg("ls", aug=dict(shift=0), ls=0.1, epochs=20)
reg("ls_ep12", aug=dict(shift=0), ls=0.1, epochs=12)
reg("ls_circ", aug=dict(shift=0), ls=0.1, epochs=20, pad_mode="circular")
reg("ls_ema", aug=dict(shift=0), ls=0.1, epochs=20, ema=0.99)
# Round 3: combinations / cost reductions
reg("ls_drop_wd", aug=dict(shift=0), ls=0.1, head_drop=0.3, wd=0.2, epochs=20)
reg("ls_drop_wd_lr1e-2", aug=dict(shift=0), ls=0.1, head_drop=0.3, wd=0.2, lr=1e-2, epochs=20)
reg("ls_bs256", aug=dict(shift=0), ls=0.1, bs=256, lr=5e-3, epochs=20)
reg("ls_small", aug=dict(shift=0), ls=0.1, layers=A_SMALL, epochs=20)
reg("ls_relu", aug=dict(shift=0), ls=0.1, act="relu", epochs=20)
reg("ls_ep8", aug=dict(shift=0), ls=0.1, epochs=8)
CONFIGS["best"] = CONFIGS["ls_drop_wd_lr1e-2"]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="best")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="override")
    ap.add_argument("--set", default=None, help="JSON overrides, e.g. '{\"aug\": {\"shift\": 5}}'")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for k in CONFIGS:
            print(k)
        return
    torch.set_num_threads(args.threads)
    cfg = dict(CONFIGS[args.config])
    if args.epochs:
        cfg["epochs"] = args.epochs
    if args.set:
        import json
        for k, v in json.loads(args.set).items():
            cfg[k] = dict(cfg.get(k, {}), **v) if isinstance(v, dict) else v
    res = []
    for s in args.seeds:
        r = run(cfg, s, args.verbose)
        res.append(r)
        print(f"{args.config} seed {s}: val {r['val']*100:.2f} test {r['test']*100:.2f} "
              f"wall {r['wall']:.1f}s cpu {r['cpu']:.1f}s params {r['params']} steps {r['steps']}",
              flush=True)
    med = lambda k: float(np.median([r[k] for r in res]))
    print(f"{args.config} MEDIAN: val {med('val')*100:.2f} test {med('test')*100:.2f} "
          f"wall {med('wall'):.1f}s cpu {med('cpu'):.1f}s", flush=True)


if __name__ == "__main__":
    main()
