"""The advice as Dockerfile rewrites: what each piece changes, where it does not apply and
why, and what it never touches (Dockerfile in, Dockerfile out)."""

import json
import textwrap

import pytest

from harness.advice import build_stage, flatten, move_deletion, parse, shell, smaller_base
from harness.advice.edit import NotApplicable, Rewrite
from harness.advice.parse import DockerfileError
from harness.advice.pieces import PIECES
from harness.layers import Entry, LayerFacts


def parsed(tmp_path, text, files=()):
    path = tmp_path / "Dockerfile"
    path.write_text(textwrap.dedent(text))
    for name in files:
        (tmp_path / name).write_text("x\n")
    return parse.parse(path)


def apply(tmp_path, key, text, files=()):
    return PIECES[key].apply(parsed(tmp_path, text, files))


APP = """\
    FROM debian:bookworm
    # the app
    RUN apt-get update
    RUN apt-get install -y curl \\
        gcc
    RUN pip install requests
    CMD ["curl"]
"""


def test_chaining_joins_consecutive_runs_and_keeps_every_other_line(tmp_path):
    result = apply(tmp_path, "chain", APP)
    assert isinstance(result, Rewrite) and result.lines == (3, 4, 5, 6)
    assert result.dockerfile == textwrap.dedent("""\
        FROM debian:bookworm
        # the app
        RUN apt-get update \\
            && apt-get install -y curl \\
            gcc \\
            && pip install requests
        CMD ["curl"]
    """)


def test_a_run_that_changes_the_shells_state_is_chained_in_a_subshell(tmp_path):
    result = apply(tmp_path, "chain", """\
        FROM busybox
        RUN cd /tmp
        RUN a || b
        RUN touch here
    """)
    assert "RUN ( cd /tmp ) \\\n    && ( a || b ) \\\n    && touch here\n" in result.dockerfile


def test_the_package_cache_is_cleaned_where_it_was_filled(tmp_path):
    result = apply(tmp_path, "cache", APP)
    assert result.dockerfile == textwrap.dedent("""\
        FROM debian:bookworm
        # the app
        RUN apt-get update && apt-get install -y curl \\
            gcc \\
            && apt-get clean && rm -rf /var/lib/apt/lists/*
        RUN pip install --no-cache-dir requests
        CMD ["curl"]
    """)
    apk = apply(tmp_path, "cache", "FROM alpine\nRUN set -eux; apk add curl\n")
    assert "apk add --no-cache curl" in apk.dockerfile
    dnf = apply(tmp_path, "cache", "FROM fedora\nRUN dnf install -y gcc\n")
    assert "RUN dnf install -y gcc \\\n    && dnf clean all" in dnf.dockerfile


def test_recommends_and_docs(tmp_path):
    assert "apt-get install --no-install-recommends -y curl" in apply(
        tmp_path, "recommends", APP).dockerfile
    docs = apply(tmp_path, "nodocs", APP).dockerfile
    assert docs.index("path-exclude=/usr/share/doc/*") < docs.index("apt-get install")
    assert "--setopt=tsflags=nodocs" in apply(tmp_path, "nodocs",
                                               "FROM fedora\nRUN yum install -y gcc\n").dockerfile


def test_cache_order_copies_the_manifest_first(tmp_path):
    text = """\
        FROM python:3
        WORKDIR /app
        COPY . /app
        RUN pip install -r requirements.txt
        CMD ["python", "app.py"]
    """
    result = apply(tmp_path, "cache-order", text, files=["requirements.txt", "app.py"])
    assert result.dockerfile == textwrap.dedent("""\
        FROM python:3
        WORKDIR /app
        COPY requirements.txt /app/
        RUN pip install -r requirements.txt
        COPY . /app
        CMD ["python", "app.py"]
    """)


def test_cache_order_without_a_manifest_says_why(tmp_path):
    result = apply(tmp_path, "cache-order", """\
        FROM python:3
        COPY . /app
        RUN pip install /app
    """)
    assert isinstance(result, NotApplicable)
    assert result.reason == ("COPY . at line 2 comes before the install at line 3, but the "
                             "context has no dependency manifest (or .dockerignore leaves it "
                             "out)")


@pytest.mark.parametrize("run, why", [
    ('RUN ["sh", "-c", "apt-get install -y x"]', "exec-form RUN"),
    ("RUN --mount=type=cache,target=/var/cache/apt apt-get install -y x", "--mount"),
    ("RUN <<EOF\napt-get install -y x\nEOF", "heredoc"),
])
def test_runs_harness_cannot_rewrite_safely_are_left_alone_with_the_reason(tmp_path, run, why):
    result = apply(tmp_path, "recommends", f"FROM debian\n{run}\n")
    assert isinstance(result, NotApplicable) and why in result.reason


