"""The transforms of SPEC.md: grad, value_and_grad, jvp, vjp, jacfwd, jacrev, hessian, jit.

Each transform is a ``Transformed`` object.  Called, it binds the arguments,
takes their kinds, and builds (once per kinds) a generated module holding the
derivative functions and a small entry function; the entry's flat results
are put back into the shape JAX would return.
"""
import ast
import functools
import inspect
import os

from . import kinds as K
from .backends import modules, numba_cpu, numba_cuda, python
from .custom import RuleMissing
from .errors import ReverseThroughArrays, TransformError, error_at
from .frontend.normalize import name
from .transform import program as P

BACKENDS = {"numba": numba_cpu, "python": python, "cuda": numba_cuda}
CUDA_MODES = ("jit", "grad", "value_and_grad", "jvp")      # the transforms that make device functions
FORWARD_FALLBACK = {"grad": "_entry_grad_forward", "value_and_grad": "_entry_value_and_grad_forward",
                    "jacrev": "_entry_jacfwd"}


def default_backend():
    return os.environ.get("SOURCEDIFF_BACKEND", "numba")


def _backend(backend):
    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose 'numba', 'python' or 'cuda'")
    if backend == "cuda":
        numba_cuda.require()
    return backend


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


# ------------------------------------------------------------------ result trees
# A tree is "leaf" or a tuple of trees; results are built from flat tuples.

def _build(tree, flat, pos=0):
    if tree == "leaf":
        return flat[pos], pos + 1
    items = []
    for t in tree:
        item, pos = _build(t, flat, pos)
        items.append(item)
    return tuple(items), pos


def _map_leaves(tree, fn):
    return fn() if tree == "leaf" else tuple(_map_leaves(t, fn) for t in tree)


class Entry:
    """A compiled specialisation: the entry function and how to shape its results."""

    def __init__(self, function, source, tree):
        self.function, self.source, self.tree = function, source, tree

    def __call__(self, *args):
        flat = self.function(*args)
        if not isinstance(flat, tuple):
            flat = (flat,)
        return _build(self.tree, flat)[0]


