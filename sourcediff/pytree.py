"""Pytrees: tuples, lists, dicts with string keys, namedtuples and None, nested.

A tree's structure is ``LEAF`` or a ``Node``; anything that is not a
container is a leaf (a number, an array).  Dicts are flattened in sorted key
order, as JAX does, and come back with their keys sorted.  The same ``Node``
with expressions in place of leaves describes a pytree in user code (see
``frontend/structured.py``).
"""
import operator


class _Leaf:
    """The one leaf marker; copies of the ASTs that carry structures keep it one."""

    def __repr__(self):
        return "*"

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return "LEAF"


LEAF = _Leaf()
NONE_TYPE = type(None)


class Node(tuple):
    """A container: its type (tuple, list, dict, a namedtuple class or NoneType), its keys
    (dict keys, sorted, or namedtuple fields; () otherwise) and its children.  A tuple
    underneath, so that comparing and hashing structures, done at every call, is quick."""
    __slots__ = ()

    def __new__(cls, type_, keys, children):
        return tuple.__new__(cls, (type_, keys, children))

    def __getnewargs__(self):
        return tuple(self)

    type = property(operator.itemgetter(0))
    keys = property(operator.itemgetter(1))
    children = property(operator.itemgetter(2))

    def __repr__(self):
        if self.type is NONE_TYPE:
            return "None"
        if self.type is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children)) + "}"
        if is_namedtuple(self.type):
            fields = ", ".join(f"{k}={c!r}" for k, c in zip(self.keys, self.children))
            return f"{self.type.__name__}({fields})"
        items = ", ".join(map(repr, self.children))
        if self.type is list:
            return f"[{items}]"
        return f"({items},)" if len(self.children) == 1 else f"({items})"

    def child(self, key):
        """The child at ``key``: a field name, a dict key or an index (negative ones too)."""
        if self.type is dict or (is_namedtuple(self.type) and isinstance(key, str)):
            return self.children[self.keys.index(key)]
        return self.children[key]

    @property
    def sequence(self):
        return self.type in (tuple, list) or is_namedtuple(self.type)


NONE = Node(NONE_TYPE, (), ())


def is_namedtuple(cls):
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def tuple_of(children):
    return Node(tuple, (), tuple(children))


def flatten(value):
    """(leaves, structure) of a Python value."""
    leaves = []
    return leaves, _flatten(value, leaves)


def _flatten(value, leaves):
    cls = type(value)
    if cls is tuple or cls is list:
        return Node(cls, (), tuple([_flatten(c, leaves) for c in value]))
    if cls is dict:
        keys = _sorted_keys(value)
        return Node(dict, keys, tuple([_flatten(value[k], leaves) for k in keys]))
    if value is None:
        return NONE
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return Node(cls, cls._fields, tuple([_flatten(c, leaves) for c in value]))
    leaves.append(value)
    return LEAF


def _sorted_keys(d):
    for k in d:
        if not isinstance(k, str):
            raise TypeError(f"dict keys of a pytree must be strings; got {k!r}")
    return tuple(sorted(d))


def unflatten(tree, leaves):
    """The Python value of structure ``tree`` holding ``leaves`` in order."""
    it = iter(leaves)
    value = _build(tree, it)
    if next(it, it) is not it:
        raise ValueError(f"too many leaves for the structure {tree!r}")
    return value


def _build(tree, it):
    if tree is LEAF:
        return next(it)
    children = [_build(c, it) for c in tree.children]
    if tree.type is NONE_TYPE:
        return None
    if tree.type is dict:
        return dict(zip(tree.keys, children))
    if is_namedtuple(tree.type):
        return tree.type(*children)
    return tree.type(children)


def leaves(tree):
    """The leaves of a tree whose leaves are arbitrary objects (expressions, say)."""
    if not isinstance(tree, Node):
        return [tree]
    return [x for c in tree.children for x in leaves(c)]


def structure(tree):
    """The structure of a tree of arbitrary leaves."""
    if not isinstance(tree, Node):
        return LEAF
    return Node(tree.type, tree.keys, tuple(structure(c) for c in tree.children))


def num_leaves(tree):
    return len(leaves(tree))


def map_leaves(tree, fn):
    """The tree with each leaf replaced by ``fn(leaf)``."""
    if not isinstance(tree, Node):
        return fn(tree)
    return Node(tree.type, tree.keys, tuple(map_leaves(c, fn) for c in tree.children))


def paths(tree):
    """One path per leaf: the keys leading to it, as ``.x``, ``['a']`` and ``[0]``."""
    if tree is LEAF:
        return [""]
    out = []
    for key, child in zip(tree.keys or range(len(tree.children)), tree.children):
        step = f".{key}" if is_namedtuple(tree.type) else f"[{key!r}]"
        out += [step + rest for rest in paths(child)]
    return out


def is_flat(tree):
    """A leaf, or a tuple of leaves: what a function without pytrees returns."""
    return tree is LEAF or (tree.type is tuple and all(c is LEAF for c in tree.children))


def match(expected, tree, zero):
    """The leaves of ``tree`` laid out as ``expected``, a ``None`` in ``tree`` standing
    for zeros (``zero()`` each) in place of a whole subtree; None where they differ."""
    if isinstance(tree, Node) and tree.type is NONE_TYPE and expected != NONE:
        return [zero() for _ in range(num_leaves(expected))]
    if expected is LEAF:
        return None if isinstance(tree, Node) else [tree]
    if not isinstance(tree, Node) or (tree.type, tree.keys, len(tree.children)) != \
            (expected.type, expected.keys, len(expected.children)):
        return None
    out = []
    for e, t in zip(expected.children, tree.children):
        sub = match(e, t, zero)
        if sub is None:
            return None
        out += sub
    return out
