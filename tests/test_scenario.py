"""The scenario format: defaults, `extends`, and every validation error (file, line, message)."""

import textwrap
from pathlib import Path

import pytest

from harness.model import BaseKind, Builder, CacheMode, RunSpec, Squash
from harness.scenario import (
    ScenarioError,
    all_bases,
    check_scenario,
    load_scenario,
    load_scenarios,
)

MINIMAL = """\
variants:
  only:
    dockerfile: |
      FROM scratch
      COPY app /app
"""


def write(folder: Path, text: str, name: str = "demo.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list[tuple[str, int, str]]:
    _, found = check_scenario(path)
    return [(p.file.name, p.line, p.message) for p in found]


def only_problem(path: Path) -> tuple[int, str]:
    found = problems_of(path)
    assert len(found) == 1, found
    file, line, message = found[0]
    assert file == path.name
    return line, message


# --- defaults and merging ---------------------------------------------------------------

def test_minimal_scenario_gets_documented_defaults(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL, "my-exp.yaml"))
    assert scenario.name == "my-exp"
    assert scenario.baseline == "only"
    assert scenario.builders == (Builder.LEGACY, Builder.BUILDKIT)
    assert scenario.cache == (CacheMode.COLD, CacheMode.WARM)  # no incremental change given
    assert scenario.repeat == 3
    assert scenario.run == RunSpec(command=None, ready_log=None, expect_exit=0, timeout_s=30.0,
                                   start_repeat=5)
    assert scenario.variants["only"].bases == ()
    assert scenario.variants["only"].base is None  # FROM scratch
    assert scenario.variants["only"].dockerfile_origin.endswith("my-exp.yaml:4")


def test_incremental_change_turns_on_the_incremental_mode(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL + """\
files: {app: "v1\\n"}
incremental: {append: {path: app, text: "v2\\n"}}
"""))
    assert scenario.cache == (CacheMode.COLD, CacheMode.WARM, CacheMode.INCREMENTAL)
    assert (scenario.incremental.path, scenario.incremental.text) == ("app", "v2\n")


def test_extends_inherits_everything_and_overrides_what_follows(tmp_path):
    scenario = load_scenario(write(tmp_path, """\
        run: {timeout_s: 10}
        variants:
          parent:
            dockerfile: |
              ARG BASE=debian:bookworm
              FROM ${BASE} AS build
              FROM scratch
            build_args: {A: "1", B: "2"}
            target: build
            run: {expect_exit: 3}
          child:
            extends: parent
            build_args: {B: "20", C: 3}
            run: {command: "echo hi"}
          grandchild:
            extends: child
            dockerfile: FROM busybox:latest AS build
        """))
    parent, child, grandchild = scenario.variants.values()
    assert child.dockerfile == parent.dockerfile
    assert child.build_args == {"A": "1", "B": "20", "C": "3"}
    assert child.target == "build"
    assert child.run == RunSpec(command=("/bin/sh", "-c", "echo hi"), expect_exit=3,
                                timeout_s=10.0)
    assert parent.bases == ("debian:bookworm",)
    assert parent.base == "debian:bookworm"  # the target stage's image, not the last FROM
    assert grandchild.bases == ("busybox:latest",)
    assert grandchild.base == "busybox:latest"
    assert grandchild.build_args == child.build_args


def test_build_args_change_the_base_a_from_line_names(tmp_path):
    scenario = load_scenario(write(tmp_path, """\
        variants:
          v:
            dockerfile: "ARG BASE=debian:bookworm\\nFROM $BASE\\n"
            build_args: {BASE: "busybox:latest"}
        """))
    assert scenario.variants["v"].bases == ("busybox:latest",)


def test_dockerfile_path_and_context_are_read_relative_to_the_yaml(tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "main.py").write_text("print(1)\n")
    (tmp_path / "Dockerfile.demo").write_text("FROM debian:bookworm\nCOPY . /app\n")
    scenario = load_scenario(write(tmp_path, """\
        context: ./ctx
        incremental: {append: {path: main.py, text: "# x\\n"}}
        variants:
          v: {dockerfile_path: Dockerfile.demo}
        """))
    assert scenario.context == (tmp_path / "ctx").resolve()
    assert scenario.variants["v"].dockerfile.startswith("FROM debian:bookworm")


