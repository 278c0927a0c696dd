"""Squash in the Dockerfile: a final stage FROM scratch that copies the built image's whole
filesystem and declares its config again, every field of it (ENV, LABEL, EXPOSE, VOLUME,
WORKDIR, USER, SHELL, STOPSIGNAL, ONBUILD, the whole HEALTHCHECK, ENTRYPOINT, CMD), read from
the built image, so what the base set is kept too.

Values are written so that BuildKit reads them back to the same bytes: ENV and LABEL in
single quotes (no `$` expansion, no escapes; a quote as '"'"'), text as UTF-8, never JSON's
\\u escapes; lists in JSON form. A value a Dockerfile line cannot hold as it is (a line break;
a `$`, quote, space or escape character in a field BuildKit expands) declines the piece,
naming the field.

What it may change are the files `docker run` puts in or mounts over every container: COPY
makes a debootstrapped base's device nodes in /dev empty files, and on Docker 26 the build's
containers leave /.dockerenv and the mount points of /etc/hostname, hosts and resolv.conf in
the stage it copies.
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.advice.edit import CONTAINER_FILES, NotApplicable, Rewrite
from harness.advice.parse import Parsed

TITLE = "squash: a final FROM scratch stage with the image's files and config"
KEY = "flatten"
NOTE = ("hadolint DL3067 flags it (it copies a whole filesystem from another stage); the image "
        "shares no layer with its base any more, so every pull of a new version downloads "
        "the base's bytes again")
NANOSECONDS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


class Unwritable(Exception):
    """A config value no Dockerfile line reads back as it is."""


def flatten(parsed: Parsed, config: dict[str, Any]) -> Rewrite | NotApplicable:
    final = [i for i in parsed.instructions if i.cmd == "FROM"][-1]
    lines = [*parsed.lines]
    value = list(final.value)
    if len(value) >= 3 and value[1].upper() == "AS":
        name = value[2]
    else:
        name = "harness-original"
        lines[final.start - 1] = lines[final.start - 1].removesuffix("\r") + f" AS {name}" + \
            ("\r" if lines[final.start - 1].endswith("\r") else "")
    try:
        declared = config_lines(config, parsed.escape)
    except Unwritable as error:
        return NotApplicable(advice=TITLE, key=KEY, hadolint="", reason=str(error))
    end = "\r" if parsed.newline == "\r\n" else ""
    added = ["", "FROM scratch", f"COPY --from={name} / /", *declared]
    text = "\n".join([*lines, *(line + end for line in added)]) + "\n"
    return Rewrite(advice=TITLE, key=KEY, hadolint="", lines=(final.start,), dockerfile=text,
                   may_change=CONTAINER_FILES, note=NOTE)


def config_lines(config: dict[str, Any], escape: str) -> list[str]:
    """The instructions that declare `config` again on a FROM scratch stage."""
    out = []
    for key, text in sorted((config.get("Labels") or {}).items()):
        if not key.startswith("harness."):  # harness's own base labels are not the image's
            name = key if re.fullmatch(r"[\w./-]+", key) else quoted(key, "LABEL")
            out.append(f"LABEL {name}={quoted(text, 'LABEL ' + key)}")
    for item in config.get("Env") or []:
        key, _, text = item.partition("=")
        out.append(f"ENV {plain(key, 'ENV', escape)}={quoted(text, 'ENV ' + key)}")
    for port in sorted(config.get("ExposedPorts") or {}):
        out.append(f"EXPOSE {plain(port, 'ExposedPorts', escape)}")
    if config.get("Volumes"):
        out.append("VOLUME " + listed([plain(v, "Volumes", escape) for v in
                                       sorted(config["Volumes"])]))
    for field, instruction in (("WorkingDir", "WORKDIR"), ("User", "USER"),
                               ("StopSignal", "STOPSIGNAL")):
        if config.get(field):
            out.append(f"{instruction} {plain(config[field], field, escape)}")
    if config.get("Shell"):
        out.append(f"SHELL {listed(config['Shell'])}")
    out += healthcheck(config.get("Healthcheck"), escape)
    for trigger in config.get("OnBuild") or []:
        out.append(f"ONBUILD {as_line(trigger, 'OnBuild', escape)}")
    if config.get("Entrypoint"):
        out.append(f"ENTRYPOINT {listed(config['Entrypoint'])}")
    if config.get("Cmd"):
        out.append(f"CMD {listed(config['Cmd'])}")
    return out


def healthcheck(health: dict[str, Any] | None, escape: str) -> list[str]:
    if not health or not health.get("Test"):
        return []
    test = health["Test"]
    if test[0] == "NONE":
        return ["HEALTHCHECK NONE"]
    options = [f"--{flag}={duration(health[field])}" for field, flag in (
        ("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start-period"),
        ("StartInterval", "start-interval")) if health.get(field)]
    if health.get("Retries"):
        options.append(f"--retries={int(health['Retries'])}")
    if test[0] == "CMD-SHELL":
        command = as_line(test[1], "Healthcheck", escape)
        if command.startswith("["):
            raise Unwritable("the HEALTHCHECK's shell command starts with [: BuildKit would "
                             "read it as a list")
    elif test[0] == "CMD":
        command = listed(test[1:])
    else:
        raise Unwritable(f"a HEALTHCHECK test of kind {test[0]!r} has no Dockerfile form")
    return [" ".join(["HEALTHCHECK", *options, "CMD", command])]


def duration(nanoseconds: int) -> str:
    for unit, size in NANOSECONDS.items():
        if nanoseconds % size == 0:
            return f"{nanoseconds // size}{unit}"
    return f"{nanoseconds}ns"


def quoted(text: str, field: str) -> str:
    """`text` in single quotes, which BuildKit's word lexer reads back to the same bytes."""
    if "\n" in text or "\r" in text:
        raise Unwritable(f"{field} holds a line break, which a Dockerfile line cannot hold")
    return "'" + text.replace("'", "'\"'\"'") + "'"


def plain(text: str, field: str, escape: str) -> str:
    """`text` as a bare word of an instruction BuildKit expands: only where it has nothing
    the expansion would read."""
    if not text or any(c in text for c in f"$'\"{escape}") or any(c.isspace() for c in text):
        raise Unwritable(f"{field} {text!r} has a character BuildKit would expand or split")
    return text


def as_line(text: str, field: str, escape: str) -> str:
    """`text` as the rest of an instruction's line, taken as it is."""
    if "\n" in text or "\r" in text or text != text.strip() or text.endswith(escape):
        raise Unwritable(f"{field} {text!r} cannot stand on a Dockerfile line as it is")
    return text


def listed(items: list[str]) -> str:
    """A JSON list, text as UTF-8."""
    return json.dumps(items, ensure_ascii=False)
