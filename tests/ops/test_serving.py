"""The web tier as it runs in production: scripts/serve.sh (gunicorn, several worker processes, static
files through WhiteNoise), and nothing a page needs from the internet (an insurer's intranet has none).

The server runs in its own processes on a throw-away installation (its own var/, SQLite file, keys).
"""

from __future__ import annotations

import gzip
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[2]
EPOLICY = str(Path(sys.executable).parent / "epolicy")
START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    """scripts/serve.sh on a fresh installation, as the README's run command starts it."""
    home = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EPOLICY_", "DJANGO_", "PROMETHEUS_"))},
        "EPOLICY_VAR_DIR": str(home / "var"),
        "EPOLICY_DATABASE_URL": f"sqlite:///{home / 'var' / 'epolicy.sqlite3'}",
        "EPOLICY_BIND": f"127.0.0.1:{port}",
        "EPOLICY_WEB_WORKERS": "2",
        "EPOLICY_WEB_THREADS": "2",
        "EPOLICY_SITE_URL": f"http://127.0.0.1:{port}",
        "EPOLICY_VENV": str(Path(sys.executable).parent.parent),
    }
    (home / "var").mkdir()
    for command in (["migrate", "--no-input", "-v", "0"], ["pki_init"]):
        subprocess.run([EPOLICY, *command], env=env, check=True, capture_output=True, timeout=300)
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "serve.sh")], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if _get(base + "/query/")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(
                "serve.sh did not answer: " + (home / "serve.log").read_text(errors="replace")[-3000:]
            )
        time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_serve_runs_gunicorn_with_several_worker_processes(served):
    port = urlsplit(served).port
    masters = subprocess.run(["pgrep", "-f", f"gunicorn.*127.0.0.1:{port}"], capture_output=True, text=True)
    pids = [int(p) for p in masters.stdout.split()]
    # The master's children are its workers (the master is the process whose parent is not a gunicorn).
    workers = {child for pid in pids for child in _children(pid) if child in pids}
    assert len(workers) >= 2, (pids, workers)


def test_static_files_are_hashed_compressed_and_cached_for_ever(served):
    status, _, body = _get(served + "/query/")
    assert status == 200
    css = re.search(rb'href="(/static/epolicy/app\.[0-9a-f]{12}\.css)"', body)
    assert css, "the page names the content-hashed stylesheet (collectstatic's manifest)"
    status, headers, data = _get(served + css.group(1).decode(), {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("content-encoding") == "gzip"
    assert "immutable" in headers.get("cache-control", "")
    assert b"{" in gzip.decompress(data)
    assert _get(served + "/static/epolicy/no-such-file.css")[0] == 404


def test_the_api_documentation_loads_its_assets_from_the_platform(served):
    status, _, body = _get(served + "/api/v1/docs")
    assert status == 200
    assets = re.findall(rb'(?:src|href)="([^"]+)"', body)
    assert any(b"swagger-ui" in a for a in assets), assets
    for asset in assets:
        url = urljoin(served + "/api/v1/docs", asset.decode())
        assert urlsplit(url).netloc == urlsplit(served).netloc, url
        assert _get(url)[0] == 200, url


def test_swagger_ui_renders_in_a_browser_without_internet(served, browser, shot):
    """Every request to another host is refused, as on an intranet: the page must still render."""
    outside: list[str] = []
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()

    def gate(route):
        if urlsplit(route.request.url).netloc != urlsplit(served).netloc:
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", gate)
    page.goto(served + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .information-container", timeout=20_000)
    assert page.locator(".swagger-ui .title").first.inner_text().startswith("epolicy API")
    page.wait_for_selector(".opblock", timeout=20_000)  # the operations, from /api/v1/openapi.json
    shot(page, "swagger-offline")
    context.close()
    assert outside == []


# --- no page references an outside host ------------------------------------------------------------------

_FETCHING = {("script", "src"), ("img", "src"), ("link", "href"), ("iframe", "src"), ("source", "src")}
_FETCHING |= {("img", "srcset"), ("source", "srcset"), ("video", "src"), ("audio", "src"), ("embed", "src")}
_FETCHING |= {("object", "data"), ("form", "action")}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")
_CSS_IMPORT = re.compile(r"""@import\s+['"]([^'"]+)""")


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (tag, name) in _FETCHING:
                self.urls += [part.split()[0] for part in value.split(",")] if name == "srcset" else [value]
            if value and name == "style":
                self.urls += _CSS_URL.findall(value)

    def handle_data(self, data: str) -> None:
        self.urls += _CSS_URL.findall(data) + _CSS_IMPORT.findall(data)


def _outside(urls: list[str], own: set[str]) -> list[str]:
    hosts = []
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.scheme in ("data", "blob") or (not parts.netloc and parts.scheme in ("", "http", "https")):
            continue
        if parts.netloc not in own:
            hosts.append(url)
    return hosts


def _plain_routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if "<" in route or "(?P" in route or route.startswith("^"):
            continue
        if isinstance(entry, URLResolver):
            yield from _plain_routes(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route


def test_the_reference_finder_sees_what_a_browser_would_fetch():
    parser = _References()
    parser.feed(
        '<link rel="stylesheet" href="https://cdn.example/ui.css"><script src="//cdn.example/a.js"></script>'
        '<img srcset="/static/a.png 1x, https://img.example/b.png 2x"><form action="https://pay.example/">'
        '<div style="background:url(https://x.example/bg.png)"></div><style>@import "https://f.example/f.css";'
        '</style><a href="https://elsewhere.example/">a link is not fetched</a>'
        '<img src="data:image/png;base64,AAAA"><script src="/static/ninja/swagger-ui-bundle.js"></script>'
    )
    assert _outside(parser.urls, {"testserver"}) == [
        "https://cdn.example/ui.css",
        "//cdn.example/a.js",
        "https://img.example/b.png",
        "https://pay.example/",
        "https://x.example/bg.png",
        "https://f.example/f.css",
    ]


@pytest.mark.django_db
def test_no_page_references_an_outside_host(client, settings):
    """Every page without parameters, anonymous and as staff: scripts, styles, images, frames, fonts and
    form targets all come from the platform itself."""
    own = {"testserver", urlsplit(settings.SITE_URL).netloc}
    paths = sorted(set(_plain_routes(get_resolver())))
    assert "api/v1/docs" in paths and "query/" in paths, paths
    staff = get_user_model().objects.create_user(
        "ops", password="pw-123456", is_staff=True, is_superuser=True
    )
    found: dict[str, list[str]] = {}
    pages = 0
    for who in ("anonymous", "staff"):
        if who == "staff":
            client.force_login(staff)
        for path in paths:
            resp = client.get("/" + path)
            if resp.status_code != 200 or "html" not in resp.get("Content-Type", ""):
                continue
            pages += 1
            parser = _References()
            parser.feed(resp.content.decode())
            bad = _outside(parser.urls, own)
            if bad:
                found[f"{who} /{path}"] = bad
    assert pages >= 20, pages
    assert found == {}


def test_no_template_or_static_file_names_an_outside_host():
    """What the page test cannot reach (pages with parameters, scripts' fetches) is checked at the source:
    the platform's templates, style sheets and scripts name no host."""
    absolute = re.compile(r"""(?:src|href|action|url\(|@import|fetch\()\s*=?\s*['"]?(https?:)?//""")
    found = []
    for path in (ROOT / "epolicy").rglob("*"):
        if path.suffix not in (".html", ".css", ".js") or "static/ninja" in str(path):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if absolute.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