def test_shared_bases_file_is_merged_and_the_scenario_wins(tmp_path):
    write(tmp_path, """\
        bases:
          debian:bookworm: {debootstrap: {suite: bookworm}}
          busybox:latest: {scratch: {files: {/bin/busybox: /bin/busybox}}}
        """, "bases.yaml")
    scenario = load_scenario(write(tmp_path, MINIMAL + """\
bases:
  debian:bookworm: {debootstrap: {suite: trixie, variant: default}, pull: false}
"""))
    assert scenario.bases["debian:bookworm"].options["suite"] == "trixie"
    assert scenario.bases["debian:bookworm"].pull is False
    assert all(not recipe.pull for reference, recipe in scenario.bases.items()
               if reference != "debian:bookworm")  # made from the recipe unless pull: true
    assert scenario.bases["busybox:latest"].kind is BaseKind.SCRATCH
    assert scenario.bases["busybox:latest"].options["cmd"] is None


def test_the_shipped_scenarios_folder_validates():
    scenarios = Path(__file__).parent.parent / "scenarios"
    load_scenarios([scenarios])  # raises on any problem
    recipes = all_bases([scenarios])
    assert recipes["debian:bookworm"].kind is BaseKind.DEBOOTSTRAP
    assert recipes["busybox:latest"].kind is BaseKind.SCRATCH


def test_one_reference_with_two_recipes_is_an_error(tmp_path):
    write(tmp_path, MINIMAL + "bases: {x:1: {tar: a.tar}}\n", "a.yaml")
    write(tmp_path, MINIMAL + "bases: {x:1: {debootstrap: {suite: bookworm}}}\n", "b.yaml")
    (tmp_path / "a.tar").write_bytes(b"")
    with pytest.raises(ScenarioError, match=r"b\.yaml:1: bases\.x:1: declared differently"):
        load_scenarios([tmp_path])


# --- every validation error names file, line and what is expected ------------------------

def test_unknown_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, MINIMAL + "descripton: typo\n")
    assert only_problem(path) == (6, "descripton: unknown key; did you mean `description`?")


def test_unknown_variant_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, """\
        variants:
          v:
            dockerfile: FROM scratch
            build_arg: {A: "1"}
        """)
    assert only_problem(path) == (4, "variants.v.build_arg: unknown key; did you mean "
                                     "`build_args`?")


@pytest.mark.parametrize(("line", "expected"), [
    ("repeat: three", "repeat: expected a whole number ≥ 1, found a string ('three')"),
    ("repeat: 0", "repeat: expected a whole number ≥ 1, found 0"),
    ("repeat: true", "repeat: expected a whole number ≥ 1, found true or false (True)"),
    ("builders: legacy", "builders: expected a list from: legacy, buildkit, buildah, found a "
                         "string ('legacy')"),
    ("builders: [legacy, kaniko]", "builders: unknown `kaniko`; expected one of: legacy, "
                                   "buildkit, buildah"),
    ("cache: []", "cache: the list is empty; expected some of: cold, warm, incremental, "
                  "remote"),
    ("description: [a]", "description: expected a string, found a list"),
    ("registry: yes please", "registry: expected true or false, found a string ('yes please')"),
    ("run: {timeout_s: fast}", "run.timeout_s: expected a number of seconds, found a string "
                               "('fast')"),
    ("run: {ready_log: '('}", "run.ready_log: not a valid regular expression (missing ), "
                              "unterminated subpattern at position 0)"),
    ("run: [true]", "run: expected a mapping (command, ready_log, expect_exit, timeout_s, "
                    "start_repeat), found a list"),
    ("name: My Scenario", "name: `My Scenario` is not usable in image names; expected lowercase "
                          "letters, digits and . _ - (e.g. `apt-cache-cleanup`)"),
])
def test_wrong_types_say_what_was_found_and_expected(tmp_path, line, expected):
    path = write(tmp_path, MINIMAL + line + "\n")
    assert only_problem(path) == (6, expected)


def test_missing_variants(tmp_path):
    path = write(tmp_path, "description: nothing to build\n")
    assert only_problem(path) == (1, "missing `variants:`: expected a mapping of variant names "
                                     "to {dockerfile: ...}")


