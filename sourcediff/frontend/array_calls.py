"""NumPy functions and array methods, lowered to array rules (part of the normalizer).

``np.sum(a, axis=1)``, ``a.sum(1)``, ``np.zeros((n, m))``, ``a @ b``, ``a.T``
each become one core operation: a call node marked with its ``ArrayRule``
(``sd_array``) and its operand atoms (``sd_args``).  ``np.array([x, y])``
becomes an empty array and element writes.
"""
import ast

from ..rules import arrays
from .nodes import assign, instantiate, name
from .resolve import resolve

# name -> parameters (after the array, for methods), and their defaults
SIGNATURES = {
    "sum": ("a", "axis"), "mean": ("a", "axis"), "prod": ("a", "axis"), "max": ("a", "axis"),
    "min": ("a", "axis"), "cumsum": ("a",), "dot": ("a", "b"), "matmul": ("a", "b"),
    "outer": ("a", "b"), "norm": ("x",), "trace": ("a",), "where": ("condition", "x", "y"),
    "clip": ("a", "a_min", "a_max"), "transpose": ("a",), "reshape": ("a", "shape"),
    "ravel": ("a",), "copy": ("a",), "concatenate": ("arrays", "axis"), "stack": ("arrays", "axis"),
    "solve": ("a", "b"), "det": ("a",), "inv": ("a",),
    "zeros": ("shape", "dtype"), "ones": ("shape", "dtype"), "empty": ("shape", "dtype"),
    "zeros_like": ("a", "dtype"), "ones_like": ("a", "dtype"), "empty_like": ("a", "dtype"),
    "full": ("shape", "fill_value", "dtype"), "full_like": ("a", "fill_value", "dtype"),
    "arange": ("start", "stop", "step"), "linspace": ("start", "stop", "num"), "eye": ("N", "M"),
    "array": ("object", "dtype"), "expand_dims": ("a", "dim"),
    "accumulate": ("bar", "g"), "ref_tape": ("x",), "push_ref": ("tape", "x"), "pop_ref": ("tape",),
    "one_hot": ("x", "k", "value"), "flat_item": ("x", "k"),
}
METHODS = {"sum": "sum", "mean": "mean", "prod": "prod", "max": "max", "min": "min",
           "cumsum": "cumsum", "dot": "dot", "copy": "copy", "reshape": "reshape", "ravel": "ravel",
           "flatten": "ravel", "transpose": "transpose"}
REDUCTIONS_WITH_AXIS = {"sum": "sum_axis", "mean": "mean_axis"}


