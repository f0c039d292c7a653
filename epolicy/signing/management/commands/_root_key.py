"""The `--root-key FILE` option of the PKI commands: the root CA's offline key, brought for one command.

The passphrase comes from $EPOLICY_ROOT_KEY_PASSPHRASE or is asked for at the terminal; it is never an
argument (it would stay in the shell history and the process list).
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from epolicy.signing import pki


def add_argument(parser: CommandParser, needed_for: str) -> None:
    parser.add_argument(
        "--root-key",
        metavar="FILE",
        help=(
            f"the root CA's offline key file (root-ca-<key id>.p8), needed {needed_for}; its passphrase "
            f"is read from ${pki.offline.ROOT_KEY_PASSPHRASE_ENV} or asked for"
        ),
    )


def from_options(options: dict[str, Any]) -> pki.RootKey | None:
    """The key named by --root-key, opened and checked against the platform's roots; None without it."""
    path = options.get("root_key")
    if not path:
        return None
    passphrase = os.environ.get(pki.offline.ROOT_KEY_PASSPHRASE_ENV, "")
    if not passphrase:
        if not sys.stdin.isatty():
            raise CommandError(
                f"the passphrase of {path} is needed: set {pki.offline.ROOT_KEY_PASSPHRASE_ENV} "
                "or run the command at a terminal to type it"
            )
        passphrase = getpass.getpass(f"passphrase of {path}: ")
    try:
        return pki.load_root_key(path, passphrase.strip())
    except pki.RootKeyError as exc:
        raise CommandError(str(exc)) from exc


def print_exports(command: Any, exports: list[pki.RootKeyExport]) -> None:
    """Tell the operator, once, where each exported root key is and what opens it."""
    for export in exports:
        command.stdout.write(
            command.style.WARNING(
                "\n"
                f"ROOT CA KEY (serial {export.serial}) is kept OFFLINE; the platform keeps no copy of it:\n"
                f"  key file:   {export.path}\n"
                f"  passphrase: {export.passphrase}\n"
                "Write the passphrase down now: it is shown this once and stored nowhere.\n"
                "Move the key file to offline media (two copies, kept apart from the passphrase) and\n"
                f"delete it from this machine; see {export.path.parent / 'README.txt'} and docs/pki.md.\n"
                "It is needed again only to sign a new issuing CA, customer CA, TSA or root, to revoke\n"
                "one of them, and to renew the root's CRL (epolicy pki_status says when).\n"
            )
        )
