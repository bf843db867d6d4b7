"""CUDA kernels against PyTorch on the same GPU (JSON): what gradcore's CUDA module has.

Each case times gradcore's kernel and PyTorch's equivalent with CUDA events (warm-up, then
the median of `--repeats` timed calls, one after the other in the same run), and reports the ratio
torch_time / gradcore_time (> 1: gradcore faster) with the achieved bandwidth or FLOP rate
against the H200's roofline (4.8 TB/s HBM3e; 67 TFLOP/s float32 without tensor cores).

    python bench/bench_cuda.py --out bench/results/cuda_h200.json

Needs a GPU, gradcore built with its CUDA module, and PyTorch with CUDA (the reference).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np

import gradcore

PEAK_BYTES = 4.8e12  # H200 HBM3e, bytes/s
PEAK_FP32 = 67e12  # H200 SXM float32 (CUDA cores), FLOP/s


def timed(fn, repeats: int) -> float:
    """Median milliseconds of fn() over `repeats` calls, timed with CUDA events."""
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    gradcore.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = gradcore.cuda.Event(), gradcore.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def torch_timed(fn, repeats: int) -> float:
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="JSON file (default: stdout only)")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    if not gradcore.cuda.is_available():
        print("bench_cuda: no CUDA GPU or no CUDA module; nothing to measure", file=sys.stderr)
        return 2
    import torch

    g = gradcore.cuda._cuda_module()
    gradcore.cuda.load_cublas()
    rng = np.random.default_rng(0)
    results = []

    def record(name, shape, ms_gc, ms_torch, flops=0.0, nbytes=0.0):
        row = {
            "case": name,
            "shape": shape,
            "gradcore_ms": ms_gc,
            "torch_ms": ms_torch,
            "torch_over_gradcore": ms_torch / ms_gc,
        }
        if flops:
            row["gradcore_tflops"] = flops / ms_gc / 1e9
            row["fraction_of_fp32_peak"] = flops / ms_gc * 1e3 / PEAK_FP32
        if nbytes:
            row["gradcore_gbps"] = nbytes / ms_gc / 1e6
            row["fraction_of_hbm_peak"] = nbytes / ms_gc * 1e3 / PEAK_BYTES
        results.append(row)
        print(
            f"{name:28s} {str(shape):22s} gradcore {ms_gc:8.3f} ms  torch {ms_torch:8.3f} ms  "
            f"ratio {ms_torch / ms_gc:5.2f}"
        )

    torch.backends.cuda.matmul.allow_tf32 = False  # gradcore's GEMM is exact float32
    for n in (512, 2048, 4096):
        a = rng.standard_normal((n, n)).astype(np.float32)
        da, db = g.DeviceArray.from_numpy(a), g.DeviceArray.from_numpy(a)
        ta = torch.from_numpy(a).cuda()
        record(
            "gemm",
            [n, n, n],
            timed(lambda da=da, db=db: g.gemm(da, db), args.repeats),
            torch_timed(lambda ta=ta: ta @ ta, args.repeats),
            flops=2.0 * n**3,
        )

    for n in (1 << 20, 1 << 26):
        x = rng.standard_normal(n).astype(np.float32)
        dx, tx = g.DeviceArray.from_numpy(x), torch.from_numpy(x).cuda()
        for op, tfn in (
            ("relu_forward", torch.relu),
            ("sigmoid_forward", torch.sigmoid),
            ("gelu_forward", torch.nn.functional.gelu),
        ):
            kern = getattr(g, op)
            record(
                op,
                [n],
                timed(lambda k=kern, dx=dx: k(dx), args.repeats),
                torch_timed(lambda f=tfn, tx=tx: f(tx), args.repeats),
                nbytes=8.0 * n,
            )

    # kernels added by later work register themselves here when present
    if hasattr(g, "max_pool2d_forward"):
        x = rng.standard_normal((128, 64, 56, 56)).astype(np.float32)
        dx, tx = g.DeviceArray.from_numpy(x), torch.from_numpy(x).cuda()
        record(
            "max_pool2d_forward",
            list(x.shape),
            timed(lambda: g.max_pool2d_forward(dx, (2, 2), (2, 2)), args.repeats),
            torch_timed(lambda: torch.nn.functional.max_pool2d(tx, 2, 2), args.repeats),
            nbytes=x.nbytes * 1.25,
        )
    if hasattr(g, "softmax_forward"):
        x = rng.standard_normal((4096, 1000)).astype(np.float32)
        dx, tx = g.DeviceArray.from_numpy(x), torch.from_numpy(x).cuda()
        record(
            "softmax_forward",
            list(x.shape),
            timed(lambda: g.softmax_forward(dx), args.repeats),
            torch_timed(lambda: torch.softmax(tx, -1), args.repeats),
            nbytes=2.0 * x.nbytes,
        )

    # conv forward + backward (input and weight gradients) through the op layer, vs cuDNN
    import gradcore.nn.functional as F

    torch.backends.cudnn.allow_tf32 = False
    conv_shapes = [  # N, C, H, W, K, kernel, stride, pad (bench/bench_conv.py's six)
        (64, 1, 28, 28, 32, 3, 1, 1),
        (64, 32, 14, 14, 64, 3, 1, 1),
        (128, 64, 32, 32, 64, 3, 1, 1),
        (128, 128, 16, 16, 128, 3, 1, 1),
        (128, 64, 32, 32, 128, 1, 1, 0),
        (32, 3, 224, 224, 64, 7, 2, 3),
    ]
    for n, c, h, w, k, r, st, pad in conv_shapes:
        shape = [n, c, h, w, k, r, st, pad]
        try:
            x0 = rng.standard_normal((n, c, h, w)).astype(np.float32)
            w0 = (rng.standard_normal((k, c, r, r)) * 0.1).astype(np.float32)
            gx = gradcore.tensor(x0).cuda().requires_grad_()
            gw = gradcore.tensor(w0).cuda().requires_grad_()
            tx = torch.from_numpy(x0).cuda().requires_grad_()
            tw = torch.from_numpy(w0).cuda().requires_grad_()

            def gc_step(gx=gx, gw=gw, st=st, pad=pad):
                F.conv2d(gx, gw, None, st, pad).sum().backward()

            def torch_step(tx=tx, tw=tw, st=st, pad=pad):
                torch.nn.functional.conv2d(tx, tw, None, st, pad).sum().backward()

            oh = (h + 2 * pad - r) // st + 1
            ow = (w + 2 * pad - r) // st + 1
            flops = 3 * 2.0 * n * k * oh * ow * c * r * r
            record(
                "conv2d_fwd_bwd",
                shape,
                timed(gc_step, args.repeats),
                torch_timed(torch_step, args.repeats),
                flops=flops,
            )
            got = gx.grad.cpu().numpy()
            ref = tx.grad.cpu().numpy()
            results[-1]["dx_rel_err"] = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        except Exception as e:  # one failing case must not hide the others
            results.append({"case": "conv2d_fwd_bwd", "shape": shape, "error": repr(e)})
            print(f"conv2d_fwd_bwd {shape}: {e!r}")

    # a cnn-small training step (batch 64, SGD momentum) vs PyTorch's same model
    try:
        from gradcore.models import build_model

        gradcore.manual_seed(0)
        model = build_model("cnn-small").cuda()
        opt = gradcore.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        tmodel = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(64 * 7 * 7, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        ).cuda()
        topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
        xb = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
        yb = rng.integers(0, 10, 64)
        gxb, gyb = gradcore.tensor(xb).cuda(), gradcore.tensor(yb).cuda()
        txb, tyb = torch.from_numpy(xb).cuda(), torch.from_numpy(yb).cuda()

        def gc_train():
            opt.zero_grad()
            F.cross_entropy(model(gxb), gyb).backward()
            opt.step()

        def torch_train():
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(txb), tyb).backward()
            topt.step()

        record(
            "cnn_small_train_step",
            [64, 1, 28, 28],
            timed(gc_train, args.repeats),
            torch_timed(torch_train, args.repeats),
        )
    except Exception as e:
        results.append({"case": "cnn_small_train_step", "error": repr(e)})
        print(f"cnn_small_train_step: {e!r}")

    doc = {
        "device": gradcore.cuda.get_device_name(),
        "capability": gradcore.cuda.get_device_capability(),
        "torch": torch.__version__,
        "results": results,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
