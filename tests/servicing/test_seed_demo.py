"""`epolicy seed_demo` as a newcomer reads it: each demo with its own people, under its own heading, so
the motor applicant link is paid as the motor applicant (real-name payment), not as the life one."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from epolicy.common.identifiers import id_number_check_char
from epolicy.motor.models import Application
from epolicy.servicing.management.commands.seed_life_demo import DEMO_ID_FIRST17, DEMO_PHONE

pytestmark = pytest.mark.django_db
MOTOR, LIFE = "== 机动车演示 ==", "== 寿险保全演示 =="


def _sections(text: str) -> tuple[str, str]:
    assert text.index(MOTOR) < text.index(LIFE), text
    motor = text[text.index(MOTOR) : text.index(LIFE)]
    return motor, text[text.index(LIFE) :]


@pytest.mark.parametrize("runs", [1, 2])  # the second run prints the same people again
def test_each_demo_prints_its_own_people(pki, settings, tmp_path, runs):
    settings.VAR_DIR = tmp_path
    for _ in range(runs):
        out = StringIO()
        call_command("seed_demo", stdout=out)
    motor, life = _sections(out.getvalue())

    waiting = list(
        Application.objects.select_related("applicant")
        .filter(status=Application.Status.APPROVED)
        .order_by("id")
    )
    assert [w.products for w in waiting] == [["ctpl"], ["ctpl", "commercial"]]
    link_lines = [line for line in motor.splitlines() if "/m/a/" in line]
    assert len(link_lines) == 2
    for app, link_line in zip(waiting, link_lines, strict=True):
        applicant = app.applicant
        assert applicant.name in link_line  # the link says whose it is
        # the motor applicant, with the full ID number and phone, next to the link, in the motor section
        assert applicant.id_number in motor and applicant.phone in motor
    assert "交强险和商业险投保单" in motor
    issued = list(Application.objects.filter(status=Application.Status.ISSUED).select_related("applicant"))
    assert len(issued) == 2  # a registered car, and a new car whose plate is added by endorsement
    assert all(app.applicant.id_number in motor for app in issued)
    assert "新车未上牌" in motor and "/m/p/" in motor

    life_id = DEMO_ID_FIRST17 + id_number_check_char(DEMO_ID_FIRST17)
    assert life_id in life and DEMO_PHONE in life and "张伟" in life
    assert life_id not in motor and "张伟" not in motor
    assert all(w.applicant.id_number not in life for w in waiting)
    assert "DEMO-L0001" in life and "DEMO-L0001" not in motor
