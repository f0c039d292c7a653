from pathlib import Path

import pytest

from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey

API = "/api/v1/public"
BIG = 8_500_000  # bytes of a large upload (over VERIFY_SMALL_FILE_BYTES)
SMALL = 200_000  # bytes of a small one, as a genuine e-policy is


@pytest.fixture
def queue(settings):
    """Checks' queue of two slots for any file and one for small files; one check per client; no wait."""
    settings.VERIFY_CHECK_SLOTS = 2
    settings.VERIFY_SMALL_CHECK_SLOTS = 1
    settings.VERIFY_SMALL_FILE_BYTES = 1024 * 1024
    settings.VERIFY_CHECKS_PER_CLIENT = 1
    settings.VERIFY_QUEUE_WAIT_SECONDS = 0
    return settings


@pytest.fixture
def issued(pki, committed):
    """A policy issued through the whole journey (its sealed PDF is in the archive)."""
    with committed(execute=True):
        return run_journey(demo_application_input(41, name="钱七"))


@pytest.fixture
def genuine_pdf(issued):
    from epolicy.archive.services import archive_read

    return archive_read(issued.document)


def upload(client, data, name="p.pdf", path=f"{API}/verify"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(path, {"file": SimpleUploadedFile(name, data, content_type="application/pdf")})


def flip_inside_a_stream(data: bytes) -> bytes:
    """One byte changed inside the first content stream: the file still parses, the signature breaks."""
    start = data.index(b"stream", data.index(b"/Length")) + len(b"stream") + 2
    changed = bytearray(data)
    changed[start + 16] ^= 0x01
    return bytes(changed)


def worker_pids() -> list[int]:
    """The verification workers running now (children of this process's fork server)."""
    from epolicy.verification import sandbox

    server = sandbox._server._process
    if server is None:
        return []
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []
