"""The console's motor lists: one search box (number, ID number, plate, VIN), filters, pages, refusals."""

import dataclasses
import datetime as dt
import random
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from epolicy.backoffice import search
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.motor import services
from epolicy.motor.demo import demo_application_input, demo_vin
from epolicy.motor.inputs import PersonInput
from epolicy.motor.journey import run_journey
from epolicy.motor.models import Application
from epolicy.policies.models import Policy

pytestmark = pytest.mark.django_db

VIN = demo_vin(random.Random(5))
APPS = "/console/"
POLICIES = "/console/policies/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("alice", password="pw-123456", is_staff=True)
    client.force_login(user)
    return user


def create(seed, **changes):
    data = demo_application_input(seed)
    if changes:
        data = dataclasses.replace(data, **changes)
    return services.application_create(data=data, actor="staff:alice")


@pytest.fixture
def two_people():
    """Three applications of two different applicants (one of them also the insured on a third)."""
    a = create(101)
    b = create(202)
    insured_a = create(
        303, insured=PersonInput(name=a.applicant.name, id_number=a.applicant.id_number, phone="13900000001")
    )
    return a, b, insured_a


@pytest.fixture
def issued(pki, committed):
    """Two policies issued through the whole journey, and one application left unissued."""
    with committed(execute=True):
        first = run_journey(demo_application_input(11, name="钱七"))
        second = run_journey(demo_application_input(12, name="孙八"))
    return first, second


def numbers(resp):
    """Numbers of the rows on the page (each row carries data-number)."""
    return re.findall(r'<tr data-number="([A-Z0-9]+)"', resp.content.decode())


# --- recognising the input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("TDZA20261121000001", "number", "TDZA20261121000001"),
        (" pdza20261121000001 ", "number", "PDZA20261121000001"),
        ("11010519491231002x", "id_number", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "id_number", "11010519491231002X"),  # full-width
        ("京a·12345", "plate", "京A12345"),
        ("粤B D12345", "plate", "粤BD12345"),
        ("91350100m000100y43", "uscc", "91350100M000100Y43"),  # an organisation's code
        (f" {VIN.lower()} ", "vin", VIN),
    ],
)
def test_search_recognises_what_was_typed(typed, kind, value):
    got = search.recognise(typed)
    assert got is not None and (got.kind, got.value) == (kind, value)


def test_nothing_typed_is_no_search():
    assert search.recognise("  ") is None


@pytest.mark.parametrize(
    ("typed", "code", "words"),
    [
        ("张三", "console_search_unrecognised", "不支持按姓名"),
        ("hello", "console_search_unrecognised", "无法识别"),
        ("A12345", "console_search_unrecognised", "省份简称"),
        ("京A123", "invalid_plate", "7 位"),
        ("110105194912310021", "invalid_id_number", "校验位"),
        ("110105491231002", "invalid_id_number", "15 位"),
        ("LSVAG2180E210000I", "invalid_vin", "字母 I"),
        ("x" * 100, "console_search_unrecognised", "过长"),
        ("<script>", "console_search_unrecognised", "无法识别"),
        ("91350100M000100Y44", "invalid_uscc", "统一社会信用代码"),
    ],
)
def test_input_that_is_nothing_known_gets_a_hint(typed, code, words):
    with pytest.raises(ApplicationError) as caught:
        search.recognise(typed)
    assert caught.value.code == code and words in caught.value.message_zh


# --- the applications list --------------------------------------------------------------------------


def test_lists_need_a_staff_login(client):
    for path in (APPS, f"{APPS}?q=京A12345", POLICIES):
        resp = client.get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/console/login/")


def test_lists_refuse_a_non_staff_user(client):
    client.force_login(get_user_model().objects.create_user("bob", password="pw-123456"))
    for path in (APPS, POLICIES):
        assert client.get(path).status_code == 302


def test_applications_by_number_id_number_plate_and_vin(client, staff, two_people):
    a, b, insured_a = two_people
    assert numbers(client.get(APPS, {"q": a.number})) == [a.number]
    assert numbers(client.get(APPS, {"q": a.number.lower()})) == [a.number]
    # The applicant's ID number finds the applications where that person is applicant or insured,
    # never the other person's.
    assert numbers(client.get(APPS, {"q": a.applicant.id_number})) == [insured_a.number, a.number]
    assert numbers(client.get(APPS, {"q": b.applicant.id_number})) == [b.number]
    plate = a.plate[0] + a.plate[1].lower() + "·" + a.plate[2:]  # as a person might type it
    assert numbers(client.get(APPS, {"q": plate})) == [a.number]
    assert numbers(client.get(APPS, {"q": f" {b.vin.lower()} "})) == [b.number]
    page = client.get(APPS, {"q": b.vin}).content.decode()
    assert "按车架号（VIN）查询" in page and 'id="total-count">1<' in page


