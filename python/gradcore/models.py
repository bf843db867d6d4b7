"""Ready-made models for 28x28 single-channel images (Fashion-MNIST, MNIST): `build_model(name)`.

Their state_dict keys are PyTorch's for the same nn.Sequential / module structure, so weights
move between gradcore and torch through numpy without renaming.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

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


class ResNet(nn.Module):
    """A CIFAR-style ResNet of torchvision BasicBlocks (torchvision's names): stem
    conv3x3(widths[0], stride 1)-bn-relu, no max pool; stage i (layer1, layer2, ...) is
    `blocks[i]` BasicBlocks of widths[i] channels, the first with stride 2 from stage 2 on
    (a 1x1 conv + bn shortcut where the shape changes); global average pool; fc."""

    def __init__(
        self,
        blocks: Sequence[int],
        widths: Sequence[int],
        num_classes: int = 10,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if len(blocks) != len(widths) or not blocks or min(blocks) < 1 or min(widths) < 1:
            raise ValueError(
                f"ResNet: blocks and widths need one positive entry per stage, got "
                f"blocks={tuple(blocks)}, widths={tuple(widths)}"
            )
        self.num_stages = len(blocks)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        c = widths[0]
        for i, (n, w) in enumerate(zip(blocks, widths)):
            stage = [nn.BasicBlock(c, w, stride=1 if i == 0 else 2)]
            stage += [nn.BasicBlock(w, w) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            c = w
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c, num_classes)

    def stages(self) -> list:
        """layer1, layer2, ... in order."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for stage in self.stages():
            x = stage(x)
        return self.fc(self.flatten(self.avgpool(x)))


class ResNetSmall(ResNet):
    """A small ResNet: one BasicBlock per stage, widths (w, 2w, 4w) = (16, 32, 64)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16) -> None:
        super().__init__((1, 1, 1), (width, 2 * width, 4 * width), num_classes, in_channels)


def resnet_small(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    return ResNetSmall(num_classes=num_classes, in_channels=in_channels)


def resnet_wide(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    """resnet-small at twice the width, (32, 64, 128) channels: 4x its compute, 0.31 M
    parameters for 1 channel and 10 classes; the Fashion-MNIST recipe of the README."""
    return ResNetSmall(num_classes=num_classes, in_channels=in_channels, width=32)


def resnet18(num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> nn.Module:
    """ResNet-18 as used on CIFAR-10 (He et al.'s ImageNet widths and depths, 2-2-2-2 blocks of
    64-128-256-512 channels, with a 3x3 stride-1 stem and no max pool for small images):
    11.17 M parameters for 3 channels and 10 classes."""
    return ResNet((2, 2, 2, 2), (64, 128, 256, 512), num_classes, in_channels)


MODELS: Dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "cnn-small": cnn_small,
    "cnn-bn": cnn_bn,
    "resnet-small": resnet_small,
    "resnet-wide": resnet_wide,
    "resnet18": resnet18,
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
