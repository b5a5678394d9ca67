"""The transforms of SPEC.md: grad, value_and_grad, jvp, vjp, jacfwd, jacrev, hessian, jit.

Each transform is a ``Transformed`` object.  Called, it binds the arguments,
takes their kinds (a pytree argument's kind is its structure and the kinds
of its leaves), and builds (once per kinds) a generated module holding the
derivative functions and a small entry function.  The generated code works
on leaves (``frontend/structured.py`` flattens the user's pytrees); the
entry's flat results are put back into the pytrees JAX would return.
"""
import ast
import functools
import inspect
import os
from dataclasses import dataclass

from . import jacobians
from . import kinds as K
from . import pytree as T
from .backends import modules, numba_cpu, numba_cuda, python
from .custom import RuleMissing
from .errors import ReverseThroughArrays, TransformError, error_at
from .frontend import structured
from .frontend.normalize import name
from .transform import program as P
from .transform.vector_forward import NotVectorizable

BACKENDS = {"numba": numba_cpu, "python": python, "cuda": numba_cuda}
CUDA_MODES = ("jit", "grad", "value_and_grad", "jvp")      # the transforms that make device functions
FORWARD_FALLBACK = {"grad": "_entry_grad_forward", "value_and_grad": "_entry_value_and_grad_forward",
                    "jacrev": "_entry_jacfwd", "vjp": "_entry_vjp_forward"}


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


class Entry:
    """A compiled specialisation: the entry function, the pytree its flat results fill,
    and the kinds of the generated function's outputs."""

    def __init__(self, function, source, tree, outputs, transformable=True):
        self.function, self.source, self.tree, self.outputs = function, source, tree, outputs
        self.transformable = transformable    # False: its code has forms other transforms cannot read

    def __call__(self, *args):
        flat = self.function(*args)
        if not isinstance(flat, tuple):
            flat = (flat,)
        return flat[0] if self.tree is T.LEAF else T.unflatten(self.tree, flat)


@dataclass
class Spec:
    """What a specialisation is built from: the function on leaves and its argument pytrees."""
    fn: object
    core: object
    types: object
    kinds: tuple        # of the leaves, which are the parameters of ``fn``
    trees: tuple        # one structure per argument of the user's function
    out_tree: object

    def leaves(self, argnum):
        """The positions among ``kinds`` of the leaves of argument ``argnum``."""
        start = sum(T.num_leaves(t) for t in self.trees[:argnum])
        return range(start, start + T.num_leaves(self.trees[argnum]))

    @property
    def outputs(self):
        return _output_kinds(self.types)


def _leaf_kinds(kinds):
    return tuple(x for k in kinds for x in (k.leaves if isinstance(k, K.Tree) else (k,)))


