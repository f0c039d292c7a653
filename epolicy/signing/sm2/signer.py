"""pyHanko's signer for SM2: pyHanko assembles the CMS, the digest is SM3, the signature SM2.

pyHanko computes the /ByteRange digest with any hash `cryptography` knows by name (SM3 included, once
asn1crypto knows the OID: `oids.register`), builds the PAdES signed attributes (content-type,
message-digest, signing-certificate-v2) and the SignerInfo; this signer declares SM2-with-SM3 as
the signature algorithm (so pyHanko writes 1.2.156.10197.1.501 and the SM3 digest OID) and signs the
DER of the signed attributes with SM2 (default signer id, GB/T 35276).

The signature timestamp token's imprint is SHA-256 over the signature value, not SM3: the token comes
from the platform's RSA TSA (or an external TSA), which offers SHA-2 imprints only.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from . import oids
from .keys import Sm2Key

TIMESTAMP_DIGEST = "sha256"
# A DER SM2 signature (r, s) is at most 72 bytes.
_DRY_RUN_SIGNATURE = b"\0" * 72


class Sm2Signer(signers.Signer):
    def __init__(
        self,
        *,
        key: Sm2Key,
        cert: asn1_x509.Certificate,
        chain: tuple[asn1_x509.Certificate, ...] = (),
    ):
        self._key = key
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs(chain),
            # The root is what the verifier trusts already; a self-signed root is left out of the CMS.
            embed_roots=False,
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": oids.SM2_SM3_NAME}),
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm.lower() != oids.SM3_NAME:
            raise ValueError(f"the SM2 seal signs SM3 digests only, not {digest_algorithm}")
        if dry_run:
            return _DRY_RUN_SIGNATURE
        return self._key.sign(data)

    async def unsigned_attrs(
        self,
        digest_algorithm: str,
        signature: bytes,
        signed_attrs: cms.CMSAttributes,
        timestamper: Any = None,
        dry_run: bool = False,
    ) -> cms.CMSAttributes | None:
        return await super().unsigned_attrs(
            TIMESTAMP_DIGEST, signature, signed_attrs=signed_attrs, timestamper=timestamper, dry_run=dry_run
        )
