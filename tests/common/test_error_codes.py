import re
from pathlib import Path

from epolicy.common.errors import CODES, ApplicationError

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_code_is_documented_and_every_documented_code_exists():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), flags=re.M))
    assert documented == set(CODES)


def test_every_code_has_a_chinese_message_and_an_http_status():
    for code, (status, message) in CODES.items():
        assert 400 <= status < 600, code
        assert re.search(r"[\u4e00-\u9fff]", message), code


def test_unknown_code_is_a_programming_error():
    import pytest

    with pytest.raises(ValueError):
        ApplicationError("no_such_code")
