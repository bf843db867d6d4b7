"""Define your own Module and train it with gradcore.train.fit on a Fashion-MNIST subset.

    python examples/custom_model.py [--limit 2000] [--epochs 2]

Uses Fashion-MNIST from the usual places (see gradcore.data.FashionMNIST); pass --download to
fetch it, or --synthetic to run on generated images.
"""

import argparse

import numpy as np

import gradcore
from gradcore import nn, optim
from gradcore.data import (
    DataLoader,
    FashionMNIST,
    Subset,
    TensorDataset,
    train_val_split,
    transforms,
)
from gradcore.train import ProgressBar, fit


class SmallNet(nn.Module):
    """conv(1->16) -> relu -> maxpool -> conv(16->32) -> relu -> global avg pool -> linear."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, num_classes)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.gap(self.relu(self.conv2(x)))
        return self.fc(x.reshape(x.shape[0], -1))


def synthetic(n, seed):
    """Random 28x28 images whose class is the position of a bright block."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = 0.2 * rng.random((n, 1, 28, 28), dtype=np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 4)
        x[i, 0, 7 * r : 7 * r + 7, 7 * q : 7 * q + 7] = 1.0
    return TensorDataset(x, y.astype(np.int64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=2000, help="training images to use")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--download", action="store_true")
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()

    gradcore.manual_seed(0)
    if args.synthetic:
        train, test = synthetic(args.limit, 1), synthetic(max(256, args.limit // 4), 2)
    else:
        train = Subset(FashionMNIST(train=True, download=args.download), range(args.limit))
        test = Subset(FashionMNIST(train=False, download=args.download), range(1000))
    norm = transforms.Normalize([0.2860], [0.3530])
    # model selection on a validation split held out of the training images, never the test set
    train, val = train_val_split(train, max(1, len(train) // 10), seed=0)
    train_loader = DataLoader(train, batch_size=64, shuffle=True, seed=0, transform=norm)
    val_loader = DataLoader(val, batch_size=256, transform=norm)
    test_loader = DataLoader(test, batch_size=256, transform=norm)

    model = SmallNet()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    history = fit(
        model,
        loss_fn,
        optimizer,
        train_loader,
        epochs=args.epochs,
        val_loader=val_loader,
        test_loader=test_loader,
        callbacks=[ProgressBar()],
    )
    print(f"test accuracy: {history.test['accuracy']:.4f} (the test set, evaluated once)")


if __name__ == "__main__":
    main()