def test_variant_without_a_dockerfile(tmp_path):
    path = write(tmp_path, "variants:\n  v:\n    target: x\n")
    assert only_problem(path) == (3, "variants.v: missing `dockerfile:` (inline text) or "
                                     "`dockerfile_path:`")


def test_baseline_naming_no_variant(tmp_path):
    path = write(tmp_path, MINIMAL + "baseline: other\n")
    assert only_problem(path) == (6, "baseline: no variant `other`; expected one of: only")


def test_extends_naming_no_variant(tmp_path):
    path = write(tmp_path, MINIMAL + "  child: {extends: ghost}\n")
    assert only_problem(path) == (6, "variants.child.extends: no variant `ghost` to extend; "
                                     "expected one of: only, child")


def test_extends_cycle_is_reported_at_each_variant_in_it(tmp_path):
    path = write(tmp_path, """\
        variants:
          a: {extends: b}
          b: {extends: c}
          c: {extends: a}
          d: {extends: a}
        """)
    assert problems_of(path) == [
        ("demo.yaml", 2, "variants.a.extends: `extends` cycle: a → b → c → a"),
        ("demo.yaml", 3, "variants.b.extends: `extends` cycle: b → c → a → b"),
        ("demo.yaml", 4, "variants.c.extends: `extends` cycle: c → a → b → c"),
    ]


def test_dockerfile_path_that_does_not_exist(tmp_path):
    path = write(tmp_path, "variants:\n  v: {dockerfile_path: missing/Dockerfile}\n")
    line, message = only_problem(path)
    assert line == 2
    assert message.startswith("variants.v.dockerfile_path: `missing/Dockerfile` is not an "
                              "existing file (looked for ")


def test_dockerfile_path_escaping_the_scenario_folder(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    path = write(folder, "variants:\n  v: {dockerfile_path: ../Dockerfile}\n")
    assert only_problem(path) == (2, f"variants.v.dockerfile_path: `../Dockerfile` is outside "
                                     f"the scenario's folder {folder}; expected a path inside it")


def test_context_that_does_not_exist(tmp_path):
    path = write(tmp_path, MINIMAL + "context: ./nowhere\n")
    line, message = only_problem(path)
    assert (line, message.split(" (")[0]) == (6, "context: `./nowhere` is not an existing "
                                                 "directory")


def test_context_escaping_through_a_symlink(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "ctx").symlink_to(tmp_path)
    path = write(folder, MINIMAL + "context: ctx\n")
    assert only_problem(path)[1].startswith("context: `ctx` is outside the scenario's folder")


def test_unparseable_from_points_at_the_dockerfile_line_in_the_yaml(tmp_path):
    path = write(tmp_path, """\
        variants:
          v:
            dockerfile: |
              # a comment
              FROM debian bookworm
        """)
    assert only_problem(path) == (5, "variants.v.dockerfile: cannot read `FROM debian bookworm`: "
                                     "expected `FROM [--platform=...] IMAGE [AS NAME]`")


def test_unparseable_from_in_a_dockerfile_file_points_into_that_file(tmp_path):
    (tmp_path / "Dockerfile").write_text("# syntax=docker/dockerfile:1\n\nFROM ${NOPE}\n")
    path = write(tmp_path, "variants:\n  v: {dockerfile_path: Dockerfile}\n")
    _, found = check_scenario(path)
    assert [(p.file.name, p.line, p.message) for p in found] == [
        ("Dockerfile", 3, "variants.v.dockerfile: `$NOPE` in FROM has no value: declare "
                          "`ARG NOPE=...` before FROM or pass it in build_args")]


def test_target_naming_no_stage(tmp_path):
    path = write(tmp_path, MINIMAL + "    target: build\n")
    assert only_problem(path) == (6, "variants.only.target: no stage `build` in the Dockerfile; "
                                     "stages: none (add `AS NAME` to a FROM)")


def test_duplicate_keys(tmp_path):
    path = write(tmp_path, MINIMAL + "repeat: 2\nrepeat: 3\n")
    assert only_problem(path) == (7, "duplicate key `repeat` (first at line 6)")


@pytest.mark.parametrize(("expr", "message"), [
    ("only.size_bytes <", "`only.size_bytes <`: cannot read operand `nothing`: expected "
                          "VARIANT.METRIC, FACTOR * VARIANT.METRIC, a number, or a status"),
    ("only.size_bytes", "`only.size_bytes`: expected one comparison (<=, >=, ==, !=, <, >) "
                        "between two operands"),
    ("ghost.size_bytes < 1", "`ghost.size_bytes < 1`: no variant `ghost` (variants: only)"),
    ("only.girth < 1", "`only.girth < 1`: unknown metric `girth` (metrics: base_layer_count, "
                       "base_size_bytes, build_s, buildah_size_bytes, compressed_bytes, "
                       "layer_count, pull_bytes, pull_s, push_after_baseline_bytes, push_bytes, "
                       "push_s, size_bytes, start_s, start_status, status, steps_cached, "
                       "steps_total, transform_s, wasted_bytes)"),
    ("only.status < failed", "`only.status < failed`: status compares with == or != to a "
                             "status (failed, ok, skipped) or another status metric"),
    ("1 < 2", "`1 < 2`: at least one side must be VARIANT.METRIC"),
    ("only.size_bytes < 2 + 3", "`only.size_bytes < 2 + 3`: cannot read `+ 3`"),
])
def test_bad_expectations(tmp_path, expr, message):
    path = write(tmp_path, MINIMAL + f"expect:\n  - only.size_bytes > 0\n  - '{expr}'\n")
    assert only_problem(path) == (8, f"expect[1]: {message}")


def test_good_expectations_parse(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL + """\
  other: {extends: only}
expect:
  - other.size_bytes <= 0.8 * only.size_bytes
  - other.status == failed
  - only.layer_count >= 2
"""))
    first, second, third = scenario.expect
    assert (first.left.variant, first.op, first.right.factor, first.right.variant) == (
        "other", "<=", 0.8, "only")
    assert (second.left.metric, second.right.status) == ("status", "failed")
    assert third.right.number == 2


