"""The 国密 object identifiers (GM/T 0006), made known to asn1crypto once per process.

asn1crypto knows none of them: without names, pyHanko cannot compute an SM3 /ByteRange digest (it looks
the hash up by the algorithm's name in `cryptography`, which has SM3) and every report would show
dotted numbers. Registering is additive: no existing name or OID changes meaning.
"""

from __future__ import annotations

from asn1crypto import algos, keys

SM3 = "1.2.156.10197.1.401"  # digest (GB/T 32905)
SM2_CURVE = "1.2.156.10197.1.301"  # sm2p256v1: the curve, named in an id-ecPublicKey key's parameters
SM2_SIGN = "1.2.156.10197.1.301.1"  # SM2 signature scheme (used by some CMS producers)
SM2_WITH_SM3 = "1.2.156.10197.1.501"  # SM2 signature over SM3 (GM/T 0006: sm2sign-with-sm3)

SM3_NAME = "sm3"
SM2_SM3_NAME = "sm2_sm3"
SM2_SIGN_NAME = "sm2_sign"
SM2_CURVE_NAME = "sm2p256v1"

# GB/T 35276 / GM/T 0009: the signer id every interoperating implementation uses unless told otherwise.
DEFAULT_SIGNER_ID = b"1234567812345678"

SM2_SIGNATURE_OIDS = frozenset({SM2_WITH_SM3, SM2_SIGN})


def _register(oid_class: type, dotted: str, name: str) -> None:
    mapping = oid_class._map  # type: ignore[attr-defined]
    if mapping.get(dotted) == name:
        return
    mapping[dotted] = name
    reverse = getattr(oid_class, "_reverse_map", None)
    if reverse is not None:
        reverse[name] = dotted


def register() -> None:
    """Name SM3, SM2-with-SM3 and the SM2 curve in asn1crypto (idempotent)."""
    _register(algos.DigestAlgorithmId, SM3, SM3_NAME)
    _register(algos.SignedDigestAlgorithmId, SM2_WITH_SM3, SM2_SM3_NAME)
    _register(algos.SignedDigestAlgorithmId, SM2_SIGN, SM2_SIGN_NAME)
    if SM2_CURVE not in keys.NamedCurve._map:
        keys.NamedCurve.register(SM2_CURVE_NAME, SM2_CURVE, 32)


register()
