"""Utilities: activation checkpointing."""

from gradcore.utils.checkpoint import checkpoint, checkpoint_sequential

__all__ = ["checkpoint", "checkpoint_sequential"]
