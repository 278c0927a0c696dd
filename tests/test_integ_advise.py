"""harness advise on real builds (busybox, so it stays quick): a planted file's saving is its
size, attributed to both lines; a rewrite that breaks a check is never recommended; the
user's files are untouched and nothing is left in the engine."""

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest

from harness import engine
from harness.advice.pieces import PIECES

PLANTED = """\
FROM busybox:latest
RUN mkdir -p /app && echo hello > /app/hello
RUN head -c 1000000 /dev/urandom > /planted
RUN rm /planted
CMD ["cat", "/app/hello"]
"""

REGISTRY_PORT = 5064  # not harness's default: a registry of the user's own may run there


def advise(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness", "advise", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=900)


def advised(tmp_path, *args):
    """advise's JSON report on the Dockerfile in tmp_path (its results files under out/)."""
    result = advise(*args, "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_images(client) -> set[str]:
    """harness's run tags on the engine (a used engine may hold other runs' leftovers, so a
    test compares what it finds before and after)."""
    return {t for image in client.images.list() for t in image.tags
            if t.startswith(f"{engine.RUN_REPOSITORY}/")}


@pytest.mark.docker
def test_a_planted_file_is_a_saving_of_its_size_attributed_to_both_lines(
        docker_client, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(PLANTED)
    before = sorted(p.name for p in tmp_path.iterdir())
    images_before = run_images(docker_client)
    result = advise("--check", "test -f /app/hello", "--json", "--out", str(tmp_path / "out"),
                    "--write-scenario", str(tmp_path / "advised.yaml"),
                    "--write-dockerfile", str(tmp_path / "Dockerfile.advised"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["original_wasted_bytes"] == 1_000_000
    assert report["top_waste"][0] == {"path": "planted", "size_bytes": 1_000_000,
                                      "written_by_line": 3, "hidden_by_line": 4}
    rows = {row["key"]: row for row in report["rows"]}
    moved = rows["move-deletion"]
    assert moved["verdict"] == "saves" and moved["lines"] == [3, 4]
    assert moved["size_change_bytes"] == pytest.approx(-1_000_000, rel=0.01)
    assert rows["chain"]["checks_passed"] is True
    assert rows["cache"]["verdict"] == "not applicable"
    assert rows["cache"]["reason"].startswith(
        "no apt-get, apk, pip, dnf, yum, npm, yarn, gem or cpan")
    assert report["best"] and report["best_diff"].startswith("--- ")
    # every piece passed: their combination was measured with them, in no run of its own
    assert rows["combined"]["advice"].endswith("combined: chain, flatten")
    assert len(report["results"]) == 2  # cold; chain's warm
    # the post-build squashes, measured beside the rewrites and never the recommended Dockerfile
    exported = rows["export-import"]
    assert exported["verdict"] == "saves" and exported["checks_passed"] is True
    assert exported["size_change_bytes"] == pytest.approx(-1_000_000, rel=0.01)
    assert report["best"] not in ("export-import", "docker-squash")
    if engine.image_store(docker_client.info()) == "containerd":
        assert rows["docker-squash"]["verdict"] == "not applicable"
        assert "does not work on the containerd image store" in rows["docker-squash"]["reason"]
    else:
        assert rows["docker-squash"]["verdict"] == "saves"
        assert rows["docker-squash"]["size_change_bytes"] == pytest.approx(-1_000_000, rel=0.01)
    # the user's files as they were; what was asked for written beside them
    assert (tmp_path / "Dockerfile").read_text() == PLANTED
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*before, "out", "advised.yaml", "Dockerfile.advised"])
    assert (tmp_path / "Dockerfile.advised").read_text() == report["variants"][report["best"]]
    from harness.scenario import load_scenario

    scenario = load_scenario(tmp_path / "advised.yaml")
    assert scenario.baseline == "original" and len(scenario.expect) >= 3
    assert run_images(docker_client) - images_before == set()
    assert docker_client.containers.list(all=True, filters={"label": engine.RUN_LABEL}) == []
    # a second time: the files are there, and are not replaced without --force
    again = advise("--write-dockerfile", str(tmp_path / "Dockerfile.advised"), cwd=tmp_path)
    assert again.returncode == 2 and "exists; give --force" in again.stderr


@pytest.mark.docker
def test_the_legacy_builder_is_advised_alike(docker_client, busybox, tmp_path):
    """The classic builder's history names its layers otherwise (`/bin/sh -c #(nop) ...`):
    the planted file is still attributed to both lines, and its saving is its size."""
    (tmp_path / "Dockerfile").write_text(PLANTED)
    result = advise("--builder", "legacy", "--check", "test -f /app/hello", "--only",
                    "move-deletion", "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["top_waste"][0] == {"path": "planted", "size_bytes": 1_000_000,
                                      "written_by_line": 3, "hidden_by_line": 4}
    moved = {row["key"]: row for row in report["rows"]}["move-deletion"]
    assert moved["verdict"] == "saves" and moved["size_change_bytes"] == -1_000_000
    assert [row["key"] for row in report["rows"]] == ["move-deletion"]  # --only
    samples = [s for path in report["results"]
               for s in json.loads(Path(path).read_text())["samples"]]
    assert samples and {s["builder"] for s in samples} == {"legacy"}


@pytest.mark.docker
@pytest.mark.registry
def test_with_a_registry_the_push_change_is_measured(docker_client, busybox, tmp_path):
    """--registry: each variant is pushed; the moved deletion's push no longer carries the
    planted file's 1,000,000 random bytes (gzip cannot shrink them)."""
    (tmp_path / "Dockerfile").write_text(PLANTED)
    state = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    up = subprocess.run([sys.executable, "-m", "harness", "registry", "up", "--port",
                         str(REGISTRY_PORT)], capture_output=True, text=True, env=state)
    assert up.returncode == 0, up.stderr
    try:
        result = advise("--registry", f"127.0.0.1:{REGISTRY_PORT}", "--only",
                        "move-deletion", "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
    finally:
        subprocess.run([sys.executable, "-m", "harness", "registry", "down"], env=state,
                       capture_output=True)
    assert result.returncode == 0, result.stderr
    moved = {row["key"]: row for row in json.loads(result.stdout)["rows"]}["move-deletion"]
    assert moved["push_change_bytes"] == pytest.approx(-1_000_000, rel=0.01)


@pytest.mark.docker
@pytest.mark.registry
def test_with_a_registry_flattens_cost_is_the_base_pushed_again_after_each_change(
        docker_client, busybox, tmp_path):
    """flatten saves the wasted bytes but shares no layer with its base: after a one-line
    source change the original pushes its changed layers, the flattened image all of them,
    busybox's included (about 1 MB compressed), each measured on the registry."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        COPY app.sh /app/app.sh
        RUN head -c 300000 /dev/urandom > /data
        RUN head -c 100000 /dev/zero > /junk
        RUN rm /junk
        CMD ["sh", "/app/app.sh"]
    """))
    (tmp_path / "app.sh").write_text("echo hi\n")
    state = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    up = subprocess.run([sys.executable, "-m", "harness", "registry", "up", "--port",
                         str(REGISTRY_PORT)], capture_output=True, text=True, env=state)
    assert up.returncode == 0, up.stderr
    try:
        result = advise("--registry", f"127.0.0.1:{REGISTRY_PORT}", "--only", "flatten",
                        "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
    finally:
        subprocess.run([sys.executable, "-m", "harness", "registry", "down"], env=state,
                       capture_output=True)
    assert result.returncode == 0, result.stderr
    flat = {row["key"]: row for row in json.loads(result.stdout)["rows"]}["flatten"]
    original = int(flat["note"].rsplit("against ", 1)[1].split(" B")[0].replace(",", ""))
    assert 300_000 < original < 400_000  # the changed COPY and the random bytes after it
    assert flat["push_after_change_bytes"] > original + 900_000  # and busybox again


@pytest.mark.docker
def test_chained_runs_mean_what_the_separate_runs_meant(docker_client, busybox, tmp_path):
    """Each RUN had a shell of its own: an `export` or `cd` must not reach the next one."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        RUN export MODE=debug && cd /bin
        RUN test -z "$MODE" && test "$(pwd)" = / && echo clean > /marker
    """))
    with engine.engine_lock("a run of this test's"):  # another harness run on the engine
        refused = advise("--out", str(tmp_path / "out"), cwd=tmp_path)
        result = advise("--check", "test -f /marker", "--only", "chain", "--json", "--out",
                        str(tmp_path / "out"), "--allow-concurrent", cwd=tmp_path)
    assert refused.returncode == 2 and "pass --allow-concurrent" in refused.stderr
    assert result.returncode == 0, result.stderr
    rows = {row["key"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows["chain"]["checks_passed"] is True, rows["chain"]
    assert "( export MODE=debug && cd /bin )" in json.loads(result.stdout)["variants"]["chain"]


@pytest.mark.docker
def test_a_trailing_comment_chained_still_writes_the_file_and_the_guard_sees_no_change(
        docker_client, busybox, tmp_path):
    """The string edit chained `RUN echo a # note` into `... # note && echo b > /b`: /b was
    never written, and advise recommended it. Now the comment has a line of its own, and the
    image guard compares the chained image with the original, file by file."""
    (tmp_path / "Dockerfile").write_text(
        'FROM busybox:latest\nRUN echo a # note\nRUN echo b > /b\nCMD ["cat", "/b"]\n')
    report = advised(tmp_path, "--only", "chain")
    chain = {row["key"]: row for row in report["rows"]}["chain"]
    assert chain["verdict"] in ("saves", "no gain") and chain["image_changes"] == [], chain
    assert chain["may_change"] == "nothing in the final filesystem (only layers and waste)"
    assert "# note\nRUN echo a \\\n    && echo b > /b" in report["variants"]["chain"]
    assert isinstance(report["noise_paths"], list)
    shown = advise("--only", "chain", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "The image guard compared each rewrite's files and config" in shown.stdout


@pytest.mark.docker
def test_a_piece_that_changes_the_image_is_caught_by_the_guard_without_any_check(
        docker_client, busybox, tmp_path):
    """Copying the manifest first moves `COPY . /app` after the install, so a stale file the
    context holds (as a host's node_modules would be) now overwrites what the install wrote.
    The image starts and its own CMD passes; the guard names the file, and the piece is
    neither recommended nor combined."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        COPY . /app
        RUN echo pip install -r /app/requirements.txt && cp /app/requirements.txt /app/installed
        CMD ["cat", "/app/installed"]
    """))
    (tmp_path / "requirements.txt").write_text("flask==3.0\n")
    (tmp_path / "installed").write_text("stale, from the host\n")
    report = advised(tmp_path, "--only", "cache-order")
    order = {row["key"]: row for row in report["rows"]}["cache-order"]
    assert order["checks_passed"] is True
    assert order["verdict"] == "changes your image"
    assert order["image_changes"] == ["/app/installed: content differs"]
    assert report["best"] is None


@pytest.mark.docker
def test_the_incremental_change_never_breaks_the_original_build(docker_client, busybox,
                                                                tmp_path):
    """A config file the build checks strictly, copied with the whole context: a line
    appended to it broke every incremental build (a Makefile's `missing separator`). The
    change is now a new file of harness's own, and the original's incremental builds pass."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        COPY . /src
        RUN test "$(cat /src/config)" = mode=fast && echo pip install -r /src/requirements.txt
        CMD ["true"]
    """))
    (tmp_path / "config").write_text("mode=fast")
    (tmp_path / "requirements.txt").write_text("flask\n")
    report = advised(tmp_path, "--only", "cache-order")
    assert report["incremental"] == "" and report["source_change"]["new_file"] is True
    samples = [s for path in report["results"]
               for s in json.loads(Path(path).read_text())["samples"]]
    incremental = [s for s in samples if s["cache"] == "incremental"
                   and s["variant"] == "original"]
    assert incremental and all(s["status"] == "ok" for s in incremental)
    assert not (tmp_path / ".harness-incremental").exists()  # only in harness's copies


