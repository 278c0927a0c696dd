"""The source change advise plants for its incremental builds, chosen so it cannot alter
what the build does: where the Dockerfile copies the whole context, a new file of harness's
own (`.harness-incremental`, which no glob of a build picks up by its name); else a comment
appended to a file the Dockerfile copies, in a language known for certain by its suffix;
else none, and advise says so once instead of measuring incremental builds.

An appended line that is not a comment in the file's language (a Makefile's) broke every
incremental build, the original's too: harness never guesses a language.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from harness.advice.cache_order import MANIFESTS, ignored_by
from harness.advice.parse import Parsed

PLANTED = ".harness-incremental"
COMMENTS = {**dict.fromkeys((".c", ".h", ".cc", ".cpp", ".hpp", ".go", ".rs", ".java", ".kt",
                             ".scala", ".swift", ".cs", ".ts"), "// "),
            **dict.fromkeys((".py", ".sh", ".rb", ".pl", ".yaml", ".yml", ".toml"), "# ")}
"""Suffixes whose line comment is certain (a .js file may be JSON-like, a .conf or .txt
anything: those are not guessed)."""


@dataclass(frozen=True, kw_only=True)
class SourceChange:
    path: str
    """The context file the change appends to (relative)."""
    text: str
    """What is appended; `{nonce}` makes each change new to the build cache."""
    new_file: bool
    """The file is harness's own, added (empty) to the context of the builds that measure
    incremental rebuilds."""


def source_change(parsed: Parsed, context: Path) -> SourceChange | str:
    """The change, or why there is none."""
    ignored = ignored_by(context)
    sources = [source for i in parsed.instructions if i.cmd in ("COPY", "ADD")
               and not any(f.startswith("--from") for f in i.flags) and not i.unsafe
               for source in i.value[:-1] if "://" not in source]
    if any(s.strip("/") in ("", ".") for s in sources) and not ignored(PLANTED):
        return SourceChange(path=PLANTED, text="harness advise {nonce}\n", new_file=True)
    manifests = [pattern for group in MANIFESTS for pattern in group]
    root = context.resolve()
    for source in sources:
        pattern = source.strip("/")
        for found in [root] if pattern in ("", ".") else sorted(root.glob(pattern)):
            candidates = sorted(found.rglob("*")) if found.is_dir() else [found]
            for path in candidates:
                if not path.resolve().is_relative_to(root):
                    continue  # a link or `..` out of the context: never written
                relative = path.relative_to(root).as_posix()
                if path.is_file() and not path.is_symlink() and path.suffix in COMMENTS \
                        and not any(fnmatch(path.name, m) for m in manifests) \
                        and not ignored(relative):
                    return SourceChange(path=relative, new_file=False,
                                        text=f"\n{COMMENTS[path.suffix]}harness advise {{nonce}}\n")
    return ("no incremental builds: the Dockerfile copies no whole context and no file in a "
            "language whose comments harness knows for certain, so no source change is "
            "certain to leave the build as it is")
