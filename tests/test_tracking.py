"""The champion rule, a pure function: higher wins for `max`, lower for `min`, ties keep."""

from __future__ import annotations

import pytest

from rnnlab.tracking import is_better


@pytest.mark.parametrize(("value", "champion", "mode", "better"), [
    (0.8, None, "max", True),     # no champion yet: the first version is it
    (0.8, None, "min", True),
    (0.9, 0.8, "max", True),
    (0.7, 0.8, "max", False),
    (0.8, 0.8, "max", False),     # a tie keeps the current champion
    (0.7, 0.8, "min", True),      # e.g. dev/nll, dev/mase: lower is better
    (0.9, 0.8, "min", False),
    (0.8, 0.8, "min", False),
])
def test_champion_rule(value, champion, mode, better):
    assert is_better(value, champion, mode) is better


def test_champion_rule_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="'max' or 'min'"):
        is_better(0.5, 0.4, "maximum")
