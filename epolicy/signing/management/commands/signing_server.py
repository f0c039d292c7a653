"""`epolicy signing_server [--host 127.0.0.1] [--port 8765]`: the signing service as its own process.

Serves only `config.signing_urls` (the /internal/signing/v1/ endpoints) with a threaded WSGI server, so
that the signing keys can live on a machine of their own (motor standard §7.1.3). See
docs/signing-service.md.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import socketserver
import ssl
from types import FrameType
from typing import Any
from wsgiref import simple_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from epolicy.signing import pki
from epolicy.signing.remote import API_PREFIX, auth

logger = logging.getLogger("epolicy.signing.remote.server")

URLCONF = "config.signing_urls"
MIN_SECRET_LENGTH = 32


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def close_request(self, request: Any) -> None:
        # Every request runs in a thread of its own that ends with it: close that thread's database
        # connections now rather than leaving them to the garbage collector.
        connections.close_all()
        super().close_request(request)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _tls_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    """TLS 1.2 or newer with the service's certificate; with `client_ca`, a client certificate signed by
    that CA is required of every connection (mutual TLS)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key or None)
        if client_ca:
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(f"cannot load the TLS certificate or key: {exc}") from exc
    return context


def _serve_tls(server: socketserver.BaseServer, context: ssl.SSLContext) -> None:
    """Accept TLS connections; each handshake runs in the request's own thread (on its first read), so
    a slow or silent client never holds up the accepting loop."""
    plain_get_request = server.get_request  # type: ignore[attr-defined]

    def get_request() -> tuple[Any, Any]:
        sock, address = plain_get_request()
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    server.get_request = get_request  # type: ignore[attr-defined,method-assign]


class _Handler(simple_server.WSGIRequestHandler):
    # A client that stops sending must not hold a thread for ever.
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the signing service (签章服务器) as its own process: only the /internal/signing/v1/ URLs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument(
            "--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks a free one)"
        )
        tls = settings.SIGNING_SERVICE_TLS
        parser.add_argument("--tls-cert", default=tls["server_cert"], help="PEM certificate (chain) for TLS")
        parser.add_argument("--tls-key", default=tls["server_key"], help="PEM private key for TLS")
        parser.add_argument(
            "--tls-client-ca",
            default=tls["server_client_ca"],
            help="require client certificates from this CA",
        )

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        self._refuse_bad_configuration()
        cert, key, client_ca = options["tls_cert"], options["tls_key"], options["tls_client_ca"]
        if client_ca and not cert:
            raise CommandError("--tls-client-ca needs --tls-cert: client certificates are asked for over TLS")
        if not cert and settings.PRODUCTION and not settings.SIGNING_SERVICE_TRUSTED_SEGMENT:
            raise CommandError(
                "production serves the signing service over TLS (--tls-cert/--tls-key or "
                "EPOLICY_SIGNING_TLS_*); plain HTTP only in a segment declared trusted "
                "(EPOLICY_SIGNING_SERVICE_TRUSTED_SEGMENT=1)"
            )
        context = _tls_context(cert, key, client_ca) if cert else None
        # This process answers only the service's URLs: no admin, API or pages next to the keys.
        settings.ROOT_URLCONF = URLCONF
        app = WSGIHandler()
        server_class = _Server6 if ":" in host else _Server
        try:
            server = server_class((host, port), _Handler)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        server.set_app(app)
        if context is not None:
            _serve_tls(server, context)
        bound_port = server.server_address[1]
        self._warn_without_pki()
        shown_host = f"[{host}]" if ":" in host else host
        scheme = "https" if context is not None else "http"
        self.stdout.write(
            f"epolicy signing service listening on {scheme}://{shown_host}:{bound_port}{API_PREFIX}"
        )
        if context is not None:
            self.stdout.write(
                "TLS 1.2+"
                + (", client certificates required" if client_ca else ", no client certificate asked")
            )
        allowed = ", ".join(settings.ALLOWED_HOSTS)
        self.stdout.write(f"clients must use a host name listed in EPOLICY_ALLOWED_HOSTS ({allowed})")
        self.stdout.flush()
        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("signing service stopped")
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.server_close()

    def _refuse_bad_configuration(self) -> None:
        if settings.SIGNING_SERVICE_URL:
            raise CommandError(
                "EPOLICY_SIGNING_SERVICE_URL is set in this process: the service would forward every "
                "signature to a signing service again (perhaps itself). Unset it for signing_server."
            )
        secrets = auth.secrets()
        if not secrets:
            raise CommandError("EPOLICY_SIGNING_SERVICE_TOKEN is empty")
        if settings.PRODUCTION and not os.environ.get("EPOLICY_SIGNING_SERVICE_TOKEN"):
            raise CommandError("production refuses the development secret: set EPOLICY_SIGNING_SERVICE_TOKEN")
        if any(len(secret) < MIN_SECRET_LENGTH for secret in secrets):
            raise CommandError(
                f"every secret in EPOLICY_SIGNING_SERVICE_TOKEN needs at least {MIN_SECRET_LENGTH} characters"
            )

    def _warn_without_pki(self) -> None:
        # Load the keys now: a service that cannot sign should say so when it starts, not at the first
        # policy; it still starts, so that `epolicy pki_init` can be run afterwards.
        try:
            pki.load_credential(pki.Role.SEAL)
            pki.load_credential(pki.Role.TSA)
        except Exception as exc:  # no PKI yet, no database yet, a key store not configured, ...
            self.stderr.write(f"warning: the signing keys cannot be loaded yet ({type(exc).__name__}: {exc})")
        finally:
            connections.close_all()
