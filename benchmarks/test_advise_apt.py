"""advise on apt (and npm) apps, each a benchmark (advise's wall time, pytest-benchmark) with
its assertions, each saving against an independent count: the typical app against an
expert's Dockerfile (the best combination within 2 % of the expert's size), the gem and
cpanm caches, the cache mount beside the cleanup, npm's dev dependencies and cache,
debian's slim base, the build stage and a tidy real file (buildpack-deps). Run by `nox -s
bench` and so by the nightly, in its first shard on the default engine: an apt app's advise
takes minutes, too long for `nox -s tests`, whose advise tests use busybox (and one apt
Dockerfile)."""

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from harness import engine
from harness.bases import ensure_bases
from harness.build import BuildRequest, build
from harness.images import analyse_engine_image
from harness.model import Builder
from harness.scenario import all_bases

TYPICAL_APP = Path(__file__).parent / "typical-app"
"""A typical app's Dockerfile (the advise benchmark's): update and install in separate RUNs,
no cleanup, recommends installed, a compiler installed, used and purged in later RUNs (tcc,
not gcc, to stay quick; docs/your-own-dockerfile.md has the gcc one)."""

EXPERT_APP = """\
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends tcc libc6-dev \\
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY hello.c /src/hello.c
RUN tcc -o /hello /src/hello.c

FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \\
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /hello /usr/local/bin/hello
CMD ["hello"]
"""
"""What an expert writes by hand for the same app: a build stage with the compiler, a runtime
stage with curl and its certificates, lists and cache cleaned."""


@pytest.fixture
def client(request):
    shard = request.config.getoption("shard", None)
    if shard is not None and shard[0] != 1:
        pytest.skip("runs in the first shard of the bench only")
    client = engine.connect()
    if engine.image_store(client.info()) != "classic":
        client.close()  # advise's choices, which the image store does not change
        pytest.skip("runs on the classic image store's bench only")
    scenarios = Path(__file__).parent.parent / "scenarios"
    ensure_bases(client, all_bases([scenarios]), ["debian:bookworm"], lambda message: None)
    yield client
    client.close()


def every_image(client) -> set[str]:
    return {image.id for image in client.images.list(all=True)}


def advise(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "advise", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=1800)


def test_a_typical_app_is_advised_within_two_percent_of_an_experts_dockerfile(
        benchmark, client, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(TYPICAL_APP, app)
    before = every_image(client)
    result = benchmark.pedantic(advise, args=(
        app, "--check", "hello", "--check", "curl --version", "--only",
        "chain,cache,recommends,nodocs,build-stage,move-deletion,flatten", "--json", "--out",
        str(tmp_path / "out")), rounds=1, iterations=1)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["variant"] or row["key"]: row for row in report["rows"]}
    best = rows[report["best"]]
    assert best["checks_passed"] is True and best["verdict"] == "saves"
    (app / "Dockerfile.expert").write_text(EXPERT_APP)
    tag = f"harness-test/expert:{uuid.uuid4().hex[:12]}"
    # BuildKit, as advise's builds: the legacy builder would leave the build stage's image
    expert = build(Builder.BUILDKIT, BuildRequest(context=app, dockerfile="Dockerfile.expert",
                                                  tag=tag, labels={}, no_cache=False))
    assert expert.ok, expert.log_tail
    try:
        expert_bytes = analyse_engine_image(client, tag).unpacked_bytes
        assert client.containers.run(tag, ["hello"], remove=True) == b"hello\n"
    finally:
        client.images.remove(tag, force=True)
    # advise's images (squashed ones too) and the expert's are gone, dangling ones included
    assert every_image(client) <= before
    assert best["size_bytes"] <= 1.02 * expert_bytes, (best["size_bytes"], expert_bytes)
    # the diff a reviewer accepts: the user's own commands kept, one a line, cleanup added
    diff = report["best_diff"]
    assert "+RUN apt-get update \\\n+    && apt-get install --no-install-recommends" in diff
    assert "tcc -o /usr/local/bin/hello /src/hello.c" in report["best_dockerfile"]
    # the compiler only in the build stage, the expert's shape: the final stage copies hello
    assert "COPY --from=harness-build /usr/local/bin/hello /usr/local/bin/hello" in \
        report["best_dockerfile"]
    assert report["best_dockerfile"].rstrip().endswith('CMD ["hello"]')
    benchmark.extra_info.update(best=report["best"], best_bytes=best["size_bytes"],
                                expert_bytes=expert_bytes)


