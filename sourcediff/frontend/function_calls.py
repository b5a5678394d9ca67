"""Calls of function values in user code: lambdas, partials, functions passed as
arguments, and transforms (``sd.grad``, ``sd.jvp``, ...) applied inside the code.

A mixin of ``structured.Flattener``: a function value is a pytree node whose
type names the code that runs and whose children are the values it holds
(``function_values``); a call passes those first, then its own arguments.
"""
import ast
import inspect

from .. import pytree as T
from ..custom import is_custom
from . import function_values as F
from . import structured
from .nodes import name
from .resolve import classify


class FunctionCalls:
    def function_called(self, func, ref):
        """The function value a call calls: a name holding a lambda or a partial, ``sd.grad(g)``,
        a transformed or partial function defined outside; None for a plain call."""
        if ref is not None:
            if ref.kind == "other" or hasattr(ref.value, "sd_python_function"):
                return F.of_value(ref.value)
            return None
        if isinstance(func, ast.Attribute) or (isinstance(func, ast.Name) and func.id not in self.env):
            return None
        value = self.value(func)
        return value if F.is_function(value) else None

    def call_function(self, node, function, args):
        """A call of a function value: its target given the values it holds, then ``args``."""
        target, values = function.type.target, list(function.children) + list(args)
        if isinstance(target, F.Nested):
            return self.nested_call(node, target, values, len(args))
        if is_custom(target):
            return self.custom_call(node, target, values)
        if classify(target).kind == "func":
            return self.user_call(node, target, values)
        return self.plain_call(node, target, values)

    def plain_call(self, node, fn, values):
        """A call of ``fn`` with the leaf ``values`` (a rule, a recursion)."""
        call = ast.Call(func=name(self.bind(F.Function(fn).name, fn)),
                        args=[self.leaf_value(v, node) for v in values], keywords=[])
        return ast.copy_location(call, node)

    def lambda_value(self, node):
        args = node.args
        if args.defaults or args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            raise self.error(node, "lambdas in differentiated code take plain positional parameters "
                             "(no defaults, *args or keywords)")
        captured = F.captured_names(node, self.local)
        fn = F.lift(self.source, node, captured)
        return F.node(fn, [self.value(ast.copy_location(name(c), node)) for c in captured])

    def snapshot(self, value, node):
        """``value`` held from now on (names copied), as a partial or a vjp holds what it was given."""
        def hold(leaf):
            if isinstance(leaf, ast.Constant):
                return leaf
            temp = self.fresh("_held")
            self.scalars.add(temp)
            self.pre.append(ast.copy_location(ast.Assign(targets=[name(temp, ast.Store())], value=leaf), node))
            return name(temp)
        if isinstance(value, T.Node):
            return T.Node(value.type, value.keys, tuple(self.snapshot(c, node) for c in value.children))
        return hold(value)

    def partial(self, node):
        if node.keywords or not node.args:
            raise self.error(node, "functools.partial in differentiated code takes a function and "
                             "positional arguments")
        fn = self.value(node.args[0])
        if not F.is_function(fn):
            raise self.error(node, f"`{ast.unparse(node.args[0])}` is not a function")
        held = [self.snapshot(self.value(a), node) for a in node.args[1:]]
        return T.Node(fn.type, (), fn.children + tuple(held))

    def transform_call(self, node, mode):
        """``sd.grad(g, argnums)``, ``sd.value_and_grad(g)``, ``sd.jit(g)``: function values;
        ``sd.jvp(g, primals, tangents)`` and ``sd.vjp(g, *primals)``: their results."""
        from .. import api
        text = ast.unparse(node.func)
        if any(k.arg in ("backend", "max_trips") for k in node.keywords):
            raise self.error(node, f"{text} in differentiated code runs in the enclosing transform's "
                             "backend; leave out backend= and max_trips=")
        try:
            bound = inspect.signature(getattr(api, mode)).bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as e:
            raise self.error(node, f"call of {text}: {e}") from None
        arguments = bound.arguments
        fn = self.value(arguments["fun"])
        if not F.is_function(fn):
            raise self.error(node, f"{text}: `{ast.unparse(arguments['fun'])}` is not a function")
        option = {k: self.static_option(arguments[k], k, text) for k in ("argnums", "has_aux") if k in arguments}
        if mode == "jit":
            return fn
        if mode in F.FUNCTION_MODES:
            nested = F.Nested(mode, fn.type, option.get("argnums", 0), option.get("has_aux", False))
            return T.Node(F.Function(nested), (), fn.children)
        if mode == "hessian":
            argnums = option.get("argnums", 0)
            inner = F.Function(F.Nested("jacrev", fn.type, argnums))
            return T.Node(F.Function(F.Nested("jacfwd", inner, argnums)), (), fn.children)
        if mode == "jvp":
            primals, tangents = (self.value(arguments[k]) if k in arguments else None for k in ("primals", "tangents"))
            if not (isinstance(primals, T.Node) and primals.sequence and isinstance(tangents, T.Node)
                    and T.structure(primals) == T.structure(tangents)):
                raise self.error(node, f"{text}(f, primals, tangents) takes a tuple of primals and a tuple "
                                 "of tangents of the same structure")
            nested = F.Nested("jvp", fn.type, tuple(range(len(primals.children))))
            return self.nested_call(node, nested, list(fn.children) + list(primals.children),
                               len(primals.children), tangents=T.leaves(tangents))
        if option.get("has_aux"):
            raise self.error(node, f"{text}(..., has_aux=True) is not supported in differentiated code; "
                             "compute aux separately")
        primals = [self.snapshot(self.value(p), node) for p in arguments.get("primals", ())]
        out = self.call_function(node, fn, primals)
        nested = F.Nested("vjp", fn.type, tuple(range(len(primals))))
        vjp_fn = T.Node(F.Function(nested), (), fn.children + tuple(primals))
        return T.tuple_of([self.hoist(out) if isinstance(out, structured.Pending) else out, vjp_fn])

    def static_option(self, node, key, text):
        try:
            value = ast.literal_eval(node)
        except ValueError:
            raise self.error(node, f"{text}: {key} must be a constant in differentiated code") from None
        return tuple(value) if isinstance(value, list) else value

    def nested_call(self, node, nested, values, count, tangents=()):
        """A call of a transform applied in code, with ``values`` (the last ``count`` of them
        the call's own arguments): a call of the ``Transformed`` of the function flattened
        for those values; its result has the structure JAX gives."""
        fun_values = values[:-1] if nested.mode == "vjp" else values
        first = len(fun_values) - (len(nested.argnums) if nested.mode == "vjp" else count)
        fn = F.python_callable(nested.fun.target, len(fun_values))
        trees = tuple(T.structure(v) for v in fun_values)
        flat = structured.flatten(fn, trees)
        if flat is None:
            raise self.error(node, f"{nested.mode} of {nested.fun.name} inside itself (a recursion) "
                             "is not supported")
        out_tree = flat.out_tree
        if out_tree is None:
            from ..transform.program import arity
            count_out = arity(flat.fn)
            out_tree = T.LEAF if count_out == 1 else T.tuple_of([T.LEAF] * count_out)
        nums = (nested.argnums,) if isinstance(nested.argnums, int) else tuple(nested.argnums)
        starts = [0]
        for tree in trees:
            starts.append(starts[-1] + T.num_leaves(tree))
        for n in nums:
            if not 0 <= first + n < len(fun_values):
                raise self.error(node, f"argnums {nested.argnums} out of range for {nested.fun.name} "
                                 f"called with {len(fun_values) - first} arguments")
        positions = tuple(j for n in nums for j in range(starts[first + n], starts[first + n + 1]))
        arg_trees = [trees[first + n] for n in nums]
        grad_tree = arg_trees[0] if isinstance(nested.argnums, int) else T.tuple_of(arg_trees)
        if nested.has_aux and not (isinstance(out_tree, T.Node) and out_tree.sequence and len(out_tree.children) == 2):
            raise self.error(node, f"{nested.mode} with has_aux=True needs {nested.fun.name} to return "
                             "a pair (value, aux)")
        jacobian_tree = grad_tree if out_tree is T.LEAF else \
            T.tuple_of([grad_tree] * T.num_leaves(out_tree))
        tree = {"grad": T.tuple_of([grad_tree, out_tree.children[1]]) if nested.has_aux else grad_tree,
                "value_and_grad": T.tuple_of([out_tree, grad_tree]),
                "jacfwd": jacobian_tree, "jacrev": jacobian_tree,
                "jvp": T.tuple_of([out_tree, out_tree]),
                "vjp": T.tuple_of([out_tree, grad_tree])}[nested.mode]
        leaves = [self.leaf_value(leaf, node) for v in values for leaf in T.leaves(v)] + list(tangents)
        seeds = len(leaves) - starts[-1]
        transformed = F.transformed(nested.mode, flat.fn, positions, nested.has_aux, tree, seeds)
        call = ast.Call(func=name(self.bind(f"{nested.mode}_{nested.fun.name}", transformed)),
                        args=leaves, keywords=[])
        ast.copy_location(call, node)
        if nested.mode != "vjp":
            return self.result(call, tree, nested.fun.name)
        return self.hoist(structured.Pending(call, tree, nested.fun.name)).children[1]
