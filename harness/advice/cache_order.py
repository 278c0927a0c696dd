"""Copy the dependency manifest before the source, so a source change does not install the
dependencies again: `COPY . /app` + `RUN pip install -r requirements.txt` becomes `COPY
requirements.txt /app/`, the install, then `COPY . /app`.

The COPY of the source moves past only what cannot change what it means: not past a WORKDIR
(a relative destination would land elsewhere), a USER, or another COPY or ADD (it could
overwrite that one's files, or they its), nor with a destination that names a variable. A
manifest that .dockerignore leaves out of the context cannot be copied, so it is not
named."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from docker.utils.build import PatternMatcher

from harness.advice.edit import NOTHING, Edit, Piece

MANIFESTS = (("requirements*.txt",), ("pyproject.toml", "poetry.lock", "uv.lock", "Pipfile",
             "Pipfile.lock"), ("package.json", "package-lock.json", "yarn.lock",
                               "pnpm-lock.yaml"), ("go.mod", "go.sum"),
             ("Cargo.toml", "Cargo.lock"), ("Gemfile", "Gemfile.lock"), ("pom.xml",),
             ("composer.json", "composer.lock"))
"""Dependency manifests by ecosystem: what a dependency install reads from the context."""
INSTALLERS = re.compile(r"\b(pip3? install|python3? -m pip install|npm (ci|install)|yarn "
                        r"install|pnpm install|go mod download|cargo (build|fetch)|bundle "
                        r"install|mvn|composer install|poetry install|uv sync)\b")
BARRIERS = ("WORKDIR", "USER", "COPY", "ADD")


def cache_order(edit: Edit) -> str:
    context = edit.parsed.context
    for stage in range(edit.parsed.final_stage + 1):
        instructions = edit.parsed.stage(stage)
        for index, copy in enumerate(instructions):
            if copy.cmd not in ("COPY", "ADD") or copy.flags or len(copy.value) != 2 \
                    or copy.value[0] not in (".", "./"):
                continue
            install = next((i for i in instructions[index + 1:] if i.cmd == "RUN"), None)
            if install is None or not INSTALLERS.search(install.body or install.text) \
                    or install.unsafe:
                continue
            where = f"COPY . at line {copy.start}"
            between = next((i for i in instructions[index + 1:] if i.start < install.start
                            and i.cmd in BARRIERS), None)
            if between is not None:
                return (f"{where} stays: {between.cmd} at line {between.start} stands between "
                        f"it and the install at line {install.start}")
            if "$" in copy.value[1]:
                return f"{where} stays: its destination names a variable"
            manifests = manifests_in(context)
            if not manifests:
                return (f"{where} comes before the install at line {install.start}, but the "
                        "context has no dependency manifest (or .dockerignore leaves it out)")
            destination = copy.value[1].rstrip("/") + "/"
            edit.replace(copy, f"COPY {' '.join(manifests)} {destination}")
            edit.replace(install, f"{install.text}\n{copy.text}")
            return ""
    return "no COPY . before a dependency install"


def manifests_in(context: Path) -> list[str]:
    """The first ecosystem's manifests at the top of the context that the build can see."""
    ignored = ignored_by(context)
    for group in MANIFESTS:
        found = sorted(p.name for pattern in group for p in context.glob(pattern)
                       if p.is_file() and not ignored(p.name))
        if found:
            return found
    return []


def ignored_by(context: Path) -> Callable[[str], bool]:
    """Whether the context's .dockerignore leaves a path out, as the build reads it
    (docker-py's matcher)."""
    ignore = context / ".dockerignore"
    patterns = [line.strip() for line in ignore.read_text(errors="replace").splitlines()
                if line.strip() and not line.strip().startswith("#")] if ignore.is_file() else []
    return PatternMatcher(patterns).matches  # type: ignore[return-value]


PIECE = Piece(key="cache-order", title="copy the dependency manifest before the source",
              hadolint="", may_change=NOTHING, edit=cache_order)