@pytest.mark.docker
def test_without_a_change_certain_to_keep_the_build_incremental_builds_are_not_measured(
        docker_client, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        RUN head -c 100000 /dev/urandom > /big
        COPY config /src/config
        RUN test "$(cat /src/config)" = mode=fast && rm /big
        CMD ["true"]
    """))
    (tmp_path / "config").write_text("mode=fast")
    result = advise("--only", "move-deletion", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Incremental builds: no incremental builds: the Dockerfile copies no whole context" \
        in result.stdout
    shown = advise("--only", "move-deletion", "--json", "--out", str(tmp_path / "out"),
                   cwd=tmp_path)
    report = json.loads(shown.stdout)
    assert report["cache_modes"] == ["cold", "warm"]
    moved = {row["key"]: row for row in report["rows"]}["move-deletion"]
    assert moved["verdict"] == "saves" and "incremental" not in moved["build_time"]


@pytest.mark.docker
def test_an_original_that_fails_with_the_planted_change_is_said_once_and_not_measured(
        docker_client, busybox, tmp_path):
    """A build that counts its source's lines fails with any appended comment: tried before
    measuring, so no piece is measured incremental, and the report says why once."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        RUN head -c 100000 /dev/urandom > /big
        COPY app.py /src/app.py
        RUN test "$(wc -l < /src/app.py)" -eq 1 && rm /big
        CMD ["true"]
    """))
    (tmp_path / "app.py").write_text("print('hi')\n")
    report = advised(tmp_path, "--only", "move-deletion")
    assert report["incremental"].startswith("the original's own incremental build fails with "
                                            "harness's change to app.py (")
    assert report["incremental"].endswith("so none is measured")
    assert report["cache_modes"] == ["cold", "warm"]
    moved = {row["key"]: row for row in report["rows"]}["move-deletion"]
    assert moved["verdict"] == "saves" and "incremental" not in moved["build_time"]


FLATTENED_CONFIG = """\
FROM busybox:latest
ENV PRICE='$5 & more' NAME=café
LABEL org.example.title="a 'quoted' title"
STOPSIGNAL SIGQUIT
VOLUME /data
WORKDIR /srv
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=2s --start-period=1s --retries=4 CMD ["true"]
ONBUILD RUN echo built
SHELL ["/bin/sh", "-e", "-c"]
RUN echo x > /srv/x
CMD ["true"]
"""


@pytest.mark.docker
def test_flatten_keeps_every_config_field_as_buildkit_reads_it_back(docker_client, busybox,
                                                                     tmp_path):
    """The flatten stage declares the built image's config again; the guard compares the two
    images' configs field by field (STOPSIGNAL, VOLUME, ONBUILD, SHELL, the HEALTHCHECK's
    timings, an ENV with `$` and non-ASCII text, a label with quotes). The checks' and starts'
    containers take the anonymous volume the VOLUME gives each along."""
    (tmp_path / "Dockerfile").write_text(FLATTENED_CONFIG)
    volumes = {volume.name for volume in docker_client.volumes.list()}
    report = advised(tmp_path, "--only", "flatten")
    assert {volume.name for volume in docker_client.volumes.list()} == volumes
    flat = {row["key"]: row for row in report["rows"]}["flatten"]
    assert flat["checks_passed"] is True and flat["image_changes"] == [], flat
    assert "ENV PRICE='$5 & more'" in report["variants"]["flatten"]
    assert "DL3067" in flat["note"]


@pytest.mark.docker
@pytest.mark.one_store  # BuildKit's cache, the same on both stores; the busybox tests cover both
def test_copying_the_manifest_first_is_measured_on_an_incremental_build(docker_client, busybox,
                                                                         tmp_path):
    """The dependency install (two seconds, standing in for pip) runs again after a source
    change in the original, and is cached in the rewrite: measured warm and incremental, and
    a saving of build time, not of size."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        WORKDIR /app
        COPY . /app
        RUN pip() { sleep 2 && cat requirements.txt > /deps; } && pip install -r requirements.txt
        CMD ["cat", "/app/app.txt"]
    """))
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    (tmp_path / "app.txt").write_text("hello\n")
    result = advise("--check", "test -s /deps && test -f /app/app.txt", "--only",
                    "cache-order", "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cache_modes"] == ["cold", "warm", "incremental"]
    ordered = {row["key"]: row for row in report["rows"]}["cache-order"]
    assert ordered["verdict"] == "saves" and ordered["checks_passed"] is True
    assert abs(ordered["size_change_bytes"]) < 1024  # the same files
    ratio = float(ordered["build_time"]["incremental"].split()[0].lstrip("×"))
    assert ratio < 0.5  # the two-second install no longer runs after the change
    cold_run, cache_run = (json.loads(Path(path).read_text())["samples"]
                           for path in report["results"])
    assert {s["cache"] for s in cold_run} == {"cold"}  # every variant cold; the cache pieces
    assert {s["variant"] for s in cache_run} == {"original", "cache-order"}  # warm, incremental
    incremental = {s["variant"]: s for s in cache_run if s["cache"] == "incremental"}
    assert incremental["cache-order"]["steps_cached"] == 3  # WORKDIR, COPY manifest, RUN
    assert incremental["original"]["steps_cached"] == 1  # WORKDIR only
    assert report["best"] == "cache-order"


@pytest.mark.docker
@pytest.mark.one_store  # BuildKit's cache, the same on both stores; the busybox tests cover both
def test_a_copy_between_the_writer_and_the_deletion_moves_up_and_its_cost_is_measured(
        docker_client, busybox, tmp_path):
    """The compiler's pattern: files made, the source copied, the files deleted. The COPY
    moves up so the RUNs can merge: the planted megabyte is saved, and a change to the
    source now reruns the (two-second) RUN, which the incremental build shows (the source a
    shell script, whose comments harness knows)."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        RUN sleep 2 && head -c 1000000 /dev/urandom > /planted
        COPY app.sh /app/app.sh
        RUN rm /planted
        CMD ["sh", "/app/app.sh"]
    """))
    (tmp_path / "app.sh").write_text("echo hello\n")
    result = advise("--check", "test -f /app/app.sh && test ! -e /planted", "--only",
                    "move-deletion", "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    moved = {row["key"]: row for row in report["rows"]}["move-deletion"]
    assert moved["advice"].endswith("(lines 2-4, the COPY at line 3 moved before it)")
    assert moved["verdict"] == "saves" and moved["checks_passed"] is True
    assert moved["size_change_bytes"] == pytest.approx(-1_000_000, rel=0.01)
    assert report["cache_modes"] == ["cold", "warm", "incremental"]
    ratio = float(moved["build_time"]["incremental"].split()[0].lstrip("×"))
    assert ratio > 1.5  # the source change now reruns the two-second RUN


@pytest.mark.docker
def test_a_piece_without_gain_is_left_out_of_the_combination_which_is_measured_again(
        docker_client, busybox, tmp_path):
    """The combination of every piece is measured with them; when one does not pass (here
    --no-cache-dir, added to a pip that only records its arguments, saves nothing and changes
    the file it records, which the image guard names) the combination of those that do is
    built and measured in a run of its own."""
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM busybox:latest
        RUN pip() { echo "$@" > /pip-args; } && pip install six
        RUN head -c 1000000 /dev/urandom > /planted
        RUN rm /planted
    """))
    result = advise("--check", "test -s /pip-args", "--only", "cache,chain,flatten", "--json",
                    "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["key"]: row for row in report["rows"]}
    assert rows["cache"]["verdict"] == "changes your image"
    assert rows["cache"]["image_changes"] == ["/pip-args: content differs"]
    assert rows["combined"]["advice"].endswith("combined: chain, flatten")
    assert "--no-cache-dir" not in report["variants"]["combined"]
    assert rows["combined"]["verdict"] == "saves" and rows["combined"]["checks_passed"]
    assert rows["combined"]["size_change_bytes"] == pytest.approx(-1_000_000, rel=0.01)
    last_run = json.loads(Path(report["results"][-1]).read_text())
    assert {s["variant"] for s in last_run["samples"]} == {"original", "combined"}
    assert len(report["results"]) == 3  # cold; chain's warm; the combination's own


@pytest.mark.docker
def test_a_failing_check_breaks_the_image(docker_client, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(PLANTED)
    result = advise("--check", "test -e /planted", "--only", "chain,move-deletion", "--json",
                    "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    broken = [row for row in report["rows"] if row["verdict"] == "breaks"]
    assert broken and all(row["checks_passed"] is False for row in broken)
    assert report["best"] is None  # the original itself fails that check: nothing passes
    assert report["original_check"].startswith("exit 1")


@pytest.mark.docker
def test_an_original_that_does_not_build_is_named_with_its_log(docker_client, busybox,
                                                               tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:latest\nRUN echo failing-step && false\n")
    images_before = run_images(docker_client)
    result = advise("--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert "the original Dockerfile does not build" in result.stderr
    assert "Traceback" not in result.stderr
    assert run_images(docker_client) - images_before == set()


def test_bad_input_is_named_and_exits_2(tmp_path):
    (tmp_path / "Dockerfile").write_text("hello\n")
    result = advise(cwd=tmp_path)
    assert result.returncode == 2 and "Dockerfile:1: not a Dockerfile" in result.stderr
    missing = advise(str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such Dockerfile" in missing.stderr
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    context = advise("--context", str(tmp_path / "gone"), cwd=tmp_path)
    assert context.returncode == 2 and "--context" in context.stderr
    only = advise("--only", "chain,shrink", cwd=tmp_path)
    assert only.returncode == 2 and "--only 'chain,shrink': expected pieces of advice" in \
        only.stderr and "docker-squash" in only.stderr
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY onlyone\n")
    refused = advise(cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(
        "Dockerfile:2: COPY requires at least two arguments, but has 1: COPY onlyone")
    assert "Traceback" not in missing.stderr + context.stderr + result.stderr + only.stderr + \
        refused.stderr


def test_the_help_names_every_piece_only_takes():
    from harness.advice.pieces import advice_keys

    shown = " ".join(advise("--help", cwd=Path.cwd()).stdout.split())
    assert all(key in shown for key in advice_keys())


JQ_PURGED = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends jq \\
    && jq --version > /jq-version && apt-get purge -y jq && rm -rf /var/lib/apt/lists/*
"""
"""jq installed, used and purged: its libraries (libjq1, libonig5) stay behind."""

PACKAGE_FILES = ("for p in libjq1 libonig5; do dpkg -L $p; done | while read -r f; do "
                 "if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then stat -c %s \"$f\"; fi; done | "
                 "awk '{s += $1} END {print s}'")
"""The bytes of the files dpkg lists for jq's libraries, counted in the original."""


@pytest.mark.docker
@pytest.mark.one_store  # advise's choices; the busybox tests above run on both stores
def test_autoremove_drops_what_only_the_purged_package_needed(docker_client, debian_bookworm,
                                                              tmp_path):
    """The suite's one apt-based advise test (the others run in the bench): the saving is
    the files dpkg lists for jq's libraries, counted in the user's own build of the
    original."""
    (tmp_path / "Dockerfile").write_text(JQ_PURGED)
    report = advised(tmp_path, "--check", "test -s /jq-version && ! command -v jq", "--only",
                     "autoremove")
    row = {r["key"]: r for r in report["rows"]}["autoremove"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    assert "packages no longer installed" in row["may_change"]
    tag = f"harness-test/jq:{uuid.uuid4().hex[:12]}"
    docker_client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
    try:
        left = int(docker_client.containers.run(tag, ["sh", "-c", PACKAGE_FILES], remove=True))
    finally:
        docker_client.images.remove(tag, force=True)
    assert left > 100_000
    # the libraries' files, less what autoremove adds to dpkg's and apt's records and logs
    assert row["size_change_bytes"] == pytest.approx(-left, rel=0.05)


HELLO = "http://deb.debian.org/debian/pool/main/h/hello/hello_2.10-3.debian.tar.xz"
"""A small archive on Debian's mirror (bookworm's hello packaging), which containers reach
over plain HTTP, in a format busybox's tar reads."""


@pytest.mark.docker
def test_a_downloaded_archive_deleted_saves_exactly_its_size(docker_client, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox:latest\nWORKDIR /src\nRUN wget -q {HELLO} && tar -xJf hello_2.10-3"
        ".debian.tar.xz && test -f debian/control\n")
    report = advised(tmp_path, "--check", "test -f /src/debian/control", "--only", "archive")
    row = {r["key"]: r for r in report["rows"]}["archive"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    assert row["may_change"] == "src/hello_2.10-3.debian.tar.xz"
    request = urllib.request.Request(HELLO, method="HEAD")
    with urllib.request.urlopen(request, timeout=30) as response:
        archive_bytes = int(response.headers["Content-Length"])
    assert row["size_change_bytes"] == -archive_bytes


@pytest.mark.docker
def test_copy_flags_instead_of_a_chown_layer_save_exactly_the_copied_bytes(docker_client, busybox,
                                                                           tmp_path):
    (tmp_path / "app").mkdir()
    sizes = {"big": 300_000, "small": 20_000}
    for name, size in sizes.items():
        (tmp_path / "app" / name).write_bytes(os.urandom(size))
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:latest\nCOPY app /app\nRUN chown -R 1000:1000 /app && chmod -R 0750 /app\n")
    check = 'test "$(stat -c %u:%g:%a /app /app/big)" = "$(printf "1000:1000:750\\n%.0s" 1 2)"'
    report = advised(tmp_path, "--check", check, "--only", "copy-owner")
    row = {r["key"]: r for r in report["rows"]}["copy-owner"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    assert row["size_change_bytes"] == -sum(sizes.values())  # each file stored once, not twice


@pytest.mark.docker
def test_a_smaller_base_saves_exactly_what_the_two_bases_differ_in(docker_client, busybox,
                                                                    tmp_path):
    """Two bases made here from busybox, tagged as debian's full and slim forms (the slim one
    without the full one's planted docs): the saving is exactly their difference, and the
    guard allows exactly the paths they differ in. The bench measures debian:bookworm
    against its slim form, made by its recipe."""
    tag = f"harness-test-{uuid.uuid4().hex[:12]}"
    full, slim = f"debian:{tag}", f"debian:{tag}-slim"
    for reference, planted in ((full, "RUN mkdir -p /usr/share/doc/app && head -c 300000 "
                                      "/dev/urandom > /usr/share/doc/app/manual\n"), (slim, "")):
        (tmp_path / "Dockerfile").write_text(f"FROM busybox:latest\n{planted}")
        docker_client.images.build(path=str(tmp_path), tag=reference, rm=True, forcerm=True)
    try:
        (tmp_path / "Dockerfile").write_text(f"FROM {full}\nRUN echo hello > /hello\n")
        report = advised(tmp_path, "--check", "test -s /hello", "--only", "smaller-base")
    finally:
        for reference in (full, slim):
            docker_client.images.remove(reference, force=True)
    row = {r["key"]: r for r in report["rows"]}["smaller-base"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    assert "the 5 paths the two bases differ in" in row["may_change"]  # the manual, its folders
    assert row["size_change_bytes"] == -300_000  # the planted manual, on either image store


@pytest.mark.docker
def test_a_smaller_base_not_on_the_engine_is_not_applicable_with_why(docker_client, busybox,
                                                                     tmp_path):
    from harness.advice.parse import parse
    from harness.advise import _on_the_engine

    base = f"python:3.12-harness-{uuid.uuid4().hex[:12]}"
    docker_client.images.get(busybox).tag(base)
    try:
        (tmp_path / "Dockerfile").write_text(f"FROM {base}\nRUN true\n")
        parsed = parse(tmp_path / "Dockerfile")
        found = _on_the_engine(docker_client, PIECES["smaller-base"].apply(parsed), parsed)
    finally:
        docker_client.images.remove(base)
    assert found.reason.startswith(f"{base.replace('3.12-', '3.12-slim-')} is not on this "
                                   "engine: pull it, or `--pull`")


@pytest.mark.docker
@pytest.mark.registry
def test_with_pull_the_smaller_base_is_pulled_measured_and_removed_again(docker_client, busybox,
                                                                         tmp_path):
    """--pull: the slim form, only on a registry, is pulled, measured (exactly the bases'
    difference, the full one's planted file) and removed when advise ends; the base the user
    had stays."""
    registry = f"127.0.0.1:{REGISTRY_PORT}"
    tag = f"harness-test-{uuid.uuid4().hex[:12]}"
    full, slim = f"{registry}/debian:{tag}", f"{registry}/debian:{tag}-slim"
    state = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    up = subprocess.run([sys.executable, "-m", "harness", "registry", "up", "--port",
                         str(REGISTRY_PORT)], capture_output=True, text=True, env=state)
    assert up.returncode == 0, up.stderr
    try:
        (tmp_path / "Dockerfile").write_text(
            "FROM busybox:latest\nRUN head -c 200000 /dev/urandom > /manual\n")
        docker_client.images.build(path=str(tmp_path), tag=full, rm=True, forcerm=True)
        docker_client.images.get(busybox).tag(slim)
        docker_client.images.push(slim)
        docker_client.images.remove(slim)
        (tmp_path / "Dockerfile").write_text(f"FROM {full}\nRUN echo hello > /hello\n")
        result = advise("--pull", "--check", "test -s /hello", "--only", "smaller-base",
                        "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert slim not in {t for image in docker_client.images.list() for t in image.tags}
    finally:
        docker_client.images.remove(full, force=True)
        subprocess.run([sys.executable, "-m", "harness", "registry", "down"], env=state,
                       capture_output=True)
    row = {r["key"]: r for r in json.loads(result.stdout)["rows"]}["smaller-base"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    assert row["size_change_bytes"] == -200_000  # the planted manual


def in_a_terminal(args, cwd, columns):
    """advise with its standard output a terminal `columns` wide (a pseudo-terminal)."""
    import fcntl
    import pty
    import struct
    import termios

    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "harness", "advise", *args], cwd=cwd,
                               stdout=terminal, stderr=subprocess.PIPE,
                               env={**os.environ, "COLUMNS": str(columns)})
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: advise is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    with process.stderr as errors:  # type: ignore[union-attr]
        assert process.wait(timeout=900) == 0, errors.read()
    return shown.decode().replace("\r\n", "\n")


@pytest.mark.docker
def test_in_a_terminal_advise_prints_what_a_person_decides_on_within_its_width(busybox,
                                                                                 tmp_path):
    (tmp_path / "Dockerfile").write_text(PLANTED)
    shown = in_a_terminal(["--check", "test -f /app/hello", "--only", "chain,move-deletion",
                           "--out", str(tmp_path / "out")], tmp_path, 100)
    table, _, diff = shown.partition("\n--- Dockerfile")
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "move-deletion  saves" in table and "-1.0 MB" in table  # the planted MB
    assert "every column: --json, --html FILE, or the GitHub job summary" in " ".join(
        shown.split())
    assert "\n+    && head -c 1000000 /dev/urandom > /planted \\\n" in diff  # whole lines
    markdown = advise("--check", "test -f /app/hello", "--only", "chain,move-deletion", "--out",
                      str(tmp_path / "out"), cwd=tmp_path).stdout  # a pipe: the full table
    assert "| advice" in markdown and max(len(line) for line in markdown.splitlines()) > 100
