"""Anonymous query and download (motor standard 6.3.1) and public verification (6.4) over the API."""

import re
import subprocess

import pytest

from epolicy.identity import captcha as captcha_module
from epolicy.motor.demo import demo_application_input
from epolicy.motor.journey import run_journey
from epolicy.policies.models import PolicyVersion

pytestmark = pytest.mark.django_db
API = "/api/v1/public"


@pytest.fixture
def policy(pki, committed):
    with committed(execute=True):
        return run_journey(demo_application_input(31, name="赵六"))


@pytest.fixture
def known_captcha(monkeypatch):
    monkeypatch.setattr(captcha_module, "new_answer", lambda: "AB3D")


def ask(client, policy, **overrides):
    captcha = client.post(f"{API}/captcha").json()
    body = {
        "policy_number": policy.number,
        "id_number": policy.applicant.id_number,
        "plate": policy.plate,
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": "ab3d",
        **overrides,
    }
    return client.post(f"{API}/policies/query", body, content_type="application/json")


def test_captcha_is_an_image(client, db):
    data = client.post(f"{API}/captcha").json()
    assert data["image"].startswith("data:image/png;base64,") and len(data["captcha_id"]) >= 40


def test_query_summary_equals_the_pdf(client, policy, known_captcha, tmp_path):
    resp = ask(client, policy)
    assert resp.status_code == 200, resp.content
    summary = resp.json()["summary"]
    assert summary["policy_number"] == policy.number
    assert summary["sections"] == PolicyVersion.objects.get(policy=policy).data
    # Every value the query shows is printed on the downloaded PDF.
    pdf = client.get(
        resp.json()["download_url"].split("testserver", 1)[-1].replace("http://127.0.0.1:8000", "")
    )
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    path = tmp_path / "p.pdf"
    path.write_bytes(pdf.content)
    text = "".join(
        subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    for section in summary["sections"]:
        for field in section["fields"]:
            assert "".join(field["value"].split()) in text, field
    assert policy.applicant.id_number not in text  # masked on the document too


@pytest.mark.parametrize(
    "override",
    [{"id_number": "11010519491231002X"}, {"plate": "京A00000"}, {"policy_number": "PDZA20990101000001"}],
)
def test_query_mismatch_says_no_match_without_saying_which(client, policy, known_captcha, override):
    resp = ask(client, policy, **override)
    assert resp.status_code == 404 and resp.json()["code"] == "policy_query_no_match"


def test_query_with_a_wrong_or_reused_captcha_is_refused(client, policy, known_captcha):
    resp = ask(client, policy, captcha_answer="ZZZZ")
    assert resp.status_code == 422 and resp.json()["code"] == "captcha_invalid"
    captcha = client.post(f"{API}/captcha").json()
    body = {
        "policy_number": policy.number,
        "id_number": policy.applicant.id_number,
        "plate": policy.plate,
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": "AB3D",
    }
    assert client.post(f"{API}/policies/query", body, content_type="application/json").status_code == 200
    again = client.post(f"{API}/policies/query", body, content_type="application/json")
    assert again.json()["code"] == "captcha_invalid"


def test_query_is_rate_limited_per_client(client, policy, known_captcha, settings):
    settings.QUERY_MAX_PER_IP_PER_HOUR = 2
    assert ask(client, policy).status_code == 200
    assert ask(client, policy).status_code == 200
    resp = ask(client, policy)
    assert resp.status_code == 429 and resp.json()["code"] == "rate_limited"


def test_download_link_is_signed(client, db):
    resp = client.get(f"{API}/policies/download/forged-token")
    assert resp.status_code == 404 and resp.json()["code"] == "download_link_invalid"


def verify(client, data, name="p.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"{API}/verify", {"file": SimpleUploadedFile(name, data, content_type="application/pdf")}
    )


def test_verify_genuine_policy(client, policy):
    from epolicy.archive.services import archive_read

    resp = verify(client, archive_read(policy.document))
    report = resp.json()
    assert resp.status_code == 200
    assert report["genuine"] is True and report["code"] == "genuine"
    assert report["byte_identical_to_archive"] is True
    assert report["policy"]["policy_number"] == policy.number
    assert report["signatures"][0]["signer_role"] == "insurer"


def test_verify_changed_byte_is_not_genuine(client, policy):
    from epolicy.archive.services import archive_read

    data = bytearray(archive_read(policy.document))
    data[len(data) // 4] ^= 0x01
    report = verify(client, bytes(data)).json()
    assert report["genuine"] is False and report["policy"] is None
    assert report["message"]


def test_verify_resaved_file_is_not_genuine(client, policy, tmp_path):
    from epolicy.archive.services import archive_read

    src, dst = tmp_path / "a.pdf", tmp_path / "b.pdf"
    src.write_bytes(archive_read(policy.document))
    subprocess.run(["qpdf", str(src), str(dst)], check=True)
    report = verify(client, dst.read_bytes()).json()
    assert report["genuine"] is False


@pytest.mark.parametrize("data", [b"hello, not a pdf", b"%PDF-1.7\n%%EOF", b"%PDF-1.4\n" + b"0" * 5000])
def test_verify_garbage_gets_a_clear_answer(client, pki, data):
    resp = verify(client, data)
    assert resp.status_code == 200
    assert resp.json()["genuine"] is False and resp.json()["message"]


def test_verify_without_a_file(client, db):
    resp = client.post(f"{API}/verify")
    assert resp.status_code == 422 and resp.json()["code"] == "verify_file_missing"


def test_verify_too_large(client, db, settings):
    settings.VERIFY_MAX_UPLOAD_BYTES = 1000
    resp = verify(client, b"%PDF" + b"0" * 2000)
    assert resp.status_code == 413 and resp.json()["code"] == "verify_file_too_large"


def test_verify_is_rate_limited_per_client(client, pki, settings):
    settings.VERIFY_MAX_PER_IP_PER_HOUR = 3
    for _ in range(3):
        assert verify(client, b"not a pdf").status_code == 200
    resp = verify(client, b"not a pdf")
    assert resp.status_code == 429 and resp.json()["code"] == "rate_limited"
    # Counted per client: another address still gets its answers.
    other = verify(client.__class__(REMOTE_ADDR="203.0.113.9"), b"not a pdf")
    assert other.status_code == 200 and other.json()["code"] == "not_pdf"


def test_verify_rate_limit_counts_refused_uploads_too(client, pki, settings):
    settings.VERIFY_MAX_PER_IP_PER_HOUR = 2
    assert client.post(f"{API}/verify").status_code == 422
    assert verify(client, b"").status_code == 422
    assert verify(client, b"not a pdf").json()["code"] == "rate_limited"


def test_qr_target_names_the_policy_only_with_the_code_printed_in_the_qr(client, policy, settings):
    from epolicy.motor.display import verify_url

    assert len(policy.verify_code) >= 20
    qr_target = verify_url(policy.number, policy.verify_code)
    assert qr_target.endswith(f"/v/{policy.number}?c={policy.verify_code}")
    resp = client.get(f"{API}/policies/{policy.number}/verification?c={policy.verify_code}")
    assert resp.json()["document_sha256"] == policy.document.sha256
    # Without the code, with a wrong one, or for a number that does not exist: the same answer.
    answers = {
        client.get(url).content
        for url in (
            f"{API}/policies/{policy.number}/verification",
            f"{API}/policies/{policy.number}/verification?c=WRONG-CODE-0123456789",
            f"{API}/policies/PDZA0/verification?c={policy.verify_code}",
        )
    }
    assert len(answers) == 1 and b"not_found" in answers.pop()


def test_qr_status_is_rate_limited_per_client(client, policy, settings):
    settings.POLICY_VERIFICATION_MAX_PER_CLIENT_PER_HOUR = 3
    url = f"{API}/policies/{policy.number}/verification?c={policy.verify_code}"
    codes = [client.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "Retry-After" in client.get(url).headers


def test_verify_pdf_command(policy, tmp_path):
    from django.core.management import call_command

    from epolicy.archive.services import archive_read

    good = tmp_path / "good.pdf"
    good.write_bytes(archive_read(policy.document))
    call_command("verify_pdf", str(good))
    bad = tmp_path / "bad.pdf"
    data = bytearray(good.read_bytes())
    data[len(data) // 3] ^= 0x20
    bad.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exc:
        call_command("verify_pdf", str(bad), "--json")
    assert exc.value.code == 1


@pytest.mark.parametrize("why", ["another thread runs", "the process is too large"])
def test_verify_pdf_inside_a_larger_process_uses_the_services_fork_server(policy, tmp_path, monkeypatch, why):
    """call_command in a long-lived process (a test run, a shell): a worker forked from it would start
    above its memory limit or copy another thread's lock, so the command's fast path steps aside and the
    service's own fork server checks the file, with the same verdicts."""
    import threading

    from django.core.management import call_command

    from epolicy.archive.services import archive_read
    from epolicy.verification.management.commands import verify_pdf

    forked_from_self: list[bool] = []
    original = verify_pdf._DirectWorkers.hand_over
    monkeypatch.setattr(
        verify_pdf._DirectWorkers,
        "hand_over",
        lambda self, end: forked_from_self.append(True) or original(self, end),
    )
    stop = threading.Event()
    if why == "another thread runs":
        thread = threading.Thread(target=stop.wait, daemon=True)
        thread.start()
    else:
        monkeypatch.setattr(verify_pdf, "_address_space", lambda pid: 4 * 1024**3)
    try:
        good = tmp_path / "good.pdf"
        good.write_bytes(archive_read(policy.document))
        call_command("verify_pdf", str(good))
        data = bytearray(good.read_bytes())
        data[len(data) // 3] ^= 0x20
        (tmp_path / "bad.pdf").write_bytes(bytes(data))
        with pytest.raises(SystemExit) as exc:
            call_command("verify_pdf", str(tmp_path / "bad.pdf"))
        assert exc.value.code == 1
    finally:
        stop.set()
    assert forked_from_self == []


def test_a_policys_qr_lookup_does_not_look_for_an_endorsement(client, policy):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        resp = client.get(f"{API}/policies/{policy.number}/verification?c={policy.verify_code}")
    assert resp.status_code == 200 and resp.json()["policy_number"] == policy.number
    tables = [
        q["sql"].split(" FROM ", 1)[-1].split()[0] for q in queries.captured_queries if " FROM " in q["sql"]
    ]
    assert '"motor_endorsement"' not in tables and tables.count('"policies_policy"') == 1, tables


def test_the_query_reads_no_personal_detail_it_does_not_show(client, policy, known_captcha):
    """The people are matched on their blind indexes: their encrypted name, ID number, phone, e-mail and
    address are not even read (each would be decrypted for nothing)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert ask(client, policy).status_code == 200
    selected = " ".join(q["sql"].split(" FROM ")[0] for q in queries.captured_queries)
    # Whatever alias the joined table has (the insured is the second join of the same table).
    assert not re.findall(r'\."(name|id_number|phone|email|address)"', selected), selected
    assert '"id_number_index"' in selected
