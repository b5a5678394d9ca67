"""Type inference over the core: the kind of every variable."""
import ast

from .. import kinds as K
from ..errors import error_at
from ..rules import arrays, scalar
from .dataflow import index_atoms, op_kind, operands, targets, walk


class Types:
    """Kinds of the variables of one core function for given argument kinds."""

    def __init__(self, core, arg_kinds, callee_result):
        self.core = core
        self.env = dict(zip(core.params, arg_kinds))
        self.callee_result = callee_result
        for _ in range(50):
            before = dict(self.env)
            self._pass(core.body)
            if self.env == before:
                break
        self.result = K.Tuple(tuple(self.of(a) for a in core.outputs)) \
            if len(core.outputs) > 1 else self.of(core.outputs[0])

    def __getitem__(self, name):
        return self.env[name]

    def of(self, atom):
        if isinstance(atom, ast.Constant):
            return K.of_value(atom.value)
        if isinstance(atom, ast.Tuple):
            items = tuple(self.of(e) for e in atom.elts)
            return None if None in items else K.Tuple(items)
        if isinstance(atom, ast.Attribute):        # a.shape
            array = self.env.get(atom.value.id)
            return K.Tuple(("int",) * array.ndim) if isinstance(array, K.Array) else None
        return self.env.get(atom.id)

    def error(self, node, message):
        return error_at(node, self.core.source, message)

    def bind(self, name, kind, node):
        if kind is None:
            return
        try:
            self.env[name] = K.join(self.env.get(name), kind)
        except TypeError:
            old = self.env[name]
            pair = (old, kind)
            zero_d = any(k in K.SCALARS for k in pair) and any(getattr(k, "ndim", None) == 0 for k in pair)
            hint = "; NumPy's operations on 0-d arrays give numbers (`a[()]` is the number in `a`)" \
                if zero_d else ""
            raise self.error(node, f"`{name}` holds values of different kinds "
                             f"({old} and {kind}); give each its own name{hint}") from None

    def _pass(self, stmts):
        for stmt in walk(stmts):
            if isinstance(stmt, ast.Assign):
                names = targets(stmt)
                if not names:
                    self._check_write(stmt)
                    continue
                kind = self.expr(stmt.value, stmt)
                if getattr(stmt, "sd_update", False) and kind in K.SCALARS and \
                        isinstance(self.env.get(names[0]), K.Array):
                    continue        # `a += x` of a 0-d array `a` writes the number into it
                if len(names) == 1:
                    self.bind(names[0], kind, stmt)
                elif kind is not None:
                    for name, item in zip(names, kind.items):
                        self.bind(name, item, stmt)
            elif isinstance(stmt, ast.For):
                for arg in stmt.iter.args:
                    if self.of(arg) not in (None, "int", "bool"):
                        raise self.error(stmt, f"range() needs integers; `{ast.unparse(arg)}` "
                                         f"is {self.of(arg)}")
                self.bind(stmt.target.id, "int", stmt)
            if getattr(stmt, "sd_counter", None):
                self.bind(stmt.sd_counter, "int", stmt)

    def _check_write(self, stmt):
        target = stmt.targets[0]
        array = self.env.get(target.value.id)
        if array is not None and not isinstance(array, K.Array):
            raise self.error(stmt, f"`{target.value.id}` is {array}, not an array")
        if array is not None:
            self._indexed(array, target, stmt)

    def expr(self, expr, stmt):
        kind = op_kind(expr)
        args = [self.of(a) for a in operands(expr)]
        if kind == "copy":
            return args[0]
        if kind == "rule":
            return self._rule(expr.sd_rule, args, stmt)
        if kind == "call":
            if None in args:
                return None
            return self.callee_result(expr.sd_func, tuple(args), stmt)
        if kind == "custom":
            if None in args:
                return None
            out = self.callee_result(expr.sd_body, tuple(args), stmt)
            if not expr.sd_residuals:
                return out
            # fwd calls the custom function itself: its residuals may not be known yet
            fwd = self.callee_result(expr.sd_fwd, tuple(args), stmt)
            residuals = fwd.items[-expr.sd_residuals:] if isinstance(fwd, K.Tuple) else (None,) * expr.sd_residuals
            outs = out.items if isinstance(out, K.Tuple) else (out,)
            return K.Tuple(tuple(outs) + tuple(residuals))
        if kind == "array":
            kinds = [self.of(a) for a in expr.sd_args]
            if None in kinds:
                return None
            try:
                return expr.sd_array.result(kinds)
            except (TypeError, KeyError, AttributeError) as e:
                shown = ", ".join(map(str, kinds))
                raise self.error(stmt, f"`{ast.unparse(expr)}` is not supported for arguments "
                                 f"({shown}): {e}") from None
        if kind == "reserve":
            return args[0]
        if kind == "read":
            array = args[0]
            if array is None:
                return None
            if not isinstance(array, K.Array):
                raise self.error(stmt, f"cannot index `{ast.unparse(expr.value)}`: it is {array}")
            return self._indexed(array, expr, stmt)
        if args and args[0] in K.SCALARS:
            raise self.error(stmt, f"`{ast.unparse(expr)}`: `{ast.unparse(operands(expr)[0])}` is a number "
                             f"({args[0]}), not an array; NumPy's operations on 0-d arrays give numbers")
        if kind == "attr" and expr.attr == "shape":
            return self.of(expr)
        return "int"     # shape[k], len, size, ndim

    def _indexed(self, array, subscript, stmt):
        """The kind of ``a[index]``: an element, or a view with the dimensions left."""
        index = subscript.slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if len(parts) > array.ndim:
            raise self.error(stmt, f"`{ast.unparse(subscript)}` indexes {len(parts)} dimension(s) "
                             f"of a {array.ndim}-dimensional array")
        if any(self.of(a) not in (None, "int", "bool") for a in index_atoms(index)):
            raise self.error(stmt, f"array indices and slice bounds must be integers in "
                             f"`{ast.unparse(subscript)}`")
        ndim = array.ndim - sum(1 for p in parts if not isinstance(p, ast.Slice))
        return K.Array(array.dtype, ndim) if ndim else array.element

    def _rule(self, rule, args, stmt):
        if None in args:
            return None
        if any(isinstance(a, K.Tuple) for a in args):
            raise self.error(stmt, f"`{ast.unparse(stmt.value)}` operates on a tuple; "
                             "unpack it into names first")
        if any(isinstance(a, K.Array) for a in args):
            try:
                return arrays.elementwise_kind(rule, args)
            except TypeError as e:
                raise self.error(stmt, f"`{ast.unparse(stmt.value)}`: {e}") from None
        if rule.name in scalar.INTEGER_ONLY and "float" in args:
            raise self.error(stmt, f"`{ast.unparse(stmt.value)}` needs integer operands")
        if rule.result == "join":
            joined = "bool"
            for a in args:
                joined = K.join(joined, a)
            return "int" if joined == "bool" else joined
        if rule.result == "same":
            return args[0]
        return rule.result
