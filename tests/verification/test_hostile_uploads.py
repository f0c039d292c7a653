"""Uploads are untrusted input: whatever arrives, the API and the page answer clearly, never with a 500."""

import re
import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from epolicy.signing.verify.additions import WHITESPACE

from . import hostile
from .conftest import API, upload

pytestmark = pytest.mark.django_db

NOT_GENUINE = {"not_pdf", "malformed", "not_signed", "encrypted", "check_timeout", "check_failed"}

HOSTILE = {
    "random bytes": hostile.random_bytes,
    "PDF header then noise": hostile.pdf_header_then_noise,
    "arrays nested 200 000 deep": hostile.deep_nesting,
    "dictionaries nested 100 000 deep": hostile.deep_dictionaries,
    "a 9 MB string": hostile.huge_string,
    "200 MB of zeros deflated in an object stream": hostile.flate_bomb,
    "circular references and xref chain": hostile.circular,
    "3000 signature fields": hostile.many_signature_fields,
    "signature with absurd byte range": hostile.bogus_signature,
}


@pytest.fixture(scope="module")
def hostile_files():
    return {name: build() for name, build in HOSTILE.items()}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_gets_a_clear_answer_from_the_api(client, pki, hostile_files, name):
    resp = upload(client, hostile_files[name])
    assert resp.status_code == 200, resp.content[:300]
    report = resp.json()
    assert report["genuine"] is False and report["code"] in NOT_GENUINE, report["code"]
    assert report["completed"] is True  # each of these is answered well within the limits
    assert re.search(r"[\u4e00-\u9fff]", report["message"])  # in Chinese


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_gets_a_clear_answer_on_the_page(client, pki, hostile_files, name):
    resp = upload(client, hostile_files[name], path="/verify/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-genuine="false"' in html and "验真未通过" in html


def test_flate_bomb_is_refused_as_malformed(client, pki, hostile_files):
    report = upload(client, hostile_files["200 MB of zeros deflated in an object stream"]).json()
    assert report["code"] == "malformed"


def test_encrypted_copy_of_a_genuine_policy(client, genuine_pdf, tmp_path):
    src, dst = tmp_path / "p.pdf", tmp_path / "locked.pdf"
    src.write_bytes(genuine_pdf)
    subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--", str(src), str(dst)], check=True)
    report = upload(client, dst.read_bytes()).json()
    assert report["genuine"] is False and report["code"] == "encrypted"
    assert "加密" in report["message"]


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9, 0.999])
def test_truncated_genuine_policy(client, genuine_pdf, keep):
    resp = upload(client, genuine_pdf[: int(len(genuine_pdf) * keep)])
    assert resp.status_code == 200
    assert resp.json()["genuine"] is False and resp.json()["code"] in NOT_GENUINE | {"integrity_broken"}


@pytest.mark.parametrize("path", [f"{API}/verify", "/verify/"])
def test_file_over_the_size_limit(client, pki, settings, path):
    resp = upload(client, b"%PDF-1.7\n" + b"0" * (settings.VERIFY_MAX_UPLOAD_BYTES + 1), path=path)
    assert resp.status_code == 413
    if path.startswith(API):
        assert resp.json()["code"] == "verify_file_too_large"
    else:
        assert 'data-code="verify_file_too_large"' in resp.content.decode()


@pytest.mark.parametrize("path", [f"{API}/verify", "/verify/"])
def test_empty_upload(client, pki, path):
    resp = upload(client, b"", path=path)
    assert resp.status_code == 422
    if path.startswith(API):
        assert resp.json()["code"] == "verify_file_missing"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"file": "JVBERi0xLjcK"}', "application/json"),
        (b"%PDF-1.7\n%%EOF\n", "application/pdf"),
        (b"file=%25PDF-1.7", "application/x-www-form-urlencoded"),
        (b"", "text/plain"),
    ],
)
@pytest.mark.parametrize("path", [f"{API}/verify", "/verify/"])
def test_body_that_is_not_multipart(client, pki, path, body, content_type):
    resp = client.generic("POST", path, body, content_type=content_type)
    assert resp.status_code == 422
    if path.startswith(API):
        assert resp.json()["code"] == "verify_file_missing"
    else:
        assert 'data-code="verify_file_missing"' in resp.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        b"this is not multipart at all",
        # a file part that never ends
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="p.pdf"\r\n\r\n%PDF-1.7',
        b"--XX\r\nContent-Disposition: form-data\r\n" + b"A" * 100_000,
    ],
)
@pytest.mark.parametrize("path", [f"{API}/verify", "/verify/"])
def test_broken_multipart_body(client, pki, path, body):
    resp = client.generic("POST", path, body, content_type="multipart/form-data; boundary=XX")
    _refused_without_a_file(resp, path)