class Transformed:
    """A function transformed by sourcediff; call it like the original."""

    def __init__(self, fn, mode, argnums=0, has_aux=False, backend=None, max_trips=None):
        self.fn, self.mode, self.has_aux = fn, mode, has_aux
        self.argnums = argnums
        self.backend = backend
        self.max_trips = max_trips      # the tape bound of device code (see backends/cuda_lower.py)
        self._entries = {}
        self._last = None
        functools.update_wrapper(self, fn, updated=())
        self.__name__ = f"{getattr(fn, '__name__', 'f')}_{mode}"
        self._signature = getattr(fn, "signature", None) or inspect.signature(fn)
        self._params = tuple(self._signature.parameters)

    # -------------------------------------------------------- calling
    def bind(self, args, kwargs):
        if not kwargs and len(args) == len(self._params):
            return tuple(args)
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}: {e}") from None
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    def kinds(self, args):
        out = []
        for i, (param, value) in enumerate(zip(self._params, args)):
            kind = K.of_value(value)
            if kind is None or isinstance(kind, K.Tuple):
                # name what came, and what was expected: the last call's kind where there was one
                import numpy as np
                seen = self._last[i] if self._last and i < len(self._last) else None
                got = (f"a NumPy array of {value.dtype}" if isinstance(value, np.ndarray) else
                       "complex (sourcediff differentiates real-valued code)"
                       if isinstance(value, (complex, np.complexfloating)) else
                       "None" if value is None else type(value).__name__)
                expected = (f"a NumPy array of floats, ints or bools (the last call passed {seen})"
                            if isinstance(seen, K.Array) else
                            f"{'an' if seen == 'int' else 'a'} {seen}, as in the last call" if seen else
                            "a float, int, bool or NumPy array of them")
                hint = f"; convert it with np.asarray({param})" if isinstance(value, (list, tuple)) else ""
                raise TypeError(f"{self.__name__}: argument `{param}` is {got}; expected {expected}{hint}")
            if type(value) is int and not -2 ** 63 <= value < 2 ** 63 and \
                    (self.backend or default_backend()) == "numba":
                raise TypeError(f"{self.__name__}: argument `{param}` is an int that does not fit in 64 bits "
                                f"({value}); compiled code takes 64-bit integers")
            out.append(kind)
        return tuple(out)

    def __call__(self, *args, **kwargs):
        args = self.bind(args, kwargs)
        return self.entry(self.kinds(args))(*args)

    def entry(self, kinds):
        entry = self._entries.get(kinds)
        if entry is not None:      # built: no lock (a dict read is atomic)
            self._last = kinds
            return entry
        # Builds take the program's lock, not one per function: a build holds it while it asks
        # other transformed functions (callees, nested transforms) for theirs, so one lock per
        # function would let two threads wait for each other (measured: a deadlock).
        with P._lock:
            if kinds not in self._entries:
                try:
                    self._entries[kinds] = self._build(kinds)
                except (TransformError, TypeError, ValueError, RuleMissing, ImportError):
                    raise
                except Exception as e:     # a sourcediff bug: say so, keep the cause chained
                    raise TransformError(
                        f"internal error while generating the {self.mode} of "
                        f"{getattr(self.fn, '__qualname__', self.fn)} for arguments {kinds}: "
                        f"{type(e).__name__}: {e}. Please report it with the function's source.") from e
            self._last = kinds
            return self._entries[kinds]

    # -------------------------------------------------------- composition
    def sd_python_function(self, kinds):
        """The generated Python function for ``kinds`` (so transforms compose)."""
        entry = self.entry(tuple(kinds))
        return getattr(entry.function, "py_func", entry.function)

    @property
    def sd_signature_of(self):
        return self.fn

    def out_tree(self, kinds):
        return self.entry(tuple(kinds)).tree

    # -------------------------------------------------------- source
    @property
    def source(self):
        """The generated source that runs: for the last call's argument kinds, else guessed kinds."""
        kinds = self._last or guess_kinds(self.fn)
        return self.entry(kinds).source

    def __repr__(self):
        return f"<sourcediff {self.mode} of {getattr(self.fn, '__qualname__', self.fn)}>"

    def __reduce__(self):
        return (Transformed, (self.fn, self.mode, self.argnums, self.has_aux, self.backend, self.max_trips))

    # -------------------------------------------------------- device code
    def device_function(self):
        """The numba.cuda device function, for argument kinds read from the source (``guess_kinds``)."""
        if self.mode not in CUDA_MODES:
            raise ValueError(f"backend='cuda' makes device functions of {', '.join(CUDA_MODES)}; "
                             f"compute a {self.mode} inside a kernel from grad or jvp")
        _backend(self.backend)
        kinds = guess_kinds(self.fn)
        try:
            entry = self.entry(kinds)
        except TransformError as e:     # the kinds were guessed: say so, and how to change them
            built_for = ", ".join(f"{p}: {k}" for p, k in zip(self._params, kinds))
            raise TransformError(f"{e.reason}\n(the device function is built for ({built_for}), read from "
                                 "the source; annotate parameters to change that, e.g. `n: int`)",
                                 e.filename, e.lineno, e.code) from None
        device = entry.function
        device.source = entry.source
        device.sd_transformed = self        # so sd.vectorize can build it for another target
        return device

    # -------------------------------------------------------- building
    def _build(self, kinds):
        backend = _backend(self.backend)
        program = P.Program()
        fn = P.concrete(self.fn, kinds)
        core = P.core_of(fn)
        types = P.types_of(fn, kinds)
        out_tree = _inner_tree(self.fn, kinds, core)
        try:
            entry_name, tree = getattr(self, f"_entry_{self.mode}")(program, fn, core, types, kinds, out_tree)
            functions = program.build()
        except ReverseThroughArrays:
            # reverse over code whose values live in arrays (another transform's tape):
            # the same derivatives from forward sweeps, one per differentiated input
            if self.mode not in FORWARD_FALLBACK:
                raise
            program = P.Program()
            builder = getattr(self, FORWARD_FALLBACK[self.mode])
            entry_name, tree = builder(program, fn, core, types, kinds, out_tree)
            functions = program.build()
        backend_module = BACKENDS[backend]
        if backend == "cuda":
            functions, entry_name = numba_cuda.prepare(program, functions, entry_name, tree, self.max_trips)
        # Numba crashes loading recursive functions from its cache in a new process (seen with
        # Numba 0.68), so a module with a call cycle is compiled afresh in each process.
        # Entry wrappers stay plain Python: compiled, Numba would optimise the whole callee again.
        cache = not program.recursive
        body = "\n\n\n".join(ast.unparse(f) if getattr(f, "sd_python_only", False)
                              else backend_module.decorate(ast.unparse(f), cache=cache) for f in functions)
        origin = os.path.basename(core.source.filename)
        source = f'"""{self.mode} of {core.name} (from {origin}), generated by sourcediff."""\n' + \
            backend_module.HEADER + "\n\n" + body + "\n"
        module = modules.load(source, core.name)
        for fn_name, origin in program.origins.items():      # so transforms of this code see
            py_func = getattr(getattr(module, fn_name), "py_func", getattr(module, fn_name))
            py_func.sd_origin = origin                      # custom functions, not their bodies
        function = backend_module.finish(getattr(module, entry_name))
        return Entry(function, source, tree)

    def _diff_params(self, core, kinds, types):
        nums = _argnums_tuple(self.argnums)
        for n in nums:
            if not 0 <= n < len(core.params):
                raise TypeError(f"argnums {self.argnums} out of range for {core.name} "
                                f"with {len(core.params)} parameters")
            if not K.is_float(kinds[n]):
                raise error_at(core.source.node, core.source,
                               f"{self.mode} requires real-valued (float) inputs; argument "
                               f"`{core.params[n]}` of {core.name} is {kinds[n]}. Pass a float "
                               f"(e.g. {core.params[n]}=1.0) or differentiate another argument")
        return nums

    def _check_scalar_output(self, core, types, what):
        result = types.result
        value = result.items[0] if self.has_aux else result
        if self.has_aux and not (isinstance(result, K.Tuple) and len(result.items) == 2):
            raise error_at(core.body[-1], core.source, f"{what} with has_aux=True needs the function "
                           "to return a pair (value, aux)")
        if value != "float":
            shown = f"{len(value.items)} values" if isinstance(value, K.Tuple) else str(value)
            raise error_at(_return_node(core), core.source,
                           f"{what} requires a scalar float output; {core.name} returns {shown}. "
                           "Use jacrev or vjp for several outputs, or return one float")

    def _entry_jit(self, program, fn, core, types, kinds, out_tree):
        return program.request(fn, kinds, "primal", None), out_tree

    def _entry_jvp(self, program, fn, core, types, kinds, out_tree):
        mask = tuple(K.is_float(k) for k in kinds)
        name_ = program.request(fn, kinds, "jvp", mask)
        dots = tuple("leaf" for k in _output_kinds(types) if K.is_float(k))
        return name_, (out_tree, dots[0] if out_tree == "leaf" else dots)

    def _entry_vjp(self, program, fn, core, types, kinds, out_tree):
        mask = tuple(K.is_float(k) for k in kinds)
        name_ = program.request(fn, kinds, "vjp", mask)
        return name_, (out_tree,) + tuple("leaf" for m in mask if m)

    def _grad_wrapper(self, program, fn, core, types, kinds, with_value, forward=False):
        nums = self._diff_params(core, kinds, types)
        self._check_scalar_output(core, types, self.mode)
        mask = tuple(i in nums for i in range(len(kinds)))
        outs = _output_kinds(types)
        results = [f"_out{i}" for i in range(len(outs))]
        grads = [f"{core.params[i]}_grad" for i in sorted(set(nums))]
        if forward and any(isinstance(kinds[n], K.Array) for n in nums):
            jvp = program.request(fn, kinds, "jvp", mask)
            body = _sweeps("forward", jvp, core.params, sorted(set(nums)), outs, results, grads)
        elif forward:
            jvp = program.request(fn, kinds, "jvp", mask)
            dots = [f"_dot{i}" for i, k in enumerate(outs) if K.is_float(k)]
            body = []
            for n, grad in zip(sorted(set(nums)), grads):
                tangents = [ast.Constant(1.0 if m == n else 0.0) for m in sorted(set(nums))]
                body.append(_unpack(results + [grad] + dots[1:], _call(jvp, core.params, tangents)))
        else:
            vjp = program.request(fn, kinds, "vjp", mask)
            seeds = [ast.Constant(1.0 if i == 0 else 0.0) for i, k in enumerate(outs) if K.is_float(k)]
            body = [_unpack(results + grads, _call(vjp, core.params, seeds))]
        grad_of = {i: g for i, g in zip(sorted(set(nums)), grads)}
        grads_out = [grad_of[i] for i in nums]
        if with_value:
            returned = results + grads_out
        else:
            returned = grads_out + (results[1:] if self.has_aux else [])
        entry = program.unique(f"{core.name}_{self.mode}")
        program.add(_function(entry, core.params, body, returned))
        grad_tree = "leaf" if isinstance(self.argnums, int) else tuple("leaf" for _ in nums)
        aux_tree = _tree_of(outs[1]) if self.has_aux else None
        if with_value:
            value_tree = ("leaf", aux_tree) if self.has_aux else "leaf"
            return entry, (value_tree, grad_tree)
        return entry, ((grad_tree, aux_tree) if self.has_aux else grad_tree)

    def _entry_grad(self, *a, forward=False):
        return self._grad_wrapper(*a[:5], with_value=False, forward=forward)

    def _entry_value_and_grad(self, *a, forward=False):
        return self._grad_wrapper(*a[:5], with_value=True, forward=forward)

    def _entry_grad_forward(self, *a):
        return self._entry_grad(*a, forward=True)

    def _entry_value_and_grad_forward(self, *a):
        return self._entry_value_and_grad(*a, forward=True)

    def _array_jacobian(self, program, fn, core, types, kinds, out_tree, direction):
        """jacfwd/jacrev where an argument or output is an array: one sweep per element."""
        nums = self._diff_params(core, kinds, types)
        mask = tuple(i in nums for i in range(len(kinds)))
        outs = _output_kinds(types)
        _check_all_float(core, outs, self.mode)
        derivative = program.request(fn, kinds, "jvp" if direction == "forward" else "vjp", mask)
        primal = program.request(fn, kinds, "primal", None) if direction == "reverse" else None
        results = [f"_o{i}" for i in range(len(outs))]
        blocks = [f"_j{i}_{n}" for i in range(len(outs)) for n in nums]
        body = _sweeps(direction, derivative, core.params, nums, outs, results, blocks, primal)
        entry = program.unique(f"{core.name}_{self.mode}")
        program.add(_function(entry, core.params, body, blocks))
        return entry, _jacobian_tree(out_tree, self.argnums, nums)

    def _has_arrays(self, core, types, kinds):
        nums = _argnums_tuple(self.argnums)
        return any(isinstance(kinds[n], K.Array) for n in nums if n < len(kinds)) or \
            any(isinstance(k, K.Array) for k in _output_kinds(types))

    def _entry_jacfwd(self, program, fn, core, types, kinds, out_tree):
        if self._has_arrays(core, types, kinds):
            return self._array_jacobian(program, fn, core, types, kinds, out_tree, "forward")
        nums = self._diff_params(core, kinds, types)
        mask = tuple(i in nums for i in range(len(kinds)))
        jvp = program.request(fn, kinds, "jvp", mask)
        outs = _output_kinds(types)
        float_outs = [i for i, k in enumerate(outs) if K.is_float(k)]
        _check_all_float(core, outs, "jacfwd")
        body, columns = [], []
        for j, n in enumerate(nums):
            tangents = [ast.Constant(1.0 if m == n else 0.0) for m in sorted(set(nums))]
            values = [f"_o{j}_{i}" for i in range(len(outs))]
            dots = [f"_d{j}_{i}" for i in float_outs]
            body.append(_unpack(values + dots, _call(jvp, core.params, tangents)))
            columns.append(dots)
        returned = [columns[j][i] for i in range(len(float_outs)) for j in range(len(nums))]
        entry = program.unique(f"{core.name}_jacfwd")
        program.add(_function(entry, core.params, body, returned))
        return entry, _jacobian_tree(out_tree, self.argnums, nums)

    def _entry_jacrev(self, program, fn, core, types, kinds, out_tree):
        if self._has_arrays(core, types, kinds):
            outs = _output_kinds(types)
            if len(outs) == 1 and outs[0] == "float":      # a gradient: one reverse sweep
                self.has_aux = False
                entry, tree = self._grad_wrapper(program, fn, core, types, kinds, with_value=False)
                return entry, _jacobian_tree(out_tree, self.argnums, _argnums_tuple(self.argnums))
            return self._array_jacobian(program, fn, core, types, kinds, out_tree, "reverse")
        nums = self._diff_params(core, kinds, types)
        mask = tuple(i in nums for i in range(len(kinds)))
        vjp = program.request(fn, kinds, "vjp", mask)
        outs = _output_kinds(types)
        _check_all_float(core, outs, "jacrev")
        body, returned = [], []
        for i in range(len(outs)):
            seeds = [ast.Constant(1.0 if m == i else 0.0) for m in range(len(outs))]
            values = [f"_o{i}_{m}" for m in range(len(outs))]
            bars = {n: f"_b{i}_{n}" for n in sorted(set(nums))}
            body.append(_unpack(values + list(bars.values()), _call(vjp, core.params, seeds)))
            returned += [bars[n] for n in nums]
        entry = program.unique(f"{core.name}_jacrev")
        program.add(_function(entry, core.params, body, returned))
        return entry, _jacobian_tree(out_tree, self.argnums, nums)


