"""The type stubs ship with the package and say what the code does."""

from __future__ import annotations

import ast
from pathlib import Path

import vramfit
from vramfit import _native
from vramfit.request import ALIASES, workload_defaults

PKG = Path(vramfit.__file__).parent


def stub(name):
    return ast.parse((PKG / name).read_text())


def test_py_typed_ships():
    assert (PKG / "py.typed").exists()


def test_workload_keywords_in_the_stub_are_the_cores_settings():
    tree = stub("api.pyi")
    (workload,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Workload"]
    keys = {n.target.id for n in workload.body if isinstance(n, ast.AnnAssign)}
    assert keys - set(ALIASES) == set(workload_defaults()), (
        "python/vramfit/api.pyi's Workload must list every workload setting of the core's "
        "WorkloadRequest (snake_case)"
    )
    assert set(ALIASES) <= keys


def test_native_stub_lists_the_extensions_functions():
    tree = stub("_native.pyi")
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert names == {n for n in dir(_native) if callable(getattr(_native, n)) and not n.startswith("_")}
    assert vramfit.__version__ == _native.__version__


def test_api_stub_signatures_are_the_codes():
    import inspect

    from vramfit import api

    for fn in [n for n in stub("api.pyi").body if isinstance(n, ast.FunctionDef)]:
        real = inspect.signature(getattr(api, fn.name))
        stub_kw = [a.arg for a in fn.args.kwonlyargs]
        real_kw = [p.name for p in real.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert stub_kw == real_kw, fn.name
        assert [a.arg for a in fn.args.args] == [
            p.name for p in real.parameters.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ], fn.name
