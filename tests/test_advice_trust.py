"""Rewrites that keep the Dockerfile's meaning: the hostile cases that string edits got wrong
(a trailing comment, exit, eval, a bare assignment, apt's lists, a WORKDIR in the way, the
config flatten drops), each rewritten correctly or declined with its line and reason."""

import textwrap

import pytest

from harness.advice import flatten, move_deletion, parse, shell
from harness.advice.edit import NotApplicable, Rewrite, left_alone
from harness.advice.pieces import PIECES


def parsed(tmp_path, text, files=()):
    path = tmp_path / "Dockerfile"
    path.write_bytes(textwrap.dedent(text).encode())
    for name, content in dict(files).items():
        (tmp_path / name).write_text(content)
    return parse.parse(path)


def apply(tmp_path, key, text, files=()):
    return PIECES[key].apply(parsed(tmp_path, text, files))


def commands(dockerfile_text, tmp_path):
    """Each RUN's simple commands as the shell will run them, from the rewritten file read
    again by BuildKit's parser."""
    again = parse.parse_text(dockerfile_text, tmp_path / "Dockerfile", tmp_path)
    return [[c.words for c in i.script.commands] for i in again.instructions
            if i.cmd == "RUN"]


def test_a_trailing_comment_never_swallows_the_runs_chained_after_it(tmp_path):
    result = apply(tmp_path, "chain", """\
        FROM busybox
        RUN echo a # note
        RUN echo b > /b
    """)
    assert result.dockerfile == "FROM busybox\n# note\nRUN echo a \\\n    && echo b > /b\n"
    assert commands(result.dockerfile, tmp_path) == [[("echo", "a"), ("echo", "b")]]


def test_a_comment_that_swallowed_a_continuation_keeps_doing_so(tmp_path):
    """BuildKit joins the lines first: `# note \\` comments out the next line in the
    original, and must in the rewrite too."""
    result = apply(tmp_path, "chain", """\
        FROM busybox
        RUN echo a # note \\
            && echo never
        RUN echo b > /b
    """)
    assert commands(result.dockerfile, tmp_path) == [[("echo", "a"), ("echo", "b")]]


def test_a_moved_deletion_behind_a_comment_still_deletes(tmp_path):
    text = parsed(tmp_path, """\
        FROM busybox
        RUN head -c 1000 /dev/zero > /big # make it
        RUN rm /big
    """)
    merged = move_deletion.merge_span(text, 2, 3)
    assert commands(merged.dockerfile, tmp_path) == [[("head", "-c", "1000", "/dev/zero"),
                                                      ("rm", "/big")]]


@pytest.mark.parametrize("run", ["exit 0", "exec sh -c 'echo x > /x'", "logout"])
def test_a_run_that_ends_the_shell_is_not_chained_and_the_note_says_why(tmp_path, run):
    result = apply(tmp_path, "chain", f"FROM busybox\nRUN echo a\nRUN {run}\nRUN echo b\n")
    assert isinstance(result, NotApplicable)
    assert "line 3 is not chained: it ends the shell" in result.reason
    around = apply(tmp_path, "chain", f"FROM busybox\nRUN echo a\nRUN echo b\nRUN {run}\n")
    assert isinstance(around, Rewrite) and f"RUN {run}\n" in around.dockerfile
    assert "line 4 is not chained" in around.note


@pytest.mark.parametrize("run", ["eval 'cd /tmp'", "builtin cd /tmp", "X=1", "cd /tmp",
                                 "set -e", "f() { cd /; }", "$CMD", "printf -v X 1",
                                 "command cd /tmp", "umask 077", "export A=1", ". /env"])
def test_a_run_that_may_change_the_shells_state_is_chained_in_a_subshell(tmp_path, run):
    result = apply(tmp_path, "chain", f"FROM busybox\nRUN {run}\nRUN pwd > /where\n")
    assert f"RUN ( {run} ) \\\n    && pwd > /where" in result.dockerfile


def test_plain_commands_are_chained_without_a_subshell(tmp_path):
    result = apply(tmp_path, "chain", "FROM busybox\nRUN echo a && test -d /\nRUN touch /b\n")
    assert "RUN echo a && test -d / \\\n    && touch /b" in result.dockerfile


def test_and_inside_quotes_is_never_split(tmp_path):
    result = apply(tmp_path, "recommends", """\
        FROM debian
        RUN echo "a && apt-get install b" && apt-get install -y curl
    """)
    assert 'RUN echo "a && apt-get install b" && apt-get install --no-install-recommends -y ' \
           'curl' in result.dockerfile


def test_the_update_never_moves_past_another_apt_command(tmp_path):
    result = apply(tmp_path, "cache", """\
        FROM debian
        RUN apt-get update
        RUN apt-get upgrade -y
        RUN apt-get install -y curl
    """)
    assert isinstance(result, Rewrite)
    assert result.dockerfile.startswith("FROM debian\nRUN apt-get update\nRUN apt-get upgrade "
                                        "-y\nRUN apt-get install -y curl \\\n    && apt-get "
                                        "clean")
    assert "apt's lists at line 3 stay: line 4 still uses them" in result.note
    assert "the apt-get update at line 2 stays: line 3 uses apt between it and the install " \
           "at line 4" in result.note


