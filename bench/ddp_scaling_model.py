"""Predicted data-parallel scaling beyond one machine: alpha-beta ring allreduce + bucketed
overlap with backward (the model of docs/distributed_scaling.md).

    python bench/ddp_scaling_model.py [--step-s 0.057] [--json PATH]

Per node and step: compute time t_c (forward + backward + optimizer at a fixed per-node
batch: weak scaling), of which backward is a fraction f_b. A ring allreduce of n bytes over
p nodes on a link of B bytes/s with per-message latency alpha costs
    T(n, p) = 2 (p - 1) alpha + 2 (p - 1) / p * n / B.
With k equal buckets, bucket i (of n/k bytes) can start once 1/k more of backward is done;
the buckets go one after another on the link, each with a host overhead of 100 us
(hook, copies, MPI call; assumed). Simulated: the link is busy from
max(ready_i, end_{i-1}); the step's exposed communication is what ends after backward:
    exposed = max(0, end_k - t_b),  efficiency = t_c / (t_c + exposed).
For each model, link and node count the script reports the efficiency without overlap (one
allreduce after backward), at the best bucket count (the fewest buckets within 0.1% of the
step of the best) and that bucket's size.
"""

from __future__ import annotations

import argparse
import json

LINKS_GBIT = (10, 25, 100)
NODES = (2, 4, 8, 16, 32, 64)
ALPHA_S = 20e-6  # per-message latency over TCP on a data-centre Ethernet (stated assumption)
BACKWARD_FRACTION = 2 / 3  # backward is ~2x forward in conv nets
BUCKET_OVERHEAD_S = 100e-6  # host cost per bucket (hook, copy in/out, MPI call), assumed


def ring_allreduce_s(nbytes: float, p: int, link_bytes_s: float, alpha: float) -> float:
    """Alpha-beta time of a ring allreduce (reduce-scatter + all-gather) of nbytes."""
    if p == 1:
        return 0.0
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / link_bytes_s


def exposed_s(nbytes, p, link, alpha, t_backward, k: int) -> float:
    """Communication left after backward ends with k buckets (simulated link)."""
    t_bucket = ring_allreduce_s(nbytes / k, p, link, alpha) + BUCKET_OVERHEAD_S
    end = 0.0
    for i in range(1, k + 1):
        ready = t_backward * i / k  # gradients arrive evenly over backward
        end = max(end, ready) + t_bucket
    return max(0.0, end - t_backward)


def predict(step_s: float, nbytes: float, alpha: float = ALPHA_S) -> list:
    rows = []
    t_b = BACKWARD_FRACTION * step_s
    for gbit in LINKS_GBIT:
        link = gbit * 1e9 / 8
        for p in NODES:
            exposed = [exposed_s(nbytes, p, link, alpha, t_b, k) for k in range(1, 129)]
            # the fewest buckets within 0.1% of the step of the best: big buckets when ties
            lowest = min(exposed)
            k_best = next(k for k, e in enumerate(exposed, 1) if e <= lowest + 1e-3 * step_s)
            best = (exposed[k_best - 1], k_best)
            no_overlap = ring_allreduce_s(nbytes, p, link, alpha)
            rows.append(
                {
                    "link_gbit": gbit,
                    "nodes": p,
                    "allreduce_s": no_overlap,
                    "efficiency_no_overlap": step_s / (step_s + no_overlap),
                    "efficiency_best": step_s / (step_s + best[0]),
                    "best_buckets": best[1],
                    "best_bucket_mb": nbytes / best[1] / 1e6,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--step-s",
        type=float,
        default=0.057,
        help="measured cnn-small step time per node (batch 64, 2 threads)",
    )
    ap.add_argument(
        "--resnet-step-s",
        type=float,
        default=2.2,
        help="ResNet-18-sized step time per node (assumed, see docs)",
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    models = {
        "cnn-small (1.69 MB)": predict(args.step_s, 1.69e6),
        "ResNet-18-sized (45 MB)": predict(args.resnet_step_s, 45e6),
    }
    for name, rows in models.items():
        print(f"\n{name}: efficiency no overlap / best overlap (best bucket MB)")
        print("link    " + "".join(f"{p:>23d}" for p in NODES))
        for gbit in LINKS_GBIT:
            cells = [r for r in rows if r["link_gbit"] == gbit]
            print(
                f"{gbit:>3d} Gb/s"
                + "".join(
                    f"{r['efficiency_no_overlap']:>9.2f} /{r['efficiency_best']:5.2f}"
                    f" ({r['best_bucket_mb']:5.2f})"
                    for r in cells
                )
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(models, f, indent=2)


if __name__ == "__main__":
    main()
