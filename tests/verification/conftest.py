import pytest

from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey

API = "/api/v1/public"


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