def _output_kinds(types):
    return types.result.items if isinstance(types.result, K.Tuple) else (types.result,)


def _tree_of(kind):
    return tuple(_tree_of(k) for k in kind.items) if isinstance(kind, K.Tuple) else "leaf"


def _inner_tree(fn, kinds, core):
    if isinstance(fn, Transformed):
        return fn.out_tree(kinds)
    return "leaf" if len(core.outputs) == 1 else tuple("leaf" for _ in core.outputs)


def _jacobian_tree(out_tree, argnums, nums):
    inner = "leaf" if isinstance(argnums, int) else tuple("leaf" for _ in nums)
    return _map_leaves(out_tree, lambda: inner)


def _check_all_float(core, outs, what):
    for k in outs:
        if not K.is_float(k):
            raise error_at(_return_node(core), core.source,
                           f"{what} needs float outputs; {core.name} returns {k}")


def _return_node(core):
    lines = [s for s in ast.walk(core.source.node) if isinstance(s, ast.Return)]
    return lines[-1] if lines else core.body[-1]


def _sweeps(direction, derivative, params, nums, outs, results, blocks, primal=None):
    """Statements computing outputs and Jacobian blocks with ``jacobians.forward``/``reverse``."""
    floats = tuple(i for i, k in enumerate(outs) if K.is_float(k))
    args = f"{derivative}, " + (f"{primal}, " if primal else "") + \
        f"({', '.join(params)},), {tuple(nums)}, {len(outs)}, {floats}"
    source = (f"from sourcediff import jacobians\n"
              f"_outputs, _blocks = jacobians.{direction}({args})\n"
              f"{', '.join(results)}, = _outputs\n"
              f"{', '.join(blocks)}, = _blocks[:{len(blocks)}]\n")
    return ast.parse(source).body


