"""Timestamping (RFC 3161): the platform's own TSA, an external TSA by URL, and the TSA as a responder.

- `timestamper()` is what every signature and document timestamp uses: the platform's in-process TSA
  (the `tsa` credential, signing at the platform clock) when settings.TSA_URL is empty, else pyHanko's
  HTTP client for that URL. Either one remembers the genTime of the token it obtained (`issued_at`).
- `tsa_respond(request_der)` answers a DER TimeStampReq with a DER TimeStampResp, so the platform TSA
  can be served over HTTP (`views.tsa_view`) to other systems of the insurer.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

from asn1crypto import algos, cms, core, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from pyhanko.sign.general import SigningError, simple_cms_attribute
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import get_nonce
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from epolicy.common import clock

from . import der, pki
from .keystore import hash_algorithm, signing_certificate_attr
from .pki import LoadedCredential, Role

logger = logging.getLogger(__name__)

# The platform TSA's policy: a UUID-derived OID (ITU-T X.667, arc 2.25), which needs no registration.
TSA_POLICY_OID = "2.25.223160716622003406826361375463441393155"
# Requests larger than this are not timestamp queries (a SHA-512 query with a nonce is ~100 bytes).
MAX_REQUEST_BYTES = 8 * 1024
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


class RecordingTimeStamper(Protocol):
    """A pyHanko TimeStamper that remembers when its last token was issued."""

    issued_at: dt.datetime | None


class PlatformTimeStamper(DummyTimeStamper):
    """The platform's in-process RFC 3161 TSA: answers with the `tsa` credential at the platform clock.

    Make one per signature: it remembers the time of the token it issued (`issued_at`).
    """

    def __init__(self, tsa: LoadedCredential):
        self._tsa_key = tsa.require_key()
        self._parts = _token_parts(tsa)
        # The token carries the TSA's certificate only: its issuer is the root every verifier trusts.
        super().__init__(tsa_cert=tsa.cert_asn1, tsa_key=tsa.key_asn1)
        self.issued_at: dt.datetime | None = None

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """The same TimeStampResp as pyHanko's DummyTimeStamper builds, assembled from DER pieces.

        pyHanko builds the SignedData around the token with asn1crypto, which copies the TSA's
        certificate and every fixed field into new objects for every token (~1.5 ms). Here the fixed
        parts are encoded once per credential (`_TokenParts`) and only the TSTInfo, the signed
        attributes and the signature are new; a test checks that the result is byte for byte the
        one pyHanko's own assembly gives for the same TSTInfo.
        """
        self.fixed_dt = self.issued_at = clock.now().astimezone(dt.UTC)
        md_algorithm = self.override_md or req["message_imprint"]["hash_algorithm"]["algorithm"].native
        tst_info = self._build_tst_info(req["message_imprint"], self.issued_at, req).dump()
        signature, signed_attrs = self._sign_tst_info(tst_info, md_algorithm, self.issued_at)
        token = self._parts.token(tst_info, md_algorithm, signed_attrs.dump(), signature)
        return tsp.TimeStampResp.load(der.tlv(0x30, _GRANTED + token))

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        """A token for a signature or document timestamp made in this process, without a request.

        pyHanko would encode a TimeStampReq with a nonce, have `request_tsa_response` decode it, encode
        the TSTInfo with asn1crypto and check the nonce in the answer: a round trip within one process
        that no one can replay into. The token is the one `request_tsa_response` gives for the same
        imprint without a nonce (a test compares the bytes), joined from DER parts.
        """
        self.fixed_dt = self.issued_at = clock.now().astimezone(dt.UTC)
        md_algorithm = md_algorithm.lower()
        tst_info = self._parts.tst_info(
            md_algorithm, message_digest, serial_number=get_nonce(), gen_time=self.issued_at
        )
        token_md = self.override_md or md_algorithm
        signature, signed_attrs = self._sign_tst_info(tst_info, token_md, self.issued_at)
        return cms.ContentInfo.load(self._parts.token(tst_info, token_md, signed_attrs.dump(), signature))

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, gen_time: dt.datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        info = super()._build_tst_info(message_imprint, gen_time, req)
        info["policy"] = tsp.ObjectIdentifier(TSA_POLICY_OID)
        return info

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, gen_time: dt.datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        hash_algo = hash_algorithm(md_algorithm)
        digest = hashes.Hash(hash_algo)
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes.load(self._parts.signed_attrs(gen_time, digest.finalize()))
        if not isinstance(self._tsa_key, rsa.RSAPrivateKey):
            raise SigningError("the platform TSA signs with RSA keys only")
        signature = self._tsa_key.sign(signed_attrs.dump(), padding.PKCS1v15(), hash_algo)
        return signature, signed_attrs


class RecordingHTTPTimeStamper(HTTPTimeStamper):
    """pyHanko's RFC 3161 HTTP client that also remembers the genTime of the last token it received."""

    def __init__(self, url: str, timeout: int = 10):
        # A TSA of the platform's own kind wants an API key; a commercial one its own credentials.
        headers = {"X-API-Key": settings.TSA_API_KEY} if getattr(settings, "TSA_API_KEY", "") else None
        super().__init__(url, timeout=timeout, headers=headers)
        self.issued_at: dt.datetime | None = None

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        response = await super().async_request_tsa_response(req)
        token = response["time_stamp_token"]
        if token.native is not None:
            info = token["content"]["encap_content_info"]["content"].parsed
            self.issued_at = info["gen_time"].native
        return response


