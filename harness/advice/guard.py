"""The image guard: a rewrite may change only what its advice explains.

Each rewrite's image is compared with the original's, path by path (type, mode, owner, size,
content digest, link target; directories by type, mode and owner) and field by field of the
config (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, StopSignal, the whole
Healthcheck, Labels, Shell, OnBuild). What differs between two builds of the original itself
(apt's logs, dated caches) is build noise and is ignored for every variant. What the piece
declares it may change (its MayChange) is allowed; anything else is the evidence that the
rewrite changes the image.

The files come from the layers harness's own reader analysed when the runner measured the
image (its layer cache, by diff ID): no image is read a second time.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.advice.edit import MayChange
from harness.layers import Entry, final_tree

CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                 "StopSignal", "Healthcheck", "Labels", "Shell", "OnBuild")
EVIDENCE = 5
"""How many differences a verdict names (the count says how many there are)."""
DPKG_RECORDS = ("var/lib/dpkg/status", "var/lib/dpkg/status-old", "var/lib/dpkg/triggers",
                "var/lib/apt/extended_states", "var/cache/debconf", "var/cache/apt", "var/log",
                "etc/ld.so.cache", "var/cache/ldconfig")
"""dpkg's and apt's records of what is installed (and apt's downloads), and ldconfig's caches
of the libraries installed, which change with the set of packages."""


@dataclass(frozen=True, kw_only=True)
class ImageFiles:
    files: dict[str, Entry]
    """The final filesystem by path (relative to the root), directories too."""
    config: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class GuardVerdict:
    changes: list[str]
    """The first differences no declaration explains (`/b: missing`, `StopSignal: ...`)."""
    changed: int
    """How many there are."""
    allowed: int
    """How many differences the piece's declaration explained."""


def image_files(client: Any, image_id: str) -> ImageFiles:
    """The image's files and config, from the runner's read of it (harness.images.engine_image:
    no second `docker save`)."""
    from harness.images import engine_image

    attrs = client.api.inspect_image(image_id)
    return ImageFiles(files=final_tree(engine_image(client, image_id).layers),
                      config=attrs.get("Config") or {})


def differences(a: ImageFiles, b: ImageFiles) -> dict[str, str]:
    """Every path and config field in which B differs from A, with what differs."""
    found: dict[str, str] = {}
    for path in sorted(a.files.keys() | b.files.keys()):
        old, new = a.files.get(path), b.files.get(path)
        if new is None:
            found[path] = f"/{path}: missing"
        elif old is None:
            found[path] = f"/{path}: added"
        elif (what := _differs(_facts(old, a.files), _facts(new, b.files))):
            found[path] = f"/{path}: {what}"
    for field in CONFIG_FIELDS:
        old_value, new_value = _field(a.config, field), _field(b.config, field)
        if old_value != new_value:
            found[f"config:{field}"] = f"{field}: {_shown(old_value)} → {_shown(new_value)}"
    return found


ONE_SIDED = (": added", ": missing")
"""How a difference reads where only one of the two images has the path."""


def build_noise(originals: list[ImageFiles]) -> set[str]:
    """What differs between builds of the same Dockerfile: ignored in every comparison. A
    file only one build has (a log named by the time, npm's `_logs/2026-…-debug-0.log`) makes
    its folder `FOLDER/*`: any file there that only one image has is noise."""
    noise: set[str] = set()
    for other in originals[1:]:
        for key, change in differences(originals[0], other).items():
            noise.add(key)
            if change.endswith(ONE_SIDED) and not key.startswith("config:"):
                noise.add(f"{posixpath.dirname(key)}/*")
    return noise


def guard(original: ImageFiles, rewrite: ImageFiles, noise: set[str],
          may_change: MayChange) -> GuardVerdict:
    allowed = allowance(may_change, original, rewrite)
    found = {k: v for k, v in differences(original, rewrite).items() if k not in noise and not (
        v.endswith(ONE_SIDED) and f"{posixpath.dirname(k)}/*" in noise)}
    unexplained = [v for k, v in found.items() if k.startswith("config:") or not allowed(k)]
    return GuardVerdict(changes=unexplained[:EVIDENCE], changed=len(unexplained),
                        allowed=len(found) - len(unexplained))


def allowance(may_change: MayChange, original: ImageFiles,
              rewrite: ImageFiles) -> Callable[[str], bool]:
    """Whether a differing path is one the piece declared it may change."""
    patterns = list(may_change.paths)
    exact: set[str] = set()
    trees: set[str] = set()
    if may_change.dropped_packages:
        dropped = set(packages(original)) - set(packages(rewrite))
        exact = package_paths(original, rewrite, dropped)
        # a folder a dropped package made, gone with it, takes what its scripts put there;
        # so does an empty folder a maintainer script made (fontconfig's /usr/local/share/fonts)
        trees = {p for p in exact if (e := original.files.get(p)) and e.kind == "dir"}
        exact |= _empty_folders(original, rewrite)
        patterns += [*DPKG_RECORDS, *(f"var/lib/dpkg/info/{name}.*" for name in dropped),
                     *(f"var/lib/dpkg/info/{name}:*" for name in dropped)]

    def declared(path: str) -> bool:
        return path in exact or path in may_change.exact_paths or any(
            parent in trees for parent in _parents(path)) or any(
            fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path, p + "/*") for p in patterns)

    def allowed(path: str) -> bool:
        """Declared; an alternative (update-alternatives' link) into a declared path: a man
        page dpkg no longer installs takes its slave link with it; or a folder only one image
        has that holds nothing but declared paths (Docker 26's /etc, made for the mount
        points of /etc/hosts and resolv.conf in a busybox image that has none)."""
        entry = original.files.get(path) or rewrite.files.get(path)
        if entry is not None and entry.kind == "dir" and (path in original.files) != (
                path in rewrite.files):
            image = original if path in original.files else rewrite
            return all(declared(p) for p in image.files if p.startswith(path + "/"))
        return declared(path) or (path.startswith("etc/alternatives/") and entry is not None
                                  and entry.kind == "symlink"
                                  and declared(entry.target.lstrip("/")))
    return allowed


