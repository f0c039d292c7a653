"""Every event kind renders on each of its channels from its data file and templates; the registry is
checked when loaded; a call missing a variable is refused before anything is written."""

import datetime as dt

import pytest

from epolicy.notifications.events import EventRegistryError, event_kind, events, parse_events, render

from .util import CODE, DISPUTE_URL, NAME, context

ALL = sorted(events())
LIFE_CHANGES = ("life.change_applied", "life.change_failed", "life.change_not_approved")


def rendered(event: str) -> dict[str, dict]:
    kind = event_kind(event)
    return {
        channel: render(kind, channel, context(event), dedupe_key="K1", wechat_template_id="T-1")
        for channel in kind.channels
    }


def test_the_registry_has_the_events_the_domain_emits():
    assert set(ALL) >= {
        "motor.otp",
        "motor.application_link",
        "motor.policy_issued",
        "life.otp",
        "life.change_applied",
        "life.change_failed",
        "life.change_not_approved",
        "life.change_reconfirm",
        "life.dispute_opened",
    }
    assert event_kind("motor.otp").channels == ("sms",)
    assert event_kind("motor.policy_issued").channels == ("email",)
    for event in (*LIFE_CHANGES, "life.change_reconfirm", "life.dispute_opened"):
        assert event_kind(event).channels == ("sms", "email", "wechat")


@pytest.mark.parametrize("event", ALL)
def test_each_event_renders_on_each_channel(event, settings):
    messages = rendered(event)
    for channel, payload in messages.items():
        if channel == "sms":
            text = payload["text"]
            assert text.startswith(f"【{settings.INSURER['short_name']}】") and "\n" not in text
            assert "{{" not in text and "{%" not in text
            assert NAME not in text  # a phone's lock screen shows it
        elif channel == "email":
            assert payload["subject"] and "\n" not in payload["subject"]
            assert settings.INSURER["hotline"] in payload["body"]
            assert payload["message_id"].startswith("<epolicy.") and payload["message_id"].endswith(">")
        else:
            assert payload["template_id"] == "T-1"
            values = [field["value"] for field in payload["data"].values()]
            assert all(values) and not any("{{" in v for v in values)


def test_otp_texts_carry_the_code():
    assert f"验证码 {CODE}，" in rendered("motor.otp")["sms"]["text"]
    assert f"验证码 {CODE}，用于确认保全变更" in rendered("life.otp")["sms"]["text"]
    # An issued policy's codes (the policy holders' pages, e-endorsements) pay nothing: their own text.
    policy_code = rendered("motor.policy_otp")["sms"]["text"]
    assert f"验证码 {CODE}，用于登录查看您的车险保单及办理批改（保单PDZA20261201000001）" in policy_code
    assert "缴纳" not in policy_code and "投保单" not in policy_code


@pytest.mark.parametrize("event", LIFE_CHANGES)
def test_every_channel_of_a_change_shows_the_not_me_link(event):
    messages = rendered(event)
    assert f"不是本人操作？请点击 {DISPUTE_URL}" in messages["sms"]["text"]
    assert DISPUTE_URL in messages["email"]["body"] and "不是本人操作？" in messages["email"]["body"]
    assert f'<a href="{DISPUTE_URL}">' in messages["email"]["html"]
    assert messages["wechat"]["url"] == DISPUTE_URL


def test_the_change_applied_message_in_full():
    messages = rendered("life.change_applied")
    # 10:30 UTC is 18:30 in Asia/Shanghai: times are shown in business time.
    assert (
        "您的保单 P2026000123 已于 2026-12-01 18:30 完成联系地址变更，批单号 E2026000456。"
        in (messages["sms"]["text"])
    )
    assert messages["email"]["subject"].endswith("保单 P2026000123 联系地址变更已生效")
    assert messages["email"]["body"].startswith(f"尊敬的{NAME}：")
    assert messages["wechat"]["data"]["keyword3"] == {"value": "2026-12-01 18:30"}


def test_the_policy_mail_keeps_its_text_and_message_id(settings):
    settings.DEFAULT_FROM_EMAIL = "epolicy@insurer.example"
    mail = rendered("motor.policy_issued")["email"]
    assert mail["subject"] == f"【{settings.INSURER['short_name']}】您的交强险电子保单 PDZA20261201000001"
    assert mail["body"].startswith(
        f"尊敬的{NAME}：\n\n您投保的机动车交通事故责任强制保险已承保，保单号 PDZA20261201000001。"
    )
    assert f"验真：上传附件到 {settings.SITE_URL}/verify/ " in mail["body"]
    kind = event_kind("motor.policy_issued")
    assert render(kind, "email", context("motor.policy_issued"), dedupe_key="PDZA1")["message_id"] == (
        "<epolicy.PDZA1@insurer.example>"
    )


def test_html_escapes_what_the_emitter_passes():
    ctx = {**context("life.change_applied"), "customer_name": "<script>x</script>"}
    mail = render(event_kind("life.change_applied"), "email", ctx, dedupe_key="K")
    assert "<script>" not in mail["html"] and "&lt;script&gt;" in mail["html"]
    assert "<script>x</script>" in mail["body"]  # plain text is not HTML


def test_a_missing_variable_or_a_time_as_text_is_refused():
    kind = event_kind("life.change_applied")
    ctx = context("life.change_applied")
    with pytest.raises(ValueError, match="dispute_url"):
        kind.check_context({k: v for k, v in ctx.items() if k != "dispute_url"})
    with pytest.raises(ValueError, match="applied_at must be a datetime"):
        kind.check_context({**ctx, "applied_at": "2026-12-01"})
    kind.check_context({k: v for k, v in ctx.items() if k != "customer_name"})  # optional


def test_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown notification event"):
        event_kind("motor.nothing")


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"x.y": {"channels": ["fax"]}}, "channels"),
        ({"motor.otp": {"channels": ["email"]}}, "no template email_subject.txt"),
        ({"motor.otp": {"channels": ["wechat"]}}, "wechat channel needs"),
        ({"motor.otp": {"channels": ["sms"], "expires": "soon"}}, "expires"),
        ({}, "must map"),
    ],
)
def test_an_inconsistent_registry_is_refused(raw, message):
    with pytest.raises(EventRegistryError, match=message):
        parse_events(raw)


def test_otp_messages_expire_with_the_code(settings):
    settings.OTP = {**settings.OTP, "ttl_seconds": 300}
    assert event_kind("motor.otp").expires_after() == dt.timedelta(minutes=5)
    assert event_kind("motor.otp").secret and event_kind("life.otp").secret
    assert event_kind("life.change_applied").expires_after() is None
