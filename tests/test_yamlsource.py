"""YAML with line numbers, and bad input reported as a line and a message, never raised."""

import pytest

from harness.yamlsource import LineDict, LineList, read_yaml


def test_mappings_and_lists_know_their_lines(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("name: x\nvariants:\n  one:\n    dockerfile: FROM scratch\n"
                    "list:\n  - a\n  - b\n")
    document, problems = read_yaml(path)
    assert problems == []
    assert isinstance(document, LineDict) and isinstance(document["list"], LineList)
    assert document.line_of("variants") == 2
    assert document["variants"]["one"].line_of("dockerfile") == 4
    assert document["list"].line_of(1) == 7


@pytest.mark.parametrize(("content", "line", "message"), [
    (b"a: 1\nb: [\n", 3, "not valid YAML"),
    (b"a: 1\n\xff\xfe\n", 2, "not UTF-8 text"),
    (b"\x00\x01", 1, "binary file"),
    (b"a: 1\na: 2\n", 2, "duplicate key `a` (first at line 1)"),
])
def test_bad_yaml_is_a_line_and_a_message(tmp_path, content, line, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    _, problems = read_yaml(path)
    assert problems and problems[0].line == line
    assert message in problems[0].message


def test_a_missing_file_is_a_problem_not_an_exception(tmp_path):
    _, problems = read_yaml(tmp_path / "absent.yaml")
    assert problems[0].message.startswith("cannot read the file")
