"""`epolicy pki_sm2_init`: the development SM2 seal PKI (SM2 root, key offline; SM2 seal; the root's CRL).

    epolicy pki_sm2_init                      create it if there is none (else say what there is)
    epolicy pki_sm2_init --force              a new root and seal; earlier roots stay trusted
    epolicy pki_sm2_init --renew-crl  --root-key FILE    reissue the root's CRL (valid a year)
    epolicy pki_sm2_init --revoke-seal --root-key FILE   revoke the current seal (the CRL lists it)

The root key's passphrase is printed once at creation; with --root-key it is read from
$EPOLICY_ROOT_KEY_PASSPHRASE or asked for. See docs/sm2-signing.md.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from epolicy.signing.pki import offline as pki_offline
from epolicy.signing.sm2 import store
from epolicy.signing.sm2.keys import Sm2KeyError


class Command(BaseCommand):
    help = "Create the development SM2 seal PKI (SM2 root and seal certificates) for SEAL_ALGORITHM=sm2."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="make a new SM2 root and seal")
        parser.add_argument("--renew-crl", action="store_true", help="reissue the SM2 root's CRL")
        parser.add_argument("--revoke-seal", action="store_true", help="revoke the current SM2 seal")
        parser.add_argument("--root-key", metavar="FILE", help="the SM2 root's offline key file")
        parser.add_argument("--offline-dir", metavar="DIR", help="where a new root key is written")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["renew_crl"] or options["revoke_seal"]:
            self._crl(options)
            return
        if store.is_initialised() and not options["force"]:
            seal = store.load_seal()
            self.stdout.write(
                f"SM2 seal PKI present in {store.sm2_dir()}: seal serial {seal.serial_hex}, "
                f"valid until {seal.certificate['tbs_certificate']['validity']['not_after'].native:%Y-%m-%d}"
            )
            return
        offline_dir = Path(options["offline_dir"]) if options["offline_dir"] else None
        result = store.initialise(offline_dir=offline_dir)
        self.stdout.write(
            self.style.SUCCESS(
                f"SM2 root {result.root.serial_number:x} and seal {result.seal.serial_number:x} "
                f"made in {store.sm2_dir()}"
            )
        )
        self.stdout.write(
            self.style.WARNING(
                "\n"
                "SM2 ROOT CA KEY is kept OFFLINE; the platform keeps no copy of it:\n"
                f"  key file:   {result.root_key_file}\n"
                f"  passphrase: {result.root_passphrase}\n"
                "Write the passphrase down now: it is shown this once and stored nowhere. It is needed to\n"
                "renew the SM2 root's CRL (yearly) and to revoke the SM2 seal; see docs/sm2-signing.md.\n"
            )
        )

    def _crl(self, options: dict[str, Any]) -> None:
        path = options.get("root_key")
        if not path:
            raise CommandError("the SM2 root's key is needed: --root-key <sm2-root-ca-….p8>")
        passphrase = os.environ.get(pki_offline.ROOT_KEY_PASSPHRASE_ENV, "")
        if not passphrase:
            if not sys.stdin.isatty():
                raise CommandError(
                    f"the passphrase of {path} is needed: set {pki_offline.ROOT_KEY_PASSPHRASE_ENV}"
                )
            passphrase = getpass.getpass(f"passphrase of {path}: ")
        try:
            root, key = store.load_root_key(path, passphrase.strip())
        except (OSError, Sm2KeyError) as exc:
            raise CommandError(str(exc)) from exc
        revoke: tuple[int, ...] = ()
        if options["revoke_seal"]:
            seal = store.load_seal()
            revoke = (seal.certificate.serial_number,)
        crl = store.renew_crl(root, key, revoke=revoke)
        tbs = crl["tbs_cert_list"]
        self.stdout.write(
            self.style.SUCCESS(
                f"SM2 root CRL {crl.crl_number_value.native} issued, "
                f"next update {tbs['next_update'].native:%Y-%m-%d}, "
                f"{len(tbs['revoked_certificates'])} revoked"
            )
        )
