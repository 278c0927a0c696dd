"""Scenario loading: YAML files in `scenarios/` become checked, typed `Scenario` records.

Every problem in a file is collected (not just the first) as `FILE:LINE: message`, naming
the key, what was found and what is expected. Nothing here builds or touches Docker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from harness import dockerfile
from harness.checks import Checker, Problem, ScenarioError, found
from harness.context import LinkInTheWay, path_without_links
from harness.errors import HarnessError
from harness.expect import ExpectError, parse
from harness.model import (
    DEFAULT_BUILDERS,
    BaseRecipe,
    Builder,
    CacheMode,
    Expectation,
    ImageStore,
    Incremental,
    Quick,
    RunSpec,
    Scenario,
    Squash,
    Variant,
)
from harness.recipes import check_bases, check_bases_file
from harness.yamlsource import LineDict

SHARED_BASES_FILE = "bases.yaml"
DEFAULT_REPEAT = 3
_SCENARIO_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


TOP_KEYS = ("name", "description", "bases", "files", "context", "baseline", "builders", "cache",
            "repeat", "incremental", "run", "variants", "expect", "secret_build_args", "quick",
            "registry")
VARIANT_KEYS = ("description", "extends", "dockerfile", "dockerfile_path", "build_args",
                "target", "run", "squash", "squash_from", "restore_config", "builders")
RUN_KEYS = ("command", "ready_log", "expect_exit", "timeout_s", "start_repeat")
def load_scenario(path: Path) -> Scenario:
    """The scenario in `path`, or ScenarioError listing every problem found."""
    scenario, problems = check_scenario(path)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return scenario


def load_scenarios(paths: Iterable[Path]) -> list[Scenario]:
    """Every scenario under `paths` (files or directories), all checked before any is used."""
    return _load_all(paths)[0]


def all_bases(paths: Iterable[Path]) -> dict[str, BaseRecipe]:
    """Every base declared under `paths`: in shared bases files and in scenarios."""
    return _load_all(paths)[1]


def _load_all(paths: Iterable[Path]) -> tuple[list[Scenario], dict[str, BaseRecipe]]:
    scenarios: list[Scenario] = []
    recipes: dict[str, BaseRecipe] = {}
    problems: list[Problem] = []
    for path in scenario_files(paths):
        if path.name == SHARED_BASES_FILE:
            declared, found = check_bases_file(path)
        else:
            scenario, found = check_scenario(path)
            declared = scenario.bases if scenario else {}
            scenarios += [scenario] if scenario else []
        problems += found
        for reference, recipe in declared.items():
            other = recipes.setdefault(reference, recipe)
            if (other.kind, other.options) != (recipe.kind, recipe.options):
                problems.append(Problem(recipe.declared_in, 1, (
                    f"bases.{reference}: declared differently in {other.declared_in}; one "
                    "image reference can have only one recipe")))
    if problems:
        raise ScenarioError(problems)
    return scenarios, recipes


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    """YAML files named directly or found in named directories (not recursively), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        elif path.exists():
            found.append(path)
        else:
            raise HarnessError(f"{path}: no such file or directory")
    return found


