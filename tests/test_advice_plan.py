"""`harness advise --plan`: the pieces that apply, without an engine or a build (these tests
are not marked docker: the conftest guard fails any that reaches the engine)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

TYPICAL_APP = Path(__file__).parent.parent / "benchmarks" / "typical-app"
TIDY = "FROM debian:bookworm\nRUN set -eux; apt-get update; apt-get install -y " \
       "--no-install-recommends curl; rm -rf /var/lib/apt/lists/*\n"


def plan(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness", "advise", "--plan", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"})


def test_the_plan_lists_each_finding_with_its_line_and_the_rewrites_as_diffs(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(TYPICAL_APP, app)
    result = plan(cwd=app)
    assert result.returncode == 0, result.stderr
    findings = [line for line in result.stdout.splitlines() if line.startswith("Dockerfile:")]
    assert findings == [
        "Dockerfile:2 DL3059 chain: chain consecutive RUNs with && (lines 2, 3, 5, 6)",
        "Dockerfile:2 DL3009/DL3042/DL3019/DL3032/DL3040/DL3060 cache: clean the package cache "
        "in the RUN that filled it (lines 2, 3)",
        "Dockerfile:3 DL3015 recommends: no recommended packages (apt --no-install-recommends) "
        "(lines 3)",
        "Dockerfile:3 - nodocs: no docs (dpkg path-exclude; dnf/yum tsflags=nodocs) (lines 3)",
        "Dockerfile:1 - smaller-base: a smaller base (its slim form) (lines 1)"]
    assert "+RUN apt-get install --no-install-recommends -y curl" in result.stdout
    assert "combined: chain, cache, recommends, nodocs" in result.stdout
    assert (app / "Dockerfile").read_text() == (TYPICAL_APP / "Dockerfile").read_text()


def test_the_json_says_why_each_piece_does_not_apply_and_what_needs_a_build(tmp_path):
    (tmp_path / "Dockerfile").write_text(TIDY)
    result = plan("--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (found,) = json.loads(result.stdout)
    assert found["format"] == "harness-advice-plan/1"
    pieces = {p["key"]: p for p in found["pieces"]}
    assert not pieces["recommends"]["applies"]
    assert pieces["recommends"]["reason"] == "no apt-get install that installs recommends"
    assert pieces["flatten"]["reason"].startswith("needs the built image: it declares the "
                                                  "built image's config again")
    assert pieces["move-deletion"]["reason"].startswith("needs the built image")
    assert pieces["nodocs"]["applies"] and pieces["nodocs"]["diff"].startswith("--- ")


def test_fail_on_advice_is_a_lint_gate_over_several_files(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo done > /done\n")
    (tmp_path / "Dockerfile.two").write_text("FROM busybox\nRUN echo a\nRUN echo b\n")
    clean = plan("--fail-on-advice", "Dockerfile", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "Dockerfile: no piece of advice applies without a build\n"
    both = plan("--fail-on-advice", "Dockerfile", "Dockerfile.two", cwd=tmp_path)
    assert both.returncode == 1
    assert "Dockerfile.two:2 DL3059 chain: chain consecutive RUNs with && (lines 2, 3)" in \
        both.stdout


def test_bad_input_to_the_plan_is_named_and_exits_2(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY onlyone\n")
    refused = plan(cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("harness: Dockerfile:2: COPY requires at least two "
                                      "arguments, but has 1: COPY onlyone")
    gate = subprocess.run([sys.executable, "-m", "harness", "advise", "--fail-on-advice"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert gate.returncode == 2 and "--fail-on-advice goes with --plan" in gate.stderr
    several = subprocess.run([sys.executable, "-m", "harness", "advise", "Dockerfile",
                              "Dockerfile"], capture_output=True, text=True, cwd=tmp_path)
    assert several.returncode == 2 and "several only with --plan" in several.stderr
