"""Reading Dockerfiles without Docker: FROM lines, build args, bases, references."""

import pytest

from harness.dockerfile import (
    DockerfileError,
    base_images,
    final_base,
    from_lines,
    instructions,
    is_image_reference,
    split_reference,
    steps_before_the_context,
)


def test_continuation_lines_and_comments_make_one_instruction_each():
    text = "# syntax comment\nFROM busybox\nRUN echo a \\\n    && echo b\n\nCMD [\"sh\"]\n"
    assert [(line, keyword) for line, keyword, _ in instructions(text)] == [
        (2, "FROM"), (3, "RUN"), (6, "CMD")]


def test_build_args_fill_from_lines_with_defaults_and_overrides():
    text = "ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG:-1.36}\n"
    assert [f.image for f in from_lines(text)] == ["busybox:1.36"]
    assert [f.image for f in from_lines(text, {"BASE": "debian", "TAG": "bookworm"})] == [
        "debian:bookworm"]


def test_the_final_base_follows_stages_and_targets():
    text = "FROM debian:bookworm AS build\nFROM build AS test\nFROM scratch\n"
    assert final_base(text) is None
    assert final_base(text, target="test") == "debian:bookworm"
    assert base_images(text) == ["debian:bookworm"]


def test_images_copied_from_count_as_bases_but_stages_and_indexes_do_not():
    text = ("FROM debian:bookworm AS build\nRUN true\nFROM scratch\n"
            "COPY --from=busybox:latest /bin/busybox /hello\nCOPY --from=build /etc /etc\n"
            "COPY --from=0 /usr /usr\nADD --from=debian:bookworm /x /x\nCOPY a b\n")
    assert base_images(text) == ["debian:bookworm", "busybox:latest"]


def test_an_unreadable_from_names_its_line():
    with pytest.raises(DockerfileError) as error:
        from_lines("FROM busybox\nRUN true\nFROM a b c d\n")
    assert error.value.line == 3


@pytest.mark.parametrize(("reference", "parts"), [
    ("busybox", ("busybox", "latest")),
    ("debian:bookworm", ("debian", "bookworm")),
    ("127.0.0.1:5000/app", ("127.0.0.1:5000/app", "latest")),
    ("127.0.0.1:5000/app:v1", ("127.0.0.1:5000/app", "v1")),
])
def test_split_reference_tells_a_registry_port_from_a_tag(reference, parts):
    assert split_reference(reference) == parts


@pytest.mark.parametrize(("text", "ok"), [
    ("debian:bookworm", True), ("harness-base/busybox:1", True), ("Debian", False),
    ("x:1:2", False), ("", False)])
def test_image_references(text, ok):
    assert is_image_reference(text) is ok


@pytest.mark.parametrize(("text", "steps"), [
    ("FROM a\nWORKDIR /app\nRUN x\nCOPY . .\nRUN y\n", 2),
    ("FROM a\nENV A=1\nCOPY --from=b /x /x\nADD app /app\n", 1),
    ("FROM a\nRUN x\n", 1),
    ("FROM a AS b\nRUN x\nFROM a\nCOPY . .\n", None),
])
def test_steps_before_the_context_are_those_an_incremental_change_leaves_cached(text, steps):
    assert steps_before_the_context(text) == steps