@pytest.mark.parametrize("path", [f"{API}/verify", "/verify/"])
def test_multipart_without_a_boundary(client, pki, path):
    resp = client.generic("POST", path, b"--\r\n", content_type="multipart/form-data")
    _refused_without_a_file(resp, path)


def _refused_without_a_file(resp, path):
    if path.startswith(API):  # the API keeps its JSON error contract
        assert resp.status_code == 422 and resp.json()["code"] == "verify_file_missing"
    else:  # a browser never sends this (its CSRF check would already answer 400); never a 500
        assert 400 <= resp.status_code < 500


def test_too_many_parts(client, pki):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"f{i}": SimpleUploadedFile(f"{i}.pdf", b"%PDF") for i in range(120)}
    resp = client.post(f"{API}/verify", files)
    assert resp.status_code == 422 and resp.json()["code"] == "verify_file_missing"


# ---------------------------------------------------------------------------------------------------------
# Mutations of a genuine signed policy


def _contents_padding(data: bytes) -> range:
    """Where the zero padding after the signature's DER sits inside /Contents (outside the signed bytes)."""
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert match is not None
    gap_start, gap_end = int(match.group(2)) + 1, int(match.group(3)) - 1  # inside < and >
    der_hex = data[gap_start:gap_end].rstrip(b"0")
    return range(gap_start + len(der_hex) + 2, gap_end)


def _only_uncovered_changes(data: bytes, original: bytes, padding: range) -> bool:
    """Whether `data` differs from `original` only where no signature reaches: the unused padding of the
    signature's own container, and white space or NULs at the end (after the last %%EOF they are no data;
    test_unsigned_bytes_after_the_last_revision_are_not_genuine)."""
    d, o = data.rstrip(WHITESPACE), original.rstrip(WHITESPACE)
    return len(d) == len(o) and all(i in padding for i, (a, b) in enumerate(zip(d, o, strict=True)) if a != b)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
)


@pytest.fixture
def genuine_for_hypothesis(genuine_pdf, settings):
    settings.VERIFY_MAX_PER_IP_PER_HOUR = 10_000
    return genuine_pdf


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
@example(mutations=[("insert", 1.0, b"\x00")])  # white space after the last %%EOF: still genuine
@example(mutations=[("insert", 1.0, b"\x00%")])  # a byte that is data: not
def test_mutated_genuine_policy_is_never_genuine_and_never_a_500(client, genuine_for_hypothesis, mutations):
    original = genuine_for_hypothesis
    padding = _contents_padding(original)
    data = bytearray(original)
    for kind, where, arg in mutations:
        at = int(where * len(data))
        if kind == "flip" and at < len(data):
            data[at] ^= arg
        elif kind == "truncate":
            del data[max(at, 1) :]
        elif kind == "insert":
            data[at:at] = arg
        elif kind == "delete":
            del data[at : at + arg]
    if bytes(data) == original:
        return
    resp = upload(client, bytes(data))
    if not data:
        assert resp.status_code == 422 and resp.json()["code"] == "verify_file_missing"
        return
    if len(data) > 10 * 1024 * 1024:
        assert resp.status_code == 413 and resp.json()["code"] == "verify_file_too_large"
        return
    assert resp.status_code == 200, resp.content[:300]
    report = resp.json()
    assert report["message"]
    assert report["byte_identical_to_archive"] is False
    if report["genuine"]:
        assert _only_uncovered_changes(bytes(data), original, padding), mutations
        assert all(c["ok"] for s in report["signatures"] for c in s["checks"])


def test_unsigned_bytes_after_the_last_revision_are_not_genuine(client, genuine_pdf):
    """A file cut inside its last revision reads as the revision before plus bytes no signature covers;
    a payload appended after %%EOF is the same thing. Neither is the document the insurer issued."""
    eofs = [i for i in range(len(genuine_pdf)) if genuine_pdf.startswith(b"%%EOF", i)]
    assert len(eofs) >= 2
    previous_revision_end = eofs[-2] + len(b"%%EOF\n")
    cut = genuine_pdf[: previous_revision_end + 300]
    appended = genuine_pdf + b"<< /Payload (not covered by any signature) >>\n"
    for data, size in ((cut, 300), (appended, 46)):
        report = upload(client, data).json()
        assert report["genuine"] is False and report["code"] == "unsigned_additions", report["code"]
        # What was added, and that no signature covers it.
        (addition,) = report["unsigned_additions"]
        assert f"{size} 字节" in addition and "没有任何签章覆盖" in addition, addition
        assert addition in report["message"]
    # Padding after %%EOF is not data; the exact earlier revision is a genuine (sealed) document too.
    assert upload(client, genuine_pdf + b"\r\n\x00\x00").json()["genuine"] is True
    assert upload(client, genuine_pdf[:previous_revision_end]).json()["genuine"] is True