class ArrayCalls:
    """Mixed into the normalizer's Atomizer: NumPy calls to core operations."""

    def array_rule(self, rule, atoms, node):
        call = arrays_call(rule, atoms)
        for part in ast.walk(call):          # the template's own positions mean nothing here
            ast.copy_location(part, node)
        return call

    def _bind_array_args(self, node, fname, args, keywords, text):
        params = SIGNATURES[fname]
        if len(args) > len(params):
            raise self.error(node, f"{text} takes at most {len(params)} arguments here")
        bound = dict(zip(params, args))
        for kw in keywords:
            if kw.arg not in params or kw.arg in bound:
                raise self.error(node, f"{text}: unsupported or repeated keyword `{kw.arg}`; "
                                 f"supported: {', '.join(params)}")
            bound[kw.arg] = kw.value
        return bound

    def numpy_call(self, node, fname, text, receiver=None):
        """A NumPy function (or array method, with its array ``receiver``) as a core operation."""
        args = ([receiver] if receiver is not None else []) + list(node.args)
        if fname == "reshape" and receiver is not None and len(node.args) > 1:
            args = [receiver, ast.Tuple(elts=list(node.args), ctx=ast.Load())]
        bound = self._bind_array_args(node, fname, args, node.keywords, text)
        if fname == "array":
            return self._array_literal(node, bound)
        dtype = self._dtype(bound.pop("dtype", None), node)
        if fname in ("zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like"):
            first = bound.get("shape", bound.get("a"))
            return self.array_rule(arrays.creation(fname, dtype), [self.shape_atom(first)], node)
        if fname in ("full", "full_like"):
            first = bound.get("shape", bound.get("a"))
            rule = arrays.full(fname == "full_like", dtype)
            return self.array_rule(rule, [self.shape_atom(first), self.atom(bound["fill_value"])], node)
        if fname == "arange":
            given = [bound[p] for p in ("start", "stop", "step") if p in bound]
            return self.array_rule(arrays.ARANGE[len(given)], [self.atom(a) for a in given], node)
        if fname == "linspace":
            if "num" not in bound:
                bound["num"] = ast.Constant(50)
            atoms = [self.atom(bound[p]) for p in ("start", "stop", "num")]
            return self.array_rule(arrays.LINSPACE, atoms, node)
        if fname == "eye":
            given = [bound[p] for p in ("N", "M") if p in bound]
            return self.array_rule(arrays.EYE[len(given)], [self.atom(a) for a in given], node)
        if fname in ("concatenate", "stack"):
            return self._join(node, fname, bound, text)
        if "axis" in bound and not (isinstance(bound["axis"], ast.Constant) and bound["axis"].value is None):
            if fname not in REDUCTIONS_WITH_AXIS:
                raise self.error(node, f"{text} with an axis is not supported; "
                                 "axis= works with sum and mean")
            axis = self.atom(bound.pop("axis"))
            return self.array_rule(arrays.RULES[REDUCTIONS_WITH_AXIS[fname]],
                                   [self.atom(bound["a"] if "a" in bound else args[0]), axis], node)
        bound.pop("axis", None)
        if fname == "reshape":
            return self.array_rule(arrays.RULES["reshape"], [self.atom(bound["a"]),
                                                             self.shape_atom(bound["shape"])], node)
        atoms = [self.atom(v) for v in bound.values()]
        return self.array_rule(arrays.RULES[fname], atoms, node)

    def shape_atom(self, node):
        """An int atom, or a tuple of int atoms, for a shape."""
        if isinstance(node, ast.Tuple):
            return ast.Tuple(elts=[self.atom(e) for e in node.elts], ctx=ast.Load())
        if isinstance(node, ast.Attribute) and node.attr == "shape":
            return ast.Attribute(value=name(self._array_name(node.value)), attr="shape", ctx=ast.Load())
        return self.atom(node)

    def _dtype(self, node, call):
        if node is None:
            return None
        ref = resolve(node, self.source, self.local)
        if ref is None or ref.kind != "dtype":
            raise self.error(call, "the dtype must be np.float64, np.float32, np.int64, float, int or bool")
        return ref.value

    def _join(self, node, fname, bound, text):
        group = bound["arrays"]
        axis = bound.get("axis", ast.Constant(0))
        if not isinstance(group, (ast.Tuple, ast.List)) or not group.elts:
            raise self.error(node, f"{text} needs a tuple of arrays written out: {fname}((a, b))")
        if not (isinstance(axis, ast.Constant) and axis.value == 0):
            raise self.error(node, f"{text} is supported along axis 0 only")
        count = len(group.elts)
        rule = arrays.concatenate(count) if fname == "concatenate" else arrays.stack(count)
        return self.array_rule(rule, [self.atom(e) for e in group.elts], node)

    def _array_literal(self, node, bound):
        """``np.array([[a, b], [c, d]])``: an empty array and one element write per entry."""
        rows = bound["object"]
        dtype = self._dtype(bound.get("dtype"), node) or "float64"

        def shape_of(n):
            if isinstance(n, (ast.List, ast.Tuple)):
                inner = {shape_of(e) for e in n.elts}
                if len(inner) != 1:
                    raise self.error(node, "np.array needs a rectangular nest of lists")
                return (len(n.elts),) + inner.pop()
            return ()
        shape = shape_of(rows)
        if not shape:
            raise self.error(node, "np.array takes a list (or nested lists) of numbers here; "
                             "to copy an array use a.copy()")
        result = self.names.fresh("_t")
        shape_node = ast.Tuple(elts=[ast.Constant(n) for n in shape], ctx=ast.Load())
        self.emit(assign(result, self.array_rule(arrays.creation("empty", dtype), [shape_node], node), node))

        def fill(n, index):
            if isinstance(n, (ast.List, ast.Tuple)):
                for k, e in enumerate(n.elts):
                    fill(e, index + (k,))
                return
            target = ast.Subscript(value=name(result), ctx=ast.Store(),
                                   slice=ast.Tuple(elts=[ast.Constant(i) for i in index], ctx=ast.Load())
                                   if len(index) > 1 else ast.Constant(index[0]))
            self.emit(assign(target, self.atom(n), node))
        fill(rows, ())
        return name(result)


def arrays_call(rule, atoms):
    """The core node of an array rule applied to ``atoms``."""
    expr = instantiate(rule.template, dict(zip(rule.params, atoms)))
    expr.sd_array = rule
    expr.sd_args = list(atoms)
    return expr
