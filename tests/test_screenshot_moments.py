"""``make screenshots`` takes each built-in lesson at a moment chosen for it, not at its last narration."""

from __future__ import annotations

from app.scenarios.library import builtin_scenarios
from app.screenshots import KEY_MOMENTS, key_moment


def test_every_builtin_lesson_has_a_key_moment_that_names_one_of_its_steps():
    names = [builtin.name for builtin in builtin_scenarios()]
    assert sorted(KEY_MOMENTS) == sorted(names)
    for builtin in builtin_scenarios():
        scenario = builtin.parse()
        step = key_moment(builtin.name, scenario)  # raises when no step starts with the moment's text
        assert step.text.startswith(KEY_MOMENTS[builtin.name]), (builtin.name, step.text)
