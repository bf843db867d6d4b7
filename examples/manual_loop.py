"""A hand-written training loop (no fit): forward, loss, backward, clip, step, schedule.

python examples/manual_loop.py [--limit 2000] [--epochs 2] [--synthetic]
"""

import argparse
import time

import numpy as np

import gradcore
from gradcore import nn, optim
from gradcore.data import DataLoader, FashionMNIST, Subset, TensorDataset, transforms
from gradcore.models import build_model
from gradcore.nn.utils import clip_grad_norm_
from gradcore.optim.lr_scheduler import CosineAnnealingLR


def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = 0.2 * rng.random((n, 1, 28, 28), dtype=np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 4)
        x[i, 0, 7 * r : 7 * r + 7, 7 * q : 7 * q + 7] = 1.0
    return TensorDataset(x, y.astype(np.int64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()

    gradcore.manual_seed(0)
    if args.synthetic:
        train, test = synthetic(args.limit, 1), synthetic(512, 2)
    else:
        train = Subset(FashionMNIST(train=True), range(args.limit))
        test = Subset(FashionMNIST(train=False), range(1000))
    norm = transforms.Normalize([0.2860], [0.3530])
    train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0, transform=norm)
    test_loader = DataLoader(test, batch_size=256, transform=norm)

    model = build_model("cnn-small")
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs)

    for epoch in range(args.epochs):
        model.train()
        t0, seen, total = time.perf_counter(), 0, 0.0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            seen += x.shape[0]
            total += loss.item() * x.shape[0]
        scheduler.step()

        model.eval()
        correct = 0
        with gradcore.no_grad():
            for x, y in test_loader:
                correct += int((model(x).numpy().argmax(1) == y.numpy()).sum())
        dt = time.perf_counter() - t0
        print(
            f"epoch {epoch + 1}: loss {total / seen:.4f}  test acc {correct / len(test):.4f}  "
            f"lr {scheduler.get_last_lr()[0]:.4f}  {seen / dt:.0f} img/s"
        )


if __name__ == "__main__":
    main()
