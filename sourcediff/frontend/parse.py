"""Read a user's function: its source, its AST and the values its names refer to.

Functions sourcediff builds from a user's (flattened rules, pytree leaves)
are ``Synthetic``: an AST with a ``BoundSource`` naming what it refers to.
"""
import ast
import builtins
import functools
import inspect
import textwrap
from dataclasses import dataclass

from ..errors import TransformError


@dataclass(eq=False)
class Source:
    fn: object              # the Python function
    node: ast.FunctionDef   # line numbers are the file's
    filename: str

    @property
    def name(self):
        return self.node.name

    def lookup(self, name):
        """The value ``name`` has in the function's closure, globals or builtins."""
        code = self.fn.__code__
        if name in code.co_freevars:
            cell = self.fn.__closure__[code.co_freevars.index(name)]
            try:
                return cell.cell_contents
            except ValueError:
                raise KeyError(name) from None
        if name in self.fn.__globals__:
            return self.fn.__globals__[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise KeyError(name)


class BoundSource(Source):
    """A parsed function whose names ``bindings`` override the function's own."""

    def __init__(self, fn, node, filename, bindings):
        super().__init__(fn, node, filename)
        self.bindings = bindings

    def lookup(self, name):
        if name in self.bindings:
            return self.bindings[name]
        return super().lookup(name)


class Synthetic:
    """A function sourcediff built from a user's: an AST, its names, where it came from."""

    def __init__(self, source, label):
        self.sd_source = source
        self.__name__ = source.node.name
        self.label = label

    def __repr__(self):
        return f"<sourcediff {self.label}>"

    def __deepcopy__(self, memo):       # a function: copies of the ASTs naming it name it too
        return self

    @property
    def signature(self):
        return inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                  for p in (a.arg for a in self.sd_source.node.args.args)])


def python_function(fn):
    """The plain Python function behind ``fn`` (a Numba dispatcher, say)."""
    fn = getattr(fn, "py_func", fn)
    if hasattr(fn, "sd_source"):
        return fn
    if isinstance(fn, functools.partial) or not inspect.isfunction(fn):
        raise TransformError(
            f"sourcediff transforms plain Python functions (def or lambda); got {fn!r}")
    return fn


@functools.lru_cache(maxsize=None)
def _parse_cached(fn):
    code = fn.__code__
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as e:
        raise TransformError(
            f"cannot read the source of {fn.__qualname__} ({e}); sourcediff needs functions "
            "defined in a file or module (not typed at an interactive prompt)") from None
    text = textwrap.dedent("".join(lines))
    if fn.__name__ == "<lambda>":
        node = _lambda_node(text, code, start)
    else:
        tree = ast.parse(text)
        node = tree.body[0]
        ast.increment_lineno(tree, start - 1)
        if not isinstance(node, ast.FunctionDef):
            raise TransformError("sourcediff transforms plain `def` functions, not async ones",
                                 code.co_filename, start)
    node.decorator_list = []
    return Source(fn, node, code.co_filename)


def parse(fn):
    if hasattr(fn, "sd_source"):        # a function sourcediff built (a flattened custom rule)
        return fn.sd_source
    return _parse_cached(python_function(fn))


def _lambda_node(text, code, start):
    tree = None
    for attempt in (text, "(" + text.strip().rstrip(",") + ")", text.strip().rstrip(",:")):
        try:
            tree = ast.parse(attempt)
            break
        except SyntaxError:
            continue
    if tree is None:
        raise TransformError("cannot parse the source of this lambda; define it with `def`",
                             code.co_filename, start)
    ast.increment_lineno(tree, start - 1)
    names = list(code.co_varnames[:code.co_argcount])
    candidates = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)
                  and [a.arg for a in n.args.args] == names]
    exact = [n for n in candidates if n.lineno == code.co_firstlineno]
    if not (exact or candidates):
        raise TransformError("cannot find this lambda in its source; define it with `def`",
                             code.co_filename, start)
    lam = (exact or candidates)[0]
    node = ast.FunctionDef(name=f"lambda_{lam.lineno}", args=lam.args,
                           body=[ast.Return(lam.body, lineno=lam.lineno, col_offset=0)],
                           decorator_list=[], returns=None, type_params=[])
    return ast.copy_location(node, lam)