def test_all_problems_in_a_file_are_reported(tmp_path):
    path = write(tmp_path, """\
        repeat: -1
        builders: [docker]
        variants:
          v: {dockerfile: "FROM Bad"}
        expect: [v.size < 1]
        """)
    assert [line for _, line, _ in problems_of(path)] == [1, 2, 4, 5]


def test_bad_base_recipes(tmp_path):
    path = write(tmp_path, MINIMAL + """\
bases:
  Not A Ref: {tar: x.tar}
  two:kinds: {tar: x.tar, debootstrap: {suite: bookworm}}
  deb:1: {debootstrap: {variant: huge}}
  box:1: {scratch: {files: {bin/busybox: /bin/busybox}, run: [3]}}
  built:1: {build: {dockerfile: "RUN x"}}
  tarred:1: {tar: missing.tar}
""")
    assert problems_of(path) == [
        ("demo.yaml", 7, "bases.Not A Ref: not an image reference; expected NAME[:TAG] such as "
                         "`debian:bookworm`"),
        ("demo.yaml", 8, "bases.two:kinds: expected exactly one recipe kind (debootstrap, "
                         "scratch, tar, build), or `pull: true` alone to pull it, found 2"),
        ("demo.yaml", 9, "bases.deb:1.debootstrap: missing `suite` (e.g. bookworm)"),
        ("demo.yaml", 9, "bases.deb:1.debootstrap.variant: `huge`; expected one of: minbase, "
                         "buildd, default"),
        ("demo.yaml", 10, "bases.box:1.scratch.files.bin/busybox: expected an absolute path in "
                          "the image"),
        ("demo.yaml", 10, "bases.box:1.scratch.run[0]: expected a shell command string or a "
                          "list of strings, found an integer (3)"),
        ("demo.yaml", 11, "bases.built:1.build.dockerfile: RUN before the first FROM (only ARG "
                          "may come first)"),
        ("demo.yaml", 12, "bases.tarred:1.tar: `missing.tar` is not an existing rootfs tarball "
                          f"(looked for {tmp_path / 'missing.tar'})"),
    ]


# --- files that are not scenarios at all ---------------------------------------------------

