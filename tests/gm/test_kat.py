"""Known answers from the standards: GB/T 32905 (SM3), GB/T 32907 (SM4), RFC 8998 A.1 (SM4-GCM) and
GB/T 32918.5 / GM/T 0003.5 (SM2 signature on the sm2p256v1 curve)."""

from __future__ import annotations

import pytest
from asn1crypto.algos import DSASignature

from epolicy.common.gm import primitives
from epolicy.common.gm.primitives import (
    AuthenticationFailed,
    sm3,
    sm4_encrypt_block,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)
from epolicy.common.gm.sm2 import DEFAULT_SIGNER_ID, SM2PrivateKey, SM2PublicKey


# --- SM3, GB/T 32905-2016 appendix A ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_sm3_examples_of_the_standard(message, digest):
    assert sm3(message).hex() == digest


def test_gmssl_sm3_agrees():
    import gmssl_pyx

    assert gmssl_pyx.sm3_hash(b"abc") == sm3(b"abc")


# --- SM4, GB/T 32907-2016 appendix A ---------------------------------------------------------------------
KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm4_one_block():
    assert sm4_encrypt_block(KEY, KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_a_million_times():
    """Example 2: the block encrypted 1,000,000 times under the same key (~0.3 s here)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.SM4(KEY), modes.ECB()).encryptor()  # noqa: S305
    block = KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


# --- SM4-GCM, RFC 8998 appendix A.1 ----------------------------------------------------------------------
GCM = {
    "key": "0123456789ABCDEFFEDCBA9876543210",
    "iv": "00001234567800000000ABCD",
    "aad": "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
    "plaintext": "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    "ciphertext": "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
    "tag": "83DE3541E4C2B58177E065A9BF7B62EC",
}


def test_sm4_gcm_rfc8998_vector():
    v = {k: bytes.fromhex(x) for k, x in GCM.items()}
    sealed = sm4_gcm_encrypt(v["key"], v["iv"], v["plaintext"], v["aad"])
    assert sealed == v["ciphertext"] + v["tag"]
    assert sm4_gcm_decrypt(v["key"], v["iv"], sealed, v["aad"]) == v["plaintext"]


def test_sm4_gcm_matches_gmssl_and_refuses_changes():
    import gmssl_pyx

    v = {k: bytes.fromhex(x) for k, x in GCM.items()}
    body, tag = gmssl_pyx.sm4_gcm_encrypt(v["key"], v["iv"], v["aad"], v["plaintext"])
    assert body + tag == v["ciphertext"] + v["tag"]
    sealed = v["ciphertext"] + v["tag"]
    for changed in (
        (v["key"], v["iv"], sealed[:5] + b"\x00" + sealed[6:], v["aad"]),
        (v["key"], v["iv"], sealed, v["aad"] + b"x"),
        (v["key"], b"\x00" * 12, sealed, v["aad"]),
    ):
        with pytest.raises(AuthenticationFailed):
            sm4_gcm_decrypt(*changed)
    assert primitives.GCM_TAG_BYTES == 16


# --- SM2, GB/T 32918.5-2017 / GM/T 0003.5-2012 appendix A (curve sm2p256v1) ------------------------------
# The example of part 2 uses another (Fp-256 test) curve; this one is on the curve every party uses.
SM2_D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
SM2_X = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
SM2_Y = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
SM2_MESSAGE = b"message digest"
SM2_Z = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
SM2_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
SM2_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
# sm2p256v1 (GB/T 32918.5 §3)
CURVE_A = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
CURVE_B = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
CURVE_GX = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
CURVE_GY = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"


def _published_signature() -> bytes:
    return DSASignature({"r": int(SM2_R, 16), "s": int(SM2_S, 16)}).dump()


def test_sm2_z_value_of_the_example():
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) with ID 1234567812345678 (part 2 §5.5)."""
    entl = (len(DEFAULT_SIGNER_ID) * 8).to_bytes(2, "big")
    z = sm3(entl + DEFAULT_SIGNER_ID + bytes.fromhex(CURVE_A + CURVE_B + CURVE_GX + CURVE_GY + SM2_X + SM2_Y))
    assert z.hex().upper() == SM2_Z


def test_sm2_published_signature_verifies():
    """The signature of the standard (made with its fixed k, which no library lets a caller choose, so
    it cannot be re-made here) verifies; a changed message or signature does not."""
    public = SM2PublicKey(bytes.fromhex(SM2_X + SM2_Y))
    assert public.verify(SM2_MESSAGE, _published_signature())
    assert not public.verify(b"message digesT", _published_signature())
    wrong_s = DSASignature({"r": int(SM2_R, 16), "s": int(SM2_S, 16) + 1}).dump()
    assert not public.verify(SM2_MESSAGE, wrong_s)
    assert not public.verify(SM2_MESSAGE, _published_signature(), signer_id=b"ALICE123@YAHOO.COM")


def test_sm2_example_key_pair_and_fresh_signatures():
    """The example's d and P belong together (the PKCS#8 reader checks this by a signature), and a
    signature made now with d verifies under P."""
    key = SM2PrivateKey.from_pem(
        SM2PrivateKey(bytes.fromhex(SM2_D), SM2PublicKey(bytes.fromhex(SM2_X + SM2_Y))).to_pem()
    )
    signature = key.sign(SM2_MESSAGE)
    assert key.public.verify(SM2_MESSAGE, signature)
    assert signature != key.sign(SM2_MESSAGE)  # a fresh random k each time


def test_sm2_encryption_round_trip_and_tamper():
    key = SM2PrivateKey.generate()
    ciphertext = key.public.encrypt(b"0123456789abcdef")
    assert key.decrypt(ciphertext) == b"0123456789abcdef"
    with pytest.raises(ValueError):
        key.decrypt(ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))
    with pytest.raises(ValueError):
        SM2PrivateKey.generate().decrypt(ciphertext)
