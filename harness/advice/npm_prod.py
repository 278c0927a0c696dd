"""No dev dependencies in the image: `npm ci`/`npm install` with `--omit=dev` (`--production`
before npm 7, on node images before 16), docker-parfum's npm smell. Dev dependencies (test
runners, linters, bundlers) are for building, not running; the checks say whether the app
still runs without them. The rewrite adds the option and changes nothing else (`npm install`
stays `install`). What it may change is exactly the dev packages the context's lock file
lists (`"dev": true`) under the install's node_modules, their command links in
node_modules/.bin, npm's own record of the tree, and npm's cache (~/.npm/_cacache), which
no longer holds their tarballs; without a lock file to name them, the piece is left out. A
later `npm run`, `npm test`, `npx` or `npm exec` in the stage may need them: such an install
is left alone and named."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.advice.edit import Edit, MayChange, Piece, rewritten_run, runs
from harness.advice.parse import Instruction, Parsed, absolute
from harness.advice.shell import ShellCommand, is_command, run_words, word_end

OMITS = {"--omit=dev", "--production", "--only=prod", "--only=production", "--prod"}
LOCKS = ("npm-shrinkwrap.json", "package-lock.json")


def _installs(command: ShellCommand) -> bool:
    words = run_words(command)
    packages = [w for w in words[2:] if not w.startswith("-")]
    return (is_command(command, "npm", "ci") or (is_command(command, "npm", "install") and
                                                 not packages)) and not OMITS & set(words) \
        and "--omit" not in words and "-g" not in words and "--global" not in words


def _uses_dev(command: ShellCommand) -> bool:
    return any(is_command(command, "npm", sub) for sub in ("run", "test", "exec", "t",
                                                           "run-script")) or \
        is_command(command, "npx")


def dev_packages(lock: dict[str, Any]) -> list[str]:
    """The node_modules paths of the dev packages a lock file lists (v1, v2 or v3), and of
    their command links in node_modules/.bin (v2 and v3 name them)."""
    if isinstance(lock.get("packages"), dict):
        dev = {path: entry for path, entry in lock["packages"].items()
               if path and isinstance(entry, dict) and entry.get("dev")}
        links = [f"{path.rsplit('node_modules/', 1)[0]}node_modules/.bin/{name}"
                 for path, entry in dev.items()
                 for name in (entry["bin"] if isinstance(entry.get("bin"), dict) else
                              [path.rsplit("node_modules/", 1)[1].rsplit("/", 1)[-1]]
                              if isinstance(entry.get("bin"), str) else [])]
        return sorted([*dev, *links])
    found: list[str] = []

    def walk(dependencies: dict[str, Any], prefix: str) -> None:
        for name, entry in dependencies.items():
            if isinstance(entry, dict):
                if entry.get("dev"):
                    found.append(f"{prefix}node_modules/{name}")
                walk(entry.get("dependencies") or {}, f"{prefix}node_modules/{name}/")
    walk(lock.get("dependencies") or {}, "")
    return sorted(found)


def _lock(context: Path) -> dict[str, Any] | str:
    for name in LOCKS:
        if (context / name).is_file():
            try:
                found = json.loads((context / name).read_text())
            except (OSError, ValueError) as error:
                return f"{name} cannot be read ({error})"
            return found if isinstance(found, dict) else f"{name} is no JSON object"
    return "no package-lock.json in the context to name the dev packages the guard allows"


def _option(parsed: Parsed, run: Instruction) -> str:
    """--omit=dev, or --production where the stage's base is a node image before 16."""
    base = next((i.value[0] for i in parsed.stage(run.stage) if i.cmd == "FROM"), "")
    version = re.match(r"(?:.*/)?node:(\d+)", base)
    return "--production" if version and int(version.group(1)) < 16 else "--omit=dev"


def no_dev_dependencies(edit: Edit) -> str:
    parsed = edit.parsed
    readable, folders = runs(parsed), parsed.workdirs()
    lock: dict[str, Any] | str | None = None
    changed = False
    for run in readable:
        assert run.script is not None
        commands = run.script.commands
        installs = [at for at, c in enumerate(commands) if _installs(c)]
        if not installs:
            continue
        later = [c for c in commands[installs[0] + 1:] if _uses_dev(c)] + [
            c for i in readable if i.start > run.start and i.stage in parsed.descendants(
                run.stage) for c in i.script.commands if _uses_dev(c)]  # type: ignore[union-attr]
        if later:
            edit.notes.append(f"line {run.start}'s install stays whole: `"
                              f"{' '.join(run_words(later[0])[:3])}` may need the dev packages")
            continue
        folder = folders[run.start]
        if any(is_command(c, "cd") for c in commands[:installs[0]]) or folder is None:
            edit.notes.append(f"line {run.start}: the folder npm installs in is known only when "
                              "the build runs")
            continue
        lock = _lock(parsed.context) if lock is None else lock
        if isinstance(lock, str):
            return lock
        option = _option(parsed, run)
        options = {word_end(commands[at], "ci" if is_command(commands[at], "npm", "ci")
                            else "install") or commands[at].end: f" {option}"
                   for at in installs}
        edit.replace(run, rewritten_run(run, parsed.escape, options=options))
        edit.allowed += [(absolute(path, folder) or "").lstrip("/")
                         for path in ["node_modules/.package-lock.json", *dev_packages(lock)]]
        changed = True
    return "" if changed else "no npm ci or npm install that installs dev dependencies"


PIECE = Piece(key="npm-prod", title="no dev dependencies (npm --omit=dev)", hadolint="",
              edit=no_dev_dependencies,
              may_change=MayChange(paths=("root/.npm/_cacache", "home/*/.npm/_cacache")))
"""npm's cache then holds no dev package's tarball either (found measuring it)."""
