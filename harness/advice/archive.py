"""Delete a downloaded archive in the RUN that fetched and extracted it (a size smell
docker-parfum repaired in real files): `curl -o x.tgz ... && tar -xzf x.tgz` with no `rm`
of x.tgz keeps the archive in the layer for good. The rewrite removes it right after the
extraction; what it may change is that one file, named by its path."""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from harness.advice.edit import NOTHING, Edit, Piece, chains_right_after, rewritten_run, runs
from harness.advice.parse import Instruction, absolute
from harness.advice.shell import ShellCommand, behind_sudo, is_command, run_words

URL = re.compile(r"^(https?|ftp)://")
CURL_VALUED = {"-H", "-d", "-X", "-u", "-A", "-e", "-x", "-w", "-m", "-T", "-F", "-r", "-C",
               "-b", "-c", "-K", "-E", "-Y", "-y", "-z", "--header", "--data", "--request",
               "--user", "--user-agent", "--retry", "--max-time", "--connect-timeout",
               "--proxy", "--cacert", "--cert", "--write-out", "--retry-delay", "--referer"}
"""curl's options that take the next word as their value (never the output file)."""


def _curl_output(args: tuple[str, ...]) -> str | None:
    url = next((a for a in args if URL.match(a)), None)
    output, remote, skip = None, False, False
    for at, word in enumerate(args):
        following = args[at + 1] if at + 1 < len(args) else None
        if skip:
            skip = False
        elif word in ("-o", "--output"):
            output, skip = following, True
        elif word.startswith("--output="):
            output = word.split("=", 1)[1]
        elif word == "--remote-name":
            remote = True
        elif word in CURL_VALUED:
            skip = True
        elif re.fullmatch(r"-[A-Za-z]+", word):
            remote = remote or "O" in word
            if word.endswith("o"):
                output, skip = following, True
    if output is None and remote and url:
        output = _url_name(url)
    return output


def _wget_output(args: tuple[str, ...]) -> str | None:
    url = next((a for a in args if URL.match(a)), None)
    output, prefix = None, ""
    for at, word in enumerate(args):
        following = args[at + 1] if at + 1 < len(args) else None
        if word == "-O" or re.fullmatch(r"-[A-Za-z]*O", word) or word == "--output-document":
            output = following
        elif word.startswith("--output-document="):
            output = word.split("=", 1)[1]
        elif re.fullmatch(r"-[A-Za-z]*O.+", word) and not word.startswith("--"):
            output = word[word.index("O") + 1:]
        elif word == "-P" or word == "--directory-prefix":
            prefix = following or ""
        elif word.startswith("--directory-prefix="):
            prefix = word.split("=", 1)[1]
    if output is None and url:
        output = _url_name(url)
        if output and prefix:
            output = posixpath.join(prefix, output)
    return output


def _url_name(url: str) -> str | None:
    """The file name `curl -O` or `wget` gives a download: the URL path's last part."""
    return urlsplit(url).path.rsplit("/", 1)[-1] or None


def _downloaded(command: ShellCommand) -> str | None:
    """The file a curl or wget command writes ("-": none), or None where it is no download."""
    words = run_words(command)
    if not words:
        return None
    program = PurePosixPath(words[0]).name
    output = (_curl_output(words[1:]) if program == "curl" else
              _wget_output(words[1:]) if program == "wget" else None)
    return None if output in (None, "-", "/dev/null") else output


def _extracted(command: ShellCommand) -> str | None:
    """The archive a tar -x or unzip command reads."""
    words = run_words(command)
    if is_command(command, "unzip"):
        return next((w for w in words[1:] if not w.startswith("-")), None)
    if not is_command(command, "tar"):
        return None
    args = words[1:]
    first = args[0] if args and not args[0].startswith("-") else ""
    extracting = "x" in first or any(w in ("--extract", "--get") or re.fullmatch(
        r"-[A-Za-z]*x[A-Za-z]*", w) for w in args)
    if not extracting:
        return None
    if first.endswith("f") and len(args) > 1:
        return args[1]
    for at, word in enumerate(args):
        if word.startswith("--file="):
            return word.split("=", 1)[1]
        if (word == "--file" or re.fullmatch(r"-[A-Za-z]*f", word)) and at + 1 < len(args):
            return args[at + 1]
    return None


def _removes(command: ShellCommand, path: str, cwd: str | None) -> bool:
    words = run_words(command)
    if not is_command(command, "rm"):
        return False
    for word in words[1:]:
        if word.startswith("-"):
            continue
        target = absolute(word, cwd)
        if target is None or target == path or path.startswith(target.rstrip("/") + "/") or \
                PurePosixPath(path).match(target):
            return True  # a path known only when it runs may be the archive: left as it is
    return False


def _glob_escaped(path: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", path)


def delete_archives(edit: Edit) -> str:
    folders = edit.parsed.workdirs()
    changed = False
    for run in runs(edit.parsed):
        if _deleted(edit, run, folders[run.start]):
            changed = True
    return "" if changed else "no archive downloaded and extracted in one RUN and kept"


def _deleted(edit: Edit, run: Instruction, workdir: str | None) -> bool:
    assert run.script is not None
    commands, cwd = run.script.commands, workdir
    options: dict[int, str] = {}
    after: list[str] = []
    for at, command in enumerate(commands):
        if is_command(command, "cd"):
            words = run_words(command)
            cwd = absolute(words[1], cwd) if len(words) > 1 else None
            continue
        written = _downloaded(command)
        if written is None:
            continue
        path = absolute(written, cwd)
        extraction = next((c for c in commands[at + 1:] if _extracted(c) == written), None)
        if extraction is None or any(_removes(c, path or written, cwd)
                                     for c in commands[at + 1:]):
            continue
        if path is None:
            edit.notes.append(f"line {run.start}: the archive {written} is in a folder known "
                              "only when the build runs")
            continue
        # by its absolute path: a `cd` may stand between here and where it runs
        removal = ("sudo " if behind_sudo(command) else "") + f"rm -f {_quoted(path)}"
        if chains_right_after(run, extraction):
            options[extraction.end] = options.get(extraction.end, "") + f" && {removal}"
        else:
            after.append(removal)
        edit.allowed.append(_glob_escaped(path.lstrip("/")))
    if not options and not after:
        return False
    edit.replace(run, rewritten_run(run, edit.parsed.escape, options=options,
                                    after=tuple(after)))
    return True


def _quoted(path: str) -> str:
    return path if re.fullmatch(r"[\w./+@%:,-]+", path) else "'" + path.replace("'", "'\\''") + "'"


PIECE = Piece(key="archive", title="delete a downloaded archive in the RUN that extracted it",
              hadolint="", edit=delete_archives, may_change=NOTHING)
