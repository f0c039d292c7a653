"""A small core-system server that follows docs/core-system-contract.md, for the tests (test code: it
lives beside them, outside the application package).

`CoreSystemTestServer(backend)` serves any CoreSystem (the built-in one, or `MemoryCoreSystem`, an
in-memory fake) on 127.0.0.1 and a free port, one thread per request. It checks signatures, the
time window and replays as a real core system must, and can misbehave on purpose: answer 503 a
number of times (`fail_next`), or make an apply and then drop the connection without answering
(`drop_next_apply`), which is what a retried apply has to survive.

Not for production: replays are remembered in this process only.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from django.db import connections

from epolicy.common.errors import ApplicationError
from epolicy.common.signed_http import IDEMPOTENCY_HEADER, MAX_SKEW_SECONDS, NONCE_HEADER
from epolicy.rules.life import ITEM_NAMES, ChangeRefused, Refusal
from epolicy.servicing.coresystem.base import ChangeRecord, ChangeRequest, CoreSystem, QuoteResult, Reason
from epolicy.servicing.coresystem.http import API_VERSION, check_signature, error_body

MAX_BODY_BYTES = 1024 * 1024


@dataclass
class _Faults:
    fail: int = 0
    fail_status: int = 503
    drop_apply: int = 0


@dataclass
class Seen:
    method: str
    path: str
    status: int | None  # None: the connection was dropped without an answer
    idempotency_key: str = ""


@dataclass
class _State:
    faults: _Faults = field(default_factory=_Faults)
    log: list[Seen] = field(default_factory=list)
    nonces: dict[str, float] = field(default_factory=dict)


class CoreSystemTestServer:
    def __init__(self, backend: CoreSystem, *, secrets: list[str], prefix: str = "/core"):
        self.backend = backend
        self.secrets = secrets
        self.prefix = prefix.rstrip("/")
        self._lock = threading.Lock()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def __enter__(self) -> CoreSystemTestServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="core-system-test", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first (with ...)"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    # faults and what happened
    def fail_next(self, count: int = 1, status: int = 503) -> None:
        with self._lock:
            self._state.faults.fail, self._state.faults.fail_status = count, status

    def drop_next_apply(self, count: int = 1) -> None:
        with self._lock:
            self._state.faults.drop_apply = count

    @property
    def log(self) -> list[Seen]:
        with self._lock:
            return list(self._state.log)

    def _note(self, seen: Seen) -> None:
        with self._lock:
            self._state.log.append(seen)

    def _take_fault(self) -> int | None:
        with self._lock:
            faults = self._state.faults
            if faults.fail > 0:
                faults.fail -= 1
                return faults.fail_status
            return None

    def _take_drop(self) -> bool:
        with self._lock:
            if self._state.faults.drop_apply > 0:
                self._state.faults.drop_apply -= 1
                return True
            return False

    def _first_use(self, nonce: str) -> bool:
        """A nonce is accepted once while its timestamp could pass the window check."""
        now = time.time()
        with self._lock:
            seen = self._state.nonces
            for old in [n for n, at in seen.items() if now - at > 2 * MAX_SKEW_SECONDS]:
                del seen[old]
            if nonce in seen:
                return False
            seen[nonce] = now
            return True

    # the contract
    def dispatch(self, method: str, route: str, data: dict[str, Any], key: str) -> dict[str, Any]:
        backend = self.backend
        if method == "POST" and route == "/changes/validate":
            reasons = backend.validate(ChangeRequest.from_json(data))
            return {"refusals": [r.to_json() for r in reasons]}
        if method == "POST" and route == "/changes/quote":
            return backend.quote(ChangeRequest.from_json(data)).to_json()
        if method == "POST" and route == "/changes/apply":
            if not key:
                raise ApplicationError(
                    "validation_error", "缺少 Idempotency-Key 请求头。", {"field": IDEMPOTENCY_HEADER}
                )
            expected = data.get("expected_version")
            if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
                raise ValueError("expected_version: expected an integer or null")
            record = backend.apply(
                ChangeRequest.from_json(data), idempotency_key=key, expected_version=expected
            )
            return {"change": record.to_json(), "replayed": record.replayed}
        parts = route.split("/")
        if method == "GET" and len(parts) == 4 and parts[1] == "policies" and parts[3] == "changes":
            return {"changes": [r.to_json() for r in backend.history(unquote(parts[2]))]}
        raise LookupError(route)


def _handler_for(server: CoreSystemTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            return

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            key = self.headers.get(IDEMPOTENCY_HEADER) or ""
            try:
                status, payload = self._answer(method, key)
            finally:
                connections.close_all()  # the built-in backend opened this thread's connection
            # Noted before answering, so that a client holding the answer sees it in the log.
            server._note(Seen(method, self.path, status, key))
            if status is None:
                # The change is made; the answer is lost on the way (what an idempotent retry is for).
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            body = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, method: str, key: str) -> tuple[int | None, dict[str, Any]]:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return _error(413, "validation_error", "请求过大。")
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            problem = check_signature(
                server.secrets, method=method, path=self.path, headers=headers, body=body
            )
            if problem is not None:
                return _error(401, "not_authenticated", "请求签名无效。", reason=problem)
            if not server._first_use(headers.get(NONCE_HEADER, "")):
                return _error(401, "not_authenticated", "请求已被处理过（重放）。", reason="replayed")
            fault = server._take_fault()
            if fault is not None:
                return _error(fault, "unavailable", "核心系统暂时不可用。")
            prefix = server.prefix + API_VERSION
            if not self.path.startswith(prefix + "/"):
                return _error(404, "not_found", "没有该接口。")
            route = self.path[len(prefix) :]
            try:
                data = json.loads(body) if body else {}
                if not isinstance(data, dict):
                    raise ValueError("body: expected an object")
                result = server.dispatch(method, route, data, key)
            except ApplicationError as exc:
                return exc.status, error_body(exc)
            except LookupError:
                return _error(404, "not_found", "没有该接口。")
            except (ValueError, TypeError) as exc:
                return _error(422, "validation_error", "请求内容不符合接口约定。", reason=str(exc))
            if route == "/changes/apply" and server._take_drop():
                return None, {}
            return 200, result

    return Handler


def _error(status: int, code: str, message: str, **details: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message, "details": details}}


class MemoryCoreSystem:
    """An in-memory core system by the contract: policies are version counters; params {"refuse":
    "<code>"} make a refusal; every apply is remembered under its idempotency key."""

    name = "memory"

    def __init__(self, policies: dict[str, int]):
        self._versions = dict(policies)
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], tuple[str, ChangeRecord]] = {}
        self._changes: list[ChangeRecord] = []

    @property
    def applied(self) -> list[ChangeRecord]:
        with self._lock:
            return list(self._changes)

    def _refusals(self, request: ChangeRequest) -> tuple[Refusal, ...]:
        if request.policy_number not in self._versions:
            raise ApplicationError("not_found", "没有找到该保单，请核对保单号。")
        if request.item not in ITEM_NAMES:
            return (Refusal("item_unknown", f"不支持保全项目“{request.item}”。"),)
        code = request.params.get("refuse")
        return (Refusal(str(code), "按测试要求拒绝。"),) if code else ()

    def validate(self, request: ChangeRequest) -> tuple[Reason, ...]:
        with self._lock:
            return tuple(Reason.of(r) for r in self._refusals(request))

    def quote(self, request: ChangeRequest) -> QuoteResult:
        with self._lock:
            refusals = self._refusals(request)
            if refusals:
                raise ChangeRefused(refusals)
            quote = {"item": request.item, "amount_to_pay": "0.00", "amount_to_receive": "0.00"}
            return QuoteResult(quote, self._versions[request.policy_number])

    def apply(
        self, request: ChangeRequest, *, idempotency_key: str, expected_version: int | None = None
    ) -> ChangeRecord:
        fingerprint = json.dumps(request.to_json(), sort_keys=True)
        with self._lock:
            earlier = self._by_key.get((request.policy_number, idempotency_key))
            if earlier is not None:
                if earlier[0] != fingerprint:
                    raise ApplicationError("application_state", "该幂等键已用于另一笔不同申请。")
                return replace(earlier[1], replayed=True)
            refusals = self._refusals(request)
            if refusals:
                raise ChangeRefused(refusals)
            version = self._versions[request.policy_number]
            if expected_version is not None and expected_version != version:
                raise ApplicationError("application_state", "保单已被其他变更更新，请刷新后重新提交。")
            self._versions[request.policy_number] = version + 1
            record = ChangeRecord(
                change_number=f"MEM{len(self._changes) + 1:06d}",
                policy_number=request.policy_number,
                item=request.item,
                status="applied",
                idempotency_key=idempotency_key,
                based_on_version=version,
                result_version=version + 1,
                effective_date="2026-01-01",
                amount_to_pay="0.00",
                amount_to_receive="0.00",
                endorsement_number="",
                created_at="2026-01-01T00:00:00+08:00",
            )
            self._by_key[(request.policy_number, idempotency_key)] = (fingerprint, record)
            self._changes.append(record)
            return record

    def history(self, policy_number: str) -> tuple[ChangeRecord, ...]:
        with self._lock:
            if policy_number not in self._versions:
                raise ApplicationError("not_found", "没有找到该保单，请核对保单号。")
            return tuple(reversed([c for c in self._changes if c.policy_number == policy_number]))