def test_a_search_that_matches_nothing_says_so(client, staff, two_people):
    resp = client.get(APPS, {"q": "京Z99999"})
    assert resp.status_code == 200 and numbers(resp) == []
    assert "没有符合条件的投保单" in resp.content.decode()


def test_id_numbers_are_not_shown_in_full(client, staff, two_people):
    a, _b, _ = two_people
    page = client.get(APPS).content.decode()
    assert a.applicant.id_number not in page and a.applicant.id_number[-4:] in page


def test_status_and_dates_combine_with_the_search(client, staff, two_people):
    a, b, insured_a = two_people
    Application.objects.filter(pk=a.pk).update(status=Application.Status.WITHDRAWN)
    ten_days_ago = clock.now() - dt.timedelta(days=10)
    Application.objects.filter(pk=insured_a.pk).update(created_at=ten_days_ago)
    today = clock.today().isoformat()

    assert numbers(client.get(APPS, {"status": "withdrawn"})) == [a.number]
    assert numbers(client.get(APPS, {"status": "submitted"})) == [insured_a.number, b.number]
    by_id = {"q": a.applicant.id_number}
    assert numbers(client.get(APPS, {**by_id, "status": "submitted"})) == [insured_a.number]
    assert numbers(client.get(APPS, {**by_id, "date_from": today})) == [a.number]
    old_day = clock.local(ten_days_ago).date().isoformat()
    assert numbers(client.get(APPS, {**by_id, "date_from": old_day, "date_to": old_day})) == [
        insured_a.number
    ]
    # Period start: every demo application starts tomorrow.
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    assert len(numbers(client.get(APPS, {"date_field": "period_start", "date_from": tomorrow}))) == 3
    assert numbers(client.get(APPS, {"date_field": "period_start", "date_to": today})) == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "lost"}, "状态筛选不正确"),
        ({"date_from": "2026-13-01"}, "开始日期“2026-13-01”不是有效日期"),
        ({"date_to": "yesterday"}, "结束日期“yesterday”不是有效日期"),
        ({"date_from": "0001-01-01"}, "开始日期须在"),
        ({"date_to": "9999-12-31"}, "结束日期须在"),
        ({"date_from": "2026-11-21", "date_to": "2026-11-20"}, "开始日期晚于结束日期"),
        ({"date_field": "paid_at"}, "日期类型不正确"),
        ({"q": "张三", "status": "lost"}, "状态筛选不正确"),
    ],
)
def test_bad_filters_are_refused_in_chinese(client, staff, two_people, params, words):
    for path in (APPS, POLICIES):
        resp = client.get(path, params)
        page = resp.content.decode()
        assert resp.status_code == 422, path
        assert words in page and 'data-code="console_filter_invalid"' in page and "Traceback" not in page
        assert numbers(resp) == []  # nothing listed under filters that were not understood


def test_a_bad_search_is_refused_with_its_own_code(client, staff, two_people):
    resp = client.get(APPS, {"q": "京A123"})
    assert resp.status_code == 422 and 'data-code="invalid_plate"' in resp.content.decode()
    resp = client.get(APPS, {"q": "nonsense!"})
    page = resp.content.decode()
    assert resp.status_code == 422 and "无法识别查询内容" in page and 'value="nonsense!"' in page


@pytest.fixture
def sixty(two_people):
    """60 applications: the three made by the service, and 57 copies of the last (new numbers)."""
    template = Application.objects.order_by("-id").first()
    for n in range(57):
        template.pk = None
        template.number = f"TDZA20990101{n:06d}"
        template.save()
    assert Application.objects.count() == 60
    return template


def test_sixty_applications_make_two_pages(client, staff, sixty):
    first = client.get(APPS)
    page = first.content.decode()
    assert len(numbers(first)) == 50 and 'id="total-count">60<' in page and "第 1 / 2 页" in page
    second = client.get(APPS, {"page": "2"})
    assert len(numbers(second)) == 10
    assert not set(numbers(first)) & set(numbers(second))
    assert {*numbers(first), *numbers(second)} == set(Application.objects.values_list("number", flat=True))