def test_a_shell_other_than_sh_or_bash_is_left_alone(tmp_path):
    result = apply(tmp_path, "recommends",
                   'FROM debian\nSHELL ["pwsh", "-c"]\nRUN apt-get install -y x\n')
    assert isinstance(result, NotApplicable)
    assert "line 3: a SHELL other than plain sh -c or bash -c" in result.reason


def test_merging_the_span_from_writer_to_hider(tmp_path):
    text = parsed(tmp_path, """\
        FROM debian
        RUN make big
        RUN use big
        RUN rm big
        COPY x /x
        RUN rm /x
    """)
    merged = move_deletion.merge_span(text, 2, 4)
    assert isinstance(merged, Rewrite)
    assert "RUN make big \\\n    && use big \\\n    && rm big\nCOPY x /x\n" in merged.dockerfile
    assert move_deletion.merge_span(text, 5, 6).reason == \
        "the files come from COPY at line 5: use a build stage"
    hoisted = move_deletion.merge_span(text, 2, 6)
    assert isinstance(hoisted, Rewrite) and hoisted.rebuilds_from_the_source
    assert hoisted.dockerfile == textwrap.dedent("""\
        FROM debian
        COPY x /x
        RUN make big \\
            && use big \\
            && rm big \\
            && rm /x
    """)
    assert hoisted.advice.endswith("(lines 2-6, the COPY at line 5 moved before it)")
    assert not merged.rebuilds_from_the_source


def test_a_span_with_an_instruction_that_changes_what_a_copy_means_is_left_alone(tmp_path):
    text = parsed(tmp_path, """\
        FROM debian
        RUN apt-get install -y gcc
        WORKDIR /src
        COPY . .
        COPY --chown=app x /x
        RUN make && apt-get purge -y gcc
    """)
    assert move_deletion.merge_span(text, 2, 6).reason == "WORKDIR at line 3 sits between them"
    later = parsed(tmp_path, "FROM debian\nRUN make big\nCOPY a /a\nCOPY --chown=app x /x\n"
                             "RUN rm big\n")
    assert move_deletion.merge_span(later, 2, 5).reason == "COPY at line 4 sits between them"
    two = parsed(tmp_path, "FROM debian\nRUN make big\nCOPY a /a\nADD b /b\nRUN rm big\n")
    merged = move_deletion.merge_span(two, 2, 5)
    assert isinstance(merged, Rewrite)
    assert merged.dockerfile.startswith("FROM debian\nCOPY a /a\nADD b /b\nRUN make big")


def test_flatten_declares_the_built_images_config_again(tmp_path):
    result = flatten.flatten(parsed(tmp_path, "FROM debian\nRUN make\n"), {
        "Env": ["PATH=/usr/bin:/bin", "A=x y"], "Cmd": ["app", "--serve"],
        "WorkingDir": "/srv", "User": "app", "ExposedPorts": {"8080/tcp": {}},
        "Labels": {"org.x": "1"}, "Entrypoint": None,
        "Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"]}})
    assert result.dockerfile == textwrap.dedent("""\
        FROM debian AS harness-original
        RUN make

        FROM scratch
        COPY --from=harness-original / /
        LABEL org.x='1'
        ENV PATH='/usr/bin:/bin'
        ENV A='x y'
        EXPOSE 8080/tcp
        WORKDIR /srv
        USER app
        HEALTHCHECK CMD curl -f localhost
        CMD ["app", "--serve"]
    """)


@pytest.mark.parametrize("text, message", [
    ("FROM debian\nRUN <<EOF\nunterminated", r"Dockerfile:\d+: "),
    ("hello world\n", "Dockerfile:1: not a Dockerfile: expected FROM"),
    ("ARG X=1\n", "Dockerfile:1: not a Dockerfile: no FROM"),
    ("FROM busybox\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two arguments"),
    ("FROM busybox\nRUNN true\n", "Dockerfile:2: unknown instruction: RUNN"),
    ("FROM busybox\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires a JSON list"),
])
def test_what_is_not_a_dockerfile_is_named_with_its_line(tmp_path, text, message):
    (tmp_path / "Dockerfile").write_text(text)
    with pytest.raises(DockerfileError, match=message):
        parse.parse(tmp_path / "Dockerfile")


def test_commands_are_found_inside_any_list(tmp_path):
    found = shell.read_script("set -eux; apt-get update && (apt-get -y install curl | tee x)"
                              ).commands
    assert [c.words[:2] for c in found] == [("set", "-eux"), ("apt-get", "update"),
                                            ("apt-get", "-y"), ("tee", "x")]
    assert shell.is_command(found[2], "apt-get", "install")
    assert shell.is_command(shell.read_script("python3 -m pip install x").commands[0], "pip",
                            "install")


