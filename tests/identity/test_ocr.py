"""OCR of ID cards and bank cards (life guide 6.3): what a customer photographs is read into the form,
or refused with a code and a message saying what to retake.

The photos are drawn by tests/identity/cards.py. The engine is loaded once for the module; each real
read takes about a second, so the cases are chosen to cover one difficulty each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import random
import statistics
import struct
import threading
import time
import tracemalloc
import zlib

import pytest
from PIL import Image, ImageFile

from epolicy.common.errors import ApplicationError
from epolicy.identity import ocr
from epolicy.identity.ocr import image as ocr_image
from epolicy.identity.ocr.bank_card import parse_bank_card
from epolicy.identity.ocr.engine import Line, Page
from epolicy.identity.ocr.id_card import parse_id_card

from . import cards
from .cards import BankFace, IdFace


@pytest.fixture(scope="module", autouse=True)
def _engine():
    ocr.load_engine()


def refused(code: str, read, data: bytes) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        read(data)
    assert caught.value.code == code, caught.value
    assert caught.value.message_zh
    return caught.value


def id_face(name: str, sex: str, ethnicity: str, birth: dt.date, address: str, *, seed: int = 0) -> IdFace:
    return IdFace(name, sex, ethnicity, birth, address, cards.id_number_for(birth, sex, seed=seed))


# --- ID cards: every field read exactly -------------------------------------------------------------

ID_CARDS = [
    pytest.param(
        id_face("张三", "男", "汉", dt.date(1985, 6, 15), "北京市朝阳区示例街道8号院3号楼501"),
        {},
        id="2-character name, address over two lines, PNG",
    ),
    pytest.param(
        id_face("刘芳", "女", "回", dt.date(1992, 11, 3), "北京市海淀区光华路17号院2号楼3单元1102号", seed=3),
        {"jpeg_quality": 70},
        id="female, lone-character ethnicity, JPEG q70",
    ),
    pytest.param(
        id_face(
            "陈晓明", "男", "蒙古", dt.date(1970, 1, 9), "北京市东城区团结湖路66号院5号楼1单元302号", seed=5
        ),
        {"rotate": 8},
        id="3-character name, two-character ethnicity, turned +8°",
    ),
    pytest.param(
        cards.id_check_char_x_face(),
        {"rotate": -8, "noise": 6},
        id="4-character name, number ending in X, turned -8° with noise",
    ),
    pytest.param(
        id_face(
            "孙丽娟", "女", "满", dt.date(2001, 2, 28), "北京市丰台区望京街101号院12号楼6单元2405号", seed=9
        ),
        {"on_table": True, "rotate": 5, "jpeg_quality": 80},
        id="on a table, turned +5°, JPEG",
    ),
    pytest.param(
        id_face("王五", "男", "壮", dt.date(1966, 7, 21), "北京市朝阳区酒仙桥路9号院1号楼101号", seed=11),
        {"exif_orientation": 6},
        id="stored sideways with an EXIF orientation tag",
    ),
]


@pytest.mark.parametrize(("face", "options"), ID_CARDS)
def test_id_card_fields_are_read_exactly(face: IdFace, options: dict):
    reading = ocr.read_id_card(cards.id_card_photo(face, **options))

    assert (reading.name, reading.sex, reading.ethnicity) == (face.name, face.sex, face.ethnicity)
    assert reading.birth_date == face.birth_date
    assert reading.address == face.address
    assert reading.id_number == face.id_number
    assert reading.problems == ()
    assert all(0.9 <= value <= 1 for value in dataclasses.asdict(reading.confidence).values())


def test_an_id_number_failing_its_check_character_is_offered_empty_with_a_hint():
    face = id_face("赵六", "女", "汉", dt.date(1978, 4, 30), "北京市朝阳区建国路88号院1号楼1201号", seed=2)
    broken = dataclasses.replace(face, id_number=cards.break_check_digit(face.id_number))

    reading = ocr.read_id_card(cards.id_card_photo(broken))

    assert reading.id_number == ""
    assert reading.confidence.id_number == 0
    assert reading.problems == ("公民身份号码未通过校验，可能有字识别错误，请对照证件逐位填写。",)
    assert (reading.name, reading.birth_date) == ("赵六", dt.date(1978, 4, 30))  # the rest still read


# --- bank cards ---------------------------------------------------------------------------------------

BANK_CARDS = [
    pytest.param(
        BankFace("中国建设银行", cards.card_number_for("621700123456789"), "08/30"),
        {},
        id="16 digits in fours, PNG",
    ),
    pytest.param(
        BankFace("中国工商银行", cards.card_number_for("622202020000123456"), "09/31", holder="ZHANG WEI"),
        {"jpeg_quality": 70},
        id="19 digits 4-4-4-4-3, holder name, JPEG q70",
    ),
    pytest.param(
        BankFace("招商银行", cards.card_number_for("622588014420743912"), "01/29", groups=(6, 13)),
        {"rotate": -8},
        id="19 digits 6-13, turned -8°",
    ),
    pytest.param(
        BankFace(
            "中国农业银行",
            cards.card_number_for("622848001234567"),
            None,
            colours=((10, 120, 100), (4, 60, 50)),
        ),
        {"rotate": 8, "noise": 6},
        id="no valid-thru printed, turned +8° with noise",
    ),
    pytest.param(
        BankFace(
            "交通银行",
            cards.card_number_for("622260987654321"),
            "12/33",
            colours=((30, 60, 130), (15, 25, 60)),
        ),
        {"on_table": True, "rotate": -6, "jpeg_quality": 70},
        id="on a table, turned -6°, JPEG q70",
    ),
]


@pytest.mark.parametrize(("face", "options"), BANK_CARDS)
def test_bank_card_fields_are_read_exactly(face: BankFace, options: dict):
    reading = ocr.read_bank_card(cards.bank_card_photo(face, **options))

    assert reading.card_number == face.card_number
    assert reading.bank_name == face.bank_name
    assert reading.valid_thru == (face.valid_thru or "")
    assert reading.problems == ()
    assert reading.confidence.card_number >= 0.9


def test_a_card_number_failing_the_luhn_check_is_offered_empty_with_a_hint():
    number = cards.break_check_digit(cards.card_number_for("622202020000123456"))
    reading = ocr.read_bank_card(cards.bank_card_photo(BankFace("中国工商银行", number, "09/31")))

    assert reading.card_number == ""
    assert reading.confidence.card_number == 0
    assert reading.problems == ("银行卡号未通过校验，可能有数字识别错误，请对照银行卡逐位填写。",)
    assert (reading.bank_name, reading.valid_thru) == ("中国工商银行", "09/31")


# --- refusals -------------------------------------------------------------------------------------------

SOME_ID = cards.id_check_char_x_face()
SOME_BANK_CARD = BankFace("中国工商银行", cards.card_number_for("622202020000123456"), "09/31")


@pytest.mark.parametrize("read", [ocr.read_id_card, ocr.read_bank_card], ids=["id card", "bank card"])
def test_a_blurred_photo_is_refused_before_recognition(read, monkeypatch):
    monkeypatch.setattr(ocr, "recognise", _must_not_run)
    photo = (
        cards.id_card_photo(SOME_ID, blur=4)
        if read is ocr.read_id_card
        else cards.bank_card_photo(SOME_BANK_CARD, blur=4)
    )
    error = refused("ocr_blurred", read, photo)
    assert "光线充足" in error.message_zh and "拿稳" in error.message_zh


def test_a_bank_card_is_not_taken_for_an_id_card():
    error = refused("ocr_wrong_card", ocr.read_id_card, cards.bank_card_photo(SOME_BANK_CARD))
    assert error.details == {"expected": "id_card"}
    assert "身份证" in error.message_zh and "人像面" in error.message_zh


def test_an_id_card_is_not_taken_for_a_bank_card():
    error = refused("ocr_wrong_card", ocr.read_bank_card, cards.id_card_photo(SOME_ID))
    assert error.details == {"expected": "bank_card"}
    assert "银行卡" in error.message_zh


@pytest.mark.parametrize("read", [ocr.read_id_card, ocr.read_bank_card], ids=["id card", "bank card"])
def test_a_white_sheet_is_unreadable(read):
    refused("ocr_unreadable", read, cards.blank_photo())


def _png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but which holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (255, 255, 255)).save(out, "GIF")
    return out.getvalue()


def _must_not_run(*args, **kwargs):
    raise AssertionError("reached a step that must not run for this photo")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 4, id="a PDF"),
        pytest.param(os.urandom(4096), id="random bytes"),
        pytest.param(_gif(), id="a GIF (not a format phones send)"),
        pytest.param(_png(800, 600)[:40], id="a PNG cut short"),
    ],
)
def test_what_is_not_a_jpeg_or_png_photo_is_refused(data):
    error = refused("image_invalid", ocr.read_id_card, data)
    assert "JPG" in error.message_zh and "PNG" in error.message_zh


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_png(50_000, 50_000), id="50000 x 50000 px (a decompression bomb)"),
        pytest.param(_png(7_000, 7_000), id="49 Mpx"),
        pytest.param(_png(8_001, 100), id="8001 px wide"),
        pytest.param(b"\xff\xd8\xff" + b"\0" * (8 * 1024 * 1024), id="over 8 MB"),
    ],
)
def test_a_too_large_photo_is_refused_without_decoding_it(data, monkeypatch):
    monkeypatch.setattr(ImageFile.ImageFile, "load", _must_not_run)
    monkeypatch.setattr(ocr_image, "_decode", _must_not_run)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        refused("image_too_large", ocr.read_id_card, data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 2 * 1024 * 1024  # what was allocated while refusing: a few objects, no pixels


def test_the_bomb_is_small():
    assert len(_png(50_000, 50_000)) <= 64


def test_a_thumbnail_is_too_small_to_read():
    out = io.BytesIO()
    Image.open(io.BytesIO(cards.id_card_photo(SOME_ID))).resize((100, 63)).save(out, "PNG")
    refused("ocr_unreadable", ocr.read_id_card, out.getvalue())


def test_transparent_png_is_read_on_white():
    card = cards.draw_bank_card(SOME_BANK_CARD).convert("RGBA")
    out = io.BytesIO()
    card.save(out, "PNG")
    assert ocr.read_bank_card(out.getvalue()).card_number == SOME_BANK_CARD.card_number


def test_two_threads_reading_at_once_get_their_own_results():
    photos = {"id": cards.id_card_photo(SOME_ID), "bank": cards.bank_card_photo(SOME_BANK_CARD)}
    results: dict[str, object] = {}

    def read(kind: str) -> None:
        results[kind] = ocr.read_id_card(photos[kind]) if kind == "id" else ocr.read_bank_card(photos[kind])

    threads = [threading.Thread(target=read, args=(kind,)) for kind in photos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["id"].id_number == SOME_ID.id_number  # type: ignore[attr-defined]
    assert results["bank"].card_number == SOME_BANK_CARD.card_number  # type: ignore[attr-defined]


# --- parsing what the recogniser returned (no engine) --------------------------------------------------


def _line(text: str, x0: float, y0: float, x1: float, height: float = 40, score: float = 0.99) -> Line:
    return Line(text, score, x0, y0, x1, y0 + height)


ID_NUMBER = cards.id_number_for(dt.date(1990, 5, 17), "女", seed=1)

ID_LAYOUTS = [
    pytest.param(
        [
            _line("姓名张伟", 70, 95, 330),
            _line("性别女民族汉", 70, 180, 520),
            _line("出生1990年5月17日", 70, 265, 520),
            _line("住址北京市朝阳区建国路", 70, 350, 620),
            _line("88号院1号楼", 190, 410, 440),
            _line(f"公民身份号码{ID_NUMBER}", 70, 545, 930),
        ],
        id="labels glued to their values",
    ),
    pytest.param(
        [
            _line("姓名", 70, 98, 146, 34),
            _line("张伟", 190, 95, 330),
            _line("性别", 70, 182, 146, 34),
            _line("女", 190, 178, 235),
            _line("民族", 340, 182, 420, 34),
            _line("汉", 470, 178, 515),
            _line("出生", 70, 268, 146, 34),
            _line("1990 年 5 月 17 日", 190, 265, 520),
            _line("住址", 70, 352, 146, 34),
            _line("北京市朝阳区建国路", 190, 350, 620),
            _line("88号院1号楼", 192, 410, 440),
            _line("公民身份号码", 70, 548, 260, 34),
            _line(ID_NUMBER[:9], 340, 545, 630),
            _line(ID_NUMBER[9:], 640, 545, 930),
        ],
        id="labels apart, the number cut in two",
    ),
    pytest.param(
        [
            _line("姓名张伟", 70, 95, 330),
            _line("性别女", 70, 180, 240),
            _line("民族汉", 340, 180, 520),
            _line("出生1990年5月17日", 70, 265, 520),
            _line("住址北京市朝阳区建国路", 70, 350, 620),
            _line("88号院1号楼", 190, 410, 440),
            _line("公民身份号码", 70, 548, 260, 34),
            _line(ID_NUMBER.replace("0", "O"), 340, 545, 930),
        ],
        id="the number with O for 0",
    ),
]


@pytest.mark.parametrize("lines", ID_LAYOUTS)
def test_id_card_layouts(lines: list[Line]):
    reading = parse_id_card(Page(tuple(lines)))
    assert (reading.name, reading.sex, reading.ethnicity) == ("张伟", "女", "汉")
    assert reading.birth_date == dt.date(1990, 5, 17)
    assert reading.address == "北京市朝阳区建国路88号院1号楼"
    assert reading.id_number == ID_NUMBER
    assert reading.problems == ()


def test_the_number_vouches_for_a_sex_and_birth_date_that_were_not_read():
    lines = [
        _line("姓名张伟", 70, 95, 330),
        _line("住址北京市朝阳区建国路88号", 70, 350, 620),
        _line(f"公民身份号码{ID_NUMBER}", 70, 545, 930),
    ]
    reading = parse_id_card(Page(tuple(lines)))
    assert (reading.sex, reading.birth_date) == ("女", dt.date(1990, 5, 17))
    assert reading.problems == ("未能识别民族，请手动填写。",)


def test_a_printed_birth_date_disagreeing_with_the_number_is_flagged():
    lines = [
        _line("姓名张伟", 70, 95, 330),
        _line("性别女民族汉", 70, 180, 520),
        _line("出生1990年8月17日", 70, 265, 520),
        _line("住址北京市朝阳区建国路88号", 70, 350, 620),
        _line(f"公民身份号码{ID_NUMBER}", 70, 545, 930),
    ]
    reading = parse_id_card(Page(tuple(lines)))
    assert reading.birth_date == dt.date(1990, 8, 17)  # as printed: the customer decides
    assert reading.confidence.birth_date < 0.9
    assert reading.problems == ("出生日期与公民身份号码不一致，请核对。",)


def test_a_doubtful_name_is_flagged():
    lines = [_line("姓名张伟", 70, 95, 330, score=0.62), _line(f"公民身份号码{ID_NUMBER}", 70, 545, 930)]
    reading = parse_id_card(Page(tuple(lines)))
    assert reading.name == "张伟"
    assert "姓名可能识别有误，请对照证件核对。" in reading.problems


def test_the_emblem_side_is_named():
    lines = [
        _line("中华人民共和国", 300, 80, 800),
        _line("居民身份证", 300, 160, 800),
        _line("签发机关北京市公安局", 70, 450, 700),
    ]
    with pytest.raises(ApplicationError) as caught:
        parse_id_card(Page(tuple(lines)))
    assert caught.value.code == "ocr_wrong_card"
    assert "国徽面" in caught.value.message_zh


NUMBER_19 = cards.card_number_for("622202020000123456")
NUMBER_16 = cards.card_number_for("621700123456789")

BANK_LAYOUTS = [
    pytest.param(
        [_line("6222 02020000 1234 " + NUMBER_19[-3:], 80, 390, 830, 50)], NUMBER_19, id="uneven blanks"
    ),
    pytest.param(
        [
            _line(g, 80 + 150 * i, 390, 210 + 150 * i, 50)
            for i, g in enumerate(["6217", "0012", "3456", "789" + NUMBER_16[-1]])
        ],
        NUMBER_16,
        id="a box per group",
    ),
    pytest.param(
        [_line(NUMBER_19[:6], 80, 390, 280, 50), _line(NUMBER_19[6:], 320, 390, 830, 50)],
        NUMBER_19,
        id="6-13",
    ),
    pytest.param(
        [_line("6222 O2O2 0000 1234 " + NUMBER_19[-3:], 80, 390, 830, 50)], NUMBER_19, id="O read for 0"
    ),
    pytest.param(
        [_line(":6222 0202 0000 1234 " + NUMBER_19[-3:] + ".", 80, 390, 830, 50)],
        NUMBER_19,
        id="stray edge marks",
    ),
]


@pytest.mark.parametrize(("lines", "number"), BANK_LAYOUTS)
def test_bank_card_number_layouts(lines: list[Line], number: str):
    page = Page(
        (
            _line("中国工商银行", 80, 70, 400, 48),
            *lines,
            _line("VALID", 357, 498, 418, 22),
            _line("09/31", 443, 497, 559, 36),
        )
    )
    reading = parse_bank_card(page)
    assert reading.card_number == number
    assert (reading.bank_name, reading.valid_thru) == ("中国工商银行", "09/31")


def test_a_short_digit_run_is_not_a_card_number():
    page = Page(
        (
            _line("中国工商银行", 80, 70, 400, 48),
            _line("客服热线 95588", 80, 390, 600),
            _line("09/31", 443, 497, 559),
        )
    )
    with pytest.raises(ApplicationError) as caught:
        parse_bank_card(page)
    assert caught.value.code == "ocr_wrong_card"
    assert caught.value.details == {"expected": "bank_card"}


def test_nothing_recognised_is_unreadable():
    for parse in (parse_id_card, parse_bank_card):
        with pytest.raises(ApplicationError) as caught:
            parse(Page((_line("一", 10, 10, 30),)))
        assert caught.value.code == "ocr_unreadable"


# --- read rate and speed (run by hand: EPOLICY_OCR_BENCH=30 pytest tests/identity/test_ocr.py -k rate -s) ---


def _photo_options(rng: random.Random) -> dict:
    """A phone photo's usual faults, drawn at random (the mix is described in docs/ocr.md)."""
    return {
        "rotate": rng.uniform(-10, 10),
        "on_table": rng.random() < 0.4,
        "noise": rng.choice([0, 0, 4, 8, 12]),
        "jpeg_quality": rng.choice([None, 95, 85, 70, 50]),
        "blur": rng.choice([0, 0, 0.6, 1.0, 1.5, 2.0]),
    }