def check_scenario(path: Path) -> tuple[Scenario | None, list[Problem]]:
    checker = ScenarioChecker(path)
    document = checker.read()
    if not isinstance(document, LineDict):
        return None, checker.problems
    folder = path.parent
    shared_path = folder / SHARED_BASES_FILE
    shared, _ = check_bases_file(shared_path) if shared_path.exists() else ({}, [])

    c = checker
    c.only_keys(document, TOP_KEYS, "")
    name = c.typed(document, "name", str, "a string") or path.stem
    if not _SCENARIO_NAME.fullmatch(name):
        c.at(document, "name", f"name: `{name}` is not usable in image names; expected lowercase "
                               "letters, digits and . _ - (e.g. `apt-cache-cleanup`)")
    description = c.typed(document, "description", str, "a string") or ""
    bases = {**shared, **check_bases(c, document, folder)}
    files = c.files(document)
    context = c.directory(document, "context", folder)
    secret_build_args = frozenset(
        c.string_list(document, "secret_build_args", "a list of build argument names") or ())
    builders = c.choices(document, "builders", Builder) or DEFAULT_BUILDERS
    incremental = c.incremental(document, files, context)
    cache = c.choices(document, "cache", CacheMode)
    if cache is None:
        cache = (CacheMode.COLD, CacheMode.WARM) + ((CacheMode.INCREMENTAL,) if incremental
                                                    else ())
    elif CacheMode.INCREMENTAL in cache and not incremental and "incremental" not in document:
        c.at(document, "cache", "cache: `incremental` needs an `incremental:` change, e.g. "
                                "`incremental: {append: {path: app/main.py, text: \"# x\\n\"}}`")
    repeat = c.positive_int(document, "repeat") or DEFAULT_REPEAT
    run = c.run_spec(document.get("run"), RunSpec(), "run", document)
    variants = c.variants(document, folder, run, builders)
    declared = [n for n in document.get("variants") or {} if isinstance(n, str)] \
        if isinstance(document.get("variants"), dict) else []
    baseline = c.typed(document, "baseline", str, "a variant name")
    if baseline is None:
        baseline = next(iter(declared), "")
    elif declared and baseline not in declared:
        c.at(document, "baseline", f"baseline: no variant `{baseline}`; expected one of: "
                                   f"{', '.join(declared)}")
    expectations = check_claims(c, document, declared)
    quick = c.quick(document, declared, builders)
    registry = c.typed(document, "registry", bool, "true or false") or False
    if c.problems:
        return None, sorted(c.problems, key=lambda p: (str(p.file), p.line))
    return Scenario(
        name=name, path=path, description=description, bases=bases, files=files,
        context=context, baseline=baseline, builders=builders, cache=cache, repeat=repeat,
        incremental=incremental, run=run, variants=variants, expect=expectations,
        secret_build_args=secret_build_args | c.env_secrets, quick=quick, registry=registry,
    ), []


