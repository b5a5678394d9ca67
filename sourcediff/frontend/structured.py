"""Pytrees in user code, rewritten into their leaves before normalisation.

``flatten(fn, trees)`` gives a copy of ``fn`` that takes the leaves of its
arguments (their structures are ``trees``) and returns the leaves of its
result, and that result's structure.  Inside, a name holding a pytree
becomes one name per leaf, named after its path (``p`` holding
``Point(x, y)`` becomes ``p_x`` and ``p_y``); ``p.x``, ``d["a"]`` and
``t[0]`` with constant keys pick leaves or subtrees while the code is
rewritten; a call passing or returning pytrees calls a copy of the callee
flattened for its arguments' structures.  What is left is the scalar code
the rest of the pipeline knows.  A function without pytrees comes back
unchanged.
"""
import ast
import copy
import functools
import inspect
import re
from dataclasses import dataclass

import numpy as np

from .. import pytree as T
from ..codegen import Naming
from ..custom import CustomCall
from ..errors import TransformError, error_at
from ..rules.runtime import stop_gradient
from . import fence
from . import function_values as F
from .function_calls import FunctionCalls
from .nodes import name
from .parse import BoundSource, Synthetic, parse
from .resolve import local_names, resolve


@dataclass(frozen=True)
class Flat:
    fn: object        # takes and returns leaves; ``fn`` itself when there was nothing to rewrite
    out_tree: object  # the structure of the result; None where it is only known after normalising


class PytreeArgument(TransformError):
    """A parameter given None, a list or a tuple is used as a number or an array (the API
    names the argument and what was expected)."""

    def __init__(self, error, fn, param):
        super().__init__(error.reason, error.filename, error.lineno, error.code)
        self.fn, self.param = fn, param


_flat = {}
_busy = set()


def flatten(fn, trees, returns=None):
    """The ``Flat`` of ``fn`` for arguments of structures ``trees``; None for a call of a
    function being flattened (a recursion), which stays as it is.

    ``returns(value, node, source)``, where given, turns each returned value (a ``Node``
    of expressions, or an expression) into (structure, leaf expressions); rules use it
    to check and pad what they return.
    """
    key = (fn, tuple(trees))
    if returns is None and key in _flat:
        return _flat[key]
    if key in _busy:
        return None
    _busy.add(key)
    try:
        flat = Flattener(fn, key[1], returns).run()
    finally:
        _busy.discard(key)
    if returns is None:
        _flat[key] = flat
    return flat


@dataclass
class Pending:
    """A call whose result is a pytree (or unknown: tree None), not yet bound to names."""
    call: ast.Call
    tree: object
    stem: str


def _is_number(value):
    return isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating))


def constant_tree(value):
    """A pytree of numbers (and None) as a tree of constants; None for anything else."""
    try:
        leaves, tree = T.flatten(value)
    except TypeError:                 # a dict with other keys than strings
        return None
    if tree is T.LEAF or not all(_is_number(v) for v in leaves):
        return None
    consts = iter(ast.Constant(v.item() if isinstance(v, np.generic) else v) for v in leaves)
    return T.map_leaves(tree, lambda _: next(consts))


def _example(tree, text):
    """How to reach the first leaf of ``tree``, written for the user."""
    first = T.paths(tree)
    return f"use its leaves, e.g. `{text}{first[0]}`" if first else "it holds no values"


def _stores(names):
    """The target of a call's results: a tuple of names, even of one (the call returns a tuple)."""
    return ast.Tuple(elts=[name(n, ast.Store()) for n in names], ctx=ast.Store())