@pytest.mark.skipif(not os.environ.get("EPOLICY_OCR_BENCH"), reason="set EPOLICY_OCR_BENCH=<cards per kind>")
def test_read_rate_and_speed():
    count = int(os.environ["EPOLICY_OCR_BENCH"])
    rng = random.Random(20261207)
    report = []
    for kind in ("id", "bank"):
        fields = (
            ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
            if kind == "id"
            else ("card_number", "bank_name", "valid_thru")
        )
        right = dict.fromkeys(fields, 0)
        whole = flagged = wrong_unflagged = 0
        times, cpu = [], []
        for i in range(count):
            face = cards.random_id_face(rng) if kind == "id" else cards.random_bank_face(rng)
            photo = (cards.id_card_photo if kind == "id" else cards.bank_card_photo)(
                face, seed=i, **_photo_options(rng)
            )
            started, started_cpu = time.perf_counter(), time.process_time()
            try:
                reading = ocr.read_id_card(photo) if kind == "id" else ocr.read_bank_card(photo)
            except ApplicationError as error:
                reading = None
                report.append(f"{kind} #{i}: refused {error.code}")
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)  # all threads: robust to other load
            if reading is None:
                continue
            ok = {f: getattr(reading, f) == (getattr(face, f) or "") for f in fields}
            for f, good in ok.items():
                right[f] += good
            whole += all(ok.values())
            flagged += bool(reading.problems)
            # A wrong value nobody is told to check is the failure that matters.
            wrong_unflagged += (
                any(not good and getattr(reading, f) for f, good in ok.items()) and not reading.problems
            )
        report.append(
            f"{kind}: {count} cards, all fields right {whole}/{count}; per field "
            + ", ".join(f"{f} {n}/{count}" for f, n in right.items())
            + f"; with hints {flagged}; wrong without a hint {wrong_unflagged}; "
            f"ms per card median {statistics.median(times) * 1000:.0f}, p90 "
            f"{sorted(times)[int(0.9 * (len(times) - 1))] * 1000:.0f}, max {max(times) * 1000:.0f}; "
            f"CPU ms per card median {statistics.median(cpu) * 1000:.0f}"
        )
    print("\n" + "\n".join(report))
