"""`requests` inside a wacme plugin: a `requests.Session` whose transport is
the standard `wasi:http/outgoing-handler` (the `requests-wasi-http`
adapter), for Python plugins built with componentize-py against a world that
imports it (`plugins/examples/wit/world.wit`). wacme holds these requests to
the plugin's grants exactly as it holds its own `http` import.

    from wacme_requests import session, use_for_every_session
    SESSION = session()            # one session for the plugin's own code
    use_for_every_session()        # or: every requests.Session(), requests.get(), …

Copy this file next to your `app.py`; build with `-p` pointing at it.
"""

import sys
from types import ModuleType

import requests
import requests.sessions
from componentize_py_types import Err
from wasi_http_adapter import WasiHttpAdapter
from wit_world.imports import outgoing_handler, wasi_http_types

__all__ = ["adapter", "session", "use_for_every_session"]

_BINDINGS = "wacme_wasi_http_bindings"


def _bindings():
    """The bindings package the adapter expects (`<root>.types.Err`,
    `<root>.imports.types`, `<root>.imports.outgoing_handler`), assembled
    from this world's bindings: wacme's `types` interface and wasi:http's are
    both imported, so componentize-py names the latter `wasi_http_types`, and
    componentize-py 0.25 keeps `Err` in `componentize_py_types`."""
    if _BINDINGS not in sys.modules:
        errors = ModuleType(f"{_BINDINGS}.types")
        errors.Err = Err
        sys.modules.update(
            {
                _BINDINGS: ModuleType(_BINDINGS),
                f"{_BINDINGS}.types": errors,
                f"{_BINDINGS}.imports": ModuleType(f"{_BINDINGS}.imports"),
                f"{_BINDINGS}.imports.types": wasi_http_types,
                f"{_BINDINGS}.imports.outgoing_handler": outgoing_handler,
            }
        )
    return _BINDINGS


def adapter():
    """A transport adapter sending over `wasi:http`."""
    return WasiHttpAdapter(_bindings())


def session():
    """A `requests.Session` sending every http:// and https:// request over
    `wasi:http`."""
    s = requests.Session()
    transport = adapter()
    s.mount("http://", transport)
    s.mount("https://", transport)
    return s


def use_for_every_session():
    """Makes every `requests.Session()` made from now on (and so
    `requests.get()` and friends) send over `wasi:http`: for existing code
    that makes its own sessions, such as dns-lexicon's providers."""
    requests.sessions.HTTPAdapter = lambda *args, **kwargs: adapter()
