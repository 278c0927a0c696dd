"""Checking base recipes (`bases:` in a scenario or a shared `bases.yaml`) into BaseRecipe
records; `harness.bases` makes the images from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import dockerfile
from harness.checks import Checker, Problem, found
from harness.model import BaseKind, BaseRecipe
from harness.yamlsource import LineDict

RECIPE_KEYS = (*(kind.value for kind in BaseKind), "pull")
OPTION_KEYS = {
    BaseKind.DEBOOTSTRAP: ("suite", "variant", "mirror", "include", "cmd", "slim"),
    BaseKind.SCRATCH: ("files", "run", "cmd"),
    BaseKind.BUILD: ("dockerfile", "dockerfile_path", "context", "build_args"),
}
DEBOOTSTRAP_VARIANTS = ("minbase", "buildd", "default")



def check_bases_file(path: Path) -> tuple[dict[str, BaseRecipe], list[Problem]]:
    """The recipes of a shared bases file (a mapping with one key, `bases:`)."""
    checker = Checker(path)
    document = checker.read()
    recipes: dict[str, BaseRecipe] = {}
    if isinstance(document, LineDict):
        checker.only_keys(document, ("bases",), "")
        recipes = check_bases(checker, document, path.parent)
    return recipes, sorted(checker.problems, key=lambda p: p.line)




def check_bases(checker: Checker, document: LineDict, folder: Path) -> dict[str, BaseRecipe]:
    raw = checker.typed(document, "bases", dict, "a mapping of image references to recipes")
    recipes: dict[str, BaseRecipe] = {}
    for reference, recipe in (raw or {}).items():
        where = f"bases.{reference}"
        line = raw.line_of(reference)
        if not isinstance(reference, str) or not dockerfile.is_image_reference(reference):
            checker.problem(line, f"{where}: not an image reference; expected NAME[:TAG] "
                               "such as `debian:bookworm`")
            continue
        if not isinstance(recipe, LineDict):
            checker.problem(line, f"{where}: expected a recipe mapping with one of "
                               f"{', '.join(k.value for k in BaseKind)}, found "
                               f"{found(recipe)}")
            continue
        checker.only_keys(recipe, RECIPE_KEYS, f"{where}.")
        kinds = [BaseKind(k) for k in recipe if k in {kind.value for kind in BaseKind}]
        pull = checker.typed(recipe, "pull", bool, "true or false", f"{where}.")
        if not kinds and pull:  # kept in the user's own registry: pulled, never made
            recipes[reference] = BaseRecipe(reference=reference, kind=None, options={},
                                            pull=True, declared_in=checker.path)
            continue
        if len(kinds) != 1:
            checker.problem(line, f"{where}: expected exactly one recipe kind ("
                               f"{', '.join(k.value for k in BaseKind)}), or `pull: true` "
                               f"alone to pull it, found {len(kinds)}")
            continue
        options = recipe_options(checker, recipe, kinds[0], folder, f"{where}.{kinds[0]}")
        if options is not None:
            recipes[reference] = BaseRecipe(reference=reference, kind=kinds[0],
                                            options=options,
                                            pull=bool(pull),
                                            declared_in=checker.path)
    return recipes


def recipe_options(checker: Checker, recipe: LineDict, kind: BaseKind, folder: Path,
                   where: str) -> dict[str, Any] | None:
    before = len(checker.problems)
    if kind is BaseKind.TAR:
        path = checker.inside(recipe, "tar", folder, where.rsplit(".", 1)[0] + ".", Path.is_file,
                           "rootfs tarball")
        return {"path": str(path)} if path else None
    options = checker.typed(recipe, kind.value, dict, f"a mapping of {kind} options",
                         where.rsplit(".", 1)[0] + ".")
    if options is None:
        return None
    prefix = f"{where}."
    checker.only_keys(options, OPTION_KEYS[kind], prefix)
    result: dict[str, Any] = {}
    if kind is BaseKind.DEBOOTSTRAP:
        suite = checker.typed(options, "suite", str, "a Debian suite such as bookworm", prefix)
        if suite is None and "suite" not in options:
            checker.problem(options.line, f"{where}: missing `suite` (e.g. bookworm)")
        variant = checker.typed(options, "variant", str, "minbase, buildd or default",
                             prefix) or "minbase"
        if variant not in DEBOOTSTRAP_VARIANTS:
            checker.at(options, "variant", f"{prefix}variant: `{variant}`; expected one of: "
                                        f"{', '.join(DEBOOTSTRAP_VARIANTS)}")
        result = {"suite": suite, "variant": variant,
                  "mirror": checker.typed(options, "mirror", str, "a mirror URL", prefix),
                  "include": checker.string_list(options, "include", "a list of packages",
                                              prefix) or [],
                  "cmd": checker.string_list(options, "cmd", "a list of strings", prefix)
                  or ["bash"]}
        if checker.typed(options, "slim", bool, "true or false", prefix):
            result["slim"] = True  # only where set: the recipe hash of the others stays
    elif kind is BaseKind.SCRATCH:
        host_files = checker.string_map(options, "files", prefix)
        if not host_files:
            checker.problem(options.line, f"{where}: expected `files: {{IMAGE_PATH: "
                                       "HOST_PATH}}` with at least one file")
        for image_path in host_files or {}:
            if not image_path.startswith("/"):
                checker.problem(options["files"].line_of(image_path),
                             f"{prefix}files.{image_path}: expected an absolute path in the "
                             "image")
        run = checker.typed(options, "run", list, "a list of commands", prefix) or []
        for index, command in enumerate(run):
            if not isinstance(command, str) and not (
                    isinstance(command, list) and all(isinstance(w, str) for w in command)):
                checker.problem(options["run"].line_of(index),
                             f"{prefix}run[{index}]: expected a shell command string or a "
                             f"list of strings, found {found(command)}")
        result = {"files": {image: str((folder / host).resolve()) if not
                            Path(host).is_absolute() else host
                            for image, host in (host_files or {}).items()},
                  "run": list(run),
                  "cmd": checker.string_list(options, "cmd", "a list of strings", prefix)}
    elif kind is BaseKind.BUILD:
        text, origin = checker.dockerfile_text(options, folder, prefix)
        if "dockerfile" not in options and "dockerfile_path" not in options:
            checker.problem(options.line, f"{where}: missing `dockerfile:` or "
                                       "`dockerfile_path:`")
        context = checker.directory(options, "context", folder, prefix)
        build_args = checker.string_map(options, "build_args", prefix) or {}
        if text is not None:
            try:
                dockerfile.from_lines(text, build_args)
            except dockerfile.DockerfileError as error:
                checker.dockerfile_problem(origin, error, f"{where}.dockerfile")
        result = {"dockerfile": text, "context": str(context) if context else None,
                  "build_args": build_args}
    return result if len(checker.problems) == before else None
