"""custom_jvp and custom_vjp: JAX's API for user-defined derivative rules.

Called plainly, a custom function runs its body.  Under a transform, the
rules are spliced into the generated code (see ``transform/rules_splice.py``):
a JVP rule gives forward mode directly and reverse mode by transposition; a
custom VJP gives reverse mode through ``fwd`` and ``bwd``.
"""
import functools
import inspect
from dataclasses import dataclass

from . import pytree


class RuleMissing(AttributeError):
    """A custom function is differentiated before its rule was defined."""


class _Custom:
    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(sorted(nondiff_argnums))
        self.signature = inspect.signature(fun)
        count = len(self.signature.parameters)
        for i in self.nondiff_argnums:
            if not 0 <= i < count:
                raise ValueError(f"nondiff_argnums {nondiff_argnums} out of range for "
                                 f"{fun.__name__} with {count} parameters")

    @property
    def name(self):
        return getattr(self.fun, "__name__", repr(self.fun))

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __deepcopy__(self, memo):       # a function: copies of the ASTs calling it call it too
        return self

    @property
    def diff_argnums(self):
        count = len(self.signature.parameters)
        return tuple(i for i in range(count) if i not in self.nondiff_argnums)


class custom_jvp(_Custom):
    """A function with a user-defined JVP rule: ``f.defjvp(rule)``.

    ``rule(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)``;
    the tangent output must be linear in the tangents (reverse mode transposes it).
    """

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums)
        self.jvp = None
        self.jvps = None

    def defjvp(self, jvp):
        self.jvp = jvp
        self.jvps = None
        return jvp

    def defjvps(self, *jvps):
        if self.nondiff_argnums:
            raise TypeError("Can't use ``defjvps`` with ``nondiff_argnums``.")
        if len(jvps) != len(self.signature.parameters):
            raise TypeError(f"defjvps for {self.name} needs one rule (or None) per argument: "
                            f"{len(self.signature.parameters)}, got {len(jvps)}")
        self.jvps = jvps
        self.jvp = None

    def check_defined(self):
        if self.jvp is None and self.jvps is None:
            raise RuleMissing(f"No JVP defined for custom_jvp function {self.name} using defjvp.")


class custom_vjp(_Custom):
    """A function with a user-defined VJP: ``f.defvjp(fwd, bwd)``.

    ``fwd(*args) -> (primal_out, residuals)``;
    ``bwd(*nondiff_args, residuals, cotangent) -> tuple`` with one entry per
    differentiable argument (``None`` for zero).
    """

    def __init__(self, fun, nondiff_argnums=()):
        super().__init__(fun, nondiff_argnums)
        self.fwd = None
        self.bwd = None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def check_defined(self):
        if self.fwd is None:
            raise RuleMissing(f"No VJP defined for custom_vjp function {self.name} using defvjp.")


@dataclass(frozen=True)
class CustomCall:
    """A custom function specialised on the pytree structures of its arguments (``trees``,
    one per parameter; empty when every argument is a single value)."""
    custom: object
    trees: tuple = ()

    def tree(self, i):
        return self.trees[i] if self.trees else pytree.LEAF

    def positions(self):
        """The original argument position of each value a call passes: one per leaf."""
        count = len(self.custom.signature.parameters)
        return [i for i in range(count) for _ in range(pytree.num_leaves(self.tree(i)))]


def is_custom(value):
    return isinstance(value, (custom_jvp, custom_vjp, CustomCall))
