"""Command line: ``python -m sourcediff show FILE.py:FUNC --mode grad|jvp|vjp``."""
import argparse
import importlib.util
import os
import sys

from . import kinds as K
from .api import Transformed, guess_kinds
from .backends import modules
from .errors import TransformError

MODES = ("grad", "jvp", "vjp", "jit", "value_and_grad", "jacfwd", "jacrev")


def _load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise SystemExit(f"sourcediff: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _parse_kinds(text):
    out = []
    for item in text.split(","):
        item = item.strip()
        if item in K.SCALARS:
            out.append(item)
        elif item.startswith("array"):     # array, array2, array3: float64 arrays of that many dims
            out.append(K.Array("float64", int(item[5:] or 1)))
        else:
            raise SystemExit(f"sourcediff: unknown kind {item!r}; use float, int, bool or arrayN")
    return tuple(out)


def _cache(action):
    directory = modules.cache_dir()
    if directory is None:
        print("sourcediff: no usable cache directory (compiling in memory)")
        return 1
    entries = modules.cache_entries(directory)
    if action == "clear":
        removed = modules.clear_cache(directory)
        print(f"removed {removed} files from {directory}")
        return 0
    size = sum(e["bytes"] for e in entries)
    print(f"cache directory: {directory}")
    print(f"{len(entries)} generated modules, {size / 1e6:.1f} MB with their compiled code")
    for e in sorted(entries, key=lambda e: e["mtime"], reverse=True)[:20]:
        print(f"  {e['name']}  {e['bytes'] / 1e3:8.1f} kB  {e['summary']}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sourcediff",
                                     description="Show the code sourcediff generates.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the generated source of FILE.py:FUNC")
    show.add_argument("target", help="FILE.py:FUNC")
    show.add_argument("--mode", choices=MODES, default="grad")
    show.add_argument("--argnums", default="0", help="differentiated argument(s), e.g. 0 or 0,1")
    show.add_argument("--backend", choices=("numba", "python", "cuda"), default="python",
                      help="whose module to show (default python: no decorators)")
    show.add_argument("--kinds", help="argument kinds, e.g. float,int,array "
                                      "(default: from annotations, defaults and use)")
    cache = sub.add_parser("cache", help="show or empty the compile cache")
    cache.add_argument("action", choices=("info", "clear"))
    args = parser.parse_args(argv)
    if args.command == "cache":
        return _cache(args.action)

    path, _, func = args.target.rpartition(":")
    if not path or not func:
        parser.error("target must be FILE.py:FUNC")
    fn = getattr(_load(path), func, None)
    if fn is None:
        raise SystemExit(f"sourcediff: {path} has no function {func!r}")
    argnums = tuple(int(a) for a in args.argnums.split(","))
    transformed = Transformed(fn, args.mode, argnums[0] if len(argnums) == 1 else argnums,
                              backend=args.backend)
    kinds = _parse_kinds(args.kinds) if args.kinds else guess_kinds(fn)
    try:
        print(transformed.entry(kinds).source, end="")
    except TransformError as e:
        print(f"sourcediff: {e}", file=sys.stderr)
        return 1
    return 0
