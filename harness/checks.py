"""Checks shared by every YAML file harness reads: each reports a problem with FILE:LINE,
the key, what was found and what is expected, and carries on, so a file's problems are
listed all at once.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import dockerfile
from harness.errors import HarnessError
from harness.yamlsource import LineDict, read_yaml


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ScenarioError(HarnessError):
    """One or more problems in scenario files; the message lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               dict: "a mapping", list: "a list", type(None): "nothing"}


def found(value: Any) -> str:
    """How a wrong value is named in a message: its YAML type, and the value if short."""
    kind = next((name for t, name in TYPE_NAMES.items()
                 if isinstance(value, t) and not (t is int and isinstance(value, bool))),
                type(value).__name__)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{kind} ({shown})" if not isinstance(value, (dict, list)) else kind


class Checker:
    """Collects the problems of one file; every check reports and carries on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def at(self, mapping: LineDict, key: str, message: str) -> None:
        self.problem(mapping.line_of(key), message)

    def read(self) -> Any:
        document, yaml_problems = read_yaml(self.path)
        for yaml_problem in yaml_problems:
            self.problem(yaml_problem.line, yaml_problem.message)
        if document is None and not yaml_problems:
            self.problem(1, "the file is empty; expected a mapping with `variants:`")
        elif document is not None and not isinstance(document, LineDict):
            self.problem(1, f"expected a mapping (`key: value` lines) at the top, "
                            f"found {found(document)}")
        return document

    def only_keys(self, mapping: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean `{close[0]}`?" if close else f"expected one of: " \
                                                                  f"{', '.join(allowed)}"
                self.at(mapping, key, f"{where}{key}: unknown key; {hint}")

    def typed(self, mapping: LineDict, key: str, kind: type | tuple[type, ...], expected: str,
              where: str = "") -> Any:
        """mapping[key] if it has the right type; None (and a problem) otherwise."""
        value = mapping.get(key)
        if value is None:  # absent or null: the default applies
            return None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            self.at(mapping, key, f"{where}{key}: expected {expected}, found {found(value)}")
            return None
        return value

    def positive_int(self, mapping: LineDict, key: str, where: str = "") -> int | None:
        value = self.typed(mapping, key, int, "a whole number ≥ 1", where)
        if value is not None and value < 1:
            self.at(mapping, key, f"{where}{key}: expected a whole number ≥ 1, found {value}")
            return None
        return value

    def string_list(self, mapping: LineDict, key: str, expected: str,
                    where: str = "") -> list[str] | None:
        value = self.typed(mapping, key, list, expected, where)
        if value is None:
            return None
        good = True
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(value.line_of(index), f"{where}{key}[{index}]: expected a string, "
                                                   f"found {found(item)}")
                good = False
        return list(value) if good else None

    def string_map(self, mapping: LineDict, key: str, where: str) -> dict[str, str] | None:
        value = self.typed(mapping, key, dict, "a mapping of names to strings", where)
        if value is None:
            return None
        result: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not isinstance(item, (str, int, float)) \
                    or isinstance(item, bool):
                value_line = value.line_of(name)
                self.problem(value_line, f"{where}{key}.{name}: expected a string value, "
                                         f"found {found(item)}")
            else:
                result[name] = str(item)
        return result

    def choices(self, mapping: LineDict, key: str, kind: type[enum.StrEnum],
                where: str = "") -> tuple[Any, ...] | None:
        allowed = [member.value for member in kind]
        names = self.string_list(mapping, key, f"a list from: {', '.join(allowed)}", where)
        if names is None:
            return None
        if not names:
            self.at(mapping, key, f"{where}{key}: the list is empty; expected some of: "
                                  f"{', '.join(allowed)}")
            return None
        unknown = [(i, name) for i, name in enumerate(names) if name not in allowed]
        for index, name in unknown:
            self.problem(mapping[key].line_of(index), f"{where}{key}: unknown `{name}`; "
                                                      f"expected one of: {', '.join(allowed)}")
        return None if unknown else tuple(kind(name) for name in dict.fromkeys(names))

    def inside(self, mapping: LineDict, key: str, folder: Path, where: str,
               must_be: Callable[[Path], bool], what: str) -> Path | None:
        """A path under `folder` named by mapping[key]: it must exist and stay inside."""
        relative = self.typed(mapping, key, str, f"a path relative to {self.path.name}", where)
        if relative is None:
            return None
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()):
            self.at(mapping, key, f"{where}{key}: `{relative}` is outside the scenario's folder "
                                  f"{folder}; expected a path inside it")
            return None
        if not must_be(path):
            self.at(mapping, key, f"{where}{key}: `{relative}` is not an existing {what} "
                                  f"(looked for {path})")
            return None
        return path

    def directory(self, mapping: LineDict, key: str, folder: Path, where: str = "") -> Path | None:
        return self.inside(mapping, key, folder, where, Path.is_dir, "directory")

    def dockerfile_text(self, settings: LineDict, folder: Path,
                        where: str) -> tuple[str | None, tuple[Path, int]]:
        """The Dockerfile's text and where its first line is (file, line)."""
        here = (self.path, settings.line)
        if "dockerfile" in settings and "dockerfile_path" in settings:
            self.at(settings, "dockerfile_path", f"{where}dockerfile_path: give either "
                                                 "`dockerfile` or `dockerfile_path`, not both")
            return None, here
        if "dockerfile" in settings:
            text = self.typed(settings, "dockerfile", str, "the Dockerfile's text", where)
            return text, (self.path, settings.value_lines.get("dockerfile", settings.line))
        path = self.inside(settings, "dockerfile_path", folder, where, Path.is_file, "file")
        if path is None:
            return None, here
        try:
            return path.read_text(), (path, 1)
        except (OSError, UnicodeDecodeError) as error:
            self.at(settings, "dockerfile_path", f"{where}dockerfile_path: cannot read {path} "
                                                 f"({error})")
            return None, here

    def dockerfile_problem(self, origin: tuple[Path, int], error: dockerfile.DockerfileError,
                           where: str) -> None:
        """Point at the Dockerfile's own line: in the YAML file, or in the Dockerfile file."""
        path, first_line = origin
        self.problems.append(Problem(path, first_line + error.line - 1, f"{where}: {error}"))
