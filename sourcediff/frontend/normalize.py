"""Lower a user's function to the core: one operation per statement.

The core is a subset of Python's AST that every later stage understands:

* ``v = atom`` or ``v = op(atoms)``: a rule (operator or function), a call
  of a user function (``v1, v2 = f(...)`` for several results), an element
  read ``a[i, j]``, ``a.shape[k]``, ``len(a)`` or an array creation;
* ``a[i] = atom``: an element write;
* ``if atom:``; ``for i in range(atoms):``; ``while True:`` whose body starts
  with the loop condition and ``if stop: break``;
* ``if flag: break`` only at the top of a loop body (marked ``sd_breakif``),
  so a loop is left from one place the reverse sweep can see;
* one ``return`` as the last statement.

Atoms are names and constants.  User names are kept; temporaries are
``_t1, _t2, ...`` and disappear again when codegen folds single-use ones.
"""
import ast
import copy
import inspect
from dataclasses import dataclass, field

from .. import pytree
from ..custom import CustomCall, custom_vjp
from ..errors import error_at
from ..rules import arrays, scalar
from . import custom_rules, fence
from .array_calls import METHODS, ArrayCalls
from .nodes import assign, instantiate, name
from .parse import parse
from .resolve import local_names, resolve


@dataclass(eq=False)
class Core:
    source: object
    name: str
    params: list
    body: list
    temps: set = field(default_factory=set)

    @property
    def outputs(self):
        value = self.body[-1].value
        return list(value.elts) if isinstance(value, ast.Tuple) else [value]


class Names:
    """Fresh names that collide with none of the user's; each is added to ``local``."""

    def __init__(self, taken, local):
        self.taken = set(taken)
        self.local = local
        self.temps = set()

    def fresh(self, stem):
        i = 1
        while f"{stem}{i}" in self.taken:
            i += 1
        name = f"{stem}{i}"
        self.taken.add(name)
        self.temps.add(name)
        self.local.add(name)
        return name


def breakif(flag, like=None, while_cond=False):
    node = ast.If(test=name(flag), body=[ast.Break()], orelse=[])
    node.sd_breakif = True
    node.sd_while_cond = while_cond
    if like is not None:
        ast.copy_location(node, like)
    return node


def is_breakif(stmt):
    return isinstance(stmt, ast.If) and getattr(stmt, "sd_breakif", False)


def is_atom(node):
    return isinstance(node, (ast.Name, ast.Constant))


def _contains(stmts, kinds):
    return any(isinstance(n, kinds) for stmt in stmts for n in ast.walk(stmt))


def _definitely_returns(stmts):
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    return isinstance(last, ast.If) and _definitely_returns(last.body) and \
        _definitely_returns(last.orelse)


def _tail_returns(stmts):
    """Move what follows an ``if`` that may return into the branches that don't."""
    for k, stmt in enumerate(stmts):
        if isinstance(stmt, ast.Return):
            return stmts[:k + 1]
        if isinstance(stmt, ast.If) and _contains([stmt], ast.Return):
            rest = stmts[k + 1:]
            body = stmt.body + ([] if _definitely_returns(stmt.body) else copy.deepcopy(rest))
            orelse = stmt.orelse + ([] if _definitely_returns(stmt.orelse) else copy.deepcopy(rest))
            new = ast.If(test=stmt.test, body=_tail_returns(body), orelse=_tail_returns(orelse))
            return stmts[:k] + [ast.copy_location(new, stmt)]
    return stmts


@dataclass
class Loop:
    brk: str
    cont: str
    used: set = field(default_factory=set)


