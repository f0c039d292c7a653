from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from django.apps import AppConfig

GENERIC = "pyhanko.pdf_utils.generic"
HEXSTRINGS = "epolicy.signing.hexstrings"
CMS_GENERAL = "pyhanko.sign.general"


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `then(module)` right after any of the modules `names` has first run, wherever from.

    The hex string reader replaces a function of pyHanko's `pdf_utils.generic`: importing that module
    when Django starts would bring pyHanko's PDF layer into every command (`epolicy help` included). The
    replacement is made the moment pyHanko's module (or `hexstrings`, when it is the first to import it)
    has run instead: before the module that imported it goes on, so no pyHanko module sees the reader
    before it is replaced. The finder leaves `sys.meta_path` once each name has been seen.
    """

    def __init__(self, names: Sequence[str], then: Callable[[ModuleType], None]) -> None:
        self._names = set(names)
        self._then = then
        self._lock = threading.Lock()

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        with self._lock:
            if fullname not in self._names:
                return None
            self._names.discard(fullname)
            if not self._names and self in sys.meta_path:
                sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)  # the other finders' answer (this one says None now)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        exec_module = loader.exec_module
        then = self._then

        def exec_then(module: ModuleType) -> None:
            exec_module(module)
            then(module)

        loader.exec_module = exec_then
        return spec


def _install_readers(module: ModuleType) -> None:
    """Called when pyHanko's `generic` or `hexstrings` has run: put the one-pass readers in place (the
    hex string reader, and the name and white-space readers of `pdftokens`)."""
    from . import pdftokens

    if module.__name__ == HEXSTRINGS:
        module.install()
        pdftokens.install()
        return
    hexstrings = sys.modules.get(HEXSTRINGS)
    pdftokens.install()
    if hexstrings is not None and getattr(hexstrings.__spec__, "_initializing", False):
        return  # hexstrings itself is importing pyHanko: installed once hexstrings has run (its hook)
    from . import hexstrings as module_

    module_.install()


def _install_asn1certs(module: ModuleType) -> None:
    """Called when pyHanko's `sign.general` has run: keep parsed certificates per process (asn1certs)."""
    from . import asn1certs

    asn1certs.install(module)


class SigningConfig(AppConfig):
    name = "epolicy.signing"
    label = "signing"
    verbose_name = "电子签章与证书"

    def ready(self) -> None:
        # Before any signature or verification: see each module for what it corrects or speeds up.
        from . import asn1fix, asn1names

        asn1fix.apply()
        asn1names.install()
        if GENERIC in sys.modules:
            _install_readers(sys.modules[GENERIC])
        else:  # when pyHanko's PDF layer is first imported (see _AfterImport)
            sys.meta_path.insert(0, _AfterImport((GENERIC, HEXSTRINGS), _install_readers))
        if CMS_GENERAL in sys.modules:
            _install_asn1certs(sys.modules[CMS_GENERAL])
        else:  # likewise when pyHanko's CMS layer is first imported
            sys.meta_path.insert(0, _AfterImport((CMS_GENERAL,), _install_asn1certs))