def test_a_rewrite_of_a_chained_run_keeps_one_command_a_line(tmp_path):
    chained = apply(tmp_path, "chain", APP).dockerfile
    (tmp_path / "Dockerfile").write_text(chained)
    cleaned = PIECES["cache"].apply(parse.parse(tmp_path / "Dockerfile")).dockerfile
    assert "RUN apt-get update \\\n    && apt-get install -y curl" in cleaned
    assert "\n    && apt-get clean && rm -rf /var/lib/apt/lists/*\n" in cleaned


def test_the_squash_leaves_harnesss_own_base_labels_out(tmp_path):
    result = flatten.flatten(parsed(tmp_path, "FROM debian\n"), {
        "Labels": {"harness.managed": "true", "org.opencontainers.image.title": "app"}})
    assert "harness.managed" not in result.dockerfile
    assert "LABEL org.opencontainers.image.title='app'" in result.dockerfile


def test_grouping_makes_a_layer_of_packages_and_a_layer_of_the_rest(tmp_path):
    result = apply(tmp_path, "group", """\
        FROM debian:bookworm
        RUN apt-get update
        RUN apt-get install -y gcc && rm -rf /var/lib/apt/lists/*
        RUN mkdir /app
        RUN cd /app && echo built > out
        CMD ["cat", "/app/out"]
    """)
    assert isinstance(result, Rewrite) and result.lines == (2, 3, 4, 5)
    assert result.dockerfile == textwrap.dedent("""\
        FROM debian:bookworm
        RUN apt-get update \\
            && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*
        RUN mkdir /app \\
            && ( cd /app && echo built > out )
        CMD ["cat", "/app/out"]
    """)


def test_grouping_never_reorders_runs(tmp_path):
    """A package install after the build may depend on it (or undo it): left as it is."""
    result = apply(tmp_path, "group", """\
        FROM debian:bookworm
        RUN apt-get update
        RUN make
        RUN apt-get purge -y gcc
    """)
    assert isinstance(result, NotApplicable)
    assert result.reason.startswith("no three or more consecutive RUNs")


def test_gem_and_cpan_installs_leave_no_cache_or_docs(tmp_path):
    result = apply(tmp_path, "cache", """\
        FROM ruby
        RUN gem install rails && gem env
        RUN cpanm JSON::XS
        RUN cpan -i YAML
    """)
    assert isinstance(result, Rewrite) and result.lines == (2, 3, 4)
    assert result.dockerfile == textwrap.dedent("""\
        FROM ruby
        RUN gem install --no-document rails && gem env \\
            && rm -rf "$(gem env gemdir)"/cache/*.gem
        RUN cpanm JSON::XS \\
            && rm -rf ~/.cpanm
        RUN cpan -i YAML \\
            && rm -rf ~/.cpan/build ~/.cpan/sources
    """)
    updated = apply(tmp_path, "cache", "FROM ruby\nRUN gem update --system && gem update\n")
    assert "RUN gem update --no-document --system && gem update --no-document\n" in \
        updated.dockerfile
    tidy = apply(tmp_path, "cache", "FROM ruby\nRUN gem install -N rails && gem list\n")
    assert isinstance(tidy, Rewrite)  # --no-document was there; the .gem files are not gone
    assert "-N rails && gem list \\\n    && rm -rf" in tidy.dockerfile


@pytest.mark.parametrize("body, program", [
    ("sudo apt-get install -y curl", "apt-get"),
    ("sudo -u root -E env DEBIAN_FRONTEND=noninteractive apt-get install -y curl", "apt-get"),
    ("nice -n 5 ionice -c 3 apt-get install -y curl", "apt-get"),
    ("echo curl | xargs -r -n 1 apt-get install -y", "apt-get"),
    ("apt-get -o Dpkg::Options::=--force-confold -t bookworm-backports install -y curl",
     "apt-get"),
    ("env -u HOME -- apt-get install -y curl", "apt-get"),
])
def test_a_command_is_found_behind_wrappers_and_valued_options(body, program):
    commands = shell.read_script(body).commands
    installs = [c for c in commands if shell.is_command(c, program, "install")]
    assert len(installs) == 1
    words = installs[0].words
    assert body[:shell.word_end(installs[0], "install")].endswith("install")
    assert shell.behind_sudo(installs[0]) == (words[0] == "sudo")
    assert not shell.is_command(shell.read_script(
        "apt-get -o install=1 update").commands[0], "apt-get", "install")