class Exits:
    """Rewrite return/break/continue so that every block has one way out."""

    def __init__(self, names, source):
        self.names, self.source = names, source
        self.ret = None        # flag set by a return inside a loop
        self.outputs = None    # names of the output variables

    def function(self, body):
        loops = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, (ast.For, ast.While))]
        loops_return = any(_contains(loop.body, ast.Return) for loop in loops)
        if loops_return:
            self.ret = self.names.fresh("_ret")
            body = [assign(self.ret, ast.Constant(False), body[0])] + body
            out, _ = self.block(body, None)
        else:
            body = _tail_returns(body)
            if not _definitely_returns(body):
                node = body[-1] if body else self.source.node
                raise error_at(node, self.source, "every path through a differentiated function "
                               "must end in `return value`")
            out, _ = self.block(body, None)
            if len([n for s in out for n in ast.walk(s) if isinstance(n, ast.Return)]) == 1 \
                    and isinstance(out[-1], ast.Return):
                return out
            out = self._returns_to_outputs(out)
        if self.outputs is None:
            raise error_at(self.source.node, self.source, "a differentiated function must return a value")
        value = name(self.outputs[0]) if len(self.outputs) == 1 else \
            ast.Tuple(elts=[name(o) for o in self.outputs], ctx=ast.Load())
        return out + [ast.Return(value=value, lineno=out[-1].lineno if out else 0)]

    def _output_names(self, value, node):
        count = len(value.elts) if isinstance(value, ast.Tuple) else 1
        if self.outputs is None:
            self.outputs = [self.names.fresh("_rv") for _ in range(count)]
        elif len(self.outputs) != count:
            raise error_at(node, self.source, "all returns of a differentiated function must "
                           "return the same number of values")
        return self.outputs

    def _set_outputs(self, ret):
        outs = self._output_names(ret.value, ret)
        if len(outs) == 1:
            return [assign(outs[0], ret.value, ret)]
        target = ast.Tuple(elts=[name(o, ast.Store()) for o in outs], ctx=ast.Store())
        return [assign(target, ret.value, ret)]

    def _returns_to_outputs(self, stmts):
        out = []
        for stmt in stmts:
            if isinstance(stmt, ast.Return):
                out.extend(self._set_outputs(stmt))
            elif isinstance(stmt, ast.If):
                stmt.body = self._returns_to_outputs(stmt.body)
                stmt.orelse = self._returns_to_outputs(stmt.orelse)
                out.append(stmt)
            else:
                out.append(stmt)
        return out

    def block(self, stmts, loop, top=False):
        """(new statements, flags they may set that the enclosing block must respect).

        At the top of a loop body a set break (or return) flag becomes
        ``if flag: break``; elsewhere the statements after one that may set
        a flag are guarded by ``if not flag``.
        """
        out = []
        for k, stmt in enumerate(stmts):
            rest = stmts[k + 1:]
            new, flags = self.statement(stmt, loop, top, rest)
            if new is None:                  # the statement took the rest of the block
                out.extend(flags)
                return out, set()
            out.extend(new)
            flags = self._break_here(out, flags, loop, top, stmt, rest)
            if not flags:
                continue
            if not rest:
                return out, flags
            body, more = self.block(rest, loop)
            guard = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=_any(flags)), body=body, orelse=[])
            out.append(ast.copy_location(guard, rest[0]))
            return out, flags | self._break_here(out, more, loop, top, stmt)
        return out, set()

    def _break_here(self, out, flags, loop, top, stmt, rest=()):
        """``if flag: break`` for the exits ``flags`` may have taken.

        Where the rest of the body can set the flag again, the test reads a
        copy: the backward sweep asks it whether the rest ran, after the rest
        has reset the flag.
        """
        if not (loop and top):
            return flags
        exits = flags & {loop.brk, self.ret}
        for flag in sorted(exits):
            if _contains(rest, ast.Return if flag == self.ret else ast.Break):
                copied = self.names.fresh("_exit")
                out.append(assign(copied, name(flag), stmt))
                flag = copied
            out.append(breakif(flag, stmt))
        return flags - exits

    def statement(self, stmt, loop, top, rest):
        if isinstance(stmt, ast.Return):
            if self.ret is None:
                return [stmt], set()
            new = self._set_outputs(stmt) + [assign(self.ret, ast.Constant(True), stmt)]
            return new, {self.ret}
        if isinstance(stmt, ast.Break):
            loop.used.add("brk")
            return [assign(loop.brk, ast.Constant(True), stmt)], {loop.brk}
        if isinstance(stmt, ast.Continue):
            loop.used.add("cont")
            return [assign(loop.cont, ast.Constant(True), stmt)], {loop.cont}
        if isinstance(stmt, ast.If):
            only = stmt.body[0] if len(stmt.body) == 1 and not stmt.orelse else None
            if top and isinstance(only, ast.Break):
                flag = self.names.fresh("_stop")
                return [assign(flag, stmt.test, stmt), breakif(flag, stmt)], set()
            if top and isinstance(only, ast.Continue):
                body, flags = self.block(rest, loop)
                test = ast.UnaryOp(op=ast.Not(), operand=stmt.test)
                out = [ast.copy_location(ast.If(test=test, body=body or [ast.Pass()], orelse=[]), stmt)]
                self._break_here(out, flags, loop, top, stmt)
                return None, out
            body, f1 = self.block(stmt.body, loop)
            orelse, f2 = self.block(stmt.orelse, loop)
            new = ast.copy_location(ast.If(test=stmt.test, body=body or [ast.Pass()], orelse=orelse), stmt)
            return [new], f1 | f2
        if isinstance(stmt, (ast.For, ast.While)):
            return self.loop(stmt)
        return [stmt], set()

    def loop(self, stmt):
        inner = Loop(self.names.fresh("_brk"), self.names.fresh("_cont"))
        body = list(stmt.body)
        prefix = []
        if isinstance(stmt, ast.While) and not (isinstance(stmt.test, ast.Constant) and stmt.test.value):
            stop = self.names.fresh("_stop")
            prefix = [assign(stop, ast.UnaryOp(op=ast.Not(), operand=stmt.test), stmt),
                      breakif(stop, stmt, while_cond=True)]
        new_body, _ = self.block(body, inner, top=True)
        if "cont" in inner.used:
            new_body = [assign(inner.cont, ast.Constant(False), stmt)] + new_body
        before = [assign(inner.brk, ast.Constant(False), stmt)] if "brk" in inner.used else []
        if isinstance(stmt, ast.While):
            new = ast.While(test=ast.Constant(True), body=prefix + new_body, orelse=[])
        else:
            new = ast.For(target=stmt.target, iter=stmt.iter, body=new_body, orelse=[])
        ast.copy_location(new, stmt)
        may_return = self.ret is not None and _contains(stmt.body, ast.Return)
        return before + [new], ({self.ret} if may_return else set())


