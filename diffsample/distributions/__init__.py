"""Distributions with reparameterized sampling and hand-written VJPs."""

from .base import Distribution
from .normal import Normal

__all__ = ["Distribution", "Normal"]