class ScenarioChecker(Checker):
    """The checks of a scenario file's own keys, over the generic ones."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.env_secrets: set[str] = set()
        """Build arguments whose values come from the environment: secret."""

    def quick(self, document: LineDict, declared: list[str],
              builders: tuple[Builder, ...]) -> Quick:
        value = document.get("quick")
        if value is None:
            return Quick()
        if not isinstance(value, LineDict):
            self.at(document, "quick", f"quick: expected a mapping with `variants:` and/or "
                                       f"`builders:`, found {found(value)}")
            return Quick()
        self.only_keys(value, ("variants", "builders"), "quick.")
        variants = self.string_list(value, "variants", "a list of variant names", "quick.")
        for index, name in enumerate(variants or ()):
            if declared and name not in declared:
                self.problem(value["variants"].line_of(index),
                             f"quick.variants: no variant `{name}`; expected one of: "
                             f"{', '.join(declared)}")
        chosen = self.choices(value, "builders", Builder, "quick.")
        for builder in chosen or ():
            if builder not in builders:
                self.at(value, "builders", f"quick.builders: `{builder}` is not one of the "
                                           f"scenario's builders ({', '.join(builders)})")
        return Quick(variants=tuple(variants) if variants is not None else None,
                     builders=chosen)  # `variants: []`: left out of --quick

    def files(self, document: LineDict) -> dict[str, str]:
        value = self.typed(document, "files", dict, "a mapping of context paths to file contents")
        if value is None:
            return {}
        files: dict[str, str] = {}
        for name, content in value.items():
            line = value.line_of(name)
            if not isinstance(name, str) or not name or name.startswith("/") \
                    or ".." in Path(name).parts:
                self.problem(line, f"files: `{name}` is not a relative path inside the build "
                                   "context (no leading /, no ..)")
            elif not isinstance(content, str):
                self.problem(line, f"files.{name}: expected the file's text as a string, "
                                   f"found {found(content)}")
            else:
                files[name] = content
        return files

    def incremental(self, document: LineDict, files: Mapping[str, str],
                    context: Path | None) -> Incremental | None:
        value = self.typed(document, "incremental", dict, "a mapping like {append: {path, text}}")
        if value is None:
            return None
        self.only_keys(value, ("append",), "incremental.")
        append = self.typed(value, "append", dict, "a mapping {path: ..., text: ...}",
                            "incremental.")
        if append is None:
            if "append" not in value:
                self.at(document, "incremental", "incremental: missing `append: {path, text}`")
            return None
        self.only_keys(append, ("path", "text"), "incremental.append.")
        path = self.typed(append, "path", str, "a path in the build context",
                          "incremental.append.")
        text = self.typed(append, "text", str, "the text to append", "incremental.append.")
        for key in ("path", "text"):
            if key not in append:
                self.at(value, "append", f"incremental.append: missing `{key}`")
        if path is None or text is None:
            return None
        if context is not None and path not in files:
            try:
                if path_without_links(context, path).is_symlink():
                    raise LinkInTheWay(f"`{path}` is a symlink in the build context")
            except LinkInTheWay as error:
                self.at(append, "path", f"incremental.append.path: {error}; harness never "
                                        "writes through links: expected a regular file")
                return None
        in_context = context is not None and (context / path).is_file()
        if path not in files and not in_context:
            self.at(append, "path", f"incremental.append.path: `{path}` is not a file of the "
                                    "build context; expected a key of `files:` or a file under "
                                    "`context:`")
            return None
        return Incremental(path=path, text=text)

    def run_spec(self, value: Any, inherited: RunSpec, where: str,
                 parent: LineDict) -> RunSpec:
        if value is None:
            return inherited
        if not isinstance(value, LineDict):
            self.at(parent, where.rsplit(".", 1)[-1],
                    f"{where}: expected a mapping ({', '.join(RUN_KEYS)}), found {found(value)}")
            return inherited
        prefix = f"{where}."
        self.only_keys(value, RUN_KEYS, prefix)
        settings: dict[str, Any] = {}
        if "command" in value:
            command = value["command"]
            if command is None:  # the image's own CMD/ENTRYPOINT, also over an inherited one
                settings["command"] = None
            elif isinstance(command, str):
                settings["command"] = ("/bin/sh", "-c", command)
            else:
                listed = self.string_list(value, "command", "a list of strings or a shell "
                                                            "command string", prefix)
                if listed is not None:
                    settings["command"] = tuple(listed) or None
        ready_log = self.typed(value, "ready_log", str, "a regular expression", prefix)
        if ready_log is not None:
            try:
                re.compile(ready_log)
                settings["ready_log"] = ready_log
            except re.error as error:
                self.at(value, "ready_log", f"{prefix}ready_log: not a valid regular expression "
                                            f"({error})")
        expect_exit = self.typed(value, "expect_exit", int, "an exit code (integer)", prefix)
        if expect_exit is not None:
            settings["expect_exit"] = expect_exit
        timeout = self.typed(value, "timeout_s", (int, float), "a number of seconds", prefix)
        if timeout is not None:
            if timeout <= 0:
                self.at(value, "timeout_s", f"{prefix}timeout_s: expected a number of seconds "
                                            f"> 0, found {timeout}")
            else:
                settings["timeout_s"] = float(timeout)
        start_repeat = self.positive_int(value, "start_repeat", prefix)
        if start_repeat is not None:
            settings["start_repeat"] = start_repeat
        return RunSpec(**{**inherited.__dict__, **settings})

    def variants(self, document: LineDict, folder: Path, run: RunSpec,
                 builders: tuple[Builder, ...]) -> dict[str, Variant]:
        if "variants" not in document:
            self.problem(document.line, "missing `variants:`: expected a mapping of variant "
                                        "names to {dockerfile: ...}")
            return {}
        raw = self.typed(document, "variants", dict, "a mapping of variant names to settings")
        if raw is None:
            return {}
        if not raw:
            self.at(document, "variants", "variants: empty; expected at least one variant")
        usable: dict[str, LineDict] = {}
        for name, settings in raw.items():
            where = f"variants.{name}"
            if not isinstance(name, str) or not _VARIANT_NAME.fullmatch(name):
                self.problem(raw.line_of(name), f"{where}: `{name}` is not a usable variant "
                                                "name; expected letters, digits, _ and -")
            elif not isinstance(settings, LineDict):
                self.problem(raw.line_of(name), f"{where}: expected a mapping with "
                                                f"`dockerfile:`, found {found(settings)}")
            else:
                self.only_keys(settings, VARIANT_KEYS, f"{where}.")
                usable[name] = settings
        variants: dict[str, Variant] = {}
        for name in usable:
            chain = self.extends_chain(name, usable)
            if chain is not None:
                variant = self.variant(name, chain, folder, run, builders)
                if variant:
                    variants[name] = variant
        return variants

    def extends_chain(self, name: str, variants: Mapping[str, LineDict]) -> list[LineDict] | None:
        """The variant's settings and its ancestors', nearest first; None on a broken chain.

        Problems are reported once, at the variant whose own `extends` is broken; a variant
        that merely inherits from a broken one is skipped silently.
        """
        own = variants[name]
        chain, seen = [own], [name]
        while "extends" in chain[-1]:
            parent = chain[-1]["extends"]
            if not isinstance(parent, str) or parent not in variants:
                if len(seen) == 1:
                    self.at(own, "extends", f"variants.{name}.extends: no variant `{parent}` to "
                                            f"extend; expected one of: {', '.join(variants)}")
                return None
            if parent in seen:
                if parent == name:
                    cycle = " → ".join([*seen, name])
                    self.at(own, "extends", f"variants.{name}.extends: `extends` cycle: {cycle}")
                return None
            seen.append(parent)
            chain.append(variants[parent])
        return chain

    def variant(self, name: str, chain: list[LineDict], folder: Path, run: RunSpec,
                builders: tuple[Builder, ...]) -> Variant | None:
        """One variant from its settings merged over its ancestors' (nearest wins)."""
        own = chain[0]
        where = f"variants.{name}."
        source = next((s for s in chain if "dockerfile" in s or "dockerfile_path" in s), None)
        if source is None:
            self.problem(own.line, f"variants.{name}: missing `dockerfile:` (inline text) or "
                                   "`dockerfile_path:`")
            return None
        text, origin = self.dockerfile_text(source, folder, where if source is own else
                                            f"variants.{name} (inherited).")
        build_args: dict[str, str] = {}
        target: str | None = None
        transform: dict[str, Any] = {}
        for settings in reversed(chain):
            build_args.update(self.build_args(settings, where))
            if "target" in settings:
                target = self.typed(settings, "target", str, "a stage name", where)
            transform.update(self.transform_options(settings, where))
        squash = transform.get("squash", Squash.NONE)
        for key, needs in (("squash_from", Squash.DOCKER_SQUASH),
                           ("restore_config", Squash.EXPORT_IMPORT)):
            if key in transform and squash is not needs:
                holder = next(s for s in chain if key in s)
                self.at(holder, key, f"{where}{key}: applies only to `squash: {needs}` "
                                     f"(this variant has squash: {squash})")
        for settings in reversed(chain):
            run = self.run_spec(settings.get("run"), run, f"variants.{name}.run", settings)
        own_builders = self.variant_builders(chain, builders, where)
        if text is None:
            return None
        try:
            froms = dockerfile.from_lines(text, build_args)
        except dockerfile.DockerfileError as error:
            self.dockerfile_problem(origin, error, f"variants.{name}.dockerfile")
            return None
        stages = {f.stage for f in froms if f.stage}
        if target and target not in stages:
            self.at(own if "target" in own else source, "target",
                    f"{where}target: no stage `{target}` in the Dockerfile; stages: "
                    f"{', '.join(sorted(stages)) or 'none (add `AS NAME` to a FROM)'}")
        return Variant(name=name, dockerfile=text, dockerfile_origin=f"{origin[0]}:{origin[1]}",
                       build_args=build_args, target=target, run=run,
                       bases=tuple(dockerfile.base_images(text, build_args)),
                       base=dockerfile.final_base(text, build_args, target),
                       builders=own_builders, **transform)

    def variant_builders(self, chain: list[LineDict], builders: tuple[Builder, ...],
                         where: str) -> tuple[Builder, ...] | None:
        """The variant's `builders:` (nearest in its extends chain), each one of the
        scenario's."""
        holder = next((s for s in chain if "builders" in s), None)
        if holder is None:
            return None
        chosen = self.choices(holder, "builders", Builder, where)
        for builder in chosen or ():
            if builder not in builders:
                self.at(holder, "builders", f"{where}builders: `{builder}` is not one of the "
                                            f"scenario's builders ({', '.join(builders)})")
        return chosen

    def build_args(self, settings: LineDict, where: str) -> dict[str, str]:
        """`build_args:` values: text, or `{env: NAME}` read from harness's environment (so
        a secret need not be written in the file; such an argument is secret)."""
        raw = self.typed(settings, "build_args", dict,
                         "a mapping of names to strings or {env: NAME}", where)
        values: dict[str, str] = {}
        for name, item in (raw or {}).items():
            line, at = raw.line_of(name), f"{where}build_args.{name}"
            from_env = isinstance(item, dict) and list(item) == ["env"] \
                and isinstance(item["env"], str)
            if from_env and item["env"] not in os.environ:
                self.problem(line, f"{at}: the environment variable {item['env']} is not set; "
                                   "expected it to hold the value")
            elif from_env:
                values[str(name)] = os.environ[item["env"]]
                self.env_secrets.add(str(name))
            elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                values[str(name)] = str(item)
            else:
                self.problem(line, f"{at}: expected a string or {{env: NAME}}, found "
                                   f"{found(item)}")
        return values

    def transform_options(self, settings: LineDict, where: str) -> dict[str, Any]:
        """The squash settings present in one variant's own mapping, checked."""
        chosen: dict[str, Any] = {}
        if "squash" in settings:
            allowed = [m.value for m in Squash]
            method = self.typed(settings, "squash", str, f"one of: {', '.join(allowed)}", where)
            if method is not None and method not in allowed:
                self.at(settings, "squash", f"{where}squash: unknown `{method}`; expected one "
                                            f"of: {', '.join(allowed)}")
            elif method is not None:
                chosen["squash"] = Squash(method)
        if "squash_from" in settings:
            value = settings["squash_from"]
            if value == "base" or (isinstance(value, int) and not isinstance(value, bool)
                                   and value >= 1):
                chosen["squash_from"] = value
            else:
                self.at(settings, "squash_from", f"{where}squash_from: expected `base` or a "
                                                 "number of history entries ≥ 1, found "
                                                 f"{found(value)}")
        if "restore_config" in settings:
            restore = self.typed(settings, "restore_config", bool, "true or false", where)
            if restore is not None:
                chosen["restore_config"] = restore
        return chosen