def _any(flags):
    flags = sorted(flags)
    if len(flags) == 1:
        return name(flags[0])
    return ast.BoolOp(op=ast.Or(), values=[name(f) for f in flags])


class Atomizer(ArrayCalls):
    """Expressions to one operation per statement, names resolved."""

    def __init__(self, source, names, local, arity):
        self.source, self.names, self.local, self.arity = source, names, local, arity

    def error(self, node, message):
        return error_at(node, self.source, message)

    def block(self, stmts):
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt):
        self.out = []
        self._statement(stmt)
        for node in self.out:
            if not hasattr(node, "lineno"):
                ast.copy_location(node, stmt)
        return self.out

    def emit(self, node):
        value = getattr(node, "value", None)
        if isinstance(node, ast.Assign) and getattr(value, "sd_residuals", 0):
            # a custom_vjp call also binds its residuals (after its results), which the backward sweep reads
            first = node.targets[0]
            residuals = [name(self.names.fresh("_res"), ast.Store()) for _ in range(value.sd_residuals)]
            outputs = first.elts if isinstance(first, ast.Tuple) else [first]
            node.targets = [ast.Tuple(elts=outputs + residuals, ctx=ast.Store())]
        self.out.append(node)

    def _statement(self, stmt):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) > 1:
                first, *others = stmt.targets
                self._assign(first, stmt.value, stmt)
                for target in others:
                    self._assign(target, copy.deepcopy(first), stmt)
            else:
                self._assign(stmt.targets[0], stmt.value, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return
            self._assign(stmt.target, stmt.value, stmt)
        elif isinstance(stmt, ast.AugAssign):
            target = stmt.target
            load = copy.deepcopy(target)
            _set_ctx(load, ast.Load())
            self._assign(target, ast.BinOp(left=load, op=stmt.op, right=stmt.value), stmt)
            if isinstance(target, ast.Name):      # in place for arrays (see in_place_updates)
                self.out[-1].sd_update = True
        elif isinstance(stmt, ast.If):
            if is_breakif(stmt):
                self.emit(stmt)
                return
            test = self.atom(stmt.test)
            if isinstance(test, ast.Name) and test.id not in self.names.temps:
                copy_ = self.names.fresh("_c")
                self.emit(assign(copy_, test, stmt))
                test = name(copy_)
            out = self.out
            body, orelse = self.block(stmt.body), self.block(stmt.orelse)
            self.out = out
            self.emit(ast.copy_location(ast.If(test=test, body=body or [ast.Pass()], orelse=orelse), stmt))
        elif isinstance(stmt, ast.For):
            args = [self.atom(a) for a in stmt.iter.args]
            assigned = {n.id for s in stmt.body for n in ast.walk(s)
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            for i, arg in enumerate(args):
                if isinstance(arg, ast.Name) and (arg.id in assigned or arg.id == stmt.target.id):
                    bound = self.names.fresh("_bound")
                    self.emit(assign(bound, arg, stmt))
                    args[i] = name(bound)
            out = self.out
            body = self.block(stmt.body)
            self.out = out
            loop = ast.For(target=stmt.target, iter=ast.Call(func=name("range"), args=args, keywords=[]),
                           body=body or [ast.Pass()], orelse=[])
            self.emit(ast.copy_location(loop, stmt))
        elif isinstance(stmt, ast.While):
            out = self.out
            body = self.block(stmt.body)
            self.out = out
            self.emit(ast.copy_location(ast.While(test=ast.Constant(True), body=body, orelse=[]), stmt))
        elif isinstance(stmt, ast.Return):
            value = stmt.value
            if value is None:
                raise self.error(stmt, "a differentiated function must return a value")
            if isinstance(value, ast.Tuple):
                value = ast.Tuple(elts=[self.atom(e) for e in value.elts], ctx=ast.Load())
            else:
                value = self._returned(value, stmt)
            self.emit(ast.copy_location(ast.Return(value=value), stmt))
        elif isinstance(stmt, (ast.Pass, ast.Break)):
            self.emit(stmt)
        elif isinstance(stmt, ast.Expr):
            if fence.is_breakpoint(stmt):      # kept; docstrings (the only other kind) dropped
                self.emit(stmt)
        else:
            raise self.error(stmt, f"{type(stmt).__name__} is not supported")

    def _returned(self, value, stmt):
        """The atom, or tuple of atoms, a ``return`` gives: a call of several results is unpacked."""
        if isinstance(value, ast.Call):
            call = self.operation(value)
            fn = getattr(call, "sd_func", None) or getattr(call, "sd_body", None)
            count = self.arity(fn) if fn is not None else 1
            temps = [self.names.fresh("_t") for _ in range(count)]
            target = name(temps[0], ast.Store()) if count == 1 else \
                ast.Tuple(elts=[name(t, ast.Store()) for t in temps], ctx=ast.Store())
            self.emit(assign(target, call, stmt))
            return name(temps[0]) if count == 1 else ast.Tuple(elts=[name(t) for t in temps], ctx=ast.Load())
        return self.atom(value)

    def _assign(self, target, value, stmt):
        if isinstance(target, ast.Name):
            value = self.operation(value)
            if not (isinstance(value, ast.Name) and value.id == target.id):     # `v = v` does nothing
                self.emit(assign(target.id, value, stmt))
        elif isinstance(target, ast.Tuple):
            self._unpack(target, value, stmt)
        elif isinstance(target, ast.Subscript):
            array = self._array_name(target.value)
            index = self.index(target.slice)
            item = self.atom(value)
            write = ast.Subscript(value=name(array), slice=index, ctx=ast.Store())
            self.emit(assign(write, item, stmt))
        else:
            raise self.error(stmt, "assign to names, tuples of names or array elements (a[i] = v)")

    def _unpack(self, target, value, stmt):
        names_ = []
        for elt in target.elts:
            if not isinstance(elt, ast.Name):
                raise self.error(stmt, "unpack into plain names: a, b = ...")
            names_.append(elt.id)
        if isinstance(value, ast.Tuple):
            if len(value.elts) != len(names_):
                raise self.error(stmt, f"cannot unpack {len(value.elts)} values into {len(names_)} names")
            atoms = [self.atom(e) for e in value.elts]
            temps = []
            for atom in atoms:
                if isinstance(atom, ast.Name) and atom.id in names_:
                    temp = self.names.fresh("_t")
                    self.emit(assign(temp, atom, stmt))
                    atom = name(temp)
                temps.append(atom)
            for n, atom in zip(names_, temps):
                self.emit(assign(n, atom, stmt))
            return
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            array = self._array_name(value.value)
            for k, n in enumerate(names_):
                self.emit(assign(n, self._shape(array, k), stmt))
            return
        if isinstance(value, ast.Call):
            call = self.operation(value)
            fn = getattr(call, "sd_func", None) or getattr(call, "sd_body", None)
            if fn is not None:
                arity = self.arity(fn)
                if arity != len(names_):
                    raise self.error(stmt, f"{call.func.id} returns {arity} value(s); "
                                     f"cannot unpack them into {len(names_)} names")
                tuple_target = ast.Tuple(elts=[name(n, ast.Store()) for n in names_], ctx=ast.Store())
                self.emit(assign(tuple_target, call, stmt))
                return
        raise self.error(stmt, "tuple unpacking works on tuple literals (a, b = b, a), "
                         "the results of a function call, and an array's .shape")

    def atom(self, node):
        """An atom (name or constant) holding the value of ``node``."""
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Name):
            ref = resolve(node, self.source, self.local)
            if ref is None:
                return name(node.id)
            return self._global(node, ref)
        if isinstance(node, ast.Attribute):
            ref = resolve(node, self.source, self.local)
            if ref is not None:
                return self._global(node, ref)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) and not isinstance(node.operand.value, bool):
            return ast.Constant(-node.operand.value)
        op = self.operation(node)
        if is_atom(op):
            return op
        temp = self.names.fresh("_t")
        self.emit(assign(temp, op, node))
        return name(temp)

    def _global(self, node, ref):
        text = ast.unparse(node)
        if ref.kind == "const":
            return ast.Constant(ref.value)
        if ref.kind == "array":
            raise self.error(node, f"`{text}` is a global NumPy array; pass arrays as arguments")
        if ref.kind == "undefined":
            raise self.error(node, f"name `{ref.value}` is not defined")
        if ref.kind in ("func", "rule", "builtin", "array_fn"):
            raise self.error(node, f"`{text}` is a function; call it (function-valued "
                             "arguments are not supported here)")
        raise self.error(node, f"`{text}` ({type(ref.value).__name__}) cannot be used in "
                         f"differentiated code; {fence.SUPPORTED}")

    def operation(self, node):
        """An expression of one operation on atoms (or an atom) computing ``node``."""
        if isinstance(node, (ast.Constant, ast.Name)):
            return self.atom(node)
        if isinstance(node, ast.BinOp):
            left, right = self.atom(node.left), self.atom(node.right)
            if isinstance(node.op, ast.MatMult):
                return self.array_rule(arrays.RULES["matmul"], [left, right], node)
            return self._rule(scalar.OPERATORS[type(node.op)], [left, right], node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
                return self.atom(node)
            return self._rule(scalar.OPERATORS[type(node.op)], [self.atom(node.operand)], node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.IfExp):
            return self._ifexp(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Attribute):
            ref = resolve(node, self.source, self.local)
            if ref is not None:
                return self._global(node, ref)
            if node.attr in ("size", "ndim", "shape"):
                array = self._array_name(node.value)
                attr = ast.Attribute(value=name(array), attr=node.attr, ctx=ast.Load())
                return attr
            if node.attr == "T":
                return self.array_rule(arrays.RULES["transpose"], [self.atom(node.value)], node)
            raise self.error(node, f"attribute `.{node.attr}` is not supported; "
                             "arrays support .shape, .size, .ndim and .T")
        if isinstance(node, ast.Tuple):
            raise self.error(node, "tuples are supported in returns, assignments and unpacking")
        raise self.error(node, f"{type(node).__name__} is not supported; {fence.SUPPORTED}")

    def _rule(self, rule_name, atoms, node):
        rule = scalar.RULES[rule_name]
        expr = instantiate(rule.template, dict(zip(rule.params, atoms)))
        expr.sd_rule = rule
        expr.sd_args = list(atoms)
        return ast.copy_location(expr, node)

    def _compare(self, node):
        left = self.atom(node.left)
        if len(node.ops) == 1:
            return self._rule(scalar.OPERATORS[type(node.ops[0])], [left, self.atom(node.comparators[0])], node)
        result = self.names.fresh("_t")
        right = self.atom(node.comparators[0])
        self.emit(assign(result, self._rule(scalar.OPERATORS[type(node.ops[0])], [left, right], node), node))
        for op, comp in zip(node.ops[1:], node.comparators[1:]):
            outer = self.out
            self.out = []
            nxt = self.atom(comp)
            self.emit(assign(result, self._rule(scalar.OPERATORS[type(op)], [right, nxt], node), node))
            body, self.out = self.out, outer
            self.emit(ast.copy_location(ast.If(test=name(result), body=body, orelse=[]), node))
            right = nxt
        return name(result)

    def _boolop(self, node):
        result = self.names.fresh("_t")
        self.emit(assign(result, self.operation(node.values[0]), node))
        for value in node.values[1:]:
            outer = self.out
            self.out = []
            self.emit(assign(result, self.operation(value), node))
            body, self.out = self.out, outer
            if isinstance(node.op, ast.And):
                branch = ast.If(test=name(result), body=body, orelse=[])
            else:
                branch = ast.If(test=name(result), body=[ast.Pass()], orelse=body)
            self.emit(ast.copy_location(branch, node))
        return name(result)

    def _ifexp(self, node):
        test = self.atom(node.test)
        result = self.names.fresh("_t")
        branches = []
        for part in (node.body, node.orelse):
            outer = self.out
            self.out = []
            self.emit(assign(result, self.operation(part), node))
            branches.append(self.out)
            self.out = outer
        self.emit(ast.copy_location(ast.If(test=test, body=branches[0], orelse=branches[1]), node))
        return name(result)

    def _call(self, node):
        ref = resolve(node.func, self.source, self.local)
        text = ast.unparse(node.func)
        if ref is None:
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in METHODS:
                return self.numpy_call(node, METHODS[func.attr], text, receiver=func.value)
            raise self.error(node, f"cannot call `{text}`: this method or local function value is "
                             f"not supported; call math/NumPy functions, module-level functions or "
                             f"the array methods {', '.join(sorted(METHODS))}")
        if ref.kind == "rule":
            if node.keywords:
                raise self.error(node, f"pass the arguments of {text} by position")
            args = [self.atom(a) for a in node.args]
            rule = scalar.rule_for_callable(ref.value, len(args))
            if rule.name in ("max", "min") and len(args) > 2:
                acc = args[0]
                for arg in args[1:-1]:
                    temp = self.names.fresh("_t")
                    self.emit(assign(temp, self._rule(rule.name, [acc, arg], node), node))
                    acc = name(temp)
                args = [acc, args[-1]]
            if len(args) != len(rule.params):
                raise self.error(node, f"{text} takes {len(rule.params)} argument(s) here, got {len(args)}")
            return self._rule(rule.name, args, node)
        if ref.kind == "builtin":
            if ref.value == "len" and len(node.args) == 1:
                return ast.Call(func=name("len"), args=[name(self._array_name(node.args[0]))], keywords=[])
            raise self.error(node, "range(...) is only supported as the iterable of a for loop")
        if ref.kind == "array_fn":
            return self.numpy_call(node, ref.value, text)
        if ref.kind == "reserve":
            call = ast.Call(func=ast.Attribute(value=name("_rt"), attr="reserve", ctx=ast.Load()),
                            args=[self.atom(a) for a in node.args], keywords=[])
            call.sd_reserve = True
            return call
        if ref.kind == "func":
            return self._user_call(node, ref.value, text)
        if ref.kind == "custom":
            return self._custom_call(node, ref.value, text)
        if ref.kind == "undefined":
            raise self.error(node, f"name `{ref.value}` is not defined")
        raise self.error(node, f"`{text}` has no derivative rule and no Python source to "
                         f"differentiate; supported functions: "
                         f"{', '.join(scalar.supported_function_names())} and plain Python functions")

    def _user_call(self, node, fn, text):
        signature = getattr(fn, "signature", None) or inspect.signature(fn)
        try:
            bound = signature.bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as e:
            raise self.error(node, f"call of {text}: {e}") from None
        args = []
        for param in signature.parameters.values():
            if param.name in bound.arguments:
                args.append(self.atom(bound.arguments[param.name]))
            elif isinstance(param.default, (bool, int, float)):
                args.append(ast.Constant(param.default))
            else:
                raise self.error(node, f"call of {text}: parameter {param.name} needs a value "
                                 "(only number defaults are filled in)")
        call = ast.Call(func=name(getattr(fn, "__name__", "f")), args=args, keywords=[])
        call.sd_func = fn
        return ast.copy_location(call, node)

    def _custom_call(self, node, target, text):
        """A call of a custom_jvp/custom_vjp function, its arguments leaf by leaf."""
        call_ref = target if isinstance(target, CustomCall) else CustomCall(target)
        custom = call_ref.custom
        positions = call_ref.positions()
        if isinstance(target, CustomCall):
            values = list(zip(positions, node.args))
        else:
            try:
                bound = custom.signature.bind(*node.args, **{k.arg: k.value for k in node.keywords})
            except TypeError as e:
                raise self.error(node, f"call of {text}: {e}") from None
            values = []
            for i, param in enumerate(custom.signature.parameters.values()):
                if param.name in bound.arguments:
                    values.append((i, bound.arguments[param.name]))
                elif isinstance(param.default, (bool, int, float)):
                    values.append((i, ast.Constant(param.default)))
                else:
                    raise self.error(node, f"call of {text}: parameter {param.name} needs a value")
        atoms = [self.atom(value) for _, value in values]
        used = [i for i, _ in values]
        call = ast.Call(func=name(custom.name), args=atoms, keywords=[])
        call.sd_custom = call_ref
        call.sd_positions = used
        call.sd_body = custom_rules.body(call_ref)
        call.sd_residuals = 0
        if isinstance(custom, custom_vjp) and custom.fwd is not None:
            call.sd_fwd = custom_rules.fwd_rule(call_ref)
            call.sd_residuals = pytree.num_leaves(custom_rules.residuals(call_ref))
        return ast.copy_location(call, node)

    def _array_name(self, node):
        if isinstance(node, ast.Name) and node.id in self.local:
            return node.id
        if isinstance(node, (ast.Call, ast.Subscript, ast.BinOp, ast.Attribute)) and \
                not (isinstance(node, ast.Attribute) and resolve(node, self.source, self.local) is not None):
            return self.atom(node).id       # an array expression: held in a temporary
        if isinstance(node, (ast.Name, ast.Attribute)):
            ref = resolve(node, self.source, self.local)
            if ref is not None and ref.kind == "array":
                raise self.error(node, f"`{ast.unparse(node)}` is a global NumPy array; "
                                 "pass arrays as arguments")
        raise self.error(node, "index arrays held in local names or parameters (a[i])")

    def index(self, node):
        if isinstance(node, ast.Tuple):
            return ast.Tuple(elts=[self.index(e) for e in node.elts], ctx=ast.Load())
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self.atom(p) for p in (node.lower, node.upper, node.step)]
            return ast.Slice(*parts)
        return self.atom(node)

    def _shape(self, array, k):
        attr = ast.Attribute(value=name(array), attr="shape", ctx=ast.Load())
        return ast.Subscript(value=attr, slice=ast.Constant(k), ctx=ast.Load())

    def _subscript(self, node):
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr == "shape":
            if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int)):
                raise self.error(node, "index .shape with a constant (a.shape[0])")
            return self._shape(self._array_name(value.value), node.slice.value)
        array = self._array_name(value)
        return ast.Subscript(value=name(array), slice=self.index(node.slice), ctx=ast.Load())