class Transformed:
    """A function transformed by sourcediff; call it like the original."""

    def __init__(self, fn, mode, argnums=0, has_aux=False, backend=None, max_trips=None):
        self.fn, self.mode, self.has_aux = fn, mode, has_aux
        self.argnums = argnums
        self.backend = backend
        self.max_trips = max_trips      # the tape bound of device code (see backends/cuda_lower.py)
        self._entries = {}
        self._transformable = {}      # kinds -> an entry whose code other transforms can read
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
        return self.kinds_and_leaves(args)[0]

    def kinds_and_leaves(self, args):
        """The arguments' kinds, and their leaves: what the generated code takes."""
        kinds, leaves = [], []
        for i, (param, value) in enumerate(zip(self._params, args)):
            if value is None or isinstance(value, (tuple, list, dict)):
                kinds.append(self._tree_kind(i, param, value, leaves))
            else:
                kinds.append(self._leaf_kind(i, param, value))
                leaves.append(value)
        return tuple(kinds), leaves

    def _tree_kind(self, i, param, value, leaves):
        try:
            flat, tree = T.flatten(value)
        except TypeError as e:
            raise TypeError(f"{self.__name__}: argument `{param}`: {e}") from None
        kinds = tuple([K.of_value(leaf) for leaf in flat])
        if None in kinds or any(type(leaf) is int and not -2 ** 63 <= leaf < 2 ** 63 for leaf in flat):
            # check each leaf, naming the one at fault
            kinds = tuple(self._leaf_kind(i, param + path, leaf, in_tree=True)
                          for path, leaf in zip(T.paths(tree), flat))
        leaves += flat
        return K.Tree(tree, kinds)

    def _leaf_kind(self, i, text, value, in_tree=False):
        kind = K.of_value(value)
        if kind is None:
            import numpy as np
            got = (f"a NumPy array of {value.dtype}" if isinstance(value, np.ndarray) else
                   "complex (sourcediff differentiates real-valued code)"
                   if isinstance(value, (complex, np.complexfloating)) else type(value).__name__)
            raise self._argument_error(i, text, got, in_tree=in_tree)
        if type(value) is int and not -2 ** 63 <= value < 2 ** 63 and \
                (self.backend or default_backend()) == "numba":
            raise TypeError(f"{self.__name__}: argument `{text}` is an int that does not fit in 64 bits "
                            f"({value}); compiled code takes 64-bit integers")
        return kind

    def _argument_error(self, i, text, got, hint="", in_tree=False):
        """Name what came, and what was expected: the last call's kind where there was one."""
        seen = self._last[i] if self._last and i < len(self._last) and not in_tree else None
        expected = (f"a NumPy array of floats, ints or bools (the last call passed {seen})"
                    if isinstance(seen, K.Array) else
                    f"{'an' if seen == 'int' else 'a'} {seen}, as in the last call" if seen else
                    "a float, int, bool or NumPy array of them")
        return TypeError(f"{self.__name__}: argument `{text}` is {got}; expected {expected}{hint}")

    def __call__(self, *args, **kwargs):
        kinds, leaves = self.kinds_and_leaves(self.bind(args, kwargs))
        return self.entry(kinds)(*leaves)

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
    def sd_python_function(self, kinds, runs_as_is=False):
        """The generated Python function for ``kinds`` (so transforms compose); the kinds
        of a call's tangents or cotangents (``sd_seeds``) come last and are left out.
        Unless the caller only ``runs_as_is`` (a compiled primal), it is code another
        transform can read."""
        kinds = tuple(kinds[:len(kinds) - getattr(self, "sd_seeds", 0)])
        entry = self.entry(kinds)
        if not entry.transformable and not runs_as_is:
            # code built for transforms to read: no helper adds into arrays it is given
            with P._lock:
                if kinds not in self._transformable:
                    self._transformable[kinds] = self._build(kinds, final=False)
                entry = self._transformable[kinds]
        return getattr(entry.function, "py_func", entry.function)

    @property
    def signature(self):
        """The parameters of the generated function: the user's, then, for a jvp or vjp
        applied in differentiated code, its tangents or cotangents (``sd_seeds`` of them)."""
        seeds = getattr(self, "sd_seeds", 0)
        if not seeds:
            return self._signature
        params = list(self._params) + [f"_seed{i}" for i in range(seeds)]
        return inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])

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

    def __deepcopy__(self, memo):       # a function: copies of the ASTs naming it name it too
        return self

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
    def _build(self, kinds, final=True):
        backend = _backend(self.backend)
        program = P.Program(final=final and backend != "cuda")
        spec = self._spec(kinds)
        try:
            program, entry_name, tree, functions = self._generate(program, spec, f"_entry_{self.mode}")
        except ReverseThroughArrays:
            # reverse over code whose values live in arrays (another transform's tape):
            # the same derivatives from forward sweeps, one per differentiated input
            if self.mode not in FORWARD_FALLBACK:
                raise
            program, entry_name, tree, functions = self._generate(P.Program(final=program.final), spec,
                                                                  FORWARD_FALLBACK[self.mode])
        backend_module = BACKENDS[backend]
        if backend == "cuda":
            functions, entry_name = numba_cuda.prepare(program, functions, entry_name, tree, self.max_trips)
        # Numba crashes loading recursive functions from its cache in a new process (seen with
        # Numba 0.68), so a module with a call cycle is compiled afresh in each process.
        # Entry wrappers stay plain Python: compiled, Numba would optimise the whole callee again.
        cache = not program.recursive
        body = "\n\n\n".join(ast.unparse(f) if getattr(f, "sd_python_only", False)
                              else backend_module.decorate(ast.unparse(f), cache=cache) for f in functions)
        core = spec.core
        origin = os.path.basename(core.source.filename)
        source = f'"""{self.mode} of {core.name} (from {origin}), generated by sourcediff."""\n' + \
            backend_module.HEADER + "\n\n" + body + "\n"
        module = modules.load(source, core.name)
        for fn_name, origin in program.origins.items():      # so transforms of this code see
            if hasattr(module, fn_name):                    # custom functions, not their bodies
                py_func = getattr(getattr(module, fn_name), "py_func", getattr(module, fn_name))
                py_func.sd_origin = origin
        function = backend_module.finish(getattr(module, entry_name))
        return Entry(function, source, tree, spec.outputs, transformable=not program.used_final_forms)

    def _generate(self, program, spec, entry):
        """(program, entry name, output tree, generated functions), the entry made by ``entry``."""
        try:
            entry_name, tree = getattr(self, entry)(program, spec)
            return program, entry_name, tree, program.build()
        except NotVectorizable:      # a JVP form many columns cannot share: jacfwd sweeps per column
            return self._generate(P.Program(final=program.final, vector=False), spec, entry)

    def _spec(self, kinds):
        trees = tuple(k.tree if isinstance(k, K.Tree) else T.LEAF for k in kinds)
        leaf_kinds = _leaf_kinds(kinds)
        if hasattr(self.fn, "sd_python_function"):   # another transform's code: it takes leaves already
            fn, out_tree = self.fn.sd_python_function(kinds), self.fn.out_tree(kinds)
        else:
            target = P.concrete(self.fn, leaf_kinds)
            try:
                flat = structured.flatten(target, trees)
            except structured.PytreeArgument as e:
                if e.fn is not target:
                    raise
                i = self._params.index(e.param)
                tree = trees[i]
                got = "None" if tree.type is T.NONE_TYPE else tree.type.__name__
                hint = f"; convert it with np.asarray({e.param})" if tree.type in (list, tuple) else ""
                raise self._argument_error(i, e.param, got, hint) from None
            fn, out_tree = flat.fn, flat.out_tree
        core = P.core_of(fn)
        types = P.types_of(fn, leaf_kinds)
        if out_tree is None:       # the result of a call known only now: a value or a tuple of them
            out_tree = T.LEAF if len(core.outputs) == 1 else T.tuple_of([T.LEAF] * len(core.outputs))
        return Spec(fn, core, types, leaf_kinds, trees, out_tree)

    def _diff_leaves(self, spec):
        """(argnums, positions of the leaves differentiated: every float leaf of those arguments)."""
        core, nums = spec.core, _argnums_tuple(self.argnums)
        diff = set()
        for n in nums:
            if not 0 <= n < len(spec.trees):
                raise TypeError(f"argnums {self.argnums} out of range for {core.name} "
                                f"with {len(spec.trees)} parameters")
            leaves = spec.leaves(n)
            floats = [j for j in leaves if K.is_float(spec.kinds[j])]
            # a single value must be a float; int leaves of a pytree are not differentiated
            # (zero gradient), but a pytree of ints alone is a mistake
            paths = T.paths(spec.trees[n])
            for j in (leaves if spec.trees[n] is T.LEAF or not floats else floats):
                self._check_differentiable(spec, j, self._params[n] + paths[j - leaves.start])
            diff.update(floats)
        return nums, sorted(diff)

    def _check_differentiable(self, spec, j, param):
        core, kind = spec.core, spec.kinds[j]
        if not K.is_float(kind):
            raise error_at(core.source.node, core.source,
                           f"{self.mode} requires real-valued (float) inputs; argument "
                           f"`{param}` of {core.name} is {kind}. Pass a float "
                           f"(e.g. {param}=1.0) or differentiate another argument")

    def _check_scalar_output(self, spec, what):
        core, tree = spec.core, spec.out_tree
        if self.has_aux:
            if not (isinstance(tree, T.Node) and tree.type in (tuple, list) and len(tree.children) == 2):
                raise error_at(core.body[-1], core.source, f"{what} with has_aux=True needs the function "
                               "to return a pair (value, aux)")
            tree = tree.children[0]
        if tree is not T.LEAF or spec.outputs[0] != "float":
            shown = str(spec.outputs[0]) if tree is T.LEAF else \
                f"{len(tree.children)} values" if T.is_flat(tree) else f"a pytree {tree!r}"
            raise error_at(_return_node(core), core.source,
                           f"{what} requires a scalar float output; {core.name} returns {shown}. "
                           "Use jacrev or vjp for several outputs, or return one float")

    def _entry_jit(self, program, spec):
        return program.request(spec.fn, spec.kinds, "primal", None), spec.out_tree

    def _differentiated(self, spec):
        """Which leaves jvp and vjp differentiate: the float ones, or, for a transform applied
        in differentiated code, those at the leaf positions ``argnums`` (the rest are what
        the function closes over)."""
        if not isinstance(self.argnums, tuple):
            return tuple(K.is_float(k) for k in spec.kinds)
        for j in self.argnums:
            self._check_differentiable(spec, j, spec.core.params[j])
        return tuple(j in self.argnums for j in range(len(spec.kinds)))

    def _entry_jvp(self, program, spec):
        mask = self._differentiated(spec)
        jvp = program.request(spec.fn, spec.kinds, "jvp", mask)
        tree = T.tuple_of([spec.out_tree, spec.out_tree])
        if all(K.is_float(k) for k in spec.outputs):
            return jvp, tree
        # the tangents of int outputs are zeros: a wrapper puts them in place
        params = spec.core.params
        values = [f"_out{i}" for i in range(len(spec.outputs))]
        dots = [f"_dot{i}" for i, k in enumerate(spec.outputs) if K.is_float(k)]
        returned = values + [f"_dot{i}" if K.is_float(k) else ast.Constant(0.0) for i, k in enumerate(spec.outputs)]
        entry = program.unique(f"{spec.core.name}_jvp_entry")
        tangents = [f"_tangent{i}" for i in range(sum(mask))]
        program.add(_function(entry, params + tangents,
                              [_unpack(values + dots, _call(jvp, params, map(name, tangents)))], returned))
        return entry, tree

    def _entry_vjp(self, program, spec):
        mask = self._differentiated(spec)
        name_ = program.request(spec.fn, spec.kinds, "vjp", mask)
        return name_, T.tuple_of([spec.out_tree] + [T.LEAF] * sum(mask))

    def _entry_vjp_forward(self, program, spec):
        """The VJP's function from one forward sweep per differentiated input element."""
        mask = self._differentiated(spec)
        jvp = program.request(spec.fn, spec.kinds, "jvp", mask)
        params, outs = spec.core.params, spec.outputs
        seeds = [f"_seed{i}" for i, k in enumerate(outs) if K.is_float(k)]
        diff = tuple(j for j, m in enumerate(mask) if m)
        body = ast.parse(f"from sourcediff import jacobians\n"
                         f"_result = jacobians.vjp_from_jvps({jvp}, ({', '.join(params)},), {diff}, "
                         f"{len(outs)}, ({', '.join(seeds)},))").body
        entry = program.unique(f"{spec.core.name}_vjp_by_jvps")
        program.add(_function(entry, params + seeds, body, ["_result"]))
        return entry, T.tuple_of([spec.out_tree] + [T.LEAF] * sum(mask))

    def _grad_wrapper(self, program, spec, with_value, forward=False):
        nums, diff = self._diff_leaves(spec)
        self._check_scalar_output(spec, self.mode)
        core, outs = spec.core, spec.outputs
        mask = tuple(j in diff for j in range(len(spec.kinds)))
        results = [f"_out{i}" for i in range(len(outs))]
        grads = {j: f"{core.params[j]}_grad" for j in diff}
        if forward and any(isinstance(spec.kinds[j], K.Array) for j in diff):
            jvp = program.request(spec.fn, spec.kinds, "jvp", mask)
            body = _sweeps("forward", jvp, core.params, diff, outs, results, [grads[j] for j in diff])
        elif forward:
            jvp = program.request(spec.fn, spec.kinds, "jvp", mask)
            dots = [f"_dot{i}" for i, k in enumerate(outs) if K.is_float(k)]
            body = []
            for j in diff:
                tangents = [ast.Constant(1.0 if m == j else 0.0) for m in diff]
                body.append(_unpack(results + [grads[j]] + dots[1:], _call(jvp, core.params, tangents)))
        else:       # without the value (and aux), dead-code elimination drops what only it needs
            values = with_value or self.has_aux
            vjp = program.request(spec.fn, spec.kinds, "vjp" if values else "grads", mask)
            seeds = [ast.Constant(1.0 if i == 0 else 0.0) for i, k in enumerate(outs) if K.is_float(k)]
            body = [_unpack((results if values else []) + [grads[j] for j in diff], _call(vjp, core.params, seeds))]
        grads_out = [grads.get(j, ast.Constant(0.0)) for n in nums for j in spec.leaves(n)]
        if with_value:
            returned = results + grads_out
        else:
            returned = grads_out + (results[1:] if self.has_aux else [])
        entry = program.unique(f"{core.name}_{self.mode}")
        program.add(_function(entry, core.params, body, returned))
        grad_tree = _per_argnum(self.argnums, nums, spec.trees)
        aux_tree = spec.out_tree.children[1] if self.has_aux else None
        if with_value:
            value_tree = T.tuple_of([T.LEAF, aux_tree]) if self.has_aux else T.LEAF
            return entry, T.tuple_of([value_tree, grad_tree])
        return entry, (T.tuple_of([grad_tree, aux_tree]) if self.has_aux else grad_tree)

    def _entry_grad(self, program, spec, forward=False):
        return self._grad_wrapper(program, spec, with_value=False, forward=forward)

    def _entry_value_and_grad(self, program, spec, forward=False):
        return self._grad_wrapper(program, spec, with_value=True, forward=forward)

    def _entry_grad_forward(self, program, spec):
        return self._entry_grad(program, spec, forward=True)

    def _entry_value_and_grad_forward(self, program, spec):
        return self._entry_value_and_grad(program, spec, forward=True)

    def _array_jacobian(self, program, spec, direction):
        """jacfwd/jacrev where an argument or output is an array: one sweep per element."""
        nums, diff = self._diff_leaves(spec)
        core, outs = spec.core, spec.outputs
        mask = tuple(j in diff for j in range(len(spec.kinds)))
        _check_all_float(core, outs, self.mode)
        in_code = hasattr(self, "sd_arity")
        # taken in code, the sweeps' VJP has the values already and may use each fresh seed as its own;
        # run from Python on the CPU, forward sweeps carry many columns each where they can
        mode = "jvp" if direction == "forward" else "consuming" if in_code else "vjp"
        vector = mode == "jvp" and not in_code and program.final and program.vector
        derivative = program.request(spec.fn, spec.kinds, "jvps" if vector else mode, mask)
        results = [f"_o{i}" for i in range(len(outs))]
        blocks = {(i, j): f"_j{i}_{j}" for i in range(len(outs)) for j in diff}
        if in_code:       # sweeps it can compile and differentiate
            # the sweeps need the array outputs' shapes: a final program computes only those
            arrays_out = any(isinstance(k, K.Array) for k in outs)
            shapes = program.final or not arrays_out
            primal = program.request(spec.fn, spec.kinds, "shapes" if program.final else "primal",
                                     None) if arrays_out else None
            into = program.accumulated_adjoints(spec.fn, spec.kinds, mask) if mode == "consuming" else []
            body = ast.parse(jacobians.sweeps_in_code(direction, derivative, primal, core.params, spec.kinds,
                                                      diff, outs, into, shapes)).body
        else:
            primal = program.request(spec.fn, spec.kinds, "primal", None) if direction == "reverse" else None
            body = _sweeps("forward_vector" if vector else direction, derivative, core.params, diff, outs,
                           results, list(blocks.values()), primal)
        returned = [blocks.get((i, j), ast.Constant(0.0))
                    for i in range(len(outs)) for n in nums for j in spec.leaves(n)]
        entry = program.unique(f"{core.name}_{self.mode}")
        program.add(_function(entry, core.params, body, returned))
        return entry, _jacobian_tree(spec, self.argnums, nums)

    def _has_arrays(self, spec):
        nums = [n for n in _argnums_tuple(self.argnums) if 0 <= n < len(spec.trees)]
        return any(isinstance(spec.kinds[j], K.Array) for n in nums for j in spec.leaves(n)) or \
            any(isinstance(k, K.Array) for k in spec.outputs)

    def _entry_jacfwd(self, program, spec):
        if self._has_arrays(spec):
            return self._array_jacobian(program, spec, "forward")
        nums, diff = self._diff_leaves(spec)
        core, outs = spec.core, spec.outputs
        jvp = program.request(spec.fn, spec.kinds, "jvp", tuple(j in diff for j in range(len(spec.kinds))))
        _check_all_float(core, outs, "jacfwd")
        body, columns = [], {}
        for c, j in enumerate(diff):          # one forward sweep per differentiated leaf
            tangents = [ast.Constant(1.0 if m == j else 0.0) for m in diff]
            values = [f"_o{c}_{i}" for i in range(len(outs))]
            columns[j] = [f"_d{c}_{i}" for i in range(len(outs))]
            body.append(_unpack(values + columns[j], _call(jvp, core.params, tangents)))
        returned = [columns[j][i] if j in columns else ast.Constant(0.0)
                    for i in range(len(outs)) for n in nums for j in spec.leaves(n)]
        entry = program.unique(f"{core.name}_jacfwd")
        program.add(_function(entry, core.params, body, returned))
        return entry, _jacobian_tree(spec, self.argnums, nums)

    def _entry_jacrev(self, program, spec):
        if self._has_arrays(spec):
            if spec.out_tree is T.LEAF and spec.outputs[0] == "float":     # a gradient: one reverse sweep
                self.has_aux = False
                return self._grad_wrapper(program, spec, with_value=False)
            return self._array_jacobian(program, spec, "reverse")
        nums, diff = self._diff_leaves(spec)
        core, outs = spec.core, spec.outputs
        vjp = program.request(spec.fn, spec.kinds, "vjp", tuple(j in diff for j in range(len(spec.kinds))))
        _check_all_float(core, outs, "jacrev")
        body, returned = [], []
        for i in range(len(outs)):            # one backward sweep per output
            seeds = [ast.Constant(1.0 if m == i else 0.0) for m in range(len(outs))]
            values = [f"_o{i}_{m}" for m in range(len(outs))]
            bars = {j: f"_b{i}_{j}" for j in diff}
            body.append(_unpack(values + list(bars.values()), _call(vjp, core.params, seeds)))
            returned += [bars.get(j, ast.Constant(0.0)) for n in nums for j in spec.leaves(n)]
        entry = program.unique(f"{core.name}_jacrev")
        program.add(_function(entry, core.params, body, returned))
        return entry, _jacobian_tree(spec, self.argnums, nums)


