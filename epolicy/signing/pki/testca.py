"""DEVELOPMENT ONLY: a stand-in for a licensed CA, to try `pki_csr` / `pki_import` without one.

It is what the tests use as "a second CA" and what `epolicy pki_test_ca` (refused in production)
runs for a newcomer following docs/pki.md: a root and an intermediate CA whose keys lie UNENCRYPTED in
a directory, signing whatever request it is given with the key usage the request asks for, publishing
its CRLs and answering OCSP over plain HTTP on loopback. Nothing here is fit for real certificates.

    ca = TestCa.create(directory, base_url="http://127.0.0.1:8790")
    chain_pem = ca.sign(csr_pem)              # leaf, intermediate, root
    ca.revoke(serial)                          # listed on the next CRL / OCSP answer
    server = ca.serve(port=8790)               # /crl/root.crl, /crl/intermediate.crl, POST /ocsp
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

_STATE = "test-ca.json"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class TestCa:
    """A two-level CA kept in `directory` (root.key/.crt, intermediate.key/.crt, test-ca.json)."""

    __test__ = False  # not a pytest test class

    directory: Path
    base_url: str
    root: x509.Certificate
    root_key: rsa.RSAPrivateKey
    intermediate: x509.Certificate
    intermediate_key: rsa.RSAPrivateKey
    revoked: dict[str, dict[str, str]]  # serial hex -> {"issuer": "root"|"intermediate", "at": iso}

    # -- making and loading ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        base_url: str = "http://127.0.0.1:8790",
        name: str = "演示电子认证服务有限公司",
    ) -> TestCa:
        directory.mkdir(parents=True, exist_ok=True)
        now = _now()
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} 测试根 CA"),
            ]
        )
        root = cls._ca_cert(root_name, root_key, root_name, root_key, None, now, 20, base_url, "root")
        inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        inter_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} 测试机构证书 CA"),
            ]
        )
        inter = cls._ca_cert(inter_name, inter_key, root_name, root_key, root, now, 10, base_url, "root")
        ca = cls(directory, base_url.rstrip("/"), root, root_key, inter, inter_key, {})
        ca.save()
        return ca

    @staticmethod
    def _ca_cert(
        subject: x509.Name,
        key: rsa.RSAPrivateKey,
        issuer: x509.Name,
        issuer_key: rsa.RSAPrivateKey,
        issuer_cert: x509.Certificate | None,
        now: dt.datetime,
        years: int,
        base_url: str,
        issuer_slug: str,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=None if issuer_cert is None else 1), True
            )
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer_cert is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            ).add_extension(_crl_point(base_url, issuer_slug), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    @classmethod
    def load(cls, directory: Path) -> TestCa:
        state = json.loads((directory / _STATE).read_text())

        def key(name: str) -> rsa.RSAPrivateKey:
            loaded = serialization.load_pem_private_key((directory / name).read_bytes(), password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            return loaded

        def cert(name: str) -> x509.Certificate:
            return x509.load_pem_x509_certificate((directory / name).read_bytes())

        return cls(
            directory,
            state["base_url"],
            cert("root.crt"),
            key("root.key"),
            cert("intermediate.crt"),
            key("intermediate.key"),
            state["revoked"],
        )

    def save(self) -> None:
        for name, key in (("root.key", self.root_key), ("intermediate.key", self.intermediate_key)):
            (self.directory / name).write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        (self.directory / "root.crt").write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        (self.directory / "intermediate.crt").write_bytes(
            self.intermediate.public_bytes(serialization.Encoding.PEM)
        )
        state = {"base_url": self.base_url, "revoked": self.revoked}
        (self.directory / _STATE).write_text(json.dumps(state, indent=2))

    # -- issuing -----------------------------------------------------------------------------------

    def sign(
        self,
        csr_pem: bytes | str,
        *,
        days: int = 365,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key_usage: x509.KeyUsage | None = None,
        extended_key_usage: x509.ExtendedKeyUsage | None = None,
        by_root: bool = False,
        ocsp: bool = True,
    ) -> bytes:
        """A certificate for the request (with the usage it asks for, unless overridden), as a PEM chain."""
        csr = x509.load_pem_x509_csr(csr_pem.encode() if isinstance(csr_pem, str) else csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("the request's signature does not verify")
        issuer, issuer_key, slug = (
            (self.root, self.root_key, "root")
            if by_root
            else (self.intermediate, self.intermediate_key, "intermediate")
        )
        start = not_before or _now() - dt.timedelta(minutes=10)
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(issuer.subject)
            .public_key(csr.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(not_after or start + dt.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)  # type: ignore[arg-type]
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
            .add_extension(_crl_point(self.base_url, slug), critical=False)
        )
        if ocsp:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(f"{self.base_url}/ocsp"),
                        )
                    ]
                ),
                critical=False,
            )
        requested = {ext.oid: ext for ext in _requested(csr)}
        overrides: dict[x509.ObjectIdentifier, x509.Extension[Any]] = {}
        if key_usage is not None:
            overrides[x509.KeyUsage.oid] = x509.Extension(x509.KeyUsage.oid, True, key_usage)
        if extended_key_usage is not None:
            overrides[x509.ExtendedKeyUsage.oid] = x509.Extension(
                x509.ExtendedKeyUsage.oid, True, extended_key_usage
            )
        for oid in (x509.BasicConstraints.oid, x509.KeyUsage.oid, x509.ExtendedKeyUsage.oid):
            ext = overrides.get(oid) or requested.get(oid)
            if ext is not None:
                builder = builder.add_extension(ext.value, critical=ext.critical)
        cert = builder.sign(issuer_key, hashes.SHA256())
        chain = [cert] if by_root else [cert, self.intermediate]
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [*chain, self.root])

    def revoke(
        self, serial: int | str, *, at: dt.datetime | None = None, issuer: str = "intermediate"
    ) -> None:
        key = format(serial, "x") if isinstance(serial, int) else serial.lower()
        self.revoked[key] = {"issuer": issuer, "at": (at or _now()).isoformat()}
        self.save()

    def crl(self, which: str) -> bytes:
        """A fresh CRL (DER) of the root or the intermediate, valid a day."""
        cert, key = (
            (self.root, self.root_key) if which == "root" else (self.intermediate, self.intermediate_key)
        )
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(now - dt.timedelta(minutes=1))
            .next_update(now + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(time.time_ns() // 1000), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
            )
        )
        for serial, entry in self.revoked.items():
            if entry["issuer"] != which:
                continue
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(dt.datetime.fromisoformat(entry["at"]))
                .build()
            )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_response(self, request_der: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(request_der)
        now = _now()
        for cert, key in ((self.intermediate, self.intermediate_key), (self.root, self.root_key)):
            digest = hashes.Hash(request.hash_algorithm)
            digest.update(cert.subject.public_bytes())
            if digest.finalize() != request.issuer_name_hash:
                continue
            entry = self.revoked.get(format(request.serial_number, "x"))
            revoked = entry is not None
            builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
                this_update=now - dt.timedelta(minutes=1),
                next_update=now + dt.timedelta(hours=12),
                revocation_time=dt.datetime.fromisoformat(entry["at"]) if entry else None,
                revocation_reason=None,
            )
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, cert)
            return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
            serialization.Encoding.DER
        )

    # -- publishing --------------------------------------------------------------------------------

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        """Serve the CRLs and OCSP on loopback in a daemon thread (state re-read on each request)."""
        return serve_directory(self.directory, host=host, port=port)


def _crl_point(base_url: str, slug: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(f"{base_url.rstrip('/')}/crl/{slug}.crl")],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _requested(csr: x509.CertificateSigningRequest) -> list[x509.Extension[Any]]:
    try:
        return list(csr.extensions)
    except x509.ExtensionNotFound:
        return []


def serve_directory(directory: Path, *, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve the CRLs and OCSP of the test CA in `directory` (made now or later) on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            ca = TestCa.load(directory)
            which = {"/crl/root.crl": "root", "/crl/intermediate.crl": "intermediate"}.get(self.path)
            if which is None:
                certs = {"/ca/root.crt": ca.root, "/ca/intermediate.crt": ca.intermediate}
                if self.path in certs:
                    der = certs[self.path].public_bytes(serialization.Encoding.DER)
                    self._send(200, der, "application/pkix-cert")
                    return
                self._send(404, b"not found", "text/plain")
                return
            self._send(200, ca.crl(which), "application/pkix-crl")

        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
            body = self.rfile.read(length)
            if self.path != "/ocsp":
                self._send(404, b"not found", "text/plain")
                return
            self._send(200, TestCa.load(directory).ocsp_response(body), "application/ocsp-response")

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="test-ca").start()
    return server
