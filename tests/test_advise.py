"""advise's pure parts: which line made each layer, the scenario it writes, the verdicts."""

from dataclasses import replace
from types import SimpleNamespace

import pytest
import yaml

from harness import advise
from harness.advice import change, measure, parse, pieces, report, rows, squash
from harness.advice.edit import Rewrite
from harness.advice.records import AdviceReport, AdviceRow, AdviseError, AdviseOptions
from harness.model import Builder, CacheMode, Sample, Squash, Status

DOCKERFILE = """\
FROM debian:bookworm
RUN apt-get update
COPY app.c /src/app.c
RUN gcc -o /app /src/app.c && rm -rf /src
CMD ["/app"]
"""


def layers(*created_by):
    return SimpleNamespace(layers=[SimpleNamespace(created_by=c) for c in created_by])


def test_each_layer_is_matched_to_its_line_by_the_history(tmp_path):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    parsed = parse.parse(tmp_path / "Dockerfile")
    buildkit = layers("debootstrap", "RUN /bin/sh -c apt-get update # buildkit",
                      "COPY app.c /src/app.c # buildkit",
                      "RUN /bin/sh -c gcc -o /app /src/app.c && rm -rf /src # buildkit")
    assert advise.layer_lines(parsed, buildkit) == [None, 2, 3, 4]
    legacy = layers("debootstrap", "/bin/sh -c apt-get update",
                    "/bin/sh -c #(nop) COPY file:0a1b in /src/app.c ",
                    "/bin/sh -c gcc -o /app /src/app.c && rm -rf /src")
    assert advise.layer_lines(parsed, legacy) == [None, 2, 3, 4]


def options(tmp_path, **kwargs):
    return AdviseOptions(dockerfile=tmp_path / "Dockerfile", context=tmp_path,
                                build_args={}, **kwargs)


def test_the_scenario_written_is_one_harness_loads(tmp_path):
    from harness.scenario import load_scenario

    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "app.c").write_text("int main(){}\n")
    result = AdviceReport(
        dockerfile="Dockerfile", original_size_bytes=10, original_layers=2,
        original_wasted_bytes=0, top_waste=[], best=None, best_dockerfile=None,
        best_diff=None, results=["r.json"], phases_s={},
        cache_modes=["cold", "warm", "incremental"], noise_paths=[],
        original_check="",
        variants={"original": DOCKERFILE, "chain": DOCKERFILE.replace("RUN apt", "RUN  apt"),
                  "export-import": DOCKERFILE, "docker-squash": DOCKERFILE},
        squashed_after_build={"export-import": "export-import", "docker-squash": "docker-squash"},
        rows=[AdviceRow(advice="x", key="chain", hadolint="", lines=[2], verdict="saves",
                               variant="chain", size_change_bytes=-5)],
        source_change=change.SourceChange(path="app.c", text="\n// harness advise {nonce}\n",
                                          new_file=False))
    measure.write_scenario(result, options(tmp_path, repeat=2), tmp_path / "advise.yaml")
    scenario = load_scenario(tmp_path / "advise.yaml")
    assert scenario.baseline == "original" and scenario.repeat == 2
    assert [e.expr for e in scenario.expect] == ["chain.size_bytes < original.size_bytes"]
    assert scenario.incremental is not None and scenario.incremental.path == "app.c"
    # a change the compiler still accepts (a bare nonce in app.c broke every incremental build)
    assert scenario.incremental.text == "\n// harness advise {nonce}\n"
    squashes = {name: v.squash for name, v in scenario.variants.items()}
    assert squashes == {"original": Squash.NONE, "chain": Squash.NONE,
                        "export-import": Squash.EXPORT_IMPORT,
                        "docker-squash": Squash.DOCKER_SQUASH}
    assert scenario.variants["docker-squash"].squash_from == "base"  # its own layers
    with pytest.raises(AdviseError, match="context lies inside its folder"):
        measure.write_scenario(result, options(tmp_path), tmp_path / "sub" / "advise.yaml")


