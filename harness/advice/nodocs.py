"""No docs: dpkg's path-exclude for man pages, docs and translations before the first apt
install of a stage (copyright files and locale.alias kept), dnf/yum `tsflags=nodocs`. What
it may change is what those path-excludes name, and the dpkg configuration file itself."""

from __future__ import annotations

from harness.advice.cache import APT
from harness.advice.edit import Edit, MayChange, Piece, rewritten_run, runs
from harness.advice.shell import behind_sudo, is_command, word_end

NODOCS = ("printf 'path-exclude=/usr/share/doc/*\\npath-include=/usr/share/doc/*/copyright"
          "\\npath-exclude=/usr/share/man/*\\npath-exclude=/usr/share/info/*\\n"
          "path-exclude=/usr/share/locale/*\\npath-include=/usr/share/locale/locale.alias\\n'")
NODOCS_FILE = "/etc/dpkg/dpkg.cfg.d/01-nodoc"
EXCLUDED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
            "etc/dpkg/dpkg.cfg.d/01-nodoc")


def no_docs(edit: Edit) -> str:
    changed = False
    readable = runs(edit.parsed)
    for stage in range(edit.parsed.final_stage + 1):
        mine = [i for i in readable if i.stage == stage]
        apt = [(i, c) for i in mine for c in i.script.commands  # type: ignore[union-attr]
               if any(is_command(c, tool, "install") for tool in APT)]
        for run in mine:
            options = {}
            for command in run.script.commands:  # type: ignore[union-attr]
                at = word_end(command, "install")
                if any(is_command(command, m, "install") for m in ("dnf", "yum", "microdnf")) \
                        and "tsflags=nodocs" not in run.body and at is not None:
                    options[at] = " --setopt=tsflags=nodocs"
            if options:
                edit.replace(run, rewritten_run(run, edit.parsed.escape, options=options))
                changed = True
        if apt and "path-exclude" not in " ".join(i.body for i in mine):
            first, command = apt[0]
            write = (f"| sudo tee {NODOCS_FILE} > /dev/null" if behind_sudo(command)
                     else f"> {NODOCS_FILE}")  # a user's RUN: sudo writes the file
            edit.insert_before(first, f"RUN {NODOCS} {write}")  # after its own edit, if any
            changed = True
    return "" if changed else "no apt-get, dnf or yum install"


PIECE = Piece(key="nodocs", title="no docs (dpkg path-exclude; dnf/yum tsflags=nodocs)",
              hadolint="", edit=no_docs, may_change=MayChange(paths=EXCLUDED))
