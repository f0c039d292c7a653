"""The platform's development PKI: root CA, issuing CA, insurer seal, customer event-certificate CA, TSA.

    root CA (20 y) ─┬─ issuing CA (10 y) ── insurer seal (3 y, O/CN = insurer, serialNumber = USCC)
     (offline)      ├─ customer CA (10 y) ── event certificates (1 day, one per consumer signing)
                    └─ TSA (10 y, extendedKeyUsage timeStamping, critical)

Certificates are kept in `SigningCredential` rows, keys in the key store each credential names (the
database, encrypted files or a PKCS#11 token: see `keystore`) — except the root's, which the platform
does not keep at all: it is exported for offline media and brought back only to sign a CA or the
root's CRL (`offline`, docs/pki.md). CRLs are in `crl`. `pki_rotate` replaces
a credential without breaking old documents (old certificates stay trusted); see also `lifecycle`.
Every certificate below a root names the URLs of its issuer's CRL and certificate (`repository`).

The package: `certificates` (names, building and storing certificates), `bootstrap` (pki_init,
pki_rotate), `offline` (the root key's export and return), `loading` (credentials ready to sign with,
cached per process by fingerprint) and `events` (event certificates, and the trust queries of the
verifier).

Callers use the package (`pki.load_credential`, ...), and so do tests that replace a function: the
private names other modules and tests reach (`_load_key`, `_issued_by` from `crl`; `_build_certificate`,
`_names` from tests) are re-exported here, and `bootstrap` calls `_load_key` through the package.
"""

from . import external, licensed, offline
from .bootstrap import ROTATABLE_ROLES, PkiChanges, pki_init, pki_rotate
from .certificates import (
    BACKDATE,
    PrivateKey,
    Role,
    fingerprint,
    key_to_asn1,
    serial_hex,
    to_asn1,
)
from .certificates import _build_certificate as _build_certificate
from .certificates import _names as _names
from .events import (
    EVENT_CERT_VALIDITY,
    EVENT_KEY_TYPE,
    customer_ca_certificates,
    event_certificate_issuer,
    issue_event_certificate,
    seal_fingerprints,
    trust_roots,
    trust_tsa_chain,
    trust_tsa_root,
    tsa_trust_roots,
)
from .loading import LoadedCredential, clear_cache, load_credential, load_credentials
from .loading import _issued_by as _issued_by
from .loading import _load_key as _load_key
from .offline import RootKey, RootKeyError, RootKeyExport, RootKeyRequired, load_root_key

__all__ = [
    "BACKDATE",
    "EVENT_CERT_VALIDITY",
    "EVENT_KEY_TYPE",
    "ROTATABLE_ROLES",
    "LoadedCredential",
    "PkiChanges",
    "PrivateKey",
    "Role",
    "RootKey",
    "RootKeyError",
    "RootKeyExport",
    "RootKeyRequired",
    "clear_cache",
    "customer_ca_certificates",
    "event_certificate_issuer",
    "external",
    "fingerprint",
    "issue_event_certificate",
    "key_to_asn1",
    "licensed",
    "load_credential",
    "load_credentials",
    "load_root_key",
    "offline",
    "pki_init",
    "pki_rotate",
    "seal_fingerprints",
    "serial_hex",
    "to_asn1",
    "trust_roots",
    "trust_tsa_chain",
    "trust_tsa_root",
    "tsa_trust_roots",
]