def test_a_change_to_apts_sources_keeps_the_update_where_it_is(tmp_path):
    result = apply(tmp_path, "cache", """\
        FROM debian
        RUN apt-get update
        COPY extra.list /etc/apt/sources.list.d/
        RUN apt-get install -y curl
    """)
    assert "RUN apt-get update\nCOPY" in result.dockerfile
    assert "line 3 uses apt between it" in result.note


def test_lists_a_later_run_still_uses_are_not_cleaned(tmp_path):
    result = apply(tmp_path, "cache", """\
        FROM debian
        RUN apt-get update && apt-get install -y curl
        RUN apt-get install -y git || echo optional
    """)
    assert result.dockerfile == textwrap.dedent("""\
        FROM debian
        RUN apt-get update && apt-get install -y curl
        RUN ( apt-get install -y git || echo optional ) \\
            && apt-get clean && rm -rf /var/lib/apt/lists/*
    """)
    assert "apt's lists at line 2 stay: line 3 still uses them" in result.note


def test_a_later_stage_built_from_this_one_keeps_its_lists(tmp_path):
    result = apply(tmp_path, "cache", """\
        FROM debian AS base
        RUN apt-get update && apt-get install -y curl
        FROM base
        RUN apt-get install -y git
    """)
    assert "apt's lists at line 2 stay: line 4 still uses them" in result.note
    assert "RUN apt-get update && apt-get install -y curl\n" in result.dockerfile


def test_a_trailing_comment_moves_above_a_run_that_gets_a_cleanup(tmp_path):
    result = apply(tmp_path, "cache", "FROM debian\nRUN apt-get update && apt-get install -y "
                                      "curl # tools\n")
    assert result.dockerfile == ("FROM debian\n# tools\nRUN apt-get update && apt-get install "
                                 "-y curl \\\n    && apt-get clean && rm -rf "
                                 "/var/lib/apt/lists/*\n")


@pytest.mark.parametrize("between, why", [
    ("WORKDIR /srv", "WORKDIR at line 3 stands between it and the install at line 5"),
    ("COPY settings.py ./settings.py", "COPY at line 3 stands between it"),
    ("USER app", "USER at line 3 stands between it"),
])
def test_cache_order_never_moves_the_source_past_what_changes_its_meaning(tmp_path, between,
                                                                          why):
    result = apply(tmp_path, "cache-order", f"""\
        FROM python:3
        COPY . .
        {between}
        ENV A=1
        RUN pip install -r requirements.txt
    """, files={"requirements.txt": "x\n"})
    assert isinstance(result, NotApplicable) and why in result.reason


def test_cache_order_does_not_name_a_manifest_dockerignore_leaves_out(tmp_path):
    result = apply(tmp_path, "cache-order", """\
        FROM python:3
        COPY . /app
        RUN pip install -r /app/requirements.txt
    """, files={"requirements.txt": "x\n", ".dockerignore": "# build only\nrequirements*\n"})
    assert isinstance(result, NotApplicable)
    assert "no dependency manifest (or .dockerignore leaves it out)" in result.reason


def test_flatten_keeps_every_config_field_in_a_form_buildkit_reads_back(tmp_path):
    result = flatten.flatten(parsed(tmp_path, "FROM debian\n"), {
        "Env": ["PRICE=$5 & 'more'", "NAME=café"], "StopSignal": "SIGQUIT",
        "Volumes": {"/data": {}, "/cache": {}}, "Shell": ["/bin/bash", "-c"],
        "OnBuild": ["RUN echo built"],
        "Healthcheck": {"Test": ["CMD", "/bin/check", "--fast"], "Interval": 30_000_000_000,
                        "Timeout": 1_500_000_000, "StartPeriod": 5_000_000_000, "Retries": 4},
        "Entrypoint": ["/entry"], "Cmd": ["--flag"]})
    assert result.dockerfile.endswith(textwrap.dedent("""\
        FROM scratch
        COPY --from=harness-original / /
        ENV PRICE='$5 & '"'"'more'"'"''
        ENV NAME='café'
        VOLUME ["/cache", "/data"]
        STOPSIGNAL SIGQUIT
        SHELL ["/bin/bash", "-c"]
        HEALTHCHECK --interval=30s --timeout=1500ms --start-period=5s --retries=4 CMD ["/bin/check", "--fast"]
        ONBUILD RUN echo built
        ENTRYPOINT ["/entry"]
        CMD ["--flag"]
    """))  # noqa: E501
    assert "DL3067" in result.note and "shares no layer with its base" in result.note


@pytest.mark.parametrize("config, field", [
    ({"Env": ["A=two\nlines"]}, "ENV A holds a line break"),
    ({"WorkingDir": "/srv/$APP"}, "WorkingDir '/srv/$APP' has a character"),
    ({"Healthcheck": {"Test": ["CMD-SHELL", "[ -f /ok ] \\"]}}, "Healthcheck"),
])
def test_flatten_declines_what_a_dockerfile_line_cannot_hold(tmp_path, config, field):
    result = flatten.flatten(parsed(tmp_path, "FROM debian\n"), config)
    assert isinstance(result, NotApplicable) and field in result.reason