@pytest.mark.parametrize(("content", "line", "message"), [
    (b"", 1, "the file is empty; expected a mapping with `variants:`"),
    (b"# only a comment\n", 1, "the file is empty; expected a mapping with `variants:`"),
    (b"\x7fELF\x02\x01\x01\x00\x00", 1, "this is a binary file, not YAML text"),
    (b"a: 1\nb: \x01\n", 2, "not valid YAML: character #x0001 is not allowed in YAML text"),
    (b"variants:\n  v: \xff\xfe\n", 2, "not UTF-8 text (is this a binary file?)"),
    (b"variants: [unclosed\n", 2, "not valid YAML: while parsing a flow sequence expected ',' "
                                  "or ']', but got '<stream end>'"),
    (b"- a\n- b\n", 1, "expected a mapping (`key: value` lines) at the top, found a list"),
    (b"just words\n", 1, "expected a mapping (`key: value` lines) at the top, found a string "
                         "('just words')"),
    (b"x: !!python/object/apply:os.system [true]\n", 1, "not valid YAML: could not determine a "
     "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
])
def test_non_scenarios_get_a_clean_message(tmp_path, content, line, message):
    path = tmp_path / "junk.yaml"
    path.write_bytes(content)
    assert problems_of(path) == [("junk.yaml", line, message)]


def test_load_scenario_raises_one_error_listing_every_problem(tmp_path):
    path = write(tmp_path, "repeat: 0\nvariants: {}\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value).splitlines() == [
        f"{path}:1: repeat: expected a whole number ≥ 1, found 0",
        f"{path}:2: variants: empty; expected at least one variant",
    ]


def test_squash_settings_are_inherited_and_checked(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL + """\
  squashed: {extends: only, squash: docker-squash, squash_from: 2}
  flat: {extends: only, squash: export-import, restore_config: false, run: {command: null}}
run: {command: [cat, /app]}
"""))
    squashed, flat = scenario.variants["squashed"], scenario.variants["flat"]
    assert (squashed.squash, squashed.squash_from) == (Squash.DOCKER_SQUASH, 2)
    assert (flat.squash, flat.restore_config, flat.run.command) == (
        Squash.EXPORT_IMPORT, False, None)
    assert scenario.variants["only"].squash is Squash.NONE
    assert scenario.variants["only"].run.command == ("cat", "/app")


@pytest.mark.parametrize(("line", "message"), [
    ("    squash: zip", "variants.only.squash: unknown `zip`; expected one of: none, legacy, "
                      "docker-squash, export-import, save-load"),
    ("    squash_from: 2", "variants.only.squash_from: applies only to `squash: docker-squash` "
                         "(this variant has squash: none)"),
    ("    restore_config: false", "variants.only.restore_config: applies only to `squash: "
                                "export-import` (this variant has squash: none)"),
])
def test_bad_squash_settings(tmp_path, line, message):
    assert only_problem(write(tmp_path, MINIMAL + line + "\n")) == (6, message)


def test_squash_from_must_be_base_or_a_count(tmp_path):
    path = write(tmp_path, MINIMAL + "    squash: docker-squash\n    squash_from: top\n")
    assert only_problem(path) == (7, "variants.only.squash_from: expected `base` or a number of "
                                     "history entries ≥ 1, found a string ('top')")


def test_quick_subset_is_checked_and_narrows_quick_runs_only(tmp_path):
    from harness.matrix import matrix
    from harness.model import RunOptions

    path = tmp_path / "q.yaml"
    path.write_text("builders: [legacy, buildkit]\nvariants:\n  a: {dockerfile: FROM scratch}\n"
                    "  b: {dockerfile: FROM scratch}\nquick:\n  variants: [b]\n"
                    "  builders: [buildkit]\n")
    scenario = load_scenario(path)
    assert [(v.name, b) for _, v, b in matrix([scenario], RunOptions(quick=True))] == [
        ("b", Builder.BUILDKIT)]
    assert len(matrix([scenario], RunOptions())) == 4


