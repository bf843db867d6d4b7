"""Differentiable ops, one module per op family: its Functions (forward and backward side by
side) and their functional wrappers."""