def _set_ctx(node, ctx):
    for n in ast.walk(node):
        if hasattr(n, "ctx"):
            n.ctx = ctx
    return node


def normalize(fn, arity):
    """The Core of ``fn``; ``arity(callee)`` gives how many values a callee returns."""
    source = parse(fn)
    fence.check(source)
    node = source.node
    local = local_names(node)
    names = Names(local | {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}, local)
    lowered = Exits(names, source).function(_iterate_by_index(_discards(copy.deepcopy(node.body), names), names))
    body = Atomizer(source, names, local, arity).block(lowered)
    _mark_counters(body, names)
    return Core(source, node.name, [a.arg for a in node.args.args], body, names.temps)


def in_place_updates(core, ndim_of):
    """The core with ``a += b`` on arrays made a write, ``_u = a + b; a[:] = _u`` (``a[()] = _u`` of
    a 0-d array), as NumPy does it (views of ``a`` see the change); None when no such update targets
    an array.  ``ndim_of(name)`` is None for what is not an array."""
    def is_array(n):
        return ndim_of(n) is not None
    updates = [s for s in _statements(core.body) if getattr(s, "sd_update", False) and is_array(s.targets[0].id)]
    if not updates:
        return None
    new = copy.deepcopy(core)
    taken = {n.id for n in ast.walk(ast.Module(body=new.body, type_ignores=[])) if isinstance(n, ast.Name)}
    names = Names(taken, set())

    def rewrite(stmts):
        out = []
        for stmt in stmts:
            for part in ("body", "orelse"):
                if isinstance(stmt, (ast.If, ast.For, ast.While)):
                    setattr(stmt, part, rewrite(getattr(stmt, part)))
            if getattr(stmt, "sd_update", False) and is_array(stmt.targets[0].id):
                temp = names.fresh("_u")
                array = stmt.targets[0].id
                index = ast.Slice() if ndim_of(array) else ast.Tuple(elts=[], ctx=ast.Load())
                whole = ast.Subscript(value=name(array), slice=index, ctx=ast.Store())
                out += [assign(temp, stmt.value, stmt), assign(whole, name(temp), stmt)]
            else:
                out.append(stmt)
        return out
    new.body = rewrite(new.body)
    new.temps = core.temps | names.temps
    return new