def test_the_escape_directive_is_honoured(tmp_path):
    result = apply(tmp_path, "chain", """\
        # escape=`
        FROM mcr.microsoft.com/windows/servercore
        RUN echo a `
            && echo b
        RUN echo c
    """)
    assert "RUN echo a `\n    && echo b `\n    && echo c\n" in result.dockerfile
    assert commands(result.dockerfile, tmp_path) == [[("echo", "a"), ("echo", "b"),
                                                      ("echo", "c")]]


def test_lines_split_only_where_buildkit_splits_them(tmp_path):
    """A form feed or U+2028 inside a line is part of it; CRLF line endings are kept."""
    text = "FROM busybox\r\nRUN echo 'a\fb\u2028c' > /x\r\nRUN echo d\r\nCMD [\"sh\"]\r\n"
    (tmp_path / "Dockerfile").write_bytes(text.encode())
    result = PIECES["chain"].apply(parse.parse(tmp_path / "Dockerfile"))
    assert result.dockerfile == ("FROM busybox\r\nRUN echo 'a\fb\u2028c' > /x \\\r\n    && "
                                 "echo d\r\nCMD [\"sh\"]\r\n")


@pytest.mark.parametrize("run, near", [("if true; then apt-get install -y curl", "if"),
                                       ("apt-get install -y curl )", ")")])
def test_a_run_harness_cannot_read_is_named_never_a_false_reason(tmp_path, run, near):
    result = apply(tmp_path, "recommends", f"FROM debian\nRUN {run}\n")
    assert isinstance(result, NotApplicable)
    assert "left alone: line 2: harness cannot read this RUN" in result.reason
    assert near.split()[0] in result.reason


@pytest.mark.parametrize("run", ["[[ -f /x ]] && apt-get install -y curl",
                                 "a=(1 2) && apt-get install -y curl",
                                 'case "$(uname -m)" in x86_64) apt-get install -y curl;; esac'])
def test_bash_constructs_are_read_and_their_installs_rewritten(tmp_path, run):
    result = apply(tmp_path, "recommends",
                   f"FROM debian\nSHELL [\"/bin/bash\", \"-c\"]\nRUN {run}\n")
    assert isinstance(result, Rewrite) and result.lines == (3,)
    assert "apt-get install --no-install-recommends -y curl" in result.dockerfile


@pytest.mark.parametrize("shell", ['["/bin/bash", "-l", "-c"]', '["/bin/bash", "--login", "-c"]',
                                   '["pwsh", "-Command"]', '["cmd", "/S", "/C"]'])
def test_a_shell_that_is_not_plain_stops_rewrites_in_its_stage_and_stages_from_it(tmp_path,
                                                                                   shell):
    result = apply(tmp_path, "chain", f"""\
        FROM debian AS base
        SHELL {shell}
        RUN echo a
        RUN echo b
        FROM base
        RUN echo c
        RUN echo d
        FROM debian
        RUN echo e
        RUN echo f
    """)
    assert result.lines == (9, 10)
    left = left_alone(parsed(tmp_path, "FROM debian AS base\nSHELL " + shell + "\nRUN a\n"
                             "FROM base\nRUN c\n"))
    assert left == ("; left alone: line 3: a SHELL other than plain sh -c or bash -c (a login "
                    "shell, pwsh, cmd); line 5: a SHELL other than plain sh -c or bash -c (a "
                    "login shell, pwsh, cmd)")


@pytest.mark.parametrize("shell", ['["/bin/bash", "-o", "pipefail", "-c"]',
                                   '["/bin/sh", "-eux", "-c"]',
                                   '["bash", "-euxo", "pipefail", "-c"]'])
def test_a_stricter_plain_shell_is_still_rewritten(tmp_path, shell):
    result = apply(tmp_path, "chain", f"FROM debian\nSHELL {shell}\nRUN echo a\nRUN echo b\n")
    assert isinstance(result, Rewrite)


def test_reading_is_linear_each_run_parsed_once(tmp_path, monkeypatch):
    """The old cache piece parsed every earlier RUN again for each install (quadratic): now
    each RUN's shell is read once, however many pieces look at it."""
    lines = ["FROM debian"] + [f"RUN apt-get install -y pkg{i} && echo {i} > /f{i}"
                               if i % 2 else f"RUN apt-get update && echo {i}" for i in
                               range(2000)]
    (tmp_path / "Dockerfile").write_text("\n".join(lines) + "\n")
    calls = []
    real = shell.PARSER

    class Counting:
        def parse(self, data):
            calls.append(data)
            return real.parse(data)

    monkeypatch.setattr(shell, "PARSER", Counting())
    read = parse.parse(tmp_path / "Dockerfile")
    results = [piece.apply(read) for piece in PIECES.values()]
    assert len(calls) == 2000
    assert all(isinstance(r, (Rewrite, NotApplicable)) for r in results)
