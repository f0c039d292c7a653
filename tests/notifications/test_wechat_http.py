"""The WeChat template-message adapter against a fake WeChat on loopback (a thread): the request it
sends, the access token fetched once and shared through the cache, a fresh token after errcode 40001 or
42001, and errors reduced to codes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from epolicy.notifications.channels import DeliveryError, send_wechat
from epolicy.notifications.models import Delivery
from epolicy.notifications.providers.base import ProviderError
from epolicy.notifications.providers.wechat import WeChatTemplateMessages

from .util import DISPUTE_URL, OPENID, emit

APP_ID, APP_SECRET = "wx0123456789abcdef", "app-secret-for-tests"
DATA = {"keyword1": {"value": "P2026000123"}, "keyword2": {"value": "联系地址变更"}}


class FakeWeChat:
    """Issues tokens tok-1, tok-2, ...; accepts a message only with the newest token, unless told to
    answer something else first (`next_answers`)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.messages: list[dict] = []
        self.next_answers: list[dict] = []
        self.token_answer: dict | None = None
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, body: dict, status: int = 200) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                fake.requests.append(f"GET {url.path}")
                if url.path != "/cgi-bin/token":
                    return self._answer({"errcode": 404}, 404)
                if fake.token_answer is not None:
                    return self._answer(fake.token_answer)
                if query != {"grant_type": ["client_credential"], "appid": [APP_ID], "secret": [APP_SECRET]}:
                    return self._answer({"errcode": 40013, "errmsg": "invalid appid"})
                with fake.lock:
                    token = f"tok-{len(fake.tokens) + 1}"
                    fake.tokens.append(token)
                return self._answer({"access_token": token, "expires_in": 7200})

            def do_POST(self):
                url = urlsplit(self.path)
                token = parse_qs(url.query).get("access_token", [""])[0]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(f"POST {url.path} {token}")
                if url.path != "/cgi-bin/message/template/send":
                    return self._answer({"errcode": 404}, 404)
                if fake.next_answers:
                    return self._answer(fake.next_answers.pop(0))
                if not fake.tokens or token != fake.tokens[-1]:
                    return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
                fake.messages.append(body)
                return self._answer({"errcode": 0, "errmsg": "ok", "msgid": 200228332 + len(fake.messages)})

        return Handler

    def __enter__(self) -> FakeWeChat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wechat(settings):
    cache.clear()
    with FakeWeChat() as fake:
        settings.WECHAT = {
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "api_base": fake.base,
            "timeout_seconds": 5,
            "templates": {"life.change_applied": "TPL-change-applied"},
        }
        settings.PROVIDERS = {
            **settings.PROVIDERS,
            "wechat": "epolicy.notifications.providers.wechat.WeChatTemplateMessages",
        }
        yield fake
    cache.clear()


def send(**overrides) -> str:
    args = {"openid": OPENID, "template_id": "TPL-change-applied", "url": DISPUTE_URL, "data": DATA}
    return WeChatTemplateMessages().send(**{**args, **overrides}, reference="epolicy-7")


def test_a_template_message_as_wechat_wants_it(wechat):
    assert send() == "200228333"
    assert wechat.messages == [
        {
            "touser": OPENID,
            "template_id": "TPL-change-applied",
            "data": DATA,
            "url": DISPUTE_URL,
            "client_msg_id": "epolicy-7",
        }
    ]
    assert WeChatTemplateMessages().template_for("life.change_applied") == "TPL-change-applied"
    assert WeChatTemplateMessages().template_for("life.otp") == ""


def test_the_token_is_fetched_once_and_shared_through_the_cache(wechat):
    send()
    send()
    WeChatTemplateMessages().send(openid=OPENID, template_id="T", url="", data=DATA)  # another instance
    assert wechat.tokens == ["tok-1"]
    assert [r for r in wechat.requests if r.startswith("GET")] == ["GET /cgi-bin/token"]
    assert "url" not in wechat.messages[-1]  # no link: none sent


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_a_refused_token_is_replaced_and_the_message_sent_once(wechat, errcode):
    send()  # caches tok-1
    wechat.next_answers = [{"errcode": errcode, "errmsg": "access_token expired"}]
    send()
    assert wechat.tokens == ["tok-1", "tok-2"]
    assert len(wechat.messages) == 2
    assert wechat.requests[-2:] == ["GET /cgi-bin/token", "POST /cgi-bin/message/template/send tok-2"]
    assert cache.get(f"notifications:wechat:access_token:{APP_ID}") == "tok-2"


def test_a_token_rotated_elsewhere_is_picked_up(wechat):
    send()
    wechat.tokens.append("tok-elsewhere")  # another installation fetched one: ours is now refused
    send()
    assert wechat.tokens[-1] == "tok-3" and len(wechat.messages) == 2


def test_refusals_become_codes(wechat):
    wechat.next_answers = [{"errcode": 43004, "errmsg": f"require subscribe hint: {OPENID}"}]
    with pytest.raises(ProviderError) as refused:
        send()
    assert (refused.value.code, refused.value.permanent, str(refused.value)) == (
        "wechat_43004",
        True,
        "wechat_43004",
    )
    wechat.next_answers = [{"errcode": 45009, "errmsg": "reach max api daily quota limit"}]
    with pytest.raises(ProviderError) as limited:
        send()
    assert (limited.value.code, limited.value.permanent) == ("wechat_45009", False)


def test_a_wrong_secret_is_a_token_error(wechat, settings):
    settings.WECHAT = {**settings.WECHAT, "app_secret": "wrong"}
    with pytest.raises(ProviderError) as refused:
        send()
    assert refused.value.code == "wechat_token_40013" and not wechat.messages


def test_unreachable_wechat_is_a_retryable_delivery_error(wechat, settings, db):
    n = emit()
    delivery = Delivery.objects.get(notification=n, channel="wechat")
    assert delivery.payload["template_id"] == "TPL-change-applied"
    settings.WECHAT = {**settings.WECHAT, "api_base": "http://127.0.0.1:9"}  # nothing listens there
    with pytest.raises(DeliveryError) as failed:
        send_wechat(delivery)
    assert (failed.value.code, failed.value.permanent) == ("wechat_unreachable", False)
    assert failed.value.__suppress_context__  # nothing that names the address or the token is chained