def test_installs_inside_branches_and_functions_behind_sudo_get_the_pieces(tmp_path):
    text = """\
        FROM debian:bookworm
        RUN install_all() { apt-get update && apt-get install -y jq; }; install_all
        USER app
        RUN if [ -f /etc/debian_version ]; then \\
              sudo apt-get update && sudo apt-get install -y curl; \\
            elif true; then sudo -E apt-get install -y wget; fi
    """
    cleaned = apply(tmp_path, "cache", text)
    assert isinstance(cleaned, Rewrite) and cleaned.lines == (2, 4, 5, 6)
    assert cleaned.dockerfile == textwrap.dedent("""\
        FROM debian:bookworm
        RUN ( install_all() { apt-get update && apt-get install -y jq; }; install_all ) \\
            && apt-get clean && rm -rf /var/lib/apt/lists/*
        USER app
        RUN ( if [ -f /etc/debian_version ]; then \\
              sudo apt-get update && sudo apt-get install -y curl; \\
            elif true; then sudo -E apt-get install -y wget; fi ) \\
            && sudo apt-get clean && sudo rm -rf /var/lib/apt/lists/*
    """)
    lean = apply(tmp_path, "recommends", text).dockerfile
    assert "sudo apt-get install --no-install-recommends -y curl" in lean
    assert "sudo -E apt-get install --no-install-recommends -y wget" in lean
    assert "&& apt-get install --no-install-recommends -y jq; }" in lean
    nodocs = apply(tmp_path, "nodocs", text).dockerfile
    assert "locale.alias\\n' > /etc/dpkg/dpkg.cfg.d/01-nodoc\nRUN install_all" in nodocs
    as_a_user = apply(tmp_path, "nodocs", "FROM debian\nUSER app\nRUN sudo apt-get install x\n")
    assert "locale.alias\\n' | sudo tee /etc/dpkg/dpkg.cfg.d/01-nodoc > /dev/null\nRUN sudo" \
        in as_a_user.dockerfile


def test_yarn_installs_clean_yarns_cache(tmp_path):
    result = apply(tmp_path, "cache", """\
        FROM node
        RUN yarn --frozen-lockfile && yarn build
        RUN yarn global add serve
        RUN yarn install && yarn cache clean
        RUN yarn test
    """)
    assert isinstance(result, Rewrite) and result.lines == (2, 3)
    assert "RUN yarn --frozen-lockfile && yarn build \\\n    && yarn cache clean\n" \
        in result.dockerfile
    assert "RUN yarn global add serve \\\n    && yarn cache clean\n" in result.dockerfile


REMOVALS = """\
    FROM debian
    RUN apt-get purge -y gcc
    RUN apt-get remove -y make && echo done
    RUN apt-get autoremove -y
    RUN apt-get purge -y --auto-remove tcc
    USER app
    RUN sudo apt-get -o Dpkg::Options::=--force-confold remove -y curl
    RUN dnf remove -y gcc
"""


def test_autoremove_follows_a_removal_in_its_run_unless_something_autoremoves(tmp_path):
    result = apply(tmp_path, "autoremove", REMOVALS)
    assert isinstance(result, Rewrite) and result.lines == (7, 8)
    lines = textwrap.dedent(REMOVALS).splitlines()
    assert result.dockerfile.splitlines() == [
        *lines[:6], lines[6] + " \\", "    && sudo apt-get autoremove -y --purge",
        lines[7] + " \\", "    && dnf autoremove -y"]
    assert result.note == ("line 2's removal is autoremoved at line 4; "
                           "line 3's removal is autoremoved at line 4")
    assert result.may_change.dropped_packages
    none = apply(tmp_path, "autoremove", "FROM debian\nRUN apt-get install -y gcc\n")
    assert none.reason == "no apt-get, dnf or yum remove without an autoremove after it"


def test_autoremove_goes_right_after_the_removal_in_an_and_list(tmp_path):
    result = apply(tmp_path, "autoremove", """\
        FROM debian
        RUN apt-get purge -y jq && rm -rf /var/lib/apt/lists/*
        RUN apt-get purge -y jq > /log && rm -rf /x
        RUN apt-get purge -y jq | tee /log && rm -rf /x
    """)
    assert result.dockerfile.splitlines()[1:] == [
        "RUN apt-get purge -y jq && apt-get autoremove -y --purge && rm -rf /var/lib/apt/lists/*",
        "RUN apt-get purge -y jq > /log && rm -rf /x \\",
        "    && apt-get autoremove -y --purge",
        "RUN ( apt-get purge -y jq | tee /log && rm -rf /x ) \\",
        "    && apt-get autoremove -y --purge"]


