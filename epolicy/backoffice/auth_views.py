"""Staff sign-in: password with lockout (django-axes), then a TOTP second factor (django-otp).

One rule (`second_factor_step`) decides whether a signed-in staff member may use the console, the admin
and the staff API: whoever has a confirmed device, or works where settings.STAFF_OTP_REQUIRED is on,
must have entered a code from it in this session. The console's login page is the only password page
(the admin's sends there), so axes counts every attempt in one place; a locked user name or address is
answered by `lockout_response` before the password is looked at. docs/staff-security.md tells the
operator's side.
"""

from __future__ import annotations

import datetime as dt
import math
from base64 import b32encode
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import (
    get_client_parameters,
    get_client_username,
    get_cool_off,
    get_credentials,
    get_failure_limit,
)
from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.admin.views.decorators import staff_member_required as _staff_member_required
from django.contrib.auth import get_user_model
from django.contrib.auth import views as django_auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from epolicy.audit.services import audit_record
from epolicy.documents.qr import make_qr
from epolicy.portal.views import page

VERIFY = "backoffice:otp_verify"
ENROLL = "backoffice:otp_enroll"
DEVICE = "backoffice:otp_device"
DEVICE_NAME = "运营后台验证器"

View = Callable[..., HttpResponse]


# --- the rule ---------------------------------------------------------------------------------------


def _verified(user: Any) -> bool:
    # OTPMiddleware gives request.user is_verified(); the user object login() has just put there has not.
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def second_factor_step(user: Any) -> str | None:
    """The URL name of the second-factor step a signed-in staff member still owes this session, or None.

    A confirmed device always asks for its code; without one, STAFF_OTP_REQUIRED sends to enrollment.
    Users who are not active staff owe nothing here: the staff check refuses them before this.
    """
    if not (user.is_authenticated and user.is_active and user.is_staff) or _verified(user):
        return None
    if user_has_device(user, confirmed=True):
        return VERIFY
    if settings.STAFF_OTP_REQUIRED:
        return ENROLL
    return None


def staff_access_ok(user: Any) -> bool:
    """Active staff past the second factor when owed: what every console page and the staff API need."""
    return (
        bool(user.is_authenticated and user.is_active and user.is_staff) and second_factor_step(user) is None
    )


def _with_next(url_name: str, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(url_name)}?{urlencode({'next': next_url})}")