def _call(fn_name, params, extra):
    return ast.Call(func=name(fn_name), args=[name(p) for p in params] + list(extra), keywords=[])


def _unpack(names_, value):
    target = ast.Tuple(elts=[name(n, ast.Store()) for n in names_], ctx=ast.Store())
    return ast.Assign(targets=[target], value=value)


def _function(fn_name, params, body, returned):
    value = name(returned[0]) if len(returned) == 1 else \
        ast.Tuple(elts=[name(r) for r in returned], ctx=ast.Load())
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    fn = ast.FunctionDef(name=fn_name, args=args, body=body + [ast.Return(value=value)],
                         decorator_list=[], returns=None, type_params=[])
    return ast.fix_missing_locations(fn)


def guess_kinds(fn):
    """Argument kinds for showing source before any call: annotations, defaults, then use."""
    target = getattr(fn, "fn", fn)
    if isinstance(target, Transformed):
        return guess_kinds(target)
    sig = inspect.signature(target)
    try:
        from .frontend.parse import parse
        node = parse(target).node
    except TransformError:
        node = None
    usage = _usage(node) if node is not None else {}
    out = []
    for p in sig.parameters.values():
        ann = p.annotation
        if ann in (int, float, bool):
            out.append(ann.__name__)
        elif p.default is not inspect.Parameter.empty and K.of_value(p.default) in K.SCALARS:
            out.append(K.of_value(p.default))
        elif p.name in usage:
            out.append(usage[p.name])
        else:
            out.append("float")
    return tuple(out)