def test_a_downloaded_archive_is_deleted_right_after_its_extraction(tmp_path):
    result = apply(tmp_path, "archive", """\
        FROM debian AS build
        WORKDIR /src
        RUN wget http://example.org/pub/hello-2.10.tar.gz && tar -xzf hello-2.10.tar.gz && make
        RUN curl -fsSL -o /tmp/go.tgz "$URL" && tar -C /usr/local -xzf /tmp/go.tgz
        RUN cd /opt && curl -fsSLO https://example.org/b.tar.xz && tar xf b.tar.xz
        RUN set -eux; wget -O 'my file.zip' http://example.org/f.zip; unzip -q 'my file.zip'
        RUN curl -fsSLO https://example.org/a.zip && unzip a.zip && rm a.zip
        RUN wget -qO- http://example.org/c.tgz | tar -xz
        RUN curl -o /tmp/d.tgz http://example.org/d.tgz && tar -xzf /tmp/d.tgz && rm -rf /tmp
        FROM python
        RUN wget http://example.org/e.tgz && tar -xzf e.tgz
    """)
    assert isinstance(result, Rewrite) and result.lines == (3, 4, 5, 6)
    assert result.dockerfile.splitlines()[2:6] == [
        "RUN wget http://example.org/pub/hello-2.10.tar.gz && tar -xzf hello-2.10.tar.gz"
        " && rm -f /src/hello-2.10.tar.gz && make",
        'RUN curl -fsSL -o /tmp/go.tgz "$URL" && tar -C /usr/local -xzf /tmp/go.tgz \\',
        "    && rm -f /tmp/go.tgz",
        "RUN ( cd /opt && curl -fsSLO https://example.org/b.tar.xz && tar xf b.tar.xz ) \\"]
    assert "    && rm -f /opt/b.tar.xz\nRUN ( set -eux; wget -O 'my file.zip' http://example." \
           "org/f.zip; unzip -q 'my file.zip' ) \\\n    && rm -f '/src/my file.zip'\n" \
        in result.dockerfile
    assert result.may_change.paths == ("src/hello-2.10.tar.gz", "tmp/go.tgz", "opt/b.tar.xz",
                                       "src/my file.zip")
    assert result.note == "line 11: the archive e.tgz is in a folder known only when the build runs"


def test_a_chown_or_chmod_right_after_a_copy_becomes_its_flags(tmp_path):
    result = apply(tmp_path, "copy-owner", """\
        FROM busybox
        WORKDIR /app
        COPY src/ .
        ENV A=1
        RUN chown -R app:app /app && chmod -R 0755 .
        copy --from=build /out /srv/out/
        RUN chown -R www /srv/out
        COPY conf /etc/conf
        RUN chown -R app /etc && echo done
        COPY x /x
        RUN chmod -R u+x /x
        COPY run.sh /usr/local/bin/run
        RUN chmod -R 0755 /usr/local/bin/run
        COPY --from=build /bin/tool /bin/tool
        RUN chmod -R 0755 /bin/tool
    """, files=("run.sh",))
    assert isinstance(result, Rewrite) and result.lines == (3, 5, 6, 7, 12, 13)
    assert result.dockerfile == textwrap.dedent("""\
        FROM busybox
        WORKDIR /app
        COPY --chown=app:app --chmod=0755 src/ .
        ENV A=1
        RUN chown app:app /app && chmod 0755 /app
        copy --chown=www:0 --from=build /out /srv/out/
        RUN chown www:0 /srv/out
        COPY conf /etc/conf
        RUN chown -R app /etc && echo done
        COPY x /x
        RUN chmod -R u+x /x
        COPY --chmod=0755 run.sh /usr/local/bin/run
        COPY --from=build /bin/tool /bin/tool
        RUN chmod -R 0755 /bin/tool
    """)
    assert result.may_change.paths == ()
    assert result.note == ("line 9 changes /etc, not exactly what line 8 copied (/etc/conf); "
                           "chmod's mode u+x is not octal (--chmod takes octal); whether line "
                           "14's destination is a folder is known only from the built image")
    mixed = apply(tmp_path, "copy-owner", "FROM busybox\nCOPY a /a\nRUN chown -R 1:1 /a && ls\n")
    assert mixed.reason.endswith("; `ls` is not a plain chown -R or chmod -R of one path")


LOCK_V3 = {"lockfileVersion": 3, "packages": {
    "": {"dependencies": {"express": "^4"}, "devDependencies": {"jest": "^29"}},
    "node_modules/express": {"version": "4.19.2"},
    "node_modules/jest": {"version": "29.7.0", "dev": True, "bin": {"jest": "bin/jest.js"}},
    "node_modules/@babel/core": {"version": "7.24.0", "dev": True},
    "node_modules/semver": {"version": "7.6.0", "devOptional": True, "bin": "bin/semver.js"},
    "node_modules/@jest/cli": {"version": "29.7.0", "dev": True, "bin": "bin/cli.js"}}}


