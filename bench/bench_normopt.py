"""Batch norm, dropout and fused optimizer steps: gradcore vs numpy vs PyTorch, 1 and 2 threads.

python bench/bench_normopt.py [--quick] [--json PATH]

Times are medians of interleaved runs (see common.interleaved); ratios are taken within one
run. PyTorch optimizers run with foreach=False (the formulas gradcore mirrors) and
foreach=True (its default multi-tensor path).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, machine_info, set_numpy_threads, write_json  # noqa: E402

import gradcore  # noqa: E402
from gradcore import _C  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def np_bn_train(x):
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5)


def np_adam(p, g, m, v, step, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    denom = np.sqrt(v) / np.float32(np.sqrt(1 - b2**step)) + np.float32(eps)
    p -= np.float32(lr / (1 - b1**step)) * m / denom


def bn_cases(quick):
    shapes = [(32, 64, 16, 16), (256, 512)] if quick else [(64, 64, 32, 32), (512, 1024)]
    rng = np.random.default_rng(0)
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        dy = rng.standard_normal(shape).astype(np.float32)
        c = shape[1]
        w, b = np.ones(c, np.float32), np.zeros(c, np.float32)
        rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
        _, mean, invstd = _C.batch_norm_forward_train(x, w, b, rm, rv, 0.1, 1e-5)
        fwd = {
            "gradcore": lambda x=x, w=w, b=b, rm=rm, rv=rv: _C.batch_norm_forward_train(
                x, w, b, rm, rv, 0.1, 1e-5
            ),
            "numpy": lambda x=x: np_bn_train(x),
        }
        bwd = {
            "gradcore": lambda dy=dy, x=x, w=w, m=mean, s=invstd: _C.batch_norm_backward(
                dy, x, w, m, s, True
            )
        }
        if torch is not None:
            tx, tw, tb = torch.tensor(x), torch.tensor(w), torch.tensor(b)
            trm, trv = torch.tensor(rm), torch.tensor(rv)
            fwd["torch"] = lambda tx=tx, trm=trm, trv=trv, tw=tw, tb=tb: (
                torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, True)
            )
            txg = torch.tensor(x, requires_grad=True)
            twg = torch.tensor(w, requires_grad=True)
            tdy = torch.tensor(dy)

            def torch_bwd(txg=txg, twg=twg, tdy=tdy):
                y = torch.nn.functional.batch_norm(txg, None, None, twg, None, True)
                return torch.autograd.grad(y, (txg, twg), tdy)

            bwd["torch fwd+bwd"] = torch_bwd
        yield f"batch_norm_forward_train {shape}", fwd
        yield f"batch_norm_backward {shape}", bwd


def dropout_cases(quick):
    n = 1 << (20 if quick else 22)
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    rng = np.random.default_rng(2)
    fns = {
        "gradcore": lambda: _C.dropout_forward(x, 0.5, 7),
        "numpy": lambda: x * (rng.random(n, dtype=np.float32) >= 0.5) / np.float32(0.5),
    }
    if torch is not None:
        tx = torch.tensor(x)
        fns["torch"] = lambda: torch.nn.functional.dropout(tx, 0.5, True)
    yield f"dropout_forward ({n},)", fns


def optim_cases(quick):
    n = 1 << (20 if quick else 22)
    rng = np.random.default_rng(3)
    p = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    z = np.zeros_like
    configs = [
        ("sgd momentum", torch.optim.SGD if torch else None, dict(lr=1e-3, momentum=0.9)),
        ("adam", torch.optim.Adam if torch else None, dict(lr=1e-3)),
        ("adamw amsgrad", torch.optim.AdamW if torch else None, dict(lr=1e-3, amsgrad=True)),
        ("rmsprop centered", torch.optim.RMSprop if torch else None, dict(centered=True)),
        ("adagrad", torch.optim.Adagrad if torch else None, dict(lr=1e-2)),
    ]
    st = {k: z(p) for k in ("a", "b", "c")}
    ours = {
        "sgd momentum": lambda: _C.sgd_step_(
            p, g, st["a"], 1e-3, 0.9, 0.0, 0.0, False, False, False
        ),
        "adam": lambda: _C.adam_step_(
            p, g, st["a"], st["b"], None, 10, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False
        ),
        "adamw amsgrad": lambda: _C.adam_step_(
            p, g, st["a"], st["b"], st["c"], 10, 1e-3, 0.9, 0.999, 1e-8, 1e-2, True, True, False
        ),
        "rmsprop centered": lambda: _C.rmsprop_step_(
            p, g, st["a"], st["b"], None, 1e-2, 0.99, 1e-8, 0.0, 0.0, True, False
        ),
        "adagrad": lambda: _C.adagrad_step_(p, g, st["a"], 10, 1e-2, 0.0, 0.0, 1e-10, False),
    }
    for name, cls, kw in configs:
        fns = {"gradcore": ours[name]}
        if name == "adam":
            pn, mn, vn = p.copy(), z(p), z(p)
            fns["numpy"] = lambda pn=pn, mn=mn, vn=vn: np_adam(pn, g, mn, vn, 10)
        if torch is not None:
            for foreach in (False, True):
                tp = torch.nn.Parameter(torch.tensor(p))
                tp.grad = torch.tensor(g)
                opt = cls([tp], foreach=foreach, **kw)
                opt.step()
                fns[f"torch foreach={foreach}"] = opt.step
        yield f"{name} step ({n},)", fns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    ap.add_argument("--json", default="bench/results/normopt.json")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    results = []
    print(f"{'case':<48} {'thr':>3} {'impl':<20} {'ms':>9} {'x gradcore':>10}")
    for threads in (1, 2):
        gradcore.set_num_threads(threads)
        set_numpy_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for gen in (bn_cases, dropout_cases, optim_cases):
            for case, fns in gen(args.quick):
                times = interleaved(fns, repeat=repeat, min_time=0.05 if args.quick else 0.2)
                base = times["gradcore"]
                for impl, t in times.items():
                    print(f"{case:<48} {threads:>3} {impl:<20} {t * 1e3:9.3f} {t / base:10.2f}")
                    results.append(
                        dict(case=case, threads=threads, impl=impl, seconds=t, ratio=t / base)
                    )
    path = write_json(args.json, {"machine": machine_info(), "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