GEM_AND_CPAN = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends ruby cpanminus make \\
    && rm -rf /var/lib/apt/lists/*
COPY hello /src/hello
RUN cd /src/hello && gem build hello.gemspec && gem install --local hello-0.1.0.gem
COPY Hello-0.1.tar.gz /src/
RUN cpanm /src/Hello-0.1.tar.gz
"""
"""A gem and a CPAN distribution installed from the context: the containers here reach no
rubygems.org or CPAN (HTTPS fails), but the caches they leave are the same."""

GEM_AND_CPAN_LEFTOVERS = (
    'find "$(gem env gemdir)/cache/hello-0.1.0.gem" "$(gem env gemdir)/doc/hello-0.1.0" '
    "/root/.cpanm \\( -type f -o -type l \\) -printf '%s\\n' | awk '{s += $1} END {print s}'")
"""The bytes the guide's gem and cpanm cleanup leaves out, counted by find."""


def gem_and_cpan_context(folder: Path) -> None:
    """A gem and a CPAN distribution, each carrying 300,000 random bytes (incompressible, so
    the .gem gem keeps and the unpacked work folder cpanm keeps are as big as they look)."""
    (folder / "Dockerfile").write_text(GEM_AND_CPAN)
    gem = folder / "hello"
    (gem / "lib").mkdir(parents=True)
    (gem / "data").mkdir()
    (gem / "lib" / "hello.rb").write_text("# Says hi.\nmodule Hello\n  def self.hi = 'hi'\nend\n")
    (gem / "data" / "blob.bin").write_bytes(os.urandom(300_000))
    (gem / "hello.gemspec").write_text(
        'Gem::Specification.new do |s|\n  s.name = "hello"\n  s.version = "0.1.0"\n'
        '  s.summary = "hi"\n  s.authors = ["harness"]\n  s.license = "MIT"\n'
        '  s.files = ["lib/hello.rb", "data/blob.bin"]\nend\n')
    files = {"Makefile.PL": b"use ExtUtils::MakeMaker;\n"
                            b"WriteMakefile(NAME => 'Hello', VERSION => '0.1');\n",
             "lib/Hello.pm": b"package Hello;\nsub hi { 'hi' }\n1;\n",
             "blob.bin": os.urandom(300_000)}
    with tarfile.open(folder / "Hello-0.1.tar.gz", "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"Hello-0.1/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def test_gem_and_cpanm_caches_are_cleaned_and_the_saving_is_what_they_held(
        benchmark, client, tmp_path):
    """The guide's gem and cpanm rows, measured: what the cache piece saves equals the bytes
    of the kept .gem, the gem's docs and cpanm's work folder (find, in the original)."""
    gem_and_cpan_context(tmp_path)
    checks = ("ruby -e 'require \"hello\"; exit(Hello.hi == \"hi\")' && "
              "perl -MHello -e 'exit(Hello::hi() eq \"hi\" ? 0 : 1)'")
    result = benchmark.pedantic(advise, args=(
        tmp_path, "--check", checks, "--only", "cache", "--json", "--out",
        str(tmp_path / "out")), rounds=1, iterations=1)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    cache = next(row for row in report["rows"] if row["key"] == "cache")
    rewritten = report["variants"]["cache"]
    assert "gem install --no-document --local hello-0.1.0.gem" in rewritten
    assert 'rm -rf "$(gem env gemdir)"/cache/*.gem' in rewritten and "rm -rf ~/.cpanm" in rewritten
    tag = f"harness-test/gems:{uuid.uuid4().hex[:12]}"
    client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
    try:
        leftovers = int(client.containers.run(
            tag, ["sh", "-c", GEM_AND_CPAN_LEFTOVERS], remove=True))
    finally:
        client.images.remove(tag, force=True)
    assert leftovers > 550_000  # the .gem gem keeps and cpanm's unpacked copy: 300,000 B each
    assert cache["verdict"] == "saves" and cache["checks_passed"] is True
    assert cache["size_change_bytes"] == pytest.approx(-leftovers, rel=1e-2)




JQ_AFTER_THE_SOURCE = """\
FROM debian:bookworm
COPY app.sh /app.sh
RUN apt-get update && apt-get install -y --no-install-recommends jq
CMD ["sh", "/app.sh"]
"""
"""An install after the COPY of the source: a source change runs it again, where a cache
mount's packages and lists are there already."""


def cache_mount_records(client) -> set[str]:
    return {r["ID"] for r in client.df().get("BuildCache") or []
            if r.get("Type") == "exec.cachemount"}


def test_a_cache_mount_is_measured_beside_the_cleanup_cold_warm_and_incremental(
        benchmark, client, tmp_path):
    """The cache mount keeps apt's lists and packages out of the image exactly as the
    cleanup does (the same bytes), passes the same check and the guard, and its row says
    how its builds compare with the cleanup's in each mode. advise leaves no cache mount."""
    (tmp_path / "Dockerfile").write_text(JQ_AFTER_THE_SOURCE)
    (tmp_path / "app.sh").write_text("jq --version\n")
    records = cache_mount_records(client)
    result = benchmark.pedantic(advise, args=(
        tmp_path, "--check", "jq --version", "--only", "cache,cache-mount", "--repeat", "3",
        "--json", "--out", str(tmp_path / "out")), rounds=1, iterations=1)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["key"]: row for row in report["rows"]}
    mount, cleanup = rows["cache-mount"], rows["cache"]
    assert report["cache_modes"] == ["cold", "warm", "incremental"]
    for row in (mount, cleanup):
        assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
        assert set(row["build_time"]) == {"cold", "warm", "incremental"}
    assert abs(mount["size_bytes"] - cleanup["size_bytes"]) < 1024
    assert mount["note"].startswith("against cleaning the cache (the cache row): ")
    assert all(f" {mode} ×" in mount["note"] for mode in ("warm", "incremental"))
    assert "--mount=type=cache,target=/var/cache/apt,sharing=locked \\" in \
        report["variants"]["cache-mount"] and "id=" not in report["variants"]["cache-mount"]
    assert cache_mount_records(client) == records


def npm_package(folder: Path, name: str, files: dict[str, bytes]) -> str:
    """`npm pack`'s tarball of a package, in `folder`; its lock-file integrity."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"package/{path}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    (folder / f"{name}-1.0.0.tgz").write_bytes(buffer.getvalue())
    return "sha512-" + base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()


def npm_app(folder: Path) -> None:
    """An app with one dependency and one dev dependency (a command, and 300,000 random
    bytes), both local tarballs, so `npm ci` needs no registry; the lock file as npm 7+
    writes it (v3), dev marked."""
    left = npm_package(folder, "left", {
        "package.json": b'{"name": "left", "version": "1.0.0", "main": "index.js"}',
        "index.js": b"module.exports = 'left';\n"})
    tool = npm_package(folder, "devtool", {
        "package.json": b'{"name": "devtool", "version": "1.0.0", "bin": {"devtool": "cli.js"}}',
        "cli.js": b"#!/usr/bin/env node\nconsole.log('dev');\n", "blob.bin": os.urandom(300_000)})
    wanted = {"dependencies": {"left": "file:left-1.0.0.tgz"},
              "devDependencies": {"devtool": "file:devtool-1.0.0.tgz"}}
    (folder / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0",
                                                     **wanted}))
    (folder / "package-lock.json").write_text(json.dumps({
        "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": {
            "": {"name": "app", "version": "1.0.0", **wanted},
            "node_modules/left": {"version": "1.0.0", "resolved": "file:left-1.0.0.tgz",
                                  "integrity": left},
            "node_modules/devtool": {"version": "1.0.0", "resolved": "file:devtool-1.0.0.tgz",
                                     "integrity": tool, "dev": True,
                                     "bin": {"devtool": "cli.js"}}}}))
    (folder / "Dockerfile").write_text(
        "FROM harness-node:bookworm\nWORKDIR /app\n"
        "COPY package.json package-lock.json left-1.0.0.tgz devtool-1.0.0.tgz ./\n"
        "RUN npm ci --no-audit --no-fund\nCMD [\"node\", \"-e\", \"require('left')\"]\n")


NPM_FILES = ("find /app/node_modules /root/.npm/_cacache -type f -exec stat -c %s {} + | "
             "awk '{s += $1} END {print s}'")
"""The bytes of the files npm installed and cached."""
NPM_CACHE = ("find /root/.npm/_cacache -type f -exec stat -c %s {} + 2>/dev/null | "
             "awk '{s += $1} END {print s + 0}'")


def held(client, folder: Path, dockerfile: str, script: str) -> int:
    """What `script` counts in the image of the user's own build of `dockerfile`."""
    (folder / "Dockerfile").write_text(dockerfile)
    return built_and_run(client, folder, script)


def test_dev_dependencies_and_npms_cache_left_out_save_what_npm_put_there(
        benchmark, client, tmp_path):
    """npm-prod and npm's cache cleaning on a real npm (Debian's npm 9): the app still runs,
    the guard finds nothing but what each piece names (the dev package, its command link,
    npm's record and cache), and each saving is what the user's own builds of the Dockerfiles
    hold less in node_modules and npm's cache (find, stat)."""
    scenarios = Path(__file__).parent.parent / "scenarios"
    ensure_bases(client, all_bases([scenarios]), ["harness-node:bookworm"],
                 lambda message: None)
    npm_app(tmp_path)
    report = advised(benchmark, tmp_path, "--check", "node -e \"require('left')\"", "--only",
                     "npm-prod,cache")
    rows = {row["key"]: row for row in report["rows"]}
    for key in ("npm-prod", "cache"):
        assert rows[key]["verdict"] == "saves" and rows[key]["checks_passed"]
        assert rows[key]["image_changes"] == []
    variants = report["variants"]
    assert "RUN npm ci --omit=dev --no-audit --no-fund" in variants["npm-prod"]
    assert "&& npm cache clean --force" in variants["cache"]
    installed = [held(client, tmp_path, variants[name], NPM_FILES)
                 for name in ("original", "npm-prod")]
    assert installed[0] - installed[1] > 2 * 300_000  # the blob installed, its tarball cached
    assert rows["npm-prod"]["size_change_bytes"] == pytest.approx(
        installed[1] - installed[0], rel=1e-2)
    cached = held(client, tmp_path, variants["original"], NPM_CACHE)
    assert cached > 300_000 and held(client, tmp_path, variants["cache"], NPM_CACHE) == 0
    assert rows["cache"]["size_change_bytes"] == pytest.approx(-cached, rel=1e-2)


def advised(benchmark, folder: Path, *args: str) -> dict:
    """advise's JSON report on the Dockerfile in `folder`, its wall time the benchmark's."""
    result = benchmark.pedantic(advise, args=(folder, *args, "--json", "--out",
                                              str(folder / "out")), rounds=1, iterations=1)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def built_and_run(client, folder: Path, script: str) -> int:
    """What `script` counts in the image of the user's own build of the Dockerfile in
    `folder`."""
    tag = f"harness-test/apt:{uuid.uuid4().hex[:12]}"
    client.images.build(path=str(folder), tag=tag, rm=True, forcerm=True)
    try:
        return int(client.containers.run(tag, ["sh", "-c", script], remove=True))
    finally:
        client.images.remove(tag, force=True)


def test_debians_slim_base_saves_exactly_what_the_two_bases_differ_in(benchmark, client,
                                                                       tmp_path):
    """Moved from the test suite (a debootstrap of the slim base), where busybox bases made
    alike stand in: debian:bookworm against its slim form, made by its recipe."""
    scenarios = Path(__file__).parent.parent / "scenarios"
    ensure_bases(client, all_bases([scenarios]), ["debian:bookworm-slim"],
                 lambda message: None)
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm\nRUN echo hello > /hello\n")
    report = advised(benchmark, tmp_path, "--check", "test -s /hello && bash -c true",
                     "--only", "smaller-base")
    row = {r["key"]: r for r in report["rows"]}["smaller-base"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    assert "paths the two bases differ in" in row["may_change"]
    full, slim = (client.api.inspect_image(b)["Size"] for b in ("debian:bookworm",
                                                                "debian:bookworm-slim"))
    assert row["size_change_bytes"] == slim - full < -5_000_000  # docs, man pages, locales


COMPILED_APP = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends tcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/*
COPY hello.c /src/hello.c
RUN tcc -o /usr/local/bin/hello /src/hello.c
RUN apt-get purge -y tcc libc6-dev && apt-get autoremove -y --purge
CMD ["hello"]
"""
"""A compiler installed, used and purged: what an expert builds in a stage of its own."""


@pytest.mark.parametrize("purged", [True, False], ids=["purged", "never-purged"])
def test_a_build_stage_saves_the_compilers_layers_and_keeps_what_it_built(
        benchmark, client, tmp_path, purged):
    """Moved from the test suite (apt builds). Where the compiler is purged, the saving is
    its install's and its purge's layers; where nothing purges it, the install's (a build
    tool and headers: build-only), by the user's own build's `docker history`."""
    dockerfile = COMPILED_APP if purged else COMPILED_APP.replace(
        "RUN apt-get purge -y tcc libc6-dev && apt-get autoremove -y --purge\n", "")
    (tmp_path / "Dockerfile").write_text(dockerfile)
    shutil.copy(TYPICAL_APP / "hello.c", tmp_path / "hello.c")
    report = advised(benchmark, tmp_path, "--check", "hello | grep -q hello", "--only",
                     "build-stage")
    row = {r["key"]: r for r in report["rows"]}["build-stage"]
    assert row["verdict"] == "saves" and row["checks_passed"] and row["image_changes"] == []
    rewritten = report["variants"]["build-stage"]
    assert "COPY --from=harness-build /usr/local/bin/hello /usr/local/bin/hello" in rewritten
    assert rewritten.count("tcc libc6-dev") == 1  # only the build stage installs them
    tag = f"harness-test/compiled:{uuid.uuid4().hex[:12]}"
    client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
    try:
        history = client.api.history(tag)  # newest first: CMD, (purge,) build, COPY...
    finally:
        client.images.remove(tag, force=True)
    install = next(h for h in history if "apt-get install" in h["CreatedBy"])["Size"]
    purge = next((h["Size"] for h in history if "apt-get purge" in h["CreatedBy"]), 0)
    assert (purge > 0) is purged
    assert row["size_change_bytes"] == -(install + purge)


BUILDPACK_DEPS_CURL = """\
#
# NOTE: THIS DOCKERFILE IS GENERATED VIA "apply-templates.sh"
#
# PLEASE DO NOT EDIT IT DIRECTLY.
#

FROM debian:bookworm

RUN set -eux; \\
\tapt-get update; \\
\tapt-get install -y --no-install-recommends \\
\t\tca-certificates \\
\t\tcurl \\
\t\tgnupg \\
\t\tnetbase \\
\t\tsq \\
\t\twget \\
\t; \\
\trm -rf /var/lib/apt/lists/*
"""
"""docker-library's buildpack-deps:bookworm-curl, unmodified."""

DOCS = ("find /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale "
        "\\( -type f -o -type l \\) ! -path '/usr/share/doc/*/copyright' "
        "! -path /usr/share/locale/locale.alias -printf '%s\\n' | awk '{s += $1} END {print s}'")
