"""Read YAML safely, keeping the line of every key and item so errors can point at them.

PyYAML's safe loader silently keeps the last of two duplicate keys; this one reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode


class LineDict(dict[Any, Any]):
    """A mapping that knows where it, each key, and each value start (1-based lines)."""

    line: int = 1
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    line: int = 1
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


@dataclass(frozen=True)
class YamlProblem:
    line: int
    message: str


class _Loader(yaml.SafeLoader):
    problems: list[YamlProblem]


def _content_line(node: yaml.Node) -> int:
    """Where a value's content starts: the line after `|`/`>` for block scalars."""
    block = isinstance(node, ScalarNode) and node.style in ("|", ">")
    return node.start_mark.line + 1 + int(block)


def _construct_mapping(loader: _Loader, node: MappingNode) -> Iterator[LineDict]:
    loader.flatten_mapping(node)
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines, data.value_lines = {}, {}
    yield data
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key_line = key_node.start_mark.line + 1
        if isinstance(key, (dict, list)):
            loader.problems.append(YamlProblem(key_line, "a key must be a plain value, "
                                                         "not a mapping or a list"))
            continue
        if key in data:
            loader.problems.append(YamlProblem(
                key_line, f"duplicate key `{key}` (first at line {data.key_lines[key]})"))
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_line
        data.value_lines[key] = _content_line(value_node)


def _construct_sequence(loader: _Loader, node: SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    data.item_lines = [_content_line(item) for item in node.value]
    yield data
    data.extend(loader.construct_object(item, deep=True) for item in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def read_yaml(path: Path) -> tuple[Any, list[YamlProblem]]:
    """The document at `path` and what is wrong with it as YAML; never raises for bad input."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, [YamlProblem(1, f"cannot read the file: {error.strerror or error}")]
    if b"\0" in raw:
        return None, [YamlProblem(1, "this is a binary file, not YAML text")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [YamlProblem(line, "not UTF-8 text (is this a binary file?)")]
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        return None, [YamlProblem(line, f"not valid YAML: character #x{error.character:04x} is "
                                        "not allowed in YAML text")]
    loader.problems = []
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(filter(None, [error.context, error.problem]))
        return None, [YamlProblem(line, f"not valid YAML: {what}")]
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as error:
        return None, [YamlProblem(1, f"not valid YAML: {error}")]
    finally:
        loader.dispose()
    return document, loader.problems
