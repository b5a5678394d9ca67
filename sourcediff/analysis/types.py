"""Type inference over the core: the kind of every variable."""
import ast

from .. import kinds as K
from ..errors import error_at
from ..rules import scalar
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
        return self.env.get(atom.id)

    def error(self, node, message):
        return error_at(node, self.core.source, message)

    def bind(self, name, kind, node):
        if kind is None:
            return
        try:
            self.env[name] = K.join(self.env.get(name), kind)
        except TypeError:
            raise self.error(node, f"`{name}` holds values of different kinds "
                             f"({self.env[name]} and {kind}); give each its own name") from None

    def _pass(self, stmts):
        for stmt in walk(stmts):
            if isinstance(stmt, ast.Assign):
                names = targets(stmt)
                if not names:
                    self._check_write(stmt)
                    continue
                kind = self.expr(stmt.value, stmt)
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
        if kind == "create":
            return K.Array(expr.sd_create, 1)
        if kind == "reserve":
            return args[0]
        if kind == "read":
            array, index = args[0], args[1:]
            if array is None:
                return None
            if not isinstance(array, K.Array):
                raise self.error(stmt, f"cannot index `{ast.unparse(expr.value)}`: it is {array}")
            if len(index_atoms(expr.slice)) != array.ndim:
                raise self.error(stmt, f"`{ast.unparse(expr)}` indexes {len(index)} dimension(s) "
                                 f"of a {array.ndim}-dimensional array; index every dimension "
                                 "(slices arrive with array support)")
            if any(i not in (None, "int", "bool") for i in index):
                raise self.error(stmt, f"array indices must be integers in `{ast.unparse(expr)}`")
            return array.element
        return "int"     # shape, len, size, ndim

    def _rule(self, rule, args, stmt):
        if None in args:
            return None
        if any(not isinstance(a, str) for a in args):
            raise self.error(stmt, f"`{ast.unparse(stmt.value)}` operates on an array or tuple; "
                             "this version differentiates scalar operations on array elements")
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
