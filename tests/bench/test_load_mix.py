"""bench.load --mix: only the kinds named, their shares scaled to 1; mistakes are refused at once."""

from __future__ import annotations

import pytest

from bench import load


@pytest.fixture(autouse=True)
def _full_mix_again():
    saved = dict(load.MIX)
    yield
    load.MIX.clear()
    load.MIX.update(saved)


def test_the_named_kinds_share_every_request():
    load.parse_args(["--mix", "query=1,life_quote=3"])
    assert load.MIX["query"] == 0.25 and load.MIX["life_quote"] == 0.75
    assert all(v == 0 for k, v in load.MIX.items() if k not in ("query", "life_quote"))


@pytest.mark.parametrize("mix", ["querry=1", "query=a", "query=-1", "query=0"])
def test_a_wrong_mix_is_refused(mix, capsys):
    with pytest.raises(SystemExit):
        load.parse_args(["--mix", mix])
    assert "--mix" in capsys.readouterr().err
