"""Signing in through the sandbox's WeChat web authorization: the round trip, a replayed or expired
code, a wrong state, a decline, a snapshot-page user, and a redirect_uri off the site."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from epolicy.common import clock
from epolicy.identity.providers.wechat import OAuthCodeRefused
from epolicy.identity.providers.wechat.sandbox import SandboxWeChatOAuth

from .conftest import WeChatUser, local_path

pytestmark = pytest.mark.django_db


def test_the_round_trip_signs_in_and_an_unbound_user_is_asked_to_bind(client):
    user = WeChatUser(client, "李四的微信")
    callback = user.authorize()
    query = parse_qs(urlsplit(callback).query)
    assert urlsplit(callback).path == "/wx/callback/" and query["code"] and query["state"]
    answer = client.get(callback)
    assert answer.status_code == 302 and answer["Location"] == "/wx/"
    assert client.get("/wx/")["Location"] == "/wx/bind/"
    page = client.get("/wx/bind/")
    assert page.status_code == 200 and "绑定本人车险保单" in page.content.decode()


def test_the_state_is_random_and_bound_to_the_session(client):
    first = parse_qs(urlsplit(client.get("/wx/signin/")["Location"]).query)["state"][0]
    second = parse_qs(urlsplit(client.get("/wx/signin/")["Location"]).query)["state"][0]
    assert first != second and len(first) == 32 and first.isalnum()


def test_a_page_asks_for_sign_in_first_and_comes_back_to_it(client):
    answer = client.get("/wx/policies/")
    assert answer.status_code == 302 and answer["Location"] == "/wx/signin/?next=/wx/policies/"
    assert client.post("/wx/bind/", {"action": "send"}).status_code == 401
    user = WeChatUser(client, "王五的微信")
    assert user.sign_in(next_path="/wx/verify/")["Location"] == "/wx/verify/"
    # Never somewhere else (an open redirect).
    assert user.sign_in(next_path="https://evil.example/")["Location"] == "/wx/"


def test_a_replayed_code_is_refused(client):
    user = WeChatUser(client, "李四的微信")
    callback = user.authorize()
    assert client.get(callback).status_code == 302
    code = parse_qs(urlsplit(callback).query)["code"][0]
    # A fresh sign-in in the same browser, answered with the used code: WeChat's 40163.
    state = parse_qs(urlsplit(client.get("/wx/signin/")["Location"]).query)["state"][0]
    replay = client.get("/wx/callback/", {"code": code, "state": state})
    assert replay.status_code == 400 and 'data-code="wechat_code_invalid"' in replay.content.decode()


def test_a_wrong_or_missing_state_is_refused_and_the_code_is_not_spent(client):
    user = WeChatUser(client, "李四的微信")
    callback = user.authorize()
    code = parse_qs(urlsplit(callback).query)["code"][0]
    wrong = client.get("/wx/callback/", {"code": code, "state": "0" * 32})
    assert wrong.status_code == 400 and 'data-code="wechat_state_invalid"' in wrong.content.decode()
    assert client.get("/wx/bind/").status_code == 302  # not signed in
    # The state was spent with that answer: the right one no longer works in this browser either.
    assert client.get(callback).status_code == 400
    # The code itself was never exchanged.
    assert SandboxWeChatOAuth().exchange_code(code=code).openid


def test_a_decline_brings_back_only_the_state(client):
    user = WeChatUser(client, "李四的微信")
    callback = user.authorize(decision="decline")
    assert set(parse_qs(urlsplit(callback).query)) == {"state"}
    answer = client.get(callback)
    assert answer.status_code == 403 and 'data-code="wechat_declined"' in answer.content.decode()
    assert "重新进入" in answer.content.decode()


def test_a_snapshot_page_user_is_refused(client):
    user = WeChatUser(client, "快照用户")
    answer = user.sign_in(snapshot=True)
    assert answer.status_code == 403 and 'data-code="wechat_snapshot_user"' in answer.content.decode()
    assert client.get("/wx/bind/").status_code == 302  # nothing to bind with


def test_a_code_is_single_use_lives_five_minutes_and_the_openid_follows_the_nickname(db):
    sandbox = SandboxWeChatOAuth()
    start = clock.now()
    with clock.frozen_clock(start):
        first = sandbox.consent(nickname="甲", scope="snsapi_base", snapshot=False)
        again = sandbox.consent(nickname="甲", scope="snsapi_base", snapshot=False)
        other = sandbox.consent(nickname="乙", scope="snsapi_base", snapshot=False)
        late = sandbox.consent(nickname="甲", scope="snsapi_base", snapshot=False)
        a = sandbox.exchange_code(code=first)
        assert a.openid == sandbox.exchange_code(code=again).openid
        assert a.openid != sandbox.exchange_code(code=other).openid
        assert a.openid.startswith("o") and len(a.openid) == 28 and not a.is_snapshotuser
        with pytest.raises(OAuthCodeRefused) as used:
            sandbox.exchange_code(code=first)
        assert used.value.code == "wechat_40163"
        with pytest.raises(OAuthCodeRefused) as unknown:
            sandbox.exchange_code(code="nope")
        assert unknown.value.code == "wechat_40029"
    with clock.frozen_clock(start + dt.timedelta(minutes=5, seconds=1)), pytest.raises(OAuthCodeRefused):
        sandbox.exchange_code(code=late)


def test_the_consent_page_refuses_a_redirect_off_the_site(client, settings):
    page = client.get(
        "/sandbox/identity/wechat/authorize",
        {
            "appid": "x",
            "redirect_uri": "https://evil.example/wx/callback/",
            "response_type": "code",
            "scope": "snsapi_base",
            "state": "abc",
        },
    )
    assert page.status_code == 400 and "10003" in page.content.decode()


def test_the_consent_page_exists_only_with_the_sandbox(client, settings):
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "wechat_oauth": "epolicy.identity.providers.wechat.official.WeChatWebAuth",
    }
    assert client.get("/sandbox/identity/wechat/authorize").status_code == 404


def test_the_official_adapter_builds_the_documented_address(settings):
    from epolicy.identity.providers.wechat.official import WeChatWebAuth

    settings.WECHAT = {**settings.WECHAT, "app_id": "wx1234567890abcdef", "app_secret": "s"}
    url = WeChatWebAuth().authorize_url(
        redirect_uri="https://epolicy.insurer.example/wx/callback/", state="AbC123", scope="snsapi_base"
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://open.weixin.qq.com/connect/oauth2/authorize"
    )
    assert parse_qs(parts.query) == {
        "appid": ["wx1234567890abcdef"],
        "redirect_uri": ["https://epolicy.insurer.example/wx/callback/"],
        "response_type": ["code"],
        "scope": ["snsapi_base"],
        "state": ["AbC123"],
    }
    assert parts.fragment == "wechat_redirect"
    assert local_path(url).startswith("/connect/")


class FakeAnswer:
    def __init__(self, body: bytes):
        self.body = body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, limit: int) -> bytes:
        return self.body[:limit]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (b'{"access_token":"T","expires_in":7200,"openid":"oREAL","scope":"snsapi_base"}', "oREAL"),
        (b'{"openid":"oSNAP","scope":"snsapi_userinfo","is_snapshotuser":1}', "snapshot"),
        (b'{"errcode":40163,"errmsg":"code been used"}', "wechat_40163"),
        (b'{"errcode":-1,"errmsg":"system error"}', "unavailable"),
        (b"<html>gateway</html>", "unavailable"),
        (TimeoutError(), "unavailable"),
    ],
)
def test_the_official_adapter_exchanges_a_code_and_never_invents_success(
    settings, monkeypatch, answer, outcome
):
    from epolicy.identity.providers.base import ProviderUnavailable
    from epolicy.identity.providers.wechat.official import WeChatWebAuth

    settings.WECHAT = {**settings.WECHAT, "app_id": "wxAPP", "app_secret": "SECRET", "timeout_seconds": 3}
    asked = {}

    def urlopen(request, timeout):
        asked.update(url=request.full_url, timeout=timeout)
        if isinstance(answer, Exception):
            raise answer
        return FakeAnswer(answer)

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    adapter = WeChatWebAuth()
    if outcome == "unavailable":
        with pytest.raises(ProviderUnavailable):
            adapter.exchange_code(code="C0DE")
    elif outcome.startswith("wechat_"):
        with pytest.raises(OAuthCodeRefused) as refused:
            adapter.exchange_code(code="C0DE")
        assert refused.value.code == outcome
    else:
        identity = adapter.exchange_code(code="C0DE")
        assert identity.is_snapshotuser is (outcome == "snapshot")
        assert identity.openid == ("oSNAP" if outcome == "snapshot" else "oREAL")
    parts = urlsplit(asked["url"])
    assert parts.path == "/sns/oauth2/access_token" and asked["timeout"] == 3
    assert parse_qs(parts.query) == {
        "appid": ["wxAPP"],
        "secret": ["SECRET"],
        "code": ["C0DE"],
        "grant_type": ["authorization_code"],
    }
