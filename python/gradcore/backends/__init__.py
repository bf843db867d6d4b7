"""Switches of the native kernels, as torch.backends: ``gradcore.backends.cpu``."""

from gradcore.backends import cpu

__all__ = ["cpu"]
