"""The event kinds (data/events.yaml) and the rendering of each channel's message from its templates.

The file is checked when loaded: known channels, a template for each, WeChat data for the WeChat
channel. Rendering is plain Django templates (text without escaping; the optional HTML body escaped),
so an emitter's text can never become markup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.template import Context, Engine, TemplateDoesNotExist

HERE = Path(__file__).resolve().parent
EVENTS_PATH = HERE / "data" / "events.yaml"
TEMPLATE_DIR = HERE / "templates"
CHANNELS = ("sms", "email", "wechat")
# Files each channel needs under templates/notifications/<event>/ (HTML_BODY is optional).
CHANNEL_FILES = {"sms": ("sms.txt",), "email": ("email_subject.txt", "email_body.txt"), "wechat": ()}
HTML_BODY = "email_body.html"
# Left part of a Message-ID (RFC 5322 dot-atom): anything else in a dedupe key becomes "-".
_NOT_ATOM = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")


class EventRegistryError(ValueError):
    """events.yaml or its templates are inconsistent; nothing is sent with a broken registry."""


@dataclass(frozen=True)
class WeChatSpec:
    url: str  # a template (usually "{{ dispute_url }}")
    data: dict[str, str]  # key -> template of its value


@dataclass(frozen=True)
class EventKind:
    name: str
    label: str
    channels: tuple[str, ...]
    context: tuple[str, ...]
    optional: tuple[str, ...]
    secret: bool
    expires: str  # "" (never), "otp_ttl", or seconds as text
    message_id: str
    wechat: WeChatSpec | None

    def expires_after(self) -> dt.timedelta | None:
        if not self.expires:
            return None
        if self.expires == "otp_ttl":
            return dt.timedelta(seconds=int(settings.OTP["ttl_seconds"]))
        return dt.timedelta(seconds=int(self.expires))

    def check_context(self, context: dict[str, Any]) -> None:
        """Refuse a call that lacks a variable its templates need, or passes a time as text."""
        missing = [name for name in self.context if context.get(name) in (None, "")]
        if missing:
            raise ValueError(f"event {self.name} needs context {missing}")
        for name in (*self.context, *self.optional):
            if name.endswith("_at") and name in context and not isinstance(context[name], dt.datetime):
                raise ValueError(f"event {self.name}: context {name} must be a datetime")


def _kind(name: str, raw: dict[str, Any]) -> EventKind:
    channels = tuple(raw.get("channels") or ())
    if not channels or set(channels) - set(CHANNELS):
        raise EventRegistryError(f"{name}: channels must be some of {CHANNELS}, not {channels}")
    for channel in channels:
        for filename in CHANNEL_FILES[channel]:
            if not (TEMPLATE_DIR / "notifications" / name / filename).is_file():
                raise EventRegistryError(f"{name}: no template {filename}")
    wechat = None
    if "wechat" in channels:
        spec = raw.get("wechat") or {}
        if not spec.get("data"):
            raise EventRegistryError(f"{name}: the wechat channel needs `wechat: data`")
        data = {str(key): str(value) for key, value in spec["data"].items()}
        wechat = WeChatSpec(url=str(spec.get("url") or ""), data=data)
    expires = str(raw.get("expires") or "")
    if expires and expires != "otp_ttl" and not expires.isdigit():
        raise EventRegistryError(f"{name}: expires must be seconds or otp_ttl")
    return EventKind(
        name=name,
        label=str(raw.get("label") or name),
        channels=channels,
        context=tuple(raw.get("context") or ()),
        optional=tuple(raw.get("optional") or ()),
        secret=bool(raw.get("secret", False)),
        expires=expires,
        message_id=str(raw.get("message_id") or f"epolicy.{name}"),
        wechat=wechat,
    )


def parse_events(raw: dict[str, Any]) -> dict[str, EventKind]:
    if not isinstance(raw, dict) or not raw:
        raise EventRegistryError("events.yaml must map event kinds to their definitions")
    return {str(name): _kind(str(name), spec or {}) for name, spec in raw.items()}


@cache
def events() -> dict[str, EventKind]:
    """Every event kind, loaded and checked once per process."""
    return parse_events(yaml.safe_load(EVENTS_PATH.read_text(encoding="utf-8")))


def event_kind(name: str) -> EventKind:
    kind = events().get(name)
    if kind is None:
        raise ValueError(f"unknown notification event {name!r} (see {EVENTS_PATH.name})")
    return kind


# --- rendering ---------------------------------------------------------------------------------------------
@cache
def _engine(*, html: bool) -> Engine:
    return Engine(dirs=[str(TEMPLATE_DIR)], autoescape=html, libraries={})


def _render_file(kind: EventKind, filename: str, context: dict[str, Any], *, html: bool = False) -> str:
    template = _engine(html=html).get_template(f"notifications/{kind.name}/{filename}")
    return template.render(Context(context, autoescape=html))


def _render_string(source: str, context: dict[str, Any]) -> str:
    return _engine(html=False).from_string(source).render(Context(context, autoescape=False)).strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def full_context(context: dict[str, Any]) -> dict[str, Any]:
    """What every template sees: the insurer and the site, then the emitter's variables (which win)."""
    return {"insurer": settings.INSURER, "site_url": settings.SITE_URL, **context}


def message_id(kind: EventKind, dedupe_key: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "epolicy.invalid"
    return f"<{kind.message_id}.{_NOT_ATOM.sub('-', dedupe_key)}@{domain}>"


def render(
    kind: EventKind, channel: str, context: dict[str, Any], *, dedupe_key: str, wechat_template_id: str = ""
) -> dict[str, Any]:
    """The message of one channel as the delivery stores and sends it."""
    ctx = full_context(context)
    if channel == "sms":
        return {"text": _one_line(_render_file(kind, "sms.txt", ctx))}
    if channel == "email":
        payload = {
            "subject": _one_line(_render_file(kind, "email_subject.txt", ctx)),
            "body": _render_file(kind, "email_body.txt", ctx),
            "html": "",
            "message_id": message_id(kind, dedupe_key),
        }
        with contextlib.suppress(TemplateDoesNotExist):  # the HTML body is optional
            payload["html"] = _render_file(kind, HTML_BODY, ctx, html=True)
        return payload
    if channel == "wechat":
        assert kind.wechat is not None
        return {
            "template_id": wechat_template_id,
            "url": _render_string(kind.wechat.url, ctx),
            "data": {key: {"value": _render_string(src, ctx)} for key, src in kind.wechat.data.items()},
        }
    raise ValueError(f"unknown channel {channel!r}")
