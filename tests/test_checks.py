"""The generic checks every YAML file gets: each problem is FILE:LINE, key, found, expected."""

from pathlib import Path

import pytest

from harness.checks import Checker, found
from harness.yamlsource import read_yaml


@pytest.fixture
def checked(tmp_path):
    def check(text: str) -> tuple[Checker, object]:
        path = tmp_path / "f.yaml"
        path.write_text(text)
        checker = Checker(path)
        return checker, checker.read()
    return check


def messages(checker: Checker) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in checker.problems]


@pytest.mark.parametrize(("value", "shown"), [
    (True, "true or false (True)"), (3, "an integer (3)"), ("x" * 50, "a string ('" + "x" * 36
                                                                          + "...)"),
    ({"a": 1}, "a mapping"), ([1], "a list"), (None, "nothing (None)")])
def test_found_names_the_yaml_type_and_a_short_value(value, shown):
    assert found(value) == shown


def test_typed_reports_a_wrong_type_at_its_line(checked):
    checker, document = checked("a: 1\nb: yes\n")
    assert checker.typed(document, "a", str, "a string") is None
    assert checker.typed(document, "b", int, "a number") is None  # a bool is not an int
    assert checker.typed(document, "missing", str, "a string") is None
    assert messages(checker) == [(1, "a: expected a string, found an integer (1)"),
                                 (2, "b: expected a number, found true or false (True)")]


def test_unknown_keys_get_a_suggestion(checked):
    checker, document = checked("varaints: {}\nzzz: 1\n")
    checker.only_keys(document, ("variants", "name"), "")
    assert messages(checker) == [
        (1, "varaints: unknown key; did you mean `variants`?"),
        (2, "zzz: unknown key; expected one of: variants, name")]


def test_lists_and_positive_numbers(checked):
    checker, document = checked("l:\n  - a\n  - 2\nn: 0\n")
    assert checker.string_list(document, "l", "a list of names") is None
    assert checker.positive_int(document, "n") is None
    assert messages(checker) == [(3, "l[1]: expected a string, found an integer (2)"),
                                 (4, "n: expected a whole number ≥ 1, found 0")]


def test_paths_must_stay_inside_the_folder(checked, tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "escape").symlink_to("/")
    checker, document = checked("a: inside\nb: ../\nc: escape\nd: nowhere\n")
    assert checker.directory(document, "a", tmp_path) == (tmp_path / "inside").resolve()
    for key in "bcd":
        assert checker.directory(document, key, tmp_path) is None
    lines = messages(checker)
    assert [line for line, _ in lines] == [2, 3, 4]
    assert "outside the scenario's folder" in lines[0][1] and "outside" in lines[1][1]
    assert "is not an existing directory" in lines[2][1]


def test_a_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n")
    checker = Checker(path)
    checker.read()
    assert messages(checker) == [(1, "expected a mapping (`key: value` lines) at the top, "
                                     "found a list")]
    assert read_yaml(Path(path))[1] == []