# ---------------------------------------------------------------------------------------------------------
# The token's fixed parts, encoded once per TSA credential

_GRANTED = tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}).dump()
_CONTENT_TYPE_TST_INFO = simple_cms_attribute("content_type", "tst_info").dump()
_SIGNING_TIME = cms.CMSAttributeType("signing_time").dump()
_MESSAGE_DIGEST = cms.CMSAttributeType("message_digest").dump()


class _TokenParts:
    """DER of what every token of one TSA credential shares: its certificate, its identifier, algorithms."""

    def __init__(self, tsa: LoadedCredential):
        cert = tsa.cert_asn1
        # [0] IMPLICIT SET OF CertificateChoices: the TSA's certificate, and the intermediates of a
        # licensed CA that certified it (our own TSA hangs directly under our root: none).
        intermediates = [c.dump() for c in tsa.chain_asn1 if c.self_signed not in ("maybe", "yes")]
        self.certificates = der.set_of([cert.dump(), *intermediates])
        self.sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": cert.issuer, "serial_number": cert.serial_number}
                )
            }
        ).dump()
        self.signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}).dump()
        self.signing_certificate = signing_certificate_attr(cert)  # the ESS attribute of every token
        self._policy = core.ObjectIdentifier(TSA_POLICY_OID).dump()
        # TSTInfo's tsa: [0] EXPLICIT GeneralName, the directoryName of the TSA's certificate.
        self._tsa_name = der.tlv(0xA0, x509.GeneralName(name="directory_name", value=cert.subject).dump())
        self._digest_algorithms: dict[str, bytes] = {}

    def signed_attrs(self, gen_time: dt.datetime, message_digest: bytes) -> bytes:
        """The token's signed attributes (a SET OF Attribute): content type, signing time, ESS, digest.

        The signing time is a UTCTime before 2050 and a GeneralizedTime from then on (UTCTime cannot
        express 2050 and later, and archives outlive that), as asn1crypto's cms.Time chooses.
        """
        if gen_time.year < 2050:
            when = core.UTCTime(gen_time).dump()
        else:
            when = core.GeneralizedTime(gen_time).dump()
        return der.tlv(
            0x31,
            der.set_of(
                [
                    _CONTENT_TYPE_TST_INFO,
                    der.tlv(0x30, _SIGNING_TIME + der.tlv(0x31, when)),
                    self.signing_certificate,
                    der.tlv(0x30, _MESSAGE_DIGEST + der.tlv(0x31, der.tlv(0x04, message_digest))),
                ]
            ),
        )

    def tst_info(
        self, md_algorithm: str, message_digest: bytes, *, serial_number: int, gen_time: dt.datetime
    ) -> bytes:
        """TSTInfo (RFC 3161 §2.4.2) for an imprint, without a nonce: what `_build_tst_info` encodes."""
        return der.tlv(
            0x30,
            der.VERSION_1
            + self._policy
            + der.tlv(0x30, self.digest_algorithm(md_algorithm) + der.tlv(0x04, message_digest))
            + core.Integer(serial_number).dump()
            + core.GeneralizedTime(gen_time).dump()
            + self._tsa_name,
        )

    def digest_algorithm(self, name: str) -> bytes:
        der = self._digest_algorithms.get(name)
        if der is None:
            der = self._digest_algorithms[name] = algos.DigestAlgorithm({"algorithm": name}).dump()
        return der

    def token(self, tst_info: bytes, md_algorithm: str, signed_attrs: bytes, signature: bytes) -> bytes:
        """The timeStampToken: ContentInfo { signedData, [0] SignedData } (RFC 3161 §2.4.2, RFC 5652)."""
        digest_algorithm = self.digest_algorithm(md_algorithm)
        signer_info = der.signer_info(
            sid=self.sid,
            digest_algorithm=digest_algorithm,
            signed_attrs=signed_attrs,
            signature_algorithm=self.signature_algorithm,
            signature=signature,
        )
        return der.signed_data(
            version=der.VERSION_3,
            digest_algorithm=digest_algorithm,
            encap_content_info=der.tlv(0x30, der.TST_INFO + der.tlv(0xA0, der.tlv(0x04, tst_info))),
            certificates=self.certificates,
            signer_info=signer_info,
        )