def test_page_links_keep_the_filters(client, staff, sixty):
    params = {"q": sixty.plate, "status": "submitted", "date_from": clock.today().isoformat()}
    resp = client.get(APPS, params)
    page = resp.content.decode()
    # The third service-made application shares the copies' plate: 58 rows.
    assert 'id="total-count">58<' in page
    link = next(line for line in page.splitlines() if 'rel="next"' in line)
    href = link.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    got = parse_qs(urlsplit(href).query)
    assert (
        got["page"] == ["2"] and got["status"] == ["submitted"] and got["date_from"] == [params["date_from"]]
    )
    assert got["q"] == [sixty.plate]
    assert len(numbers(client.get(APPS + href))) == 8


@pytest.mark.parametrize(
    ("page_param", "shown", "words"),
    [
        ("abc", 1, "页码不正确，已显示第 1 页"),
        ("0", 1, "页码不正确"),
        ("-3", 1, "页码不正确"),
        ("99", 2, "没有第 99 页，已显示最后一页（第 2 页）"),
        ("99999999999999999999999", 2, "已显示最后一页"),
        ("２", 1, "页码不正确"),
    ],
)
def test_odd_page_numbers_fall_back(client, staff, sixty, page_param, shown, words):
    resp = client.get(APPS, {"page": page_param})
    page = resp.content.decode()
    assert resp.status_code == 200 and words in page and f"第 {shown} / 2 页" in page


def test_an_empty_list_has_one_page(client, staff):
    resp = client.get(APPS, {"page": "5"})
    assert resp.status_code == 200 and "暂无投保单" in resp.content.decode()


def test_the_demo_button_stays_on_one_line(client, staff):
    page = client.get(APPS).content.decode()
    assert 'class="console-head"' in page and 'style="flex:0"' not in page
    from pathlib import Path

    from django.contrib.staticfiles import finders

    css = Path(finders.find("epolicy/app.css")).read_text(encoding="utf-8")
    assert ".console-head form{flex:none" in css and "white-space:nowrap" in css


# --- the policies list ------------------------------------------------------------------------------


def test_policies_by_number_id_number_plate_and_vin(client, staff, issued):
    first, second = issued
    leftover = create(13)  # an application never issued: not a policy
    rows = numbers(client.get(POLICIES))
    assert rows == [second.number, first.number] and leftover.number not in rows
    app = first.application
    assert numbers(client.get(POLICIES, {"q": first.number})) == [first.number]
    assert numbers(client.get(POLICIES, {"q": app.number})) == [first.number]  # its application's number
    assert numbers(client.get(POLICIES, {"q": app.applicant.id_number})) == [first.number]
    assert numbers(client.get(POLICIES, {"q": second.application.applicant.id_number})) == [second.number]
    assert numbers(client.get(POLICIES, {"q": first.plate})) == [first.number]
    assert numbers(client.get(POLICIES, {"q": second.application.vin})) == [second.number]
    page = client.get(POLICIES, {"q": first.plate}).content.decode()
    assert "按车牌号查询" in page and app.applicant.id_number not in page
    # The applications list finds an issued application by its policy's number.
    assert numbers(client.get(APPS, {"q": first.number})) == [app.number]


def test_policies_filter_by_status_and_dates(client, staff, issued):
    first, second = issued
    Policy.objects.filter(pk=first.pk).update(status=Policy.Status.EXPIRED)
    assert numbers(client.get(POLICIES, {"status": "expired"})) == [first.number]
    # Issued before their start date: 未起保 until the scheduler moves them.
    assert numbers(client.get(POLICIES, {"status": "not_started"})) == [second.number]
    assert numbers(client.get(POLICIES, {"status": "in_force"})) == []
    start = first.period_start.isoformat()
    got = numbers(client.get(POLICIES, {"date_field": "period_start", "date_from": start, "date_to": start}))
    assert got == [second.number, first.number]
    yesterday = (clock.today() - dt.timedelta(days=1)).isoformat()
    assert numbers(client.get(POLICIES, {"date_to": yesterday})) == []  # signed today
    assert len(numbers(client.get(POLICIES, {"date_from": clock.today().isoformat()}))) == 2
