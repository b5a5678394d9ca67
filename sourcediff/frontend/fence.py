"""The language sourcediff differentiates, checked before any code is generated."""
import ast

from ..errors import error_at

STATEMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If, ast.For, ast.While,
              ast.Break, ast.Continue, ast.Return, ast.Pass, ast.Expr)
EXPRESSIONS = (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp, ast.Call,
               ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Tuple, ast.Slice, ast.List, ast.Dict,
               ast.Lambda)
HELPER = (ast.Load, ast.Store, ast.keyword, ast.operator, ast.unaryop, ast.cmpop,
          ast.boolop, ast.arguments, ast.arg, ast.alias)

ADVICE = {
    ast.ListComp: "list comprehensions are not supported; write a for loop over range(...)",
    ast.GeneratorExp: "generator expressions are not supported; write a for loop over range(...)",
    ast.DictComp: "dict comprehensions are not supported",
    ast.SetComp: "set comprehensions are not supported",
    ast.FunctionDef: "functions defined inside a differentiated function are not supported; "
                     "define them at module level and call them",
    ast.Try: "try/except is not supported in differentiated code",
    ast.With: "with-statements are not supported in differentiated code",
    ast.Global: "global/nonlocal declarations are not supported; pass values as arguments",
    ast.Nonlocal: "global/nonlocal declarations are not supported; pass values as arguments",
    ast.Delete: "del is not supported",
    ast.Yield: "generators (yield) are not supported",
    ast.YieldFrom: "generators (yield) are not supported",
    ast.Await: "async code is not supported",
    ast.NamedExpr: "assignment expressions (:=) are not supported; assign on a separate line",
    ast.JoinedStr: "strings are not supported in differentiated code",
    ast.Set: "sets are not supported",
    ast.Starred: "star-arguments are not supported; pass arguments by position",
    ast.Assert: "assert is not supported in differentiated code",
    ast.Raise: "raise is not supported in differentiated code",
    ast.Import: "import inside the function is not supported; import at module level",
    ast.ImportFrom: "import inside the function is not supported; import at module level",
    ast.Match: "match statements are not supported; use if/elif/else",
}

SUPPORTED = ("supported are: numbers, operators, math/NumPy scalar functions, if/elif/else, "
             "for over range(...), while, break, continue, return, tuple unpacking, "
             "calls to plain Python functions, NumPy arrays (elements, slices, writes) and "
             "NumPy functions on them, and pytrees (tuples, lists, dicts, namedtuples) read "
             "with constant keys")


def check(source):
    """Raise TransformError at the first construct outside the supported subset."""
    fn = source.node
    args = fn.args
    if args.vararg or args.kwarg or args.posonlyargs or args.kwonlyargs:
        raise error_at(fn, source, "sourcediff needs plain positional parameters "
                       "(no *args, **kwargs, keyword-only or positional-only markers)")
    for stmt in fn.body:
        for node in ast.walk(stmt):
            _check_node(node, source)


def _check_node(node, source):
    if type(node) in ADVICE:
        raise error_at(node, source, ADVICE[type(node)])
    if isinstance(node, (ast.For, ast.While)) and node.orelse:
        raise error_at(node, source, "for/while ... else is not supported; use a flag variable")
    if isinstance(node, ast.For):
        if not isinstance(node.target, ast.Name):
            raise error_at(node, source, "a for loop needs a single loop variable (for i in range(...))")
        it = node.iter
        is_range = isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
        if (is_range and (it.keywords or not 1 <= len(it.args) <= 3)) or \
                isinstance(it, (ast.Tuple, ast.List, ast.Constant, ast.Set, ast.Dict)):
            raise error_at(node, source, "for loops must run over range(stop), range(start, stop), "
                           "range(start, stop, step) or the rows of a NumPy array")
    if isinstance(node, ast.Expr) and not (
            isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)) \
            and not is_breakpoint(node):
        raise error_at(node, source, "an expression statement has no effect on the result; "
                       "assign its value or remove it")
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bool, int, float)):
        if not isinstance(node.value, str) and node.value is not None:
            raise error_at(node, source, f"constants of type {type(node.value).__name__} are "
                           "not supported; use int, float or bool")
    if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn, ast.Is, ast.IsNot))
                                             for op in node.ops):
        raise error_at(node, source, "`in` and `is` comparisons are not supported; "
                       "compare numbers with < <= > >= == !=")
    if not isinstance(node, STATEMENTS + EXPRESSIONS + HELPER):
        raise error_at(node, source, f"{type(node).__name__} is not supported; {SUPPORTED}")


def is_breakpoint(stmt):
    """``breakpoint()``: stops the Python backend there; does nothing in compiled code."""
    value = stmt.value
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and \
        value.func.id == "breakpoint" and not value.args and not value.keywords
