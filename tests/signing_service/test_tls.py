"""The link to the signing service over TLS, against `epolicy signing_server` as a real TLS server in its
own process: the service's certificate checked (a wrong CA or host name is refused), mutual TLS (no or a
foreign client certificate refused at the handshake), and a seal made over the encrypted link."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from epolicy.common.errors import ApplicationError
from epolicy.signing.remote import client as remote

from .test_endpoints import BOX, make_pdf
from .test_process import TOKEN, service_env, start_signing_server, stop_signing_server


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(directory: Path, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{cn}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def _leaf(directory: Path, ca: tuple, cn: str, *, server: bool) -> tuple[Path, Path]:
    ca_cert, ca_key, _path = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = directory / f"{cn}.crt", directory / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = _ca(d, "internal-ca")
    other = _ca(d, "someone-elses-ca")
    return {
        "ca": ca[2],
        "other_ca": other[2],
        "server": _leaf(d, ca, "signing.internal", server=True),
        "client": _leaf(d, ca, "app-server-1", server=False),
        "foreign_client": _leaf(d, other, "intruder", server=False),
    }


@pytest.fixture(scope="module")
def tls_service(tmp_path_factory, pki_files):
    home = tmp_path_factory.mktemp("signing-tls")
    env = service_env(home)
    log = home / "server.stderr"
    cert, key = pki_files["server"]
    url, proc = start_signing_server(
        env, log, ("--tls-cert", str(cert), "--tls-key", str(key), "--tls-client-ca", str(pki_files["ca"]))
    )
    try:
        assert url.startswith("https://127.0.0.1:")
        yield url
    finally:
        stop_signing_server(proc, log)


def _use(settings, url: str, *, ca: Path, client: tuple[Path, Path] | None) -> None:
    settings.SIGNING_SERVICE_URL = url
    settings.SIGNING_SERVICE_TOKEN = TOKEN
    settings.SIGNING_SERVICE_TLS = {
        **settings.SIGNING_SERVICE_TLS,
        "ca_file": str(ca),
        "client_cert": str(client[0]) if client else "",
        "client_key": str(client[1]) if client else "",
    }


def test_a_seal_over_mutual_tls(tls_service, pki_files, settings):
    _use(settings, tls_service, ca=pki_files["ca"], client=pki_files["client"])
    assert remote.health()["status"] == "ok"
    result = remote.seal_document(make_pdf(), box=BOX)
    assert result.pdf.startswith(b"%PDF") and len(result.pdf) > len(make_pdf())


@pytest.mark.parametrize(
    ("case", "ca", "client"),
    [
        ("no client certificate", "ca", None),
        ("a client certificate from another CA", "ca", "foreign_client"),
        ("the service's certificate from a CA we do not trust", "other_ca", "client"),
    ],
)
def test_the_link_is_refused(tls_service, pki_files, settings, case, ca, client):
    _use(settings, tls_service, ca=pki_files[ca], client=pki_files[client] if client else None)
    with pytest.raises(ApplicationError) as err:
        remote.seal_document(make_pdf(), box=BOX)
    assert err.value.code == "pki_missing", case  # the service is unreachable as far as the caller knows


def test_a_host_name_the_certificate_does_not_name_is_refused(tls_service, pki_files, settings):
    """The same server reached as "localhost": its certificate names 127.0.0.1 only."""
    port = int(tls_service.rsplit(":", 1)[1])
    _use(settings, f"https://localhost:{port}", ca=pki_files["ca"], client=pki_files["client"])
    with pytest.raises(ApplicationError) as err:
        remote.seal_document(make_pdf(), box=BOX)
    assert err.value.code == "pki_missing"
    # What the client's own TLS settings say to that server, directly: a host name mismatch.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="mismatch"),
    ):
        remote.tls_context().wrap_socket(raw, server_hostname="localhost")


def test_plain_http_to_the_tls_port_gets_no_answer(tls_service, settings):
    settings.SIGNING_SERVICE_URL = tls_service.replace("https://", "http://")
    settings.SIGNING_SERVICE_TOKEN = TOKEN
    with pytest.raises(ApplicationError):
        remote.seal_document(make_pdf(), box=BOX)