def _usage(node):
    usage = {}
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "range":
            for a in n.args:
                if isinstance(a, ast.Name):
                    usage[a.id] = "int"
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
            idx = n.slice
            ndim = len(idx.elts) if isinstance(idx, ast.Tuple) else 1
            usage[n.value.id] = K.Array("float64", ndim)
            for i in (idx.elts if isinstance(idx, ast.Tuple) else [idx]):
                if isinstance(i, ast.Name):
                    usage.setdefault(i.id, "int")
        if isinstance(n, ast.Attribute) and n.attr == "shape" and isinstance(n.value, ast.Name):
            usage.setdefault(n.value.id, K.Array("float64", 1))
    return usage


# ------------------------------------------------------------------ public functions

def _transform(fun, mode, argnums=0, has_aux=False, backend=None, max_trips=None):
    """A Transformed; on backend='cuda' the numba.cuda device function it compiles to."""
    if max_trips is not None and not (isinstance(max_trips, int) and max_trips >= 0):
        raise ValueError(f"max_trips must be an int >= 0, the most iterations of a loop; got {max_trips!r}")
    transformed = Transformed(fun, mode, argnums, has_aux, backend, max_trips)
    if (backend or default_backend()) == "cuda":
        return transformed.device_function()
    return transformed


def grad(fun, argnums=0, has_aux=False, *, backend=None, max_trips=None):
    return _transform(fun, "grad", argnums, has_aux, backend, max_trips)


