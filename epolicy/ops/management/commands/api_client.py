"""`epolicy api_client`: keys of the insurer's other systems — create, list, grant, revoke, rotate.

    epolicy api_client create NAME --scope motor:read --scope motor:write [--owner "渠道部 张三"]
    epolicy api_client list
    epolicy api_client grant NAME --scope archive:read      (revoke-scope to take one away)
    epolicy api_client rotate NAME [--overlap-hours 24]     (the old key works that long, then stops)
    epolicy api_client revoke NAME
    epolicy api_client scopes                               (what each scope allows)
    epolicy api_client envelope NAME --sm2-key client.pem [--require | --allow-plaintext]
                                                            (the client's SM2 certificate or public key;
                                                             --require refuses its plaintext calls)
    epolicy api_client envelope NAME --clear-key            (back to plaintext only)
    epolicy api_client envelope-key [--generate]            (the platform's SM2 certificate for partners;
                                                             --generate makes the key files if missing)

Keys are printed once and stored only as SHA-256. Every change is recorded in the audit log.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.gm.sm2 import KeyFormatError, load_peer
from epolicy.common.models import SCOPES, ApiClient

ACTOR = "system:api_client_command"


class Command(BaseCommand):
    help = "Manage API keys of the insurer's other systems (create, list, grant, revoke, rotate)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new client and its key (printed once)")
        create.add_argument("name")
        create.add_argument("--scope", action="append", default=[], choices=sorted(SCOPES))
        create.add_argument("--owner", default="", help="who answers for this client (team, person)")
        sub.add_parser("list", help="clients, scopes, key prefix, last use")
        sub.add_parser("scopes", help="what each scope allows")
        for name in ("grant", "revoke-scope"):
            p = sub.add_parser(name, help=f"{name} scopes of a client")
            p.add_argument("name")
            p.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES))
        rotate = sub.add_parser("rotate", help="a new key; the old one keeps working for --overlap-hours")
        rotate.add_argument("name")
        rotate.add_argument("--overlap-hours", type=float, default=0.0)
        revoke = sub.add_parser("revoke", help="the client's keys stop working at once")
        revoke.add_argument("name")
        envelope = sub.add_parser(
            "envelope", help="the client's SM2 key for the SM envelope, and whether required"
        )
        envelope.add_argument("name")
        envelope.add_argument(
            "--sm2-key", help="PEM file: the client's SM2 certificate or public key ('-': stdin)"
        )
        envelope.add_argument("--clear-key", action="store_true", help="forget the client's SM2 key")
        required = envelope.add_mutually_exclusive_group()
        required.add_argument("--require", dest="require", action="store_true", default=None)
        required.add_argument("--allow-plaintext", dest="require", action="store_false")
        platform = sub.add_parser("envelope-key", help="the platform's SM2 envelope certificate (PEM)")
        platform.add_argument("--generate", action="store_true", help="make the key files when missing")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"_{action}")(options)

    def _client(self, name: str) -> ApiClient:
        client = ApiClient.objects.select_for_update().filter(name=name).first()
        if client is None:
            raise CommandError(f"no API client named {name!r} (see: epolicy api_client list)")
        return client

    def _audit(self, action: str, client: ApiClient, **data: Any) -> None:
        audit_record(
            action=f"api_client.{action}",
            actor=ACTOR,
            subject_type="api_client",
            subject_id=client.name,
            data={"scopes": client.scopes, "key_prefix": client.key_prefix, **data},
        )

    def _create(self, options: dict[str, Any]) -> None:
        if ApiClient.objects.filter(name=options["name"]).exists():
            raise CommandError(f"an API client named {options['name']!r} exists; rotate its key instead")
        if not options["scope"]:
            raise CommandError("give at least one --scope (see: epolicy api_client scopes)")
        with transaction.atomic():
            client, key = ApiClient.create_with_key(
                options["name"], scopes=options["scope"], owner=options["owner"]
            )
            self._audit("created", client, owner=client.owner)
        self.stdout.write(f"X-API-Key: {key}")
        self.stdout.write(f"scopes: {', '.join(client.scopes)}  (the key is shown only now)")

    def _list(self, options: dict[str, Any]) -> None:
        clients = list(ApiClient.objects.order_by("name"))
        if not clients:
            self.stdout.write("no API clients yet (create one: epolicy api_client create NAME --scope ...)")
        for c in clients:
            state = (
                "active" if c.active else f"revoked {clock.fmt_local(c.revoked_at) if c.revoked_at else ''}"
            )
            used = clock.fmt_local(c.last_used_at) if c.last_used_at else "never"
            self.stdout.write(
                f"{c.name}\t{state}\tkey {c.key_prefix or '(legacy)'}…\tlast used {used}\t"
                f"owner {c.owner or '-'}\tscopes {', '.join(c.scopes) or '-'}"
            )

    def _scopes(self, options: dict[str, Any]) -> None:
        for scope, text in SCOPES.items():
            self.stdout.write(f"{scope}\t{text}")

    def _grant(self, options: dict[str, Any]) -> None:
        with transaction.atomic():
            client = self._client(options["name"])
            client.scopes = sorted(set(client.scopes) | set(options["scope"]))
            client.save(update_fields=["scopes"])
            self._audit("scopes_granted", client, granted=options["scope"])
        self.stdout.write(f"{client.name}: {', '.join(client.scopes)}")

    def _revoke_scope(self, options: dict[str, Any]) -> None:
        with transaction.atomic():
            client = self._client(options["name"])
            client.scopes = sorted(set(client.scopes) - set(options["scope"]))
            client.save(update_fields=["scopes"])
            self._audit("scopes_revoked", client, revoked=options["scope"])
        self.stdout.write(f"{client.name}: {', '.join(client.scopes) or '-'}")

    def _rotate(self, options: dict[str, Any]) -> None:
        overlap = dt.timedelta(hours=options["overlap_hours"])
        if overlap < dt.timedelta(0) or overlap > dt.timedelta(days=30):
            raise CommandError("--overlap-hours must be between 0 and 720")
        with transaction.atomic():
            client = self._client(options["name"])
            if not client.active:
                raise CommandError(f"{client.name} is revoked; create a new client instead")
            key = ApiClient.new_key()
            now = clock.now()
            client.previous_key_hash = client.key_hash if overlap else ""
            client.previous_valid_until = now + overlap if overlap else None
            client.key_hash = ApiClient.hash_key(key)
            client.key_prefix = key[:10]
            client.rotated_at = now
            client.save()
            self._audit("key_rotated", client, overlap_hours=options["overlap_hours"])
        self.stdout.write(f"X-API-Key: {key}")
        if client.previous_valid_until is not None:
            self.stdout.write(f"the previous key works until {clock.fmt_local(client.previous_valid_until)}")

    def _revoke(self, options: dict[str, Any]) -> None:
        with transaction.atomic():
            client = self._client(options["name"])
            client.active = False
            client.revoked_at = clock.now()
            client.previous_key_hash = ""
            client.previous_valid_until = None
            client.save()
            self._audit("revoked", client)
        self.stdout.write(f"{client.name}: revoked; its keys no longer work")

    def _envelope(self, options: dict[str, Any]) -> None:
        if options["sm2_key"] and options["clear_key"]:
            raise CommandError("give --sm2-key or --clear-key, not both")
        pem = ""
        if options["sm2_key"]:
            source = options["sm2_key"]
            pem = sys.stdin.read() if source == "-" else Path(source).read_text()
            try:
                load_peer(pem)
            except KeyFormatError as exc:
                raise CommandError(f"not an SM2 certificate or public key: {exc}") from exc
        with transaction.atomic():
            client = self._client(options["name"])
            if options["clear_key"]:
                client.sm2_public_key = ""
                if options["require"] is None:
                    client.require_envelope = False
            elif pem:
                client.sm2_public_key = pem
            if options["require"] is not None:
                client.require_envelope = options["require"]
            if client.require_envelope and not client.sm2_public_key:
                raise CommandError("--require needs the client's SM2 key (--sm2-key FILE)")
            client.save(update_fields=["sm2_public_key", "require_envelope"])
            key_id = load_peer(client.sm2_public_key).public_key.key_id if client.sm2_public_key else ""
            self._audit("envelope_set", client, sm2_key_id=key_id, require_envelope=client.require_envelope)
        self.stdout.write(
            f"{client.name}: SM2 key {key_id or '(none)'}; "
            f"{'envelope required' if client.require_envelope else 'plaintext allowed'}"
        )

    def _envelope_key(self, options: dict[str, Any]) -> None:
        from epolicy.common.envelope_middleware import platform_certificate_pem, platform_id, platform_key
        from epolicy.common.errors import ApplicationError
        from epolicy.common.gm.keyfile import ensure_key_pair

        config = getattr(settings, "SM_ENVELOPE", {})
        if options["generate"]:
            if not config.get("key_file") or not config.get("certificate_file"):
                raise CommandError("set EPOLICY_SM_ENVELOPE_KEY_FILE and EPOLICY_SM_ENVELOPE_CERT_FILE first")
            made = ensure_key_pair(
                Path(config["key_file"]),
                Path(config["certificate_file"]),
                common_name=f"{platform_id()} SM envelope",
                organization=settings.INSURER["name"],
            )
            self.stderr.write("made the platform's SM2 envelope key" if made else "the key exists; kept it")
        try:
            key_id = platform_key().public.key_id
        except ApplicationError as exc:
            raise CommandError(
                "no platform SM2 envelope key (run: epolicy api_client envelope-key --generate)"
            ) from exc
        self.stderr.write(f"platform id {platform_id()}, key id {key_id}")
        self.stdout.write(platform_certificate_pem().rstrip("\n"))
