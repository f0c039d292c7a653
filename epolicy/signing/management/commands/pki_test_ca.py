"""DEVELOPMENT ONLY: `epolicy pki_test_ca init|sign|revoke|serve`, a stand-in licensed CA (docs/pki.md).

Its keys lie unencrypted in a directory and it signs whatever it is given: refused in production.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing.pki.testca import TestCa


class Command(BaseCommand):
    help = (
        "DEVELOPMENT ONLY: a test CA acting as a licensed CA for trying pki_csr / pki_import: "
        "init (make it), sign (a request, giving the chain), revoke (a serial), serve (its CRLs and OCSP)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("init", "sign", "revoke", "serve"))
        parser.add_argument("--dir", type=Path, default=None, help="the CA's directory (default var/test-ca)")
        parser.add_argument("--url", default="http://127.0.0.1:8790", help="init: where serve will listen")
        parser.add_argument("--csr", type=Path, help="sign: the request (PEM)")
        parser.add_argument("--out", type=Path, help="sign: where to write the chain (PEM)")
        parser.add_argument("--days", type=int, default=365, help="sign: validity")
        parser.add_argument("--serial", help="revoke: serial number (hex)")
        parser.add_argument("--port", type=int, default=8790, help="serve: port on 127.0.0.1")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("pki_test_ca is for development only and refused in production")
        directory: Path = options["dir"] or Path(settings.VAR_DIR) / "test-ca"
        if action == "init":
            if (directory / "test-ca.json").exists():
                raise CommandError(f"{directory} already holds a test CA")
            ca = TestCa.create(directory, base_url=options["url"])
            self.stdout.write(self.style.SUCCESS(f"test CA made in {directory} (keys NOT encrypted)"))
            self.stdout.write(f"root: {ca.root.subject.rfc4514_string()}")
            return
        try:
            ca = TestCa.load(directory)
        except OSError as exc:
            raise CommandError(f"no test CA in {directory}: run `epolicy pki_test_ca init` first") from exc
        if action == "sign":
            if options["csr"] is None or options["out"] is None:
                raise CommandError("sign needs --csr FILE and --out FILE")
            chain = ca.sign(options["csr"].read_bytes(), days=options["days"])
            options["out"].write_bytes(chain)
            self.stdout.write(self.style.SUCCESS(f"certificate and chain written to {options['out']}"))
        elif action == "revoke":
            if not options["serial"]:
                raise CommandError("revoke needs --serial HEX")
            ca.revoke(options["serial"])
            self.stdout.write(
                self.style.SUCCESS(f"revoked {options['serial']}: on the next CRL and OCSP answer")
            )
        else:
            server = ca.serve(port=options["port"])
            host, port = str(server.server_address[0]), server.server_address[1]
            self.stdout.write(
                f"test CA serving http://{host}:{port}/crl/intermediate.crl, /crl/root.crl, /ocsp"
            )
            self.stdout.flush()
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
            server.shutdown()