def sample(variant, size, cache=CacheMode.COLD, build_s=1.0, status=Status.OK):
    return Sample(scenario="advise", variant=variant, builder=Builder.BUILDKIT, cache=cache,
                  repetition=1, status=status, size_bytes=size, layer_count=3,
                  build_s=build_s, image_id="sha256:x", compressed_bytes=size // 2)


def piece(key="cache"):
    return Rewrite(advice="a piece", key=key, hadolint="", lines=(2,), dockerfile="")


def test_verdicts_saves_no_gain_and_breaks():
    passed = {"cache": (True, ""), "original": (True, "")}
    saves = rows.row(piece(), [sample("original", 100_000), sample("cache", 90_000)], passed, {})
    assert (saves.verdict, saves.size_change_bytes, saves.size_change_pct) == ("saves", -10_000,
                                                                              -10.0)
    noise = rows.row(piece(), [sample("original", 100_000), sample("cache", 99_500)], passed, {})
    assert noise.verdict == "no gain"  # within 1 KiB
    repeated = [sample("original", 100_000), sample("original", 103_000),
                sample("cache", 99_000), sample("cache", 99_000)]
    assert rows.row(piece(), repeated, passed, {}).verdict == "no gain"  # within the spread
    broken = rows.row(piece(), [sample("original", 100_000), sample("cache", 10)],
                      {"cache": (False, "exit 1: no curl")}, {})
    assert (broken.verdict, broken.reason) == ("breaks", "exit 1: no curl")


def test_existing_outputs_are_refused_without_force(tmp_path):
    (tmp_path / "out.yaml").write_text("")
    with pytest.raises(AdviseError, match="exists; give --force"):
        measure.refuse_existing([None, tmp_path / "out.yaml"], force=False)
    measure.refuse_existing([tmp_path / "out.yaml"], force=True)


def test_the_markdown_names_what_breaks_and_shows_the_diff():
    rows = [AdviceRow(advice="no recommends", key="recommends", hadolint="DL3015",
                             hadolint_lines=[3], lines=[3], verdict="breaks",
                             checks_passed=False, check_output="exit 6: curl: (77)")]
    text = report.advice_markdown(AdviceReport(
        dockerfile="Dockerfile", original_size_bytes=1, original_layers=1,
        original_wasted_bytes=0, rows=rows, top_waste=[], best=None, best_dockerfile=None,
        best_diff=None, results=["r.json"], phases_s={}, variants={}, squashed_after_build={},
        cache_modes=["cold"], noise_paths=[],
        original_check="exit 1: no app"))
    assert "DL3015 (flags 3)" in text
    assert "✗ no recommends breaks your image: exit 6: curl: (77)" in text
    assert "No rewrite saves anything measurable" in text
    assert "Your original fails the checks too: exit 1: no app" in text


def test_a_squash_after_the_build_costs_the_build_and_the_squash():
    passed = {"docker-squash": (True, ""), "original": (True, "")}
    squashed = [replace(sample("docker-squash", 90_000, build_s=b), transform_s=t)
                for b, t in ((10.0, 4.0), (11.0, 4.0), (9.0, 5.0))]
    original = [sample("original", 100_000, build_s=b) for b in (10.0, 10.0, 10.0)]
    row = rows.row(piece("docker-squash"), original + squashed, passed, {})
    assert row.build_time["cold"].startswith("×1.40 [")  # median 14 s against 10 s
    assert row.build_time["cold"].endswith("] with the squash")
    plain = rows.row(piece(), [*original, sample("cache", 90_000, build_s=12.0)],
                     {"cache": (True, ""), "original": (True, "")}, {})
    assert plain.build_time["cold"].startswith("×1.20 [") and "squash" not in \
        plain.build_time["cold"]


def test_a_saving_only_after_the_build_is_named_not_denied():
    rows = [AdviceRow(advice="squash after the build: docker-squash", key="docker-squash",
                             hadolint="", lines=[], verdict="saves", variant="docker-squash",
                             size_change_bytes=-100_000, size_change_pct=-4.8),
            AdviceRow(advice="chain RUNs", key="chain", hadolint="DL3059", lines=[2, 3],
                             verdict="no gain", variant="chain", size_change_bytes=0)]
    text = report.advice_markdown(AdviceReport(
        dockerfile="Dockerfile", original_size_bytes=2_000_000, original_layers=4,
        original_wasted_bytes=100_000, rows=rows, top_waste=[], best=None,
        best_dockerfile=None, best_diff=None, results=["r.json"], phases_s={}, variants={},
        squashed_after_build={"docker-squash": "docker-squash"}, cache_modes=["cold"],
        noise_paths=[],
        original_check=""))
    assert "No rewrite saves anything measurable on this Dockerfile" not in text
    assert ("No rewrite of the Dockerfile saves anything measurable; a step after the build "
            "does: squash after the build: docker-squash, -100,000 B (-4.8 %).\n") in text


def test_the_target_stage_is_the_one_matched_and_squash_needs_the_last(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox AS build\nRUN make\n"
                                         "FROM busybox AS test\nRUN make test\nFROM scratch\n")
    parsed = parse.parse(tmp_path / "Dockerfile")
    assert parsed.built_stage("build") == 0 and parsed.built_stage(None) == 2
    assert advise.layer_lines(parsed, layers("base", "RUN /bin/sh -c make # buildkit"),
                              "build") == [None, 2]
    pieces = advise.candidate_rewrites(parsed, SimpleNamespace(top_waste=[]), [], {},
                                       target="build")
    (flatten,) = [p for p in pieces if p.key == "flatten"]
    assert flatten.reason == "--target build is not the last stage"


def test_secret_looking_build_args_are_never_written_in_the_users_scenario(tmp_path):
    import yaml

    opts = AdviseOptions(dockerfile=tmp_path / "Dockerfile", context=tmp_path,
                                build_args={"API_TOKEN": "s3cret", "VERSION": "1"})
    mine = yaml.safe_load(measure.scenario_yaml(opts, {"original": "FROM x\n"}, [],
                                               (CacheMode.COLD,), squashed={}))
    assert mine["secret_build_args"] == ["API_TOKEN"]
    users = measure.scenario_yaml(opts, {"original": "FROM x\n"}, [], (CacheMode.COLD,),
                                 for_user=True, squashed={})
    assert "s3cret" not in users
    assert yaml.safe_load(users)["variants"]["original"]["build_args"] == {
        "API_TOKEN": {"env": "API_TOKEN"}, "VERSION": "1"}


def report_of(rows):
    return AdviceReport(
        dockerfile="Dockerfile", original_size_bytes=100_000, original_layers=3,
        original_wasted_bytes=10_000, rows=rows, top_waste=[], best="cache",
        best_dockerfile="FROM x\n", best_diff="--- a\n+++ b\n", results=["r.json"], phases_s={},
        variants={}, squashed_after_build={}, cache_modes=["cold"], original_check="",
        noise_paths=[])


MEASURED = [AdviceRow(advice="clean the cache", key="cache", hadolint="DL3009",
                             lines=[2], verdict="saves", variant="cache", size_bytes=90_000,
                             size_change_bytes=-10_000, size_change_pct=-10.0,
                             checks_passed=True),
            AdviceRow(advice="no recommends", key="recommends", hadolint="DL3015",
                             lines=[3], verdict="breaks", variant="recommends",
                             size_bytes=80_000, checks_passed=False, check_output="exit 1")]


def test_the_html_page_has_the_size_chart_and_the_tables():
    page = report.advice_html(report_of(MEASURED))
    assert page.startswith("<!doctype html>") and page.count("<svg") == 1
    assert "<script" not in page and "clean the cache" in page


@pytest.mark.chromium
def test_the_html_page_renders_in_headless_chromium(tmp_path):
    from tests.helpers import render_in_chromium

    page = tmp_path / "advise.html"
    page.write_text(report.advice_html(report_of(MEASURED)))
    render_in_chromium(page, tmp_path, "advise.png")


def test_a_squash_the_store_cannot_run_is_not_applicable_with_the_runners_reason():
    skipped = sample("docker-squash", 0, status=Status.SKIPPED)
    skipped = replace(skipped, error="squash: docker-squash does not work on the containerd "
                                     "image store")
    squash = Rewrite(advice="squash after the build", key="docker-squash", hadolint="",
                     lines=(), dockerfile="FROM x\n", squash=Squash.DOCKER_SQUASH)
    row = rows.row(squash, [sample("original", 100_000), skipped], {}, {})
    assert (row.verdict, row.reason) == ("not applicable", skipped.error)


def test_the_squashes_after_the_build_keep_the_dockerfile_and_name_their_method(tmp_path):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    pieces = squash.squash_after_build(parse.parse(tmp_path / "Dockerfile"))
    assert [(p.key, p.squash) for p in pieces] == [
        ("export-import", Squash.EXPORT_IMPORT), ("docker-squash", Squash.DOCKER_SQUASH)]
    assert {p.dockerfile for p in pieces} == {DOCKERFILE}
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN touch /a\nCMD [\"sh\"]\n")
    one_layer = squash.squash_after_build(parse.parse(tmp_path / "Dockerfile"))
    assert one_layer[1].reason == "the Dockerfile makes one layer over its base: nothing to squash"


def change_for(tmp_path, dockerfile, files):
    tmp_path = tmp_path / str(len(list(tmp_path.iterdir())))  # a context of its own
    tmp_path.mkdir()
    (tmp_path / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return change.source_change(parse.parse(tmp_path / "Dockerfile"), tmp_path)


def test_the_incremental_change_is_a_new_file_where_the_whole_context_is_copied(tmp_path):
    planted = change_for(tmp_path, "FROM busybox\nCOPY . /src\n", {"Makefile": "all:\n"})
    assert (planted.path, planted.new_file) == (".harness-incremental", True)
    scenario = yaml.safe_load(measure.scenario_yaml(
        options(tmp_path), {"original": "FROM x\n"}, [], (CacheMode.COLD, CacheMode.INCREMENTAL),
        squashed={}, change=planted))
    assert scenario["files"] == {".harness-incremental": ""}
    assert scenario["incremental"]["append"]["path"] == ".harness-incremental"
    cold_only = yaml.safe_load(measure.scenario_yaml(
        options(tmp_path), {"original": "FROM x\n"}, [], (CacheMode.COLD,), squashed={},
        change=planted))
    assert "files" not in cold_only  # a cold build is the user's own, with no file of harness's


def test_the_incremental_change_is_a_comment_only_in_a_language_known_for_certain(tmp_path):
    """The Makefile the first-copied source is can take no appended line: hello.c can."""
    dockerfile = "FROM busybox\nCOPY Makefile hello.c app.py /src/\nRUN make\n"
    found = change_for(tmp_path, dockerfile, {"Makefile": "all:\n\tcc hello.c\n",
                                              "hello.c": "int main(){}\n", "app.py": ""})
    assert (found.path, found.text, found.new_file) == (
        "hello.c", "\n// harness advise {nonce}\n", False)
    ignored = change_for(tmp_path, "FROM busybox\nCOPY . /src\n",
                         {".dockerignore": ".*\n", "src/main.py": "print()\n"})
    assert (ignored.path, ignored.text) == ("src/main.py", "\n# harness advise {nonce}\n")


def test_no_incremental_change_where_none_is_certain_and_why(tmp_path):
    found = change_for(tmp_path, "FROM busybox\nCOPY Makefile notes.txt /src/\n",
                       {"Makefile": "all:\n", "notes.txt": "x\n"})
    assert found.startswith("no incremental builds: the Dockerfile copies no whole context")


def test_a_failed_warm_or_incremental_build_is_named_not_left_out():
    broken = replace(sample("chain", 90_000, cache=CacheMode.INCREMENTAL, status=Status.FAILED),
                     error="process \"/bin/sh -c gcc app.c\" did not complete\nmore")
    samples = [sample("original", 100_000), sample("chain", 90_000),
               sample("original", 100_000, cache=CacheMode.INCREMENTAL), broken]
    row = rows.row(piece("chain"), samples, {"chain": (True, ""), "original": (True, "")}, {})
    assert row.build_time["incremental"] == \
        'failed (process "/bin/sh -c gcc app.c" did not complete)'
    assert row.build_time["cold"].startswith("×")


def test_the_combination_applies_each_piece_to_the_last_ones_output_and_names_them(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:bookworm\nRUN apt-get update\nRUN apt-get install -y curl\n"
        "RUN echo done > /done\n")
    parsed = parse.parse(tmp_path / "Dockerfile")
    config = {"Cmd": ["bash"], "Env": ["PATH=/usr/bin:/bin"]}
    text, applied = pieces.combine(parsed, ["chain", "cache", "move-deletion", "flatten"],
                                   config)
    assert applied == ["chain", "cache", "flatten"]  # a moved deletion's lines are the original's
    assert text.count("RUN ") == 1 and "FROM scratch" in text
    assert "apt-get clean && rm -rf /var/lib/apt/lists/*" in text
    assert pieces.combine(parsed, ["chain", "move-deletion"], config) is None


class Container:
    """A container as docker-py hands it to the check: its wait fails as given."""

    id = "c1"

    def __init__(self, wait_error=None, status="running"):
        self.wait_error, self.status, self.removed = wait_error, status, False

    def wait(self, timeout):
        if self.wait_error:
            raise self.wait_error
        return {"StatusCode": 0}

    def reload(self):
        pass

    def logs(self):
        return b""


def client_running(container):
    """A client whose run hands over `container`; its removal (forced, with the anonymous
    volumes) marks it removed."""
    def remove_container(container_id, force, v):
        container.removed = container_id == container.id and force and v
    return SimpleNamespace(containers=SimpleNamespace(run=lambda image, **kwargs: container),
                           api=SimpleNamespace(remove_container=remove_container))


def test_only_a_container_still_running_after_the_timeout_passes_without_an_exit():
    import docker.errors
    import requests
    import urllib3

    timeout = requests.exceptions.ConnectionError(urllib3.exceptions.ReadTimeoutError(
        None, None, "Read timed out."))
    server = Container(timeout)
    assert measure._run_check(client_running(server), "img", None) == (True, "")
    assert server.removed
    assert measure._run_check(client_running(Container(timeout)), "img", "sleep 60")[0] is False
    for lost in (Container(timeout, status="exited"),
                 Container(docker.errors.NotFound("no such container")),
                 Container(requests.exceptions.ConnectionError("engine gone"))):
        with pytest.raises(AdviseError, match="the check could not run"):
            measure._run_check(client_running(lost), "img", None)


def test_a_missing_or_failing_hadolint_and_an_unread_run_are_named_never_silent(
        tmp_path, monkeypatch):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    said = []
    monkeypatch.setattr(advise.shutil, "which", lambda *args, **kwargs: None)
    assert advise.hadolint_findings(tmp_path / "Dockerfile", said.append) == (
        None, "not found: advice is shown without its findings")
    broken = tmp_path / "hadolint"
    broken.write_text("#!/bin/sh\necho 'hadolint: cannot parse' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(advise.shutil, "which", lambda *args, **kwargs: str(broken))
    flagged, why = advise.hadolint_findings(tmp_path / "Dockerfile", said.append)
    assert flagged is None and why == ("failed (hadolint: cannot parse): advice is shown "
                                       "without its findings")
    assert said == ["hadolint not found: advice is shown without its findings",
                    f"hadolint {why}"]
    text = report.advice_markdown(AdviceReport(
        dockerfile="Dockerfile", original_size_bytes=1, original_layers=1,
        original_wasted_bytes=0, rows=[], top_waste=[], best=None, best_dockerfile=None,
        best_diff=None, results=[], phases_s={}, variants={}, squashed_after_build={},
        cache_modes=["cold"], original_check="", noise_paths=["var/log/dpkg.log"],
        hadolint=why, left_alone="line 7: harness cannot read this RUN (near `[[ -f`)"))
    assert f"hadolint: {why}" in text
    assert "Left alone by every piece: line 7: harness cannot read this RUN (near `[[ -f`)." \
        in text
    assert "1 path(s) differed between two builds of the original itself (build noise, " \
           "ignored: /var/log/dpkg.log)" in text


def test_the_incremental_change_never_writes_through_a_link_or_outside_the_context(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("print('not the context')\n")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "link.py").symlink_to(outside)
    (context / "Dockerfile").write_text("FROM busybox\nCOPY link.py ../outside.py /src/\n")
    found = change.source_change(parse.parse(context / "Dockerfile"), context)
    assert isinstance(found, str) and found.startswith("no incremental builds")


def test_the_wall_time_splits_into_what_the_user_would_run_and_harness_overhead():
    split = advise._split({"runs": 90.0, "analysis": 1.0, "checks": 4.0, "guard": 2.0},
                          {"builds": 60.0, "starts": 5.0, "priming": 10.0, "reading": 12.0},
                          total=100.0)
    assert split["own"] == pytest.approx(100 - 60 - 5 - 10 - 4 - 12 - 1 - 2)
    assert split["overhead"] == pytest.approx(12 + 1 + 2 + split["own"])
    assert split["total"] - split["overhead"] == pytest.approx(60 + 5 + 10 + 4)


def test_the_terminal_form_fits_its_width_and_keeps_what_a_person_decides_on():
    long = "the image guard found /usr/lib/x86_64-linux-gnu/" + "libsomething.so.1.2.3 " * 20
    rows = [*MEASURED,
            AdviceRow(advice="no docs (dpkg path-exclude; dnf/yum tsflags=nodocs)", key="nodocs",
                      hadolint="", lines=list(range(2, 40)), verdict="changes your image",
                      reason=long, variant="nodocs", size_bytes=70_000,
                      size_change_bytes=-123_456_789, size_change_pct=-55.5,
                      build_time={"cold": "×1.02 [0.95–1.10, bootstrap]",
                                  "warm": "×0.98 [0.90–1.05, bootstrap]",
                                  "incremental": "failed: " + "x" * 200},
                      checks_passed=True, note="a trade-off " * 30),
            AdviceRow(advice="chain", key="chain", hadolint="DL3059", lines=[2],
                      verdict="not applicable", reason="nothing to change " * 20)]
    result = replace(report_of(rows), dockerfile="app/" + "deep/" * 30 + "Dockerfile",
                     left_alone="line 7: " + "a heredoc RUN; " * 20,
                     best_diff="--- Dockerfile\n+++ Dockerfile (advised)\n+RUN " + "y" * 150)
    assert max(len(line) for line in report.advice_markdown(result).splitlines()) > 300
    for width in (200, 120, 80):
        text = report.advice_terminal(result, width)
        body = text.split("--- Dockerfile")[0].splitlines()  # the diff's lines are the user's
        assert max(len(line) for line in body) <= min(width, 120)
        assert "+RUN " + "y" * 150 in text
        for shown in ("nodocs", "changes your image", "-123.5 MB (-55.5 %)", "breaks",
                      "exit 1", "libsomething", "cold ×1.02", "incremental failed"):
            assert shown in " ".join(text.split()), (width, shown)


def test_the_cache_mount_row_says_how_it_compares_with_cleaning_the_cache():
    passed = {"cache": (True, ""), "cache-mount": (True, ""), "original": (True, "")}
    samples = [sample("original", 100_000, build_s=10.0),
               sample("cache", 90_000, build_s=10.0), sample("cache", 90_000, build_s=12.0),
               sample("cache-mount", 90_500, build_s=5.0),
               sample("cache-mount", 90_500, build_s=6.0),
               sample("cache", 90_000, cache=CacheMode.WARM, build_s=1.0),
               sample("cache-mount", 90_500, cache=CacheMode.WARM, build_s=1.0),
               sample("cache-mount", 90_500, cache=CacheMode.WARM, build_s=1.0,
                      status=Status.FAILED)]  # a failed build is no timing
    built = [rows.row(piece(key), samples, passed, {}) for key in ("cache", "cache-mount")]
    mount = rows.beside_cleanup(built, samples)[1]
    assert mount.note.startswith(
        "against cleaning the cache (the cache row): +500 B, cold ×0.50 [0.42–0.60] (the mount "
        "faster), warm ×1.00 [1.00–1.00] (no measurable difference)")
    alone = rows.beside_cleanup(built[1:], samples)
    assert alone == built[1:]  # nothing to compare with
