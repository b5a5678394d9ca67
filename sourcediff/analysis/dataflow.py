"""What each core statement defines and reads."""
import ast


def walk(stmts):
    """Every statement, nested ones included, in program order."""
    for stmt in stmts:
        yield stmt
        for field in ("body", "orelse"):
            yield from walk(getattr(stmt, field, []) if isinstance(stmt, (ast.If, ast.For, ast.While)) else [])


def op_kind(expr):
    """What a core right-hand side computes."""
    if isinstance(expr, (ast.Name, ast.Constant)):
        return "copy"
    if hasattr(expr, "sd_rule"):
        return "rule"
    if getattr(expr, "sd_custom", None) is not None:
        return "custom"
    if getattr(expr, "sd_func", None) is not None:
        return "call"
    if hasattr(expr, "sd_array"):
        return "array"
    if getattr(expr, "sd_reserve", False):
        return "reserve"
    if isinstance(expr, ast.Subscript):
        return "shape" if isinstance(expr.value, ast.Attribute) else "read"
    if isinstance(expr, ast.Attribute):
        return "attr"
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "len":
        return "len"
    raise AssertionError(f"not a core expression: {ast.unparse(expr)}")


def operands(expr):
    """The atoms an operation reads, in order."""
    kind = op_kind(expr)
    if kind == "copy":
        return [expr]
    if kind == "rule":
        return expr.sd_args
    if kind == "array":
        return [a for arg in expr.sd_args for a in _atoms_in(arg)]
    if kind in ("call", "custom", "reserve", "len"):
        return list(expr.args)
    if kind == "read":
        return [expr.value] + index_atoms(expr.slice)
    if kind == "shape":
        return [expr.value.value]
    return [expr.value]     # attr


def index_atoms(index):
    """The atoms an index reads: positions, and the bounds and steps of slices."""
    return _atoms_in(index)


def _atoms_in(node):
    if isinstance(node, ast.Tuple):
        return [a for e in node.elts for a in _atoms_in(e)]
    if isinstance(node, ast.Slice):
        return [p for p in (node.lower, node.upper, node.step) if p is not None]
    if isinstance(node, ast.Attribute):       # a.shape as a shape
        return [node.value]
    return [node]


def is_element_index(index):
    """Whether an index picks single positions (no slices)."""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    return not any(isinstance(p, ast.Slice) for p in parts)


def index_length(index):
    return len(index.elts) if isinstance(index, ast.Tuple) else 1


def names(atoms):
    return [a.id for a in atoms if isinstance(a, ast.Name)]


def targets(stmt):
    """Names an assignment binds (an element write binds none)."""
    target = stmt.targets[0]
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple):
        return [e.id for e in target.elts]
    return []


def is_write(stmt):
    return isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)


def assigned_names(stmts):
    """Every name bound anywhere in ``stmts`` (loop variables and counters included)."""
    out = set()
    for stmt in walk(stmts):
        if isinstance(stmt, ast.Assign):
            out.update(targets(stmt))
            if is_write(stmt):
                out.add(stmt.targets[0].value.id)
        elif isinstance(stmt, ast.For):
            out.add(stmt.target.id)
        if getattr(stmt, "sd_counter", None):
            out.add(stmt.sd_counter)
    return out


def read_names(stmts):
    out = set()
    for stmt in walk(stmts):
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                out.add(node.id)
    return out


def parent_map(tree):
    """id(node) -> the node holding it, for every node under ``tree``."""
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def stored_names(stmts):
    """Every name ``stmts`` (generated code, nested statements included) stores into."""
    return {n.id for s in stmts for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def upward_exposed(stmts):
    """Names that generated code ``stmts`` may read before it binds them."""
    return _exposure(stmts)[0]


def bound_on_every_path(stmts):
    """Names that generated code ``stmts`` binds however it runs."""
    return _exposure(stmts)[1]


def _exposure(stmts):
    exposed = set()

    def loads(node):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}

    def block(stmts, bound):
        bound = set(bound)
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                exposed.update(loads(stmt.test) - bound)
                bound = block(stmt.body, bound) & block(stmt.orelse, bound)
            elif isinstance(stmt, (ast.For, ast.While)):      # may run no iteration
                exposed.update(loads(stmt.iter if isinstance(stmt, ast.For) else stmt.test) - bound)
                block(stmt.body, bound | ({stmt.target.id} if isinstance(stmt, ast.For) else set()))
            else:
                exposed.update(loads(stmt) - bound)
                if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                    exposed.update({stmt.target.id} - bound)
                bound |= stored_names([stmt])
        return bound
    return exposed, block(stmts, set())