def test_npm_installs_omit_dev_dependencies_and_may_drop_exactly_the_dev_packages(tmp_path):
    (tmp_path / "package-lock.json").write_text(json.dumps(LOCK_V3))
    result = apply(tmp_path, "npm-prod", """\
        FROM node:20-slim
        WORKDIR /srv/app
        COPY package*.json ./
        RUN npm ci && npm cache clean --force
        COPY . .
        FROM node:14 AS old
        WORKDIR /old
        RUN npm install
        FROM node:20 AS build
        WORKDIR /b
        RUN npm ci && npm run build
        RUN npm install -g serve
    """)
    assert isinstance(result, Rewrite) and result.lines == (4, 8)
    lines = result.dockerfile.splitlines()
    assert lines[3] == "RUN npm ci --omit=dev && npm cache clean --force"
    assert lines[7] == "RUN npm install --production"  # npm 6 on node 14 knows no --omit
    assert lines[10:] == ["RUN npm ci && npm run build", "RUN npm install -g serve"]
    assert result.note == "line 11's install stays whole: `npm run build` may need the dev packages"
    assert result.may_change.paths[:8] == (
        "root/.npm/_cacache", "home/*/.npm/_cacache", "srv/app/node_modules/.package-lock.json",
        "srv/app/node_modules/.bin/cli",
        "srv/app/node_modules/.bin/jest", "srv/app/node_modules/@babel/core",
        "srv/app/node_modules/@jest/cli", "srv/app/node_modules/jest")
    assert not any("express" in p or "semver" in p for p in result.may_change.paths)
    (tmp_path / "package-lock.json").unlink()
    unnamed = apply(tmp_path, "npm-prod", "FROM node\nWORKDIR /a\nRUN npm ci\n")
    assert unnamed.reason.startswith("no package-lock.json in the context")


@pytest.mark.parametrize("reference, slim", [
    ("debian:bookworm", "debian:bookworm-slim"), ("debian:12.5", "debian:12.5-slim"),
    ("docker.io/library/debian:bookworm-20240110",
     "docker.io/library/debian:bookworm-20240110-slim"),
    ("python:3.12", "python:3.12-slim"), ("python:3.12-bookworm", "python:3.12-slim-bookworm"),
    ("python", "python:slim"), ("python:bookworm", "python:slim-bookworm"),
    ("node:20", "node:20-slim"), ("node:20-bookworm", "node:20-bookworm-slim"),
    ("debian:bookworm-slim", None), ("python:3.12-alpine", None), ("ubuntu:24.04", None),
    ("debian", None), ("debian@sha256:" + "0" * 64, None), ("myregistry:5000/app", None)])
def test_the_smaller_form_of_an_official_base(reference, slim):
    assert smaller_base.smaller(reference) == slim


def test_only_the_base_the_final_image_stands_on_is_made_smaller(tmp_path):
    result = apply(tmp_path, "smaller-base", """\
        FROM golang:1.22 AS build
        RUN go build -o /app .
        FROM debian:bookworm AS runtime
        RUN echo runtime
        FROM runtime
        COPY --from=build /app /app
    """)
    assert isinstance(result, Rewrite) and result.lines == (3,)
    assert result.dockerfile.splitlines()[2] == "FROM debian:bookworm-slim AS runtime"
    assert "usr/share/doc/*" in result.may_change.paths
    assert apply(tmp_path, "smaller-base", "FROM ubuntu:24.04\n").reason.startswith(
        "no smaller official form of ubuntu:24.04")
    assert apply(tmp_path, "smaller-base", "FROM golang AS b\nFROM scratch\n").reason == \
        "the final image stands on scratch"


def layer(*entries):
    return LayerFacts(diff_id="sha256:x", tar_bytes=0, compressed_bytes=0, added_bytes=0,
                      unpacked_bytes=0, entries=[Entry(path=p, kind=k) for p, k in entries])


COMPILED = """\
    FROM --platform=linux/amd64 debian:bookworm
    RUN apt-get update
    RUN apt-get install -y curl \\
        tcc ca-certificates libc6-dev
    COPY hello.c /src/hello.c
    RUN tcc -o /usr/local/bin/hello /src/hello.c && mkdir -p /opt/app/lib && cp x /opt/app/lib/
    RUN apt-get purge -y tcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
    CMD ["hello"]
"""