"""The bytes of what the nodocs piece's dpkg path-excludes leave out, counted by find."""


def test_a_tidy_dockerfile_gets_no_saving_it_does_not_account_for(benchmark, client, tmp_path):
    """Moved from the test suite (an apt build, the slowest of its advise tests; autoremove's
    is the suite's one apt advise test now). buildpack-deps' file already chains, cleans and
    skips recommends: those pieces do not
    apply. What advise still finds is real, and equals an independent count: the docs dpkg
    installed (find, in the original against its base) and the base's files the RUN
    rewrote (the original's waste, which a final FROM scratch stage drops)."""
    (tmp_path / "Dockerfile").write_text(BUILDPACK_DEPS_CURL)
    checks = "curl --version && wget --version && gpg --version && sq --version"
    # the pieces this file was written against: the smaller base has a test of its own, and
    # whether its base is on the engine would change this one's combination
    report = advised(benchmark, tmp_path, "--check", checks, "--only", "chain,group,cache,"
                     "recommends,nodocs,cache-order,move-deletion,flatten,export-import,"
                     "docker-squash")
    rows = {row["key"]: row for row in report["rows"]}
    for key in ("chain", "cache", "recommends", "cache-order", "move-deletion"):
        assert rows[key]["verdict"] == "not applicable", rows[key]
    assert rows["flatten"]["size_change_bytes"] == -report["original_wasted_bytes"] < 0
    installed_docs = built_and_run(client, tmp_path, DOCS) - int(
        client.containers.run("debian:bookworm", ["sh", "-c", DOCS], remove=True))
    assert rows["nodocs"]["verdict"] == "saves" and rows["nodocs"]["checks_passed"]
    assert rows["nodocs"]["size_change_bytes"] == pytest.approx(-installed_docs, rel=1e-4)
    assert {row["key"] for row in report["rows"] if row["verdict"] == "saves"} == {
        "nodocs", "flatten", "combined", "export-import"}
    # the same waste, dropped after the build; docker-squash has one layer to squash onto the base
    assert rows["export-import"]["size_change_bytes"] == pytest.approx(
        -report["original_wasted_bytes"], rel=1e-3)
    assert rows["docker-squash"]["reason"] == ("the Dockerfile makes one layer over its base: "
                                               "nothing to squash")
