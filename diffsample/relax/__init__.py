"""Relaxations of discrete draws: Gumbel-Softmax / Concrete and straight-through."""

from .gumbel import gumbel_softmax

__all__ = ["gumbel_softmax"]
