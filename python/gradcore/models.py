"""Ready-made models for 28x28 single-channel images (Fashion-MNIST, MNIST): `build_model(name)`.

Their state_dict keys are PyTorch's for the same nn.Sequential / module structure, so weights
move between gradcore and torch through numpy without renaming.
"""

from __future__ import annotations

from typing import Callable, Dict, List

from gradcore import nn

__all__ = ["MODELS", "ResNetSmall", "build_model", "model_names"]


def mlp(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    """Flatten -> 784-256 -> ReLU -> 256-128 -> ReLU -> 128-classes."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_channels * image_size * image_size, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def cnn_small(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    """conv 1->32 3x3 p1, ReLU, maxpool 2; conv 32->64 3x3 p1, ReLU, maxpool 2; flatten;
    linear 3136->128, ReLU; linear 128->classes."""
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * side * side, 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def cnn_bn(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    """cnn-small with BatchNorm2d after each convolution and dropout(0.25) before the last
    linear layer."""
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * side * side, 128),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(128, num_classes),
    )


class ResNetSmall(nn.Module):
    """A small ResNet (torchvision's names): stem conv3x3(16)-bn-relu; layer1 =
    BasicBlock(16, 16); layer2 = BasicBlock(16, 32, stride 2); layer3 = BasicBlock(32, 64,
    stride 2); global average pool; fc 64->classes."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(in_channels, w, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(nn.BasicBlock(w, w))
        self.layer2 = nn.Sequential(nn.BasicBlock(w, 2 * w, stride=2))
        self.layer3 = nn.Sequential(nn.BasicBlock(2 * w, 4 * w, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


def resnet_small(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    return ResNetSmall(num_classes=num_classes, in_channels=in_channels)


MODELS: Dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "cnn-small": cnn_small,
    "cnn-bn": cnn_bn,
    "resnet-small": resnet_small,
}


def model_names() -> List[str]:
    return list(MODELS)


def build_model(
    name: str, num_classes: int = 10, in_channels: int = 1, image_size: int = 28
) -> nn.Module:
    """Build one of `model_names()` ("mlp", "cnn-small", "cnn-bn", "resnet-small"), with
    parameters initialised from gradcore's global generator (seed it with manual_seed)."""
    try:
        fn = MODELS[name]
    except KeyError:
        raise ValueError(
            f"build_model: unknown model {name!r}; choose one of {', '.join(MODELS)}"
        ) from None
    return fn(num_classes=num_classes, in_channels=in_channels, image_size=image_size)