def test_a_variants_builders_narrow_the_scenarios_and_are_inherited(tmp_path):
    from harness.matrix import matrix
    from harness.model import RunOptions

    path = tmp_path / "v.yaml"
    path.write_text("builders: [legacy, buildah]\nvariants:\n  a: {dockerfile: FROM scratch}\n"
                    "  slow: {dockerfile: FROM scratch, builders: [legacy]}\n"
                    "  slower: {extends: slow}\n")
    scenario = load_scenario(path)
    assert scenario.variants["slower"].builders == (Builder.LEGACY,)
    assert [(v.name, b) for _, v, b in matrix([scenario], RunOptions())] == [
        ("a", Builder.LEGACY), ("a", Builder.BUILDAH), ("slow", Builder.LEGACY),
        ("slower", Builder.LEGACY)]


def test_a_variants_builders_must_be_the_scenarios(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text("variants:\n  a:\n    dockerfile: FROM scratch\n    builders: [buildah]\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert [str(p) for p in error.value.problems] == [
        f"{path}:4: variants.a.builders: `buildah` is not one of the scenario's builders "
        "(legacy, buildkit)"]


def test_quick_subset_names_must_exist(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("builders: [legacy]\nvariants:\n  a: {dockerfile: FROM scratch}\n"
                    "quick:\n  variants: [a, nope]\n  builders: [buildkit]\n  repeat: 2\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert [str(p) for p in error.value.problems] == [
        f"{path}:5: quick.variants: no variant `nope`; expected one of: a",
        f"{path}:6: quick.builders: `buildkit` is not one of the scenario's builders (legacy)",
        f"{path}:7: quick.repeat: unknown key; expected one of: variants, builders",
    ]


def test_images_copied_from_count_as_bases_but_stages_and_indexes_do_not():
    from harness.dockerfile import base_images

    text = ("FROM debian:bookworm AS build\nRUN true\nFROM scratch\n"
            "COPY --from=busybox:latest /bin/busybox /hello\nCOPY --from=build /etc /etc\n"
            "COPY --from=0 /usr /usr\nADD --from=debian:bookworm /x /x\nCOPY a b\n")
    assert base_images(text) == ["debian:bookworm", "busybox:latest"]


def test_an_incremental_change_to_a_symlink_is_refused_at_validation(tmp_path):
    (tmp_path / "elsewhere.txt").write_text("precious\n")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.txt").symlink_to(tmp_path / "elsewhere.txt")
    path = write(tmp_path, "context: ctx\nincremental:\n  append: {path: app.txt, text: x}\n"
                           "variants:\n  a: {dockerfile: FROM scratch}\n")
    _, problems = check_scenario(path)
    assert [(p.line, p.message) for p in problems] == [
        (3, "incremental.append.path: `app.txt` is a symlink in the build context; harness "
            "never writes through links: expected a regular file")]


def test_build_args_from_the_environment_are_secret_and_an_unset_one_is_named(tmp_path,
                                                                              monkeypatch):
    text = ("variants:\n  a:\n    dockerfile: FROM scratch\n"
            "    build_args: {TOKEN: {env: HARNESS_TEST_TOKEN}, PLAIN: x}\n")
    path = write(tmp_path, text)
    monkeypatch.delenv("HARNESS_TEST_TOKEN", raising=False)
    assert only_problem(path) == (4, "variants.a.build_args.TOKEN: the environment variable "
                                     "HARNESS_TEST_TOKEN is not set; expected it to hold the "
                                     "value")
    monkeypatch.setenv("HARNESS_TEST_TOKEN", "s3cr3t")
    scenario = load_scenario(path)
    assert scenario.variants["a"].build_args == {"TOKEN": "s3cr3t", "PLAIN": "x"}
    assert scenario.secret_build_args == {"TOKEN"}


def test_a_claim_names_the_image_stores_it_speaks_for(tmp_path):
    path = tmp_path / "stores.yaml"
    path.write_text("variants:\n  a: {dockerfile: FROM scratch}\n  b: {dockerfile: FROM scratch}\n"
                    "expect:\n  - {expr: a.size_bytes < b.size_bytes, image_stores: [containerd]}\n"
                    "  - {expr: a.size_bytes > b.size_bytes, image_stores: [overlay2]}\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert "expect[1].image_stores: unknown `overlay2`; expected one of: classic, containerd" \
        in str(error.value)
    path.write_text(path.read_text().replace("overlay2", "classic"))
    claims = load_scenario(path).expect
    assert [c.image_stores for c in claims] == [("containerd",), ("classic",)]
