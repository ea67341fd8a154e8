"""Load a function's handler the way the Lambda runtime does, but in this process.

Every function's module is ``app.py`` (``functions/<name>/app.py``), so modules are imported
by file path under a unique name (``lambda_function__functions_authorize_app``), never as ``app``.
Each module is imported once and cached: like a warm Lambda container, its module-level
state (Powertools resolver, cached clients) lives across invocations.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "Handler", "load_handler"]

REPO_ROOT = Path(__file__).resolve().parents[2]

Handler = Callable[[dict[str, Any], Any], Any]

_lock = threading.Lock()
_cache: dict[tuple[Path, str], Handler] = {}


def _module_name(path: Path, root: Path) -> str:
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = Path(*path.parts[1:])
    slug = re.sub(r"\W", "_", "_".join(relative.with_suffix("").parts))
    return f"lambda_function__{slug}"


def load_handler(code_uri: str, handler: str = "app.handler", root: Path = REPO_ROOT) -> Handler:
    """The callable ``handler`` (``"<module>.<function>"``) of the function whose code is in
    ``<root>/<code_uri>``, imported from its file once and cached."""
    module_path, _, attribute = handler.rpartition(".")
    if not module_path or not attribute:
        raise ValueError(f"handler {handler!r} is not of the form 'module.function'")
    root = Path(root).resolve()
    path = (root / code_uri / (module_path.replace(".", "/") + ".py")).resolve()
    key = (path, attribute)
    with _lock:
        if key in _cache:
            return _cache[key]
        if not path.is_file():
            raise FileNotFoundError(f"handler module {path} does not exist (CodeUri {code_uri!r})")
        name = _module_name(path, root)
        module = sys.modules.get(name)
        if module is None or getattr(module, "__file__", None) != str(path):
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            # Registered before executing, as a normal import does (dataclasses, pydantic and
            # pickling look the module up by name while it runs).
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        function = getattr(module, attribute, None)
        if not callable(function):
            raise AttributeError(f"{path} has no callable {attribute!r}")
        _cache[key] = function
        return function