def second_factor_required(view: View) -> View:
    """Send a staff member who still owes the second factor to that step, then back here."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        step = second_factor_step(request.user)
        if step is not None:
            return _with_next(step, request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


def staff_required(view: View) -> View:
    """Console pages: active staff (others go to the console's login page) past the second factor."""
    return _staff_member_required(second_factor_required(view), login_url="backoffice:login")


def _password_only(view: View) -> View:
    """The second-factor pages themselves: active staff, whether or not the code was entered yet."""
    return _staff_member_required(view, login_url="backoffice:login")


def _next_url(request: HttpRequest, default: str | None = None) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or resolve_url(settings.LOGIN_REDIRECT_URL)


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


# --- password step and lockout ----------------------------------------------------------------------


def _lockout_figures() -> dict[str, Any]:
    cool_off = get_cool_off()
    return {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None,
    }


class StaffAuthenticationForm(AuthenticationForm):
    """The console's password form. A locked user name or address is refused before authenticate() (so
    the password is not checked and the attempt does not prolong the lockout); a non-staff account gets
    the same words as a wrong password, so the page never tells whether an account exists."""

    def clean(self) -> dict[str, Any]:
        self.axes_credentials = get_credentials(self.cleaned_data.get("username"))
        if self.request is not None and not AxesProxyHandler.is_allowed(self.request, self.axes_credentials):
            raise forms.ValidationError("登录已暂时锁定。", code="locked")
        return super().clean()

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise self.get_invalid_login_error()


class StaffLoginView(django_auth_views.LoginView):
    template_name = "backoffice/login.html"
    authentication_form = StaffAuthenticationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(insurer=settings.INSURER, **_lockout_figures(), **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if form.has_error(NON_FIELD_ERRORS, "locked"):
            return lockout_response(self.request, None, form.axes_credentials)
        return super().form_invalid(form)

    def get_success_url(self) -> str:
        url = super().get_success_url()
        step = second_factor_step(self.request.user)
        return f"{reverse(step)}?{urlencode({'next': url})}" if step else url


def _locked_until(request: HttpRequest, credentials: dict[str, Any] | None) -> dt.datetime | None:
    """When the lock ends at the latest: axes drops each failure a cool-off after it was recorded, so a
    locked user name or address is free once its newest counted failure is that old (None: unknown)."""
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    now = request.axes_attempt_time  # type: ignore[attr-defined]
    username = get_client_username(request, credentials)
    params = get_client_parameters(
        username,
        request.axes_ip_address,  # type: ignore[attr-defined]
        request.axes_user_agent,  # type: ignore[attr-defined]
        request,
        credentials,
    )
    limit = get_failure_limit(request, credentials)
    until = None
    for filters in params:
        counted = AccessAttempt.objects.filter(**filters, attempt_time__gte=now - cool_off).aggregate(
            failures=Sum("failures_since_start"), newest=Max("attempt_time")
        )
        if (counted["failures"] or 0) >= limit and counted["newest"] is not None:
            end = counted["newest"] + cool_off
            until = end if until is None else max(until, end)
    return until


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The answer to a locked user name or address, also axes' (settings.AXES_LOCKOUT_CALLABLE)."""
    AxesProxyHandler.update_request(request)
    until = _locked_until(request, credentials)
    minutes = None
    if until is not None:
        minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    context = {**_lockout_figures(), "until": until, "minutes": minutes}
    return page(request, "backoffice/lockout.html", context, status=429)


# --- second factor: services ------------------------------------------------------------------------


def staff_device_confirm(*, device_id: int, actor: str) -> TOTPDevice:
    """Enrollment: the device whose code was just entered becomes the staff member's one device."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_related("user").get(pk=device_id)
        # The user row first, then the devices, the audit chain last: two tabs confirming at once
        # cannot leave two confirmed devices.
        user = get_user_model().objects.select_for_update().get(pk=device.user_id)
        device = TOTPDevice.objects.select_for_update().get(pk=device_id)
        if device.confirmed:
            return device  # a second submit of the same enrollment
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise ValueError("the staff member already has a confirmed device: remove it first")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_record(
            action="staff_user.otp_device_enrolled",
            actor=actor,
            subject_type="staff_user",
            subject_id=user.get_username(),
            data={"device_type": "totp", "device_id": device.pk, "name": device.name},
        )
    return device


def staff_device_remove(*, user_id: int, actor: str) -> list[int]:
    """Removal: the staff member's TOTP devices are deleted (pending ones too); returns their ids."""
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user_id)
        ids = sorted(TOTPDevice.objects.filter(user=user).values_list("pk", flat=True))
        TOTPDevice.objects.filter(pk__in=ids).delete()
        audit_record(
            action="staff_user.otp_device_removed",
            actor=actor,
            subject_type="staff_user",
            subject_id=user.get_username(),
            data={"device_type": "totp", "device_ids": ids},
        )
    return ids


def _confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


def _pending_device(user: Any) -> TOTPDevice:
    # The oldest pending one: a reload (or a second tab) keeps showing the secret already scanned.
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def _wait_text(until: dt.datetime) -> str:
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    return f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"


def _check_code(device: TOTPDevice, raw: str) -> tuple[str | None, int]:
    """(None, 200) if `raw` is the device's current code; else the Chinese reason and the HTTP status.

    The device's own throttle (django-otp: 1, 2, 4, 8 … seconds after successive wrong codes) is
    checked first, so a throttled device refuses even the right code until the wait is over.
    """
    code = "".join(raw.split())
    allowed, info = device.verify_is_allowed()
    if not allowed:
        wait = _wait_text(info["locked_until"]) if info and info.get("locked_until") else "稍后"
        return f"验证码错误次数过多，请 {wait}后再试。", 429
    if not (code.isdigit() and len(code) == device.digits):
        return f"请输入验证器上显示的 {device.digits} 位数字。", 200
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if locked.verify_token(code):
            return None, 200
    locked.refresh_from_db()
    allowed, info = locked.verify_is_allowed()
    problem = "验证码不正确，请输入验证器上当前显示的 6 位数字。"
    if not allowed and info and info.get("locked_until"):
        problem += f"为防止猜测，请 {_wait_text(info['locked_until'])}后再输入。"
    return problem, 200


# --- second factor: pages ---------------------------------------------------------------------------


def _verified_login(request: HttpRequest, device: TOTPDevice) -> None:
    # The session gains rights here, as at the password: give it a new key, as login() does.
    request.session.cycle_key()
    otp_login(request, device)


@never_cache
@_password_only
def otp_verify(request: HttpRequest) -> HttpResponse:
    """After the password: the 6-digit code of the staff member's confirmed device."""
    next_url = _next_url(request)
    device = _confirmed_device(request.user)
    if device is None or _verified(request.user):
        return HttpResponseRedirect(next_url)  # nothing to verify here; the page itself asks for more
    problem, status = None, 200
    if request.method == "POST":
        problem, status = _check_code(device, request.POST.get("otp_token", ""))
        if problem is None:
            _verified_login(request, device)
            return HttpResponseRedirect(next_url)
    return page(request, "backoffice/otp_verify.html", {"next": next_url, "problem": problem}, status=status)


@never_cache
@_password_only
def otp_enroll(request: HttpRequest) -> HttpResponse:
    """Enroll an authenticator app: QR of the otpauth:// URI and the secret; a valid code confirms it."""
    user = request.user
    next_url = _next_url(request)
    if _confirmed_device(user) is not None:
        # One device each; replacing it means removing it first, on the device page, with its code.
        if not _verified(user):
            return _with_next(VERIFY, next_url)
        return HttpResponseRedirect(reverse(DEVICE))
    device = _pending_device(user)
    problem, status = None, 200
    if request.method == "POST":
        problem, status = _check_code(device, request.POST.get("otp_token", ""))
        if problem is None:
            device = staff_device_confirm(device_id=device.pk, actor=_actor(request))
            _verified_login(request, device)
            messages.success(request, "已开启两步验证：以后每次登录，输入密码后还需输入验证器上的 6 位数字。")
            return HttpResponseRedirect(next_url)
    secret = b32encode(device.bin_key).decode()
    context = {
        "next": next_url,
        "problem": problem,
        "qr_uri": make_qr(device.config_url).svg_data_uri(scale=5, border=4),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "issuer": settings.OTP_TOTP_ISSUER,
        "required": settings.STAFF_OTP_REQUIRED,
    }
    return page(request, "backoffice/otp_enroll.html", context, status=status)


@never_cache
@staff_required
def otp_device(request: HttpRequest) -> HttpResponse:
    """The staff member's own second factor: state, enroll, or remove (with a current code)."""
    device = _confirmed_device(request.user)
    problem, status = None, 200
    if request.method == "POST" and device is not None:
        problem, status = _check_code(device, request.POST.get("otp_token", ""))
        if problem is None:
            staff_device_remove(user_id=device.user_id, actor=_actor(request))
            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            messages.success(request, "已关闭两步验证并删除验证器绑定。")
            return HttpResponseRedirect(reverse(ENROLL if settings.STAFF_OTP_REQUIRED else DEVICE))
    context = {"device": device, "problem": problem, "required": settings.STAFF_OTP_REQUIRED}
    return page(request, "backoffice/otp_device.html", context, status=status)


# --- the admin behind the same gate -----------------------------------------------------------------


def _admin_login(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    next_url = _next_url(request, default=reverse("admin:index"))
    step = second_factor_step(request.user)
    if step is not None:
        return _with_next(step, next_url)
    if staff_access_ok(request.user):
        return HttpResponseRedirect(next_url)
    return _with_next("backoffice:login", next_url)


def _guarded(patterns: list[Any], *, top: bool) -> list[URLPattern | URLResolver]:
    guarded: list[URLPattern | URLResolver] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            guarded.append(
                URLResolver(
                    p.pattern, _guarded(p.url_patterns, top=False), p.default_kwargs, p.app_name, p.namespace
                )
            )
        elif top and p.name == "login":
            guarded.append(URLPattern(p.pattern, _admin_login, p.default_args, p.name))
        elif top and p.name == "logout":
            guarded.append(p)  # leaving is always allowed
        else:
            guarded.append(URLPattern(p.pattern, second_factor_required(p.callback), p.default_args, p.name))
    return guarded


def admin_urls(site: AdminSite) -> tuple[list[URLPattern | URLResolver], str, str]:
    """`site.urls` behind the console's sign-in: its login page sends to the console's (one password
    page, so one lockout), and every admin page but logout asks for the second factor when owed."""
    patterns, app_name, namespace = site.urls
    return _guarded(patterns, top=True), app_name, namespace
