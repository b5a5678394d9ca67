"""Kinds of values: what a generated function is specialised on.

Scalars are the strings "bool", "int" and "float"; arrays are ``Array``;
fixed-length tuples (several results) are ``Tuple``; an argument that is a
pytree is a ``Tree``.  Integers and booleans are never differentiated.
"""
from dataclasses import dataclass

import numpy as np

from . import pytree

SCALARS = ("bool", "int", "float")


@dataclass(frozen=True)
class Array:
    dtype: str      # "float64", "float32", "int64", "bool", ...
    ndim: int

    def __str__(self):
        return f"{self.dtype}[{', '.join(':' * self.ndim)}]" if self.ndim else f"{self.dtype}[()]"

    @property
    def element(self):
        if self.dtype.startswith("float"):
            return "float"
        return "bool" if self.dtype == "bool" else "int"


@dataclass(frozen=True)
class Tuple:
    items: tuple

    def __str__(self):
        return "(" + ", ".join(map(str, self.items)) + ")"


@dataclass(frozen=True)
class Tree:
    """An argument that is a pytree: its structure and the kinds of its leaves, in order."""
    tree: object
    leaves: tuple

    def __str__(self):
        kinds = iter(self.leaves)
        return repr(pytree.map_leaves(self.tree, lambda _: _Shown(next(kinds))))


class _Shown:
    def __init__(self, kind):
        self.kind = kind

    def __repr__(self):
        return str(self.kind)


@dataclass(frozen=True)
class List:
    """A list of arrays (reverse mode keeps the arrays a name was bound to in one)."""
    item: object

    def __str__(self):
        return f"list[{self.item}]"


def of_value(value):
    """The kind of a Python value passed to a transformed function."""
    if isinstance(value, np.ndarray):
        return _array_kind(value.dtype, value.ndim)
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return None


_array_kinds = {}       # (dtype, ndim) -> Array: str(dtype) takes microseconds, every call


def _array_kind(dtype, ndim):
    kind = _array_kinds.get((dtype, ndim))
    if kind is None and dtype.kind in "biuf":
        kind = _array_kinds[dtype, ndim] = Array(str(dtype), ndim)
    return kind


def join(a, b):
    """The kind holding both: bool < int < float, as Python promotes them."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    if a in SCALARS and b in SCALARS:
        return SCALARS[max(SCALARS.index(a), SCALARS.index(b))]
    if isinstance(a, Tuple) and isinstance(b, Tuple) and len(a.items) == len(b.items):
        return Tuple(tuple(join(x, y) for x, y in zip(a.items, b.items)))
    if isinstance(a, List) and isinstance(b, List):
        return List(join(a.item, b.item))
    if isinstance(a, Array) and isinstance(b, Array) and a.ndim == b.ndim:
        return Array(str(np.promote_types(a.dtype, b.dtype)), a.ndim)
    raise TypeError(f"{a} and {b}")


def is_float(kind):
    if isinstance(kind, List):
        return is_float(kind.item)
    return kind == "float" or (isinstance(kind, Array) and kind.element == "float")


def zero(kind):
    return {"bool": False, "int": 0, "float": 0.0}[kind]