def value_and_grad(fun, argnums=0, has_aux=False, *, backend=None, max_trips=None):
    return _transform(fun, "value_and_grad", argnums, has_aux, backend, max_trips)


def jacfwd(fun, argnums=0, *, backend=None):
    return _transform(fun, "jacfwd", argnums, False, backend)


def jacrev(fun, argnums=0, *, backend=None):
    return _transform(fun, "jacrev", argnums, False, backend)


def hessian(fun, argnums=0, *, backend=None):
    return jacfwd(jacrev(fun, argnums, backend=backend), argnums, backend=backend)


def jit(fun, *, backend=None):
    return _transform(fun, "jit", 0, False, backend)


def jvp(fun, primals=None, tangents=None, *, backend=None):
    """(primal_out, tangent_out) of ``fun`` at ``primals`` along ``tangents``.

    On backend='cuda', called without primals and tangents: the device
    function ``(*primals, *tangents) -> (primal_out, tangent_out)``, with one
    tangent per float parameter.
    """
    device = (backend or default_backend()) == "cuda"
    if primals is None and tangents is None and device:
        return _transform(fun, "jvp", backend=backend)
    if device:
        raise TypeError("jvp on backend='cuda' runs inside kernels: call jvp(f, backend='cuda') without "
                        "primals and tangents for the device function of both")
    if primals is None or tangents is None:
        raise TypeError("jvp needs primals and tangents (only jvp(f, backend='cuda') returns a function)")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    t = _cached(fun, "jvp", backend)
    args = t.bind(primals, {})
    kinds = t.kinds(args)
    floats = [_like(tan, k, p) for tan, k, p in zip(tangents, kinds, args) if K.is_float(k)]
    return t.entry(kinds)(*args, *floats)


