"""Client libraries loaded at their first use, not with the adapter classes.

Planning, ``validate`` and the config's checks read an adapter's class (its rules, its options)
and never call its platform; loading tweepy, requests and facebook-sdk for them would cost more
than all the rest of ``publisher validate`` (bench/README.md, startup.py). The adapter modules
bind these libraries through :func:`lazy`, and the library runs at the first attribute used:
in practice when an adapter is built (``load_adapters``, in the thread that starts the engine),
before any worker thread calls it. That matters on Python 3.11: its lazy loader is not safe when
two threads make the first use at once (python/cpython#114763, fixed in 3.12).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The module ``name``, executed at the first use of one of its attributes (the standard
    library's ``importlib.util.LazyLoader``); the module itself if it is already loaded."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