def test_a_build_stage_keeps_the_compiler_and_copies_what_the_build_wrote(tmp_path):
    layers = [layer(("usr", "dir"), ("usr/local", "dir"), ("usr/local/bin", "dir"),
                    ("opt", "dir")),
              layer(("var/lib/apt/lists/x", "file")), layer(("usr/bin/tcc", "file")),
              layer(("src/hello.c", "file")),
              layer(("usr/local/bin", "dir"), ("usr/local/bin/hello", "file"),
                    ("opt", "dir"), ("opt/app", "dir"), ("opt/app/lib", "dir"),
                    ("opt/app/lib/x", "file"), ("opt/app/lib/y", "symlink")),
              layer(("usr/bin/.wh.tcc", "whiteout"))]
    result = build_stage.build_stage(parsed(tmp_path, COMPILED), layers, [None, 2, 3, 5, 6, 7])
    assert isinstance(result, Rewrite) and result.may_change.dropped_packages
    assert result.dockerfile == textwrap.dedent("""\
        FROM --platform=linux/amd64 debian:bookworm AS harness-build
        RUN apt-get update
        RUN apt-get install -y curl \\
            tcc ca-certificates libc6-dev
        COPY hello.c /src/hello.c
        RUN tcc -o /usr/local/bin/hello /src/hello.c && mkdir -p /opt/app/lib && cp x /opt/app/lib/

        FROM --platform=linux/amd64 debian:bookworm
        RUN apt-get update
        RUN apt-get install -y curl \\
            ca-certificates
        COPY hello.c /src/hello.c
        COPY --from=harness-build /usr/local/bin/hello /usr/local/bin/hello
        COPY --from=harness-build /opt/app /opt/app
        CMD ["hello"]
    """)
    assert result.note == ("libc6-dev, tcc only in the build stage; the 3 file(s) the build "
                           "wrote copied from it")
    deleting = [*layers[:4], layer(("usr/local/bin/hello", "file"), ("src/.wh.hello.c",
                                                                      "whiteout")), layers[5]]
    assert build_stage.build_stage(parsed(tmp_path, COMPILED), deleting, [None, 2, 3, 5, 6, 7]
                                   ).reason.startswith("line 6 deletes /src/.wh.hello.c")
    assert build_stage.build_stage(parsed(tmp_path, "FROM debian\nRUN apt-get purge -y x\n"),
                                   [], []).reason == "no RUN installs every package line 2 purges"


def test_the_combination_starts_from_the_build_stage(tmp_path):
    from harness.advice.pieces import combine

    layers = [layer(("usr", "dir")), layer(("var/lib/apt/lists/x", "file")),
              layer(("usr/bin/tcc", "file")), layer(("src/hello.c", "file")),
              layer(("usr/local/bin/hello", "file"), ("opt/app/lib/x", "file")),
              layer(("usr/bin/.wh.tcc", "whiteout"))]
    read = parsed(tmp_path, COMPILED)
    staged = build_stage.build_stage(read, layers, [None, 2, 3, 5, 6, 7])
    text, applied = combine(read, ["recommends", "chain"], None, staged)
    assert applied == ["build-stage", "recommends", "chain"]
    assert text.count("apt-get install --no-install-recommends -y") == 2  # both stages
    assert "RUN apt-get update \\\n    && apt-get install --no-install-recommends -y curl" in text
    assert "COPY --from=harness-build /usr/local/bin/hello /usr/local/bin/hello" in text
    assert combine(read, [], None, staged) is None  # the build stage alone is no combination


def test_a_cache_mount_replaces_the_cleanup_where_the_run_fills_the_cache_itself(tmp_path):
    result = apply(tmp_path, "cache-mount", """\
        FROM debian:bookworm
        RUN apt-get update && apt install -y jq # the tool
        RUN pip install flask && pip install --no-cache-dir six
        RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*
        USER app
        RUN npm ci
        FROM debian:bookworm
        RUN apt-get update && apt-get install -y git
        RUN apt-cache policy git
        FROM debian:bookworm
        RUN apt-get update
        RUN apt-get install -y curl
    """)
    assert isinstance(result, Rewrite) and result.lines == (2, 3)
    assert result.dockerfile.splitlines()[1:7] == [
        "# the tool",
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\",
        "    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\",
        "    rm -f /etc/apt/apt.conf.d/docker-clean && echo 'Binary::apt::APT::Keep-Downloaded-"
        "Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache && apt-get update && apt install "
        "-y jq",
        "RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \\",
        "    pip install flask && pip install --no-cache-dir six"]
    assert result.note == (
        "line 6 installs as app: a cache mount is root's folder; apt's lists at line 8 stay in "
        "the image: line 9 still reads them; the install at line 12 reads the lists an earlier "
        "RUN wrote, which a mount over /var/lib/apt/lists would hide (the chain piece brings the "
        "update into the install's RUN); needs BuildKit (Docker's default builder since 23.0)")
    assert "etc/apt/apt.conf.d/docker-clean" in result.may_change.paths
    assert PIECES["cache-mount"].alternative_to == "cache"


def test_a_cache_mount_is_never_combined_with_the_cleanup(tmp_path):
    from harness.advice.pieces import combine

    found = parsed(tmp_path, "FROM debian\nRUN apt-get update && apt-get install -y jq\n"
                             "RUN echo done\n")
    text, applied = combine(found, ["chain", "cache", "cache-mount"], None)
    assert applied == ["chain", "cache"] and "--mount" not in text


def test_a_dockerfile_with_cache_mounts_of_its_own_is_left_to_them(tmp_path):
    result = apply(tmp_path, "cache-mount", """\
        FROM debian
        RUN --mount=type=cache,target=/root/.cache/pip pip install six
        RUN apt-get update && apt-get install -y jq
    """)
    assert isinstance(result, NotApplicable)
    assert result.reason.startswith("the Dockerfile mounts a cache already")