def _like(value, kind, primal=None):
    """A tangent or cotangent converted to ``kind``: a float, or an array of its dtype
    (a number given for an array argument fills an array shaped like it)."""
    if isinstance(kind, K.Array):
        import numpy as np
        value = np.asarray(value, dtype=kind.dtype)
        if primal is not None and value.shape != np.shape(primal):
            value = np.broadcast_to(value, np.shape(primal)).copy()
        return value
    return float(value)


def vjp(fun, *primals, has_aux=False, backend=None):
    """(primal_out, vjp_fn) or, with has_aux, (primal_out, vjp_fn, aux)."""
    if (backend or default_backend()) == "cuda":
        raise ValueError("vjp evaluates at given primals on the host; inside kernels use "
                         "grad(f, backend='cuda') or value_and_grad(f, backend='cuda')")
    t = _cached(fun, "vjp", backend)
    args = t.bind(primals, {})
    kinds = t.kinds(args)
    entry = t.entry(kinds)
    tree = entry.tree[0]
    fn = P.concrete(fun, kinds)
    out_kinds = _output_kinds(P.types_of(fn, kinds))
    is_float = [K.is_float(k) for k in out_kinds]
    out = _cached(fun, "jit", backend)(*args)
    float_params = [i for i, k in enumerate(kinds) if K.is_float(k)]

    def vjp_fn(ct):
        cts = (ct,) if tree == "leaf" else _flatten(ct if not has_aux else (ct, _zeros_like(out[1])))
        if len(cts) != len(is_float):
            raise TypeError(f"vjp_fn: the cotangent must have the structure of the output {out!r}")
        result = entry(*args, *[_like(c, k) for c, k, f in zip(cts, out_kinds, is_float) if f])
        bars = dict(zip(float_params, result[1:]))
        return tuple(bars.get(i, 0.0) for i in range(len(args)))
    if has_aux:
        return out[0], vjp_fn, out[1]
    return out, vjp_fn


def _flatten(tree):
    if isinstance(tree, tuple):
        return [leaf for t in tree for leaf in _flatten(t)]
    return [tree]


def _zeros_like(tree):
    return tuple(_zeros_like(t) for t in tree) if isinstance(tree, tuple) else 0.0


_transform_cache = {}


def _cached(fun, mode, backend):
    key = (fun, mode, backend or default_backend())
    if key not in _transform_cache:
        _transform_cache[key] = Transformed(fun, mode, 0, False, backend)
    return _transform_cache[key]


def show(fun, mode=None):
    """Print the generated source of a transformed function (or of ``mode`` of a plain one)."""
    if getattr(fun, "sd_transformed", None) is not None:      # a device function: its source as built
        print(fun.source)
        return
    t = fun if isinstance(fun, Transformed) else Transformed(fun, mode or "jit")
    print(t.source)