def _statements(stmts):
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            yield from _statements(stmt.body)
            yield from _statements(stmt.orelse)


def _discards(stmts, names):
    """Each ``_`` stored into a fresh name when ``_`` is never read: unpacking discards
    values of different kinds into it (``_, g = ...`` of a float, then of an array)."""
    module = ast.Module(body=stmts, type_ignores=[])
    found = [n for n in ast.walk(module) if isinstance(n, ast.Name) and n.id == "_"]
    if any(isinstance(n.ctx, ast.Load) for n in found):
        return stmts
    for n in found:
        n.id = names.fresh("_discard")
    return stmts


def _iterate_by_index(stmts, names):
    """``for row in a:`` becomes ``for _i in range(len(a)): row = a[_i]``."""
    out = []
    for stmt in stmts:
        for part in ("body", "orelse"):
            if isinstance(getattr(stmt, part, None), list):
                setattr(stmt, part, _iterate_by_index(getattr(stmt, part), names))
        if isinstance(stmt, ast.For) and not _is_range(stmt.iter):
            sequence = stmt.iter
            if not isinstance(sequence, ast.Name):
                held = names.fresh("_seq")
                out.append(ast.copy_location(assign(held, sequence), stmt))
                sequence = name(held)
            index = names.fresh("_i")
            item = assign(stmt.target, ast.Subscript(value=copy.deepcopy(sequence), slice=name(index),
                                                     ctx=ast.Load()), stmt)
            stmt.target = name(index, ast.Store())
            stmt.iter = ast.Call(func=name("range"), args=[ast.Call(func=name("len"), args=[sequence],
                                                                      keywords=[])], keywords=[])
            stmt.body = [item] + stmt.body
        out.append(stmt)
    return out


def _is_range(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def _mark_counters(stmts, names):
    for stmt in stmts:
        if isinstance(stmt, (ast.For, ast.While)):
            needs = isinstance(stmt, ast.While) or any(is_breakif(s) for s in stmt.body)
            stmt.sd_counter = names.fresh("_n") if needs else None
            _mark_counters(stmt.body, names)
        elif isinstance(stmt, ast.If):
            _mark_counters(stmt.body, names)
            _mark_counters(stmt.orelse, names)
