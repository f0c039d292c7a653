"""The sandbox identity providers' hosted pages: the face-capture page and the video room render on a
phone, set the outcome and send the customer back; CSRF-protected; gone when a real provider is set."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from django.test import Client

from epolicy.common import clock
from epolicy.common.identifiers import id_number_check_char
from epolicy.identity.providers.sandbox import SandboxFace, SandboxVideo

NAME = "王小明"
ID = "110105198506121" + "23" + id_number_check_char("11010519850612123")
RETURN_URL = "http://127.0.0.1:8000/m/identity/return/?step=1"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"


def face_session(request_id: str = "fq-page"):
    return SandboxFace().start(name=NAME, id_number=ID, request_id=request_id, return_url=RETURN_URL)


def video_session(request_id: str = "vq-page"):
    return SandboxVideo().start(name=NAME, id_number=ID, request_id=request_id, return_url=RETURN_URL)


def path_of(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


@pytest.mark.django_db
def test_face_page_shows_the_capture_masked_and_in_chinese(client):
    session = face_session()
    resp = client.get(path_of(session.capture_url))
    assert resp.status_code == 200
    html = resp.content.decode()
    for text in ("完成人脸识别（通过）", "模拟识别不通过", "模拟活体检测失败", "更多模拟情形", "王**"):
        assert text in html
    assert ID not in html and NAME not in html  # shown masked only
    assert ID[:4] + "*" * 10 + ID[-4:] in html
    assert 'name="viewport"' in html and 'content="noindex"' in html
    assert resp["Referrer-Policy"] == "strict-origin"
    assert "no-store" in resp["Cache-Control"] or "private" in resp["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("outcome", "status", "score"), [("pass", "passed", 0.93), ("mismatch", "failed", 0.41)]
)
def test_face_page_sets_the_outcome_and_returns(client, outcome, status, score):
    session = face_session()
    resp = client.post(path_of(session.capture_url), {"outcome": outcome})
    assert resp.status_code == 302
    assert resp["Location"] == RETURN_URL
    result = SandboxFace().result(reference=session.reference)
    assert (result.status, result.score) == (status, score)
    # Back on the page afterwards: the result, a way back, and no second chance.
    html = client.get(path_of(session.capture_url)).content.decode()
    assert f'data-state="{status}"' in html and 'name="outcome"' not in html
    again = client.post(path_of(session.capture_url), {"outcome": "pass" if outcome != "pass" else "spoof"})
    assert again.status_code == 409
    assert SandboxFace().result(reference=session.reference).status == status


@pytest.mark.django_db
def test_face_page_refuses_an_unknown_outcome(client):
    session = face_session()
    resp = client.post(path_of(session.capture_url), {"outcome": "approve-everything"})
    assert resp.status_code == 400
    assert "请选择" in resp.content.decode()
    assert SandboxFace().result(reference=session.reference).status == "pending"


@pytest.mark.django_db
def test_expired_face_page_says_so_and_takes_nothing(client):
    with clock.frozen_clock(dt.datetime(2025, 1, 6, 10, 0, tzinfo=clock.SHANGHAI)):
        session = face_session()
    html = client.get(path_of(session.capture_url)).content.decode()
    assert "会话已过期" in html and 'name="outcome"' not in html
    assert client.post(path_of(session.capture_url), {"outcome": "pass"}).status_code == 409
    assert SandboxFace().result(reference=session.reference).status == "expired"


@pytest.mark.django_db
def test_video_room_sets_the_agents_verdict(client):
    session = video_session()
    html = client.get(path_of(session.room_url)).content.decode()
    assert "坐席确认本人" in html and "坐席判定非本人" in html
    resp = client.post(path_of(session.room_url), {"outcome": "rejected"})
    assert (resp.status_code, resp["Location"]) == (302, RETURN_URL)
    result = SandboxVideo().result(reference=session.reference)
    assert result.status == "failed" and result.recording_reference.startswith("REC")


@pytest.mark.django_db
def test_pages_are_csrf_protected():
    session = face_session()
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(path_of(session.capture_url), {"outcome": "pass"}).status_code == 403
    assert SandboxFace().result(reference=session.reference).status == "pending"
    browser.get(path_of(session.capture_url))
    token = browser.cookies["csrftoken"].value
    resp = browser.post(path_of(session.capture_url), {"outcome": "pass", "csrfmiddlewaretoken": token})
    assert resp.status_code == 302
    assert SandboxFace().result(reference=session.reference).status == "passed"


@pytest.mark.django_db
def test_unknown_or_crossed_references_are_404(client):
    face, video = face_session(), video_session()
    assert client.get("/sandbox/identity/face/no-such-reference/").status_code == 404
    assert client.get(f"/sandbox/identity/video/{face.reference}/").status_code == 404
    assert client.get(f"/sandbox/identity/face/{video.reference}/").status_code == 404
    assert client.put(path_of(face.capture_url)).status_code == 405


@pytest.mark.django_db
def test_pages_do_not_exist_when_a_real_provider_is_configured(client, settings):
    face, video = face_session(), video_session()
    settings.IDENTITY_HTTP_URL = "https://idgw.example.com/epolicy"
    settings.IDENTITY_HTTP_SECRET = "a-secret"
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "face": "epolicy.identity.providers.http.HttpFace",
        "video": "epolicy.identity.providers.http.HttpVideo",
    }
    for url in (face.capture_url, video.room_url):
        assert client.get(path_of(url)).status_code == 404
        assert client.post(path_of(url), {"outcome": "pass"}).status_code == 404
    assert SandboxFace().result(reference=face.reference).status == "pending"


# --- on a phone -----------------------------------------------------------------------------------

CHROMIUM = os.environ.get("EPOLICY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("EPOLICY_SCREENSHOTS", "var/screenshots"))


@pytest.fixture
def phone():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}: run scripts/setup.sh (installs Debian's chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        yield context.new_page()
        browser.close()


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_capture_page_and_video_room_on_a_390px_phone(live_server, settings, phone):
    settings.SITE_URL = live_server.url
    back = f"{live_server.url}/query/"
    face = SandboxFace().start(name=NAME, id_number=ID, request_id="fq-phone", return_url=back)
    phone.goto(face.capture_url)
    assert _fits(phone)
    phone.click("summary")  # the extra outcomes fit as well
    assert _fits(phone)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "identity-sandbox-face.png"), full_page=True)
    box = phone.locator("#outcome-pass").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.click("#outcome-pass")
    phone.wait_for_url(back)
    assert SandboxFace().result(reference=face.reference).status == "passed"

    video = SandboxVideo().start(name=NAME, id_number=ID, request_id="vq-phone", return_url=back)
    phone.goto(video.room_url)
    assert _fits(phone)
    phone.screenshot(path=str(SCREENSHOTS / "identity-sandbox-video.png"), full_page=True)
    phone.click("#outcome-confirmed")
    phone.wait_for_url(back)
    assert SandboxVideo().result(reference=video.reference).status == "passed"