_parts_cache: dict[str, _TokenParts] = {}


def _token_parts(tsa: LoadedCredential) -> _TokenParts:
    parts = _parts_cache.get(tsa.fingerprint)
    if parts is None:
        parts = _parts_cache[tsa.fingerprint] = _TokenParts(tsa)
    return parts


def uses_platform_tsa() -> bool:
    return not settings.TSA_URL


def timestamper(credential: LoadedCredential | None = None) -> TimeStamper:
    """A fresh timestamper for one signature: the platform TSA, or settings.TSA_URL when set.

    `credential` is the platform TSA's, when the caller has already loaded it.
    """
    if settings.TSA_URL:
        return RecordingHTTPTimeStamper(settings.TSA_URL)
    return PlatformTimeStamper(credential or pki.load_credential(Role.TSA))


def issued_at(stamper: TimeStamper) -> dt.datetime | None:
    value: dt.datetime | None = getattr(stamper, "issued_at", None)
    return value


# ---------------------------------------------------------------------------------------------------------
# The platform TSA as an RFC 3161 responder


class TimeStampRejection(core.Sequence):
    """A TimeStampResp without a token (asn1crypto's TimeStampResp wrongly requires the token)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(fail_info: str, text: str) -> bytes:
    return TimeStampRejection(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": tsp.PKIStatus("rejection"),
                    "status_string": tsp.PKIFreeText([text]),
                    "fail_info": tsp.PKIFailureInfo({fail_info}),
                }
            )
        }
    ).dump()


def tsa_respond(request_der: bytes) -> bytes:
    """Answer one RFC 3161 TimeStampReq (DER) with a TimeStampResp (DER); never raises on bad input."""
    if len(request_der) > MAX_REQUEST_BYTES:
        return _rejection("bad_request", "request too large")
    try:
        req = tsp.TimeStampReq.load(bytes(request_der), strict=True)
        version = req["version"].native
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        policy = req["req_policy"].native
        extensions = req["extensions"].native
        cert_req = bool(req["cert_req"].native)
    except (ValueError, TypeError, KeyError) as exc:
        logger.info("tsa_respond: unreadable request: %r", exc)
        return _rejection("bad_data_format", "request is not a DER TimeStampReq")
    if version != "v1":
        return _rejection("bad_request", "only version 1 requests are supported")
    if algorithm not in _DIGEST_SIZES:
        return _rejection("bad_alg", "message imprint must be SHA-256, SHA-384 or SHA-512")
    if not isinstance(digest, bytes) or len(digest) != _DIGEST_SIZES[algorithm]:
        return _rejection("bad_data_format", "message imprint has the wrong length")
    if policy is not None and policy != TSA_POLICY_OID:
        return _rejection("unaccepted_policy", f"this TSA only issues under policy {TSA_POLICY_OID}")
    if extensions:
        return _rejection("unaccepted_extension", "no request extensions are supported")
    try:
        stamper = PlatformTimeStamper(pki.load_credential(Role.TSA))
        response = stamper.request_tsa_response(req)
    except Exception:
        logger.exception("tsa_respond: the platform TSA failed")
        return _rejection("system_failure", "timestamping failed")
    if not cert_req:
        # RFC 3161 2.4.1: without certReq the certificates field must be absent (it is not signed).
        signed_data = response["time_stamp_token"]["content"]
        signed_data["certificates"] = None
        response = tsp.TimeStampResp.load(response.dump(force=True))
    return bytes(response.dump())
