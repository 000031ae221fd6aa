"""Hand-written gradients on every backend: :func:`primitive` and :func:`vjp`."""

from .primitive import Primitive, primitive, registered_primitives
from .vjp import vjp

__all__ = ["Primitive", "primitive", "registered_primitives", "vjp"]