def packages(image: ImageFiles) -> dict[str, list[str]]:
    """The packages dpkg's status lists with files on disk (installed, or removed with their
    conffiles left: `rc`), each with its conffiles."""
    status = image.files.get("var/lib/dpkg/status")
    found: dict[str, list[str]] = {}
    for paragraph in (status.text if status else "").split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith(" ") and key:
                fields[key] += "\n" + line.strip()
            elif ": " in line or line.endswith(":"):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        state = fields.get("Status", "").rsplit(" ", 1)[-1]
        if "Package" in fields and state not in ("", "not-installed"):
            found[fields["Package"]] = [line.split()[0] for line in
                                        fields.get("Conffiles", "").splitlines() if line.strip()]
    return found


def package_paths(original: ImageFiles, rewrite: ImageFiles, dropped: set[str]) -> set[str]:
    """The files the dropped packages listed or left as conffiles (their directories only
    where they are gone), and the alternatives that pointed into them."""
    listed: set[str] = {path.lstrip("/") for name, conffiles in packages(original).items()
                        if name in dropped for path in conffiles}
    for path, entry in original.files.items():
        name = posixpath.basename(path).removesuffix(".list").split(":")[0]
        if path.startswith("var/lib/dpkg/info/") and path.endswith(".list") and name in dropped:
            listed.update(line.strip().lstrip("/") for line in entry.text.splitlines()
                          if line.strip() not in ("", "/."))
    listed |= {found for path in listed if (found := _merged_usr(path, original)) != path}
    listed |= {parent for path in listed for parent in _parents(path)
               if parent not in rewrite.files}
    paths = {p for p in listed if (kept := original.files.get(p)) is None or
             kept.kind != "dir" or p not in rewrite.files}
    alternatives = {posixpath.basename(p) for image in (original, rewrite)
                    for p, e in image.files.items() if p.startswith("etc/alternatives/")
                    and e.kind == "symlink" and e.target.lstrip("/") in listed}
    paths |= {f"{folder}/{name}" for name in alternatives
              for folder in ("etc/alternatives", "var/lib/dpkg/alternatives")}
    paths |= {p for image in (original, rewrite) for p, e in image.files.items()
              if e.kind == "symlink" and e.target.startswith("/etc/alternatives/")
              and posixpath.basename(e.target) in alternatives}
    return paths


def _merged_usr(path: str, image: ImageFiles) -> str:
    """Where a listed path is on disk: bookworm's packages list /lib/... for files that are in
    /usr/lib, through the base's `lib -> usr/lib` link (merged /usr)."""
    top, _, rest = path.partition("/")
    link = image.files.get(top)
    if not rest or link is None or link.kind != "symlink":
        return path
    return posixpath.normpath(posixpath.join(link.target, rest)).lstrip("/")


def _empty_folders(original: ImageFiles, rewrite: ImageFiles) -> set[str]:
    """The original's folders that hold nothing but folders, gone in the rewrite."""
    gone = sorted(p for p, e in original.files.items() if e.kind == "dir"
                  and p not in rewrite.files)
    holding = {parent for p, e in original.files.items() if e.kind != "dir"
               for parent in _parents(p)}
    return {p for p in gone if p not in holding}


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _facts(entry: Entry, files: dict[str, Entry]) -> tuple[Any, ...]:
    """What is compared of a path: a hard link as the file it links (a copy of the same
    file is the same file to whoever runs the image)."""
    linked = files.get(entry.target) if entry.kind == "link" else None
    if linked is not None:
        entry = linked
    if entry.kind == "file":
        return ("file", entry.mode, entry.uid, entry.gid, entry.size, entry.digest)
    if entry.kind == "symlink":
        return ("symlink", 0, entry.uid, entry.gid, 0, entry.target)
    return (entry.kind, entry.mode, entry.uid, entry.gid, 0, entry.target)


def _differs(old: tuple[Any, ...], new: tuple[Any, ...]) -> str:
    if old[0] != new[0]:
        return f"{old[0]} → {new[0]}"
    parts = []
    if old[4:] != new[4:]:
        parts.append(f"link target {old[5]} → {new[5]}" if old[0] == "symlink"
                     else "content differs")
    if old[1] != new[1]:
        parts.append(f"mode {old[1]:o} → {new[1]:o}")
    if old[2:4] != new[2:4]:
        parts.append(f"owner {old[2]}:{old[3]} → {new[2]}:{new[3]}")
    return ", ".join(parts)


def _field(config: dict[str, Any], field: str) -> Any:
    value = config.get(field) or None
    if field == "WorkingDir" and value == "/":  # none set: a container starts in / all the same
        value = None
    if field == "Labels" and value:  # harness's own labels (run, variant) are not the image's
        value = {k: v for k, v in value.items() if not k.startswith("harness.")} or None
    return value


def _shown(value: Any) -> str:
    return "(none)" if value is None else value if isinstance(value, str) else json.dumps(
        value, ensure_ascii=False)
