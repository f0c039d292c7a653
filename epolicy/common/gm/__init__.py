"""国密: SM3, SM4 (cryptography) and SM2 (GmSSL through gmssl-pyx), and the SM envelope built on them.

Pure cryptography: no Django models here (the replay memory and the key settings live with the caller,
epolicy.common.envelope_middleware). docs/sm-envelope.md describes the wire format.
"""