def _output_kinds(types):
    return types.result.items if isinstance(types.result, K.Tuple) else (types.result,)


def _per_argnum(argnums, nums, trees):
    """The structure of one value per argument asked for: a tree, or a tuple of trees."""
    return trees[argnums] if isinstance(argnums, int) else T.tuple_of(trees[n] for n in nums)


def _jacobian_tree(spec, argnums, nums):
    inner = _per_argnum(argnums, nums, spec.trees)
    return T.map_leaves(spec.out_tree, lambda _: inner)


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
    """A function returning ``returned``: names, or expressions (zeros for int leaves)."""
    returned = [name(r) if isinstance(r, str) else r for r in returned]
    value = returned[0] if len(returned) == 1 else ast.Tuple(elts=returned, ctx=ast.Load())
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
    kinds, flat_args = t.kinds_and_leaves(args)
    flat_tangents = []
    for i, (tangent, kind) in enumerate(zip(tangents, kinds)):
        leaves, tree = T.flatten(tangent)
        expected = kind.tree if isinstance(kind, K.Tree) else T.LEAF
        if tree != expected:
            raise TypeError(f"jvp: primal and tangent arguments must have the same pytree structure; "
                            f"primal {i} is {expected!r}, its tangent {tree!r}")
        flat_tangents += leaves
    floats = [_like(tan, k, p) for tan, k, p in zip(flat_tangents, _leaf_kinds(kinds), flat_args)
              if K.is_float(k)]
    return t.entry(kinds)(*flat_args, *floats)


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
    """(primal_out, vjp_fn) or, with has_aux, (primal_out, vjp_fn, aux); pytrees alike."""
    if (backend or default_backend()) == "cuda":
        raise ValueError("vjp evaluates at given primals on the host; inside kernels use "
                         "grad(f, backend='cuda') or value_and_grad(f, backend='cuda')")
    t = _cached(fun, "vjp", backend)
    args = t.bind(primals, {})
    kinds, flat_args = t.kinds_and_leaves(args)
    entry = t.entry(kinds)
    leaf_kinds = _leaf_kinds(kinds)
    out_tree = entry.tree.children[0]
    if has_aux and not (isinstance(out_tree, T.Node) and out_tree.type in (tuple, list)
                        and len(out_tree.children) == 2):
        raise TypeError(f"vjp with has_aux=True needs {getattr(fun, '__name__', fun)} to return a pair "
                        f"(value, aux); it returns {out_tree!r}")
    value_tree = out_tree.children[0] if has_aux else out_tree
    out = _cached(fun, "jit", backend)(*args)
    out_leaves = T.flatten(out)[0]

    def vjp_fn(ct):
        cts, tree = T.flatten(ct)
        if tree != value_tree:
            raise TypeError(f"vjp_fn: the cotangent must have the structure of the output, "
                            f"{value_tree!r}; got {tree!r}")
        cts += [0.0] * (len(out_leaves) - len(cts))        # aux carries no cotangent
        seeds = [_like(c, k, o) for c, k, o in zip(cts, entry.outputs, out_leaves) if K.is_float(k)]
        bars = iter(entry(*flat_args, *seeds)[1:])
        leaves = [next(bars) if K.is_float(k) else 0.0 for k in leaf_kinds]
        return tuple(_unflatten_arguments(kinds, leaves))
    if has_aux:
        return out[0], vjp_fn, out[1]
    return out, vjp_fn


def _unflatten_arguments(kinds, leaves):
    """One value per argument from the leaves of all of them."""
    it = iter(leaves)
    for k in kinds:
        yield T.unflatten(k.tree, [next(it) for _ in k.leaves]) if isinstance(k, K.Tree) else next(it)


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