def check_claims(checker: Checker, document: LineDict,
                 variants: Collection[str]) -> tuple[Expectation, ...]:
    """`expect:` items: an expression, or {expr, known_false, note, cache, builders}.

    `known_false` marks a claim known not to hold here (the run then fails only if it
    starts holding); `cache`/`builders` limit the claim to those modes/builders.
    """
    items = checker.typed(document, "expect", list, "a list of expressions like "
                                                 "`a.size_bytes < b.size_bytes`")
    parsed = []
    for index, item in enumerate(items or []):
        line = items.line_of(index)
        where = f"expect[{index}]"
        options: dict[str, Any] = {}
        if isinstance(item, LineDict):
            checker.only_keys(item, ("expr", "known_false", "note", "cache", "builders",
                                     "image_stores"), f"{where}.")
            options["known_false"] = bool(checker.typed(item, "known_false", bool,
                                                     "true or false", f"{where}."))
            options["note"] = checker.typed(item, "note", str, "a string", f"{where}.") or ""
            options["cache"] = checker.choices(item, "cache", CacheMode, f"{where}.") or ()
            options["builders"] = checker.choices(item, "builders", Builder, f"{where}.") or ()
            options["image_stores"] = checker.choices(item, "image_stores", ImageStore,
                                                      f"{where}.") or ()
            item = checker.typed(item, "expr", str, "an expression", f"{where}.")
            if item is None:
                checker.problem(line, f"{where}: expected `expr: VARIANT.METRIC OP ...`")
                continue
        if not isinstance(item, str):
            checker.problem(line, f"{where}: expected an expression like `a.size_bytes < "
                               f"b.size_bytes` or {{expr, known_false, note}}, found "
                               f"{found(item)}")
            continue
        try:
            parsed.append(parse(item, variants, **options))
        except ExpectError as error:
            checker.problem(line, f"{where}: {error}")
    return tuple(parsed)