def test_the_measured_rewrite_names_its_mounts_as_harnesss_own(tmp_path):
    from harness.advice.cache_mount import owned
    from harness.cache_mounts import mounted_targets

    result = apply(tmp_path, "cache-mount", "FROM debian\nRUN apt-get update && apt-get "
                                            "install -y jq\n")
    built = owned(result.dockerfile, "t0k3n")
    assert "--mount=type=cache,target=/var/cache/apt,sharing=locked,id=harness-t0k3n-var-" \
           "cache-apt \\" in built
    assert built.count("id=harness-t0k3n-") == 2 and "id=" not in result.dockerfile
    assert mounted_targets(built) == {"/var/cache/apt", "/var/lib/apt/lists"}
    assert mounted_targets("RUN --mount=type=bind,target=/x --mount=target=/y,type=cache "
                           "true") == {"/y"}


def test_a_build_stage_where_nothing_purges_moves_the_build_tools_and_headers(tmp_path):
    text = """\
        FROM debian:bookworm
        RUN apt-get update && apt-get install -y curl gcc libc6-dev
        COPY hello.c /src/hello.c
        RUN gcc -o /usr/local/bin/hello /src/hello.c
        RUN echo done > /done
        CMD ["hello"]
    """
    layers = [layer(("usr", "dir")), layer(("usr/bin/gcc", "file")),
              layer(("src/hello.c", "file")), layer(("usr/local/bin/hello", "file")),
              layer(("done", "file"))]
    result = build_stage.build_stage(parsed(tmp_path, text), layers, [None, 2, 3, 4, 5])
    assert isinstance(result, Rewrite) and result.may_change.dropped_packages
    assert result.dockerfile == textwrap.dedent("""\
        FROM debian:bookworm AS harness-build
        RUN apt-get update && apt-get install -y curl gcc libc6-dev
        COPY hello.c /src/hello.c
        RUN gcc -o /usr/local/bin/hello /src/hello.c

        FROM debian:bookworm
        RUN apt-get update && apt-get install -y curl
        COPY hello.c /src/hello.c
        COPY --from=harness-build /usr/local/bin/hello /usr/local/bin/hello
        RUN echo done > /done
        CMD ["hello"]
    """)
    assert result.advice.endswith("(lines 2-4)")
    assert result.note == ("gcc, libc6-dev only in the build stage (never purged: build tools "
                           "and headers, which the checks say the app runs without); the 1 "
                           "file(s) the build wrote copied from it")
    installing = [*layers[:3], layer(("usr/local/bin/hello", "file"),
                                     ("var/lib/dpkg/status", "file")), layers[4]]
    assert build_stage.build_stage(parsed(tmp_path, text), installing, [None, 2, 3, 4, 5]
                                   ).reason.startswith("line 4 installs or removes packages")
    unused = text.replace("RUN gcc -o", "RUN cp")
    assert build_stage.build_stage(parsed(tmp_path, unused), layers, [None, 2, 3, 4, 5]).reason \
        == ("no RUN purges packages an earlier RUN installed, nor installs a build tool (gcc, "
            "make, ...) a later RUN builds with")


def test_a_cache_mount_keeps_apks_dnfs_and_yums_packages(tmp_path):
    result = apply(tmp_path, "cache-mount", """\
        FROM alpine
        RUN apk add curl
        FROM fedora
        RUN dnf install -y gcc
        RUN yum -q install -y make && yum clean all
    """)
    assert isinstance(result, Rewrite) and result.lines == (2, 4)
    assert result.dockerfile.splitlines()[1:6] == [
        "RUN --mount=type=cache,target=/etc/apk/cache,sharing=locked \\",
        "    apk add curl",
        "FROM fedora",
        "RUN --mount=type=cache,target=/var/cache/dnf,sharing=locked \\",
        "    dnf install --setopt=keepcache=True -y gcc"]


def test_a_cache_mount_keeps_an_exit_inside_what_it_ends(tmp_path):
    """An `exit` (or any state) after the install: the commands go in a subshell, so the
    inserted apt setting runs before them and the exit ends only them, as before."""
    result = apply(tmp_path, "cache-mount", """\
        FROM debian
        RUN apt-get update && apt-get install -y jq; exit 0 # done
        RUN echo after > /after
    """)
    assert isinstance(result, Rewrite)
    assert result.dockerfile.splitlines()[1:6] == [
        "# done",
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\",
        "    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\",
        "    rm -f /etc/apt/apt.conf.d/docker-clean && ( apt-get update && apt-get install -y "
        "jq; exit 0 )",
        "RUN echo after > /after"]