class Flattener(FunctionCalls):
    def __init__(self, fn, trees, returns):
        self.fn, self.trees, self.returns = fn, trees, returns
        self.source = parse(fn)
        fence.check(self.source)
        node = self.source.node
        self.params = [a.arg for a in node.args.args]
        if len(trees) != len(self.params):
            raise error_at(node, self.source, f"{node.name} takes {len(self.params)} arguments, "
                           f"got {len(trees)}")
        self.local = local_names(node)
        self.fresh = Naming(self.local | {node.name} | {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}).unique
        self.env = {}           # name -> Node of leaf names: the names holding pytrees
        self.scalars = set()    # names holding one value
        self.bindings = {}      # names of flattened callees -> what they stand for
        self.kept_recursive = set()
        self.out = None         # the structure returned
        self.depth = 0          # inside if / for / while
        self.conditional = 0    # inside a part of an expression that may not run
        self.pre = []           # statements computing call results the current one uses

    # ---------------------------------------------------------------- names
    def error(self, node, message):
        return error_at(node, self.source, message)

    def leaf_names(self, stem, tree):
        names = iter([self.fresh(stem + ("_" + re.sub(r"\W+", "_", p).strip("_") if p else ""))
                      for p in T.paths(tree)])
        return T.map_leaves(tree, lambda _: next(names))

    def declare(self, var, tree, node):
        """The leaf names of ``var``, which holds pytrees of structure ``tree``."""
        if var in self.env:
            if T.structure(self.env[var]) != tree:
                raise self.error(node, f"`{var}` holds pytrees of different structures "
                                 f"({T.structure(self.env[var])!r} and {tree!r}); give each its own name")
            return self.env[var]
        if var in self.scalars:
            raise self.error(node, f"`{var}` holds a single value elsewhere and a pytree {tree!r} here; "
                             "give each its own name")
        self.env[var] = self.leaf_names(var, tree)
        return self.env[var]

    def scalar(self, var, node):
        if var in self.env:
            raise self.error(node, f"`{var}` holds a pytree {T.structure(self.env[var])!r} elsewhere "
                             "and a single value here; give each its own name")
        self.scalars.add(var)

    def bind(self, stem, value):
        name_ = self.fresh(stem)
        self.bindings[name_] = value
        return name_

    # ---------------------------------------------------------------- the function
    def run(self):
        node = self.source.node
        params = []
        for p, tree in zip(self.params, self.trees):
            if tree is T.LEAF:
                self.scalars.add(p)
                params.append(p)
            else:
                params += T.leaves(self.declare(p, tree, node))
        body = self.block(node.body)
        if not self.bindings and params == self.params and T.is_flat(self.out or T.LEAF) and \
                ast.dump(ast.Module(body, [])) == ast.dump(ast.Module(node.body, [])):
            return Flat(self.fn, self.out)
        if self.kept_recursive and self.out is not None and not T.is_flat(self.out):
            raise self.error(node, f"{node.name} calls itself and returns a pytree {self.out!r}; "
                             "recursive functions return numbers or tuples of numbers")
        new = ast.FunctionDef(name=node.name, args=ast.arguments(
            posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=body, decorator_list=[], returns=None, type_params=[])
        ast.copy_location(new, node)
        bindings = dict(getattr(self.source, "bindings", {}), **self.bindings)
        fn = Synthetic(BoundSource(self.source.fn, ast.fix_missing_locations(new), self.source.filename,
                                   bindings), f"{node.name} on pytree leaves")
        for name_ in self.kept_recursive:        # its own recursive calls reach the copy
            bindings[name_] = fn
        return Flat(fn, self.out)

    # ---------------------------------------------------------------- statements
    def block(self, stmts):
        pre, out = self.pre, []
        for stmt in stmts:
            self.pre = []
            new = self.statement(stmt)
            for s in self.pre + new:
                ast.copy_location(s, stmt)
                out.append(ast.fix_missing_locations(s))
        self.pre = pre
        return out

    def nested(self, stmts):
        self.depth += 1
        try:
            return self.block(stmts)
        finally:
            self.depth -= 1

    def statement(self, stmt):
        if isinstance(stmt, ast.Assign):
            return self.assignment(stmt)
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return [stmt]
            out = self.assignment(ast.Assign(targets=[stmt.target], value=stmt.value))
            if len(out) == 1 and out[0].targets == [stmt.target]:
                new = copy.copy(stmt)
                new.value = out[0].value
                return [new]
            return out
        if isinstance(stmt, ast.AugAssign):
            return self.augmented(stmt)
        if isinstance(stmt, ast.Return):
            return self.ret(stmt)
        if isinstance(stmt, ast.If):
            new = copy.copy(stmt)
            new.test = self.leaf(stmt.test)
            new.body, new.orelse = self.nested(stmt.body), self.nested(stmt.orelse)
            return [new]
        if isinstance(stmt, ast.For):
            new = copy.copy(stmt)
            self.scalar(stmt.target.id, stmt)
            new.iter = self.leaf(stmt.iter)
            new.body = self.nested(stmt.body)
            return [new]
        if isinstance(stmt, ast.While):
            new = copy.copy(stmt)
            self.conditional += 1          # the test runs again at every iteration
            new.test = self.leaf(stmt.test)
            self.conditional -= 1
            new.body = self.nested(stmt.body)
            return [new]
        return [stmt]                      # pass, break, continue, docstrings, breakpoint()

    def assignment(self, stmt):
        value = self.value(stmt.value, direct=True)
        first, *others = stmt.targets
        if not isinstance(value, (T.Node, Pending)) and all(
                isinstance(t, ast.Name) and t.id not in self.env for t in stmt.targets):
            for t in stmt.targets:
                self.scalar(t.id, stmt)
            return [ast.Assign(targets=stmt.targets, value=value)]
        out = self.assign(first, value, stmt)
        for target in others:
            out += self.assign(target, self.value(_as_load(first)), stmt)
        return out

    def augmented(self, stmt):
        target = stmt.target
        if isinstance(target, ast.Name) and target.id in self.env:
            raise self.error(stmt, f"`{ast.unparse(stmt)}`: augmented assignment to a pytree; "
                             "update its leaves one by one")
        if isinstance(target, ast.Name) or not isinstance(self.value(target.value), T.Node):
            new = copy.copy(stmt)
            new.target = self.target(target)
            new.value = self.leaf(stmt.value)
            return [new]
        value = ast.BinOp(left=_as_load(target), op=stmt.op, right=stmt.value)
        return self.assign(target, self.value(ast.copy_location(value, stmt)), stmt)

    def assign(self, target, value, stmt):
        """Statements storing ``value`` (a Node, an expression or a Pending call) in ``target``."""
        if isinstance(value, Pending):
            if value.tree is None or value.tree is T.LEAF:
                if not isinstance(target, ast.Name):      # a call of several results, unpacked
                    return [ast.Assign(targets=[self.target(target)], value=value.call)]
                value = value.call
            else:
                names = self.store_names(target, value.tree, stmt)
                return [ast.Assign(targets=[_stores(names)], value=value.call)]
        pairs = self.pairs(target, value, stmt)
        if not pairs:
            return []
        if len(pairs) == 1:
            return [ast.Assign(targets=[pairs[0][0]], value=pairs[0][1])]
        if not all(isinstance(t, ast.Name) for t, _ in pairs):
            raise self.error(stmt, "split this assignment: array elements, and names unpacked from "
                             "a call or an array's shape, are assigned one statement at a time")
        return [ast.Assign(targets=[ast.Tuple(elts=[t for t, _ in pairs], ctx=ast.Store())],
                           value=ast.Tuple(elts=[v for _, v in pairs], ctx=ast.Load()))]

    def pairs(self, target, value, stmt):
        """(store target, expression) pairs assigning ``value`` to ``target`` leaf by leaf."""
        if isinstance(target, ast.Name):
            if not isinstance(value, T.Node):
                self.scalar(target.id, stmt)
                return [(target, value)]
            names = self.declare(target.id, T.structure(value), stmt)
            return [(name(n, ast.Store()), v) for n, v in zip(T.leaves(names), T.leaves(value))]
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, T.Node):
                if not value.sequence or len(value.children) != len(target.elts):
                    raise self.error(stmt, f"cannot unpack {T.structure(value)!r} into "
                                     f"{len(target.elts)} names")
                return [p for t, v in zip(target.elts, value.children) for p in self.pairs(t, v, stmt)]
            return [(self.target(target), value)]
        names = self.item_names(target, T.structure(value), stmt)
        if names is None:                  # an array element
            return [(self.target(target), self.leaf_value(value, stmt))]
        return [(name(n, ast.Store()), v) for n, v in zip(T.leaves(names), T.leaves(value))]

    def store_names(self, target, tree, stmt):
        """The names a call's results of structure ``tree`` are stored in, leaf by leaf."""
        if isinstance(target, ast.Name):
            if tree is T.LEAF:
                self.scalar(target.id, stmt)
                return [target.id]
            return T.leaves(self.declare(target.id, tree, stmt))
        if isinstance(target, (ast.Tuple, ast.List)):
            if tree is T.LEAF or not tree.sequence or len(tree.children) != len(target.elts):
                raise self.error(stmt, f"cannot unpack {tree!r} into {len(target.elts)} names")
            return [n for t, c in zip(target.elts, tree.children) for n in self.store_names(t, c, stmt)]
        names = self.item_names(target, tree, stmt)
        if names is None:
            raise self.error(stmt, "store the call's results in names first")
        return T.leaves(names)

    def item_names(self, target, tree, stmt):
        """The leaf names behind ``d["k"] = ...`` or ``t[0] = ...`` on a pytree; None for arrays."""
        path, base = [], target
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            if isinstance(base, ast.Attribute):
                if isinstance(self.value(base.value), T.Node):
                    raise self.error(stmt, "namedtuples cannot be changed; build a new one")
                return None
            path.append(self.key(base))
            base = base.value
        if not (isinstance(base, ast.Name) and base.id in self.env):
            return None
        path.reverse()
        if None in path:
            raise self.error(stmt, "index pytrees with constant keys (d[\"a\"], t[0]) when assigning")
        parent = self.env[base.id]
        for key in path[:-1]:
            parent = self.child(parent, key, stmt, base.id)
        if parent.type is not dict and parent.type is not list:
            raise self.error(stmt, f"{parent.type.__name__}s cannot be changed; build a new one")
        if parent.type is dict and path[-1] not in parent.keys and isinstance(path[-1], str):
            return self.add_key(base.id, path, tree, stmt)
        names = self.child(parent, path[-1], stmt, base.id)
        if T.structure(names) != tree:
            raise self.error(stmt, f"`{ast.unparse(target)}` holds {T.structure(names)!r}; "
                             f"cannot store {tree!r} there")
        return names

    def add_key(self, var, path, tree, stmt):
        if self.depth or len(path) != 1:
            raise self.error(stmt, f"adding the key {path[-1]!r} changes the structure of `{var}`; "
                             "add keys to a dict outside branches and loops, or build it with all its keys")
        old = self.env[var]
        names = self.leaf_names(var, T.Node(dict, (path[0],), (tree,))).children[0]
        items = sorted(list(zip(old.keys, old.children)) + [(path[0], names)])
        self.env[var] = T.Node(dict, tuple(k for k, _ in items), tuple(c for _, c in items))
        return names

    def ret(self, stmt):
        if stmt.value is None:
            return [stmt]
        value = self.value(stmt.value, direct=True)
        if isinstance(value, Pending):
            tree, new = value.tree, ast.Return(value=value.call)
            if self.returns is not None:
                raise self.error(stmt, f"return the parts of the result of `{ast.unparse(stmt.value)}` "
                                 "as a tuple (`a, b = ...` first)")
        else:
            tree, leaves = self.returns(value, stmt, self.source) if self.returns else \
                (T.structure(value), T.leaves(value))
            if not leaves:
                raise self.error(stmt, f"a differentiated function must return numbers; this returns {tree!r}")
            # a pytree comes back as a tuple of its leaves, even of one
            new = ast.Return(value=leaves[0] if tree is T.LEAF else ast.Tuple(elts=leaves, ctx=ast.Load()))
        if tree is not None:
            if self.out is not None and self.out != tree:
                raise self.error(stmt, f"all returns must give the same structure; this one gives {tree!r}, "
                                 f"another {self.out!r}")
            self.out = tree
        return [new]

    # ---------------------------------------------------------------- expressions
    def value(self, node, direct=False):
        """``node`` rewritten: a Node of leaf expressions, a leaf expression, or (``direct``:
        the whole value of a statement) a Pending call."""
        value = self._value(node)
        if isinstance(value, Pending) and not direct:
            return self.hoist(value)
        return value

    def leaf(self, node):
        return self.leaf_value(self.value(node), node)

    def leaf_value(self, value, node):
        if isinstance(value, T.Node):
            raise self.not_a_leaf(node, value, "a number or an array is expected here")
        return value

    def not_a_leaf(self, node, value, what):
        text = ast.unparse(node)
        tree = T.structure(value)
        if F.is_function(value):
            return self.error(node, f"`{text}` is a function; call it, or pass it to a function "
                              "(a function is not a number or an array)")
        error = self.error(node, f"`{text}` is a pytree {tree!r}; {what}: {_example(tree, text)}")
        # None, a list or a tuple where the function wants a number or an array: the argument
        # is wrong, not the code
        if isinstance(node, ast.Name) and node.id in self.params and \
                tree.type in (T.NONE_TYPE, list, tuple) and tree == self.trees[self.params.index(node.id)]:
            return PytreeArgument(error, self.fn, node.id)
        return error

    def _value(self, node):
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return T.map_leaves(self.env[node.id], name)
            if node.id not in self.local:
                try:
                    value = self.source.lookup(node.id)
                except KeyError:
                    return node
                found = constant_tree(value)
                if found is None:
                    found = F.of_value(value)
                if found is not None:
                    return found
            return node
        if isinstance(node, ast.Lambda):
            return self.lambda_value(node)
        if isinstance(node, ast.Constant):
            return T.NONE if node.value is None else node
        if isinstance(node, (ast.Tuple, ast.List)):
            return T.Node(tuple if isinstance(node, ast.Tuple) else list, (),
                          tuple(self.value(e) for e in node.elts))
        if isinstance(node, ast.Dict):
            return self.dict_display(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        conditional = isinstance(node, (ast.IfExp, ast.BoolOp))
        self.conditional += conditional
        try:
            return self.rebuild(node)
        finally:
            self.conditional -= conditional

    def rebuild(self, node):
        """A copy of an operation whose operands are all leaves."""
        new = copy.copy(node)
        for field, old in ast.iter_fields(node):
            if field == "func" and isinstance(node, ast.Call):      # the function called, kept
                continue
            if isinstance(old, ast.expr):
                setattr(new, field, self.leaf(old))
            elif isinstance(old, list):
                setattr(new, field, [self.leaf(x) if isinstance(x, ast.expr) else self.keyword(x)
                                     if isinstance(x, ast.keyword) else x for x in old])
        return new

    def keyword(self, kw):
        new = copy.copy(kw)
        new.value = self.leaf(kw.value)
        return new

    def target(self, node):
        """A store target that holds no pytree: a name, an array element, names to unpack into."""
        if isinstance(node, ast.Name):
            self.scalar(node.id, node)
            return node
        if isinstance(node, (ast.Tuple, ast.List)):
            new = copy.copy(node)
            new.elts = [self.target(e) for e in node.elts]
            return new
        if isinstance(node, ast.Subscript):
            new = copy.copy(node)
            new.value = self.leaf(node.value)
            new.slice = self.index(node.slice)
            return new
        return node

    def hoist(self, pending):
        """Bind a call's results to fresh names just before the statement that uses them."""
        if pending.tree is None or pending.tree is T.LEAF:
            return pending.call
        if self.conditional:
            raise self.error(pending.call, f"`{ast.unparse(pending.call)}` returns a pytree; assign it "
                             "to a name first (here it would run whether or not this part runs)")
        names = self.leaf_names(self.fresh("_" + pending.stem), pending.tree)
        self.pre.append(ast.Assign(targets=[_stores(T.leaves(names))], value=pending.call))
        return T.map_leaves(names, name)

    def dict_display(self, node):
        items = {}
        for key, value in zip(node.keys, node.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise self.error(node, "dict keys must be string constants ({\"a\": x}) in differentiated code")
            items[key.value] = self.value(value)
        keys = tuple(sorted(items))
        return T.Node(dict, keys, tuple(items[k] for k in keys))

    def attribute(self, node):
        ref = resolve(node, self.source, self.local)
        if ref is not None:             # math.pi, np.float64, or a function: math.sin
            return (F.of_value(ref.value) if ref.kind in ("func", "rule", "custom", "array_fn") else None) or node
        base = self.value(node.value)
        if isinstance(base, T.Node):
            if T.is_namedtuple(base.type) and node.attr in base.keys:
                return base.child(node.attr)
            raise self.not_a_leaf(node.value, base, f"it has no attribute `.{node.attr}`")
        new = copy.copy(node)
        new.value = base
        return new

    def subscript(self, node):
        base = self.value(node.value)
        if not isinstance(base, T.Node):
            new = copy.copy(node)
            new.value = base
            new.slice = self.index(node.slice)
            return new
        key = self.key(node)
        if key is None:
            loop = " (to loop over its items, pass a NumPy array)" if base.type in (tuple, list) else ""
            raise self.not_a_leaf(node.value, base, f"index it with a constant{loop}")
        return self.child(base, key, node, ast.unparse(node.value))

    def index(self, node):
        if isinstance(node, ast.Tuple):
            new = copy.copy(node)
            new.elts = [self.leaf(e) for e in node.elts]
            return new
        return self.leaf(node)

    def key(self, node):
        """The constant key of a subscript: a string or an int (negative ones too), else None."""
        key = node.slice
        if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub) and isinstance(key.operand, ast.Constant) \
                and type(key.operand.value) is int:
            return -key.operand.value
        if isinstance(key, ast.Constant) and type(key.value) in (int, str):
            return key.value
        return None

    def child(self, tree, key, node, text):
        try:
            if isinstance(key, str) and not (tree.type is dict or T.is_namedtuple(tree.type)):
                raise TypeError
            return tree.child(key)
        except (ValueError, IndexError, TypeError):
            raise self.error(node, f"`{text}` is {T.structure(tree)!r}; it has no item [{key!r}]") from None

    # ---------------------------------------------------------------- calls
    def call(self, node):
        ref = resolve(node.func, self.source, self.local)
        mode = F.transform_of(ref.value) if ref is not None else None
        if mode is not None:
            return self.transform_call(node, mode)
        if ref is not None and ref.value is functools.partial:
            return self.partial(node)
        function = self.function_called(node.func, ref)
        if function is not None:
            if node.keywords:
                raise self.error(node, f"pass arguments to `{ast.unparse(node.func)}` by position "
                                 "(it is a function value)")
            return self.call_function(node, function, [self.value(a) for a in node.args])
        known = ref is not None and not hasattr(ref.value, "sd_python_function")
        if known and T.is_namedtuple(ref.value):
            return self.construct(node, ref.value)
        if known and ref.kind == "func":
            return self.user_call(node, ref.value)
        if known and ref.kind == "custom":
            return self.custom_call(node, ref.value)
        args = [self.value(a) for a in node.args]
        if known and ref.value is stop_gradient and len(args) == 1 and isinstance(args[0], T.Node):
            return T.map_leaves(args[0], lambda leaf: ast.Call(func=node.func, args=[leaf], keywords=[]))
        if known and ref.value == "len" and len(args) == 1 and isinstance(args[0], T.Node):
            return ast.Constant(len(args[0].children))
        new = copy.copy(node)          # tuples and lists of numbers stay displays: np.zeros((n, 2))
        new.func = node.func if ref is not None else self.leaf(node.func)
        new.args = [self.display(v, a) for v, a in zip(args, node.args)]
        new.keywords = [ast.keyword(arg=k.arg, value=self.display(self.value(k.value), k.value))
                        for k in node.keywords]
        # a method: what it returns is known later
        return new if known else Pending(new, None, "")

    def display(self, value, node):
        """A tuple or list of numbers as a display (``np.array([a, b])``, ``np.zeros((n, 2))``)."""
        if not isinstance(value, T.Node):
            return value
        if value.type not in (tuple, list):
            raise self.not_a_leaf(node, value, "a number, an array, a tuple or a list is expected here")
        elts = [self.display(c, node) for c in value.children]
        return (ast.Tuple if value.type is tuple else ast.List)(elts=elts, ctx=ast.Load())

    def bound_arguments(self, node, signature, text):
        """The argument values of a call, one per parameter (defaults filled in)."""
        try:
            bound = signature.bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as e:
            raise self.error(node, f"call of {text}: {e}") from None
        values = []
        for param in signature.parameters.values():
            if param.name in bound.arguments:
                values.append(self.value(bound.arguments[param.name]))
            elif _is_number(param.default):
                values.append(ast.Constant(param.default))
            elif constant_tree(param.default) is not None or param.default is None:
                values.append(T.NONE if param.default is None else constant_tree(param.default))
            else:
                raise self.error(node, f"call of {text}: parameter {param.name} needs a value "
                                 "(only defaults made of numbers are filled in)")
        return values

    def construct(self, node, cls):
        values = self.bound_arguments(node, inspect.signature(cls), cls.__name__)
        return T.Node(cls, cls._fields, tuple(values))

    def user_call(self, node, fn, values=None):
        text = ast.unparse(node.func)
        given = values is not None          # a function value's call: its values
        if not given:
            signature = getattr(fn, "signature", None) or inspect.signature(fn)
            values = self.bound_arguments(node, signature, text)
        trees = tuple(T.structure(v) for v in values)
        flat = flatten(fn, trees)
        stem = getattr(fn, "__name__", "f")
        if flat is None:            # a recursive call: kept, its result a number or a tuple of them
            if any(t is not T.LEAF for t in trees):
                raise self.error(node, f"a recursive call of {text} passing pytrees; pass numbers "
                                 "or arrays to recursive functions")
            if isinstance(node.func, ast.Name) and getattr(fn, "py_func", fn) is getattr(self.fn, "py_func", self.fn):
                self.kept_recursive.add(node.func.id)
            return Pending(self.plain_call(node, fn, values) if given else self.rebuild(node), None, stem)
        if flat.fn is fn and all(t is T.LEAF for t in trees) and not given:
            return self.result(self.rebuild(node), flat.out_tree, stem)
        leaves = [self.leaf_value(leaf, node) for v in values for leaf in T.leaves(v)]
        call = ast.Call(func=name(self.bind(stem, flat.fn)), args=leaves, keywords=[])
        return self.result(ast.copy_location(call, node), flat.out_tree, stem)

    def custom_call(self, node, target, values=None):
        call = target if isinstance(target, CustomCall) else CustomCall(target)
        custom = call.custom
        given = values is not None
        if not given:
            values = self.bound_arguments(node, custom.signature, ast.unparse(node.func))
        trees = tuple(T.structure(v) for v in values)
        for i, tree in enumerate(trees):
            if i not in custom.nondiff_argnums and F.holds_function(tree):
                raise self.error(node, f"argument {i} of {custom.name} is a function; pass functions "
                                 "to custom functions as non-differentiable arguments (nondiff_argnums)")
        body = flatten(custom.fun, trees)
        if body is None:            # the custom function's body calls it: its result is the body's
            return Pending(self.plain_call(node, custom, values) if given else self.rebuild(node), None, custom.name)
        if all(t is T.LEAF for t in trees) and T.is_flat(body.out_tree or T.LEAF) and not given:
            return self.result(self.rebuild(node), body.out_tree, custom.name)
        bound = CustomCall(custom, trees)
        leaves = [leaf for v in values for leaf in T.leaves(v)]
        new = ast.Call(func=name(self.bind(custom.name, bound)), args=leaves, keywords=[])
        return self.result(ast.copy_location(new, node), body.out_tree, custom.name)

    def result(self, call, tree, stem):
        return call if tree is T.LEAF else Pending(call, tree, stem)


def _as_load(target):
    node = copy.deepcopy(target)
    for n in ast.walk(node):
        if hasattr(n, "ctx"):
            n.ctx = ast.Load()
    return node
