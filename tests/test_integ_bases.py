"""Bases made for real: debootstrap and scratch recipes, rebuilds, and what is never touched."""

import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness.bases import BaseError, ensure_bases, remove_bases
from harness.build import BuildRequest, build
from harness.context import DOCKERFILE_NAME, materialize
from harness.model import DEFAULT_BUILDERS, Action, BaseKind, BaseRecipe, Builder
from harness.scenario import all_bases

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).parent.parent / "scenarios"
BUSYBOX_OPTIONS = {"files": {"/bin/busybox": "/bin/busybox"},
                   "run": [["/bin/busybox", "--install", "-s", "/bin"]], "cmd": ["sh"]}


def recipe(reference: str, kind: BaseKind, options: dict) -> BaseRecipe:
    return BaseRecipe(reference=reference, kind=kind, options=options, pull=False,
                      declared_in=Path("test"))


def ensure(client, *recipes: BaseRecipe, messages: list[str] | None = None):
    found = messages if messages is not None else []
    return ensure_bases(client, {r.reference: r for r in recipes}, [r.reference for r in recipes],
                        found.append)


def build_from(client, dockerfile: str, builder: Builder, labels, tmp_path: Path):
    context = materialize(tmp_path / f"ctx-{builder}", dockerfile=dockerfile, files={})
    return build(builder, BuildRequest(context=context, dockerfile=DOCKERFILE_NAME,
                                       tag=f"harness-test:{labels['harness.run']}-{builder}",
                                       labels=labels, no_cache=True), client)


def run_output(client, image: str, command: list[str]) -> str:
    return client.containers.run(image, command, remove=True).decode()


def test_debootstrap_base_is_made_cleaned_and_labelled(docker_client, unique_reference):
    reference = unique_reference("debian")
    messages: list[str] = []
    (outcome,) = ensure(docker_client, recipe(reference, BaseKind.DEBOOTSTRAP, {
        "suite": "bookworm", "variant": "minbase", "mirror": None, "include": [],
        "cmd": ["bash"]}), messages=messages)

    assert outcome.action is Action.BUILT
    assert any("I: Base system installed successfully" in m for m in messages)  # progress
    before, after = [float(x) for x in
                     outcome.detail.replace("rootfs ", "").replace(" MB after", "")
                     .split(" MB before clean-up, ")]
    assert after < before - 50  # apt lists and .debs dropped
    attrs = docker_client.api.inspect_image(reference)
    assert attrs["Config"]["Cmd"] == ["bash"]
    assert attrs["Config"]["Labels"]["harness.base"] == reference
    assert run_output(docker_client, reference, ["cat", "/etc/debian_version"]).startswith("12.")
    assert run_output(docker_client, reference,
                      ["sh", "-c", "ls /var/lib/apt/lists | grep -v -e lock -e partial; "
                                   "ls /var/cache/apt/archives | grep -c deb$ || true"]) == "0\n"
    # provenance: the recipe it came from and its packages, as dpkg in the image lists them
    assert (outcome.origin, outcome.recipe_hash) == ("made", attrs["Config"]["Labels"][
        "harness.base.recipe"])
    listed = run_output(docker_client, reference, [
        "dpkg-query", "-W", "-f", "${Package}=${Version}\n"]).split()
    assert outcome.packages == sorted(listed) and any(p.startswith("dpkg=") for p in listed)
    (again,) = ensure(docker_client, recipe(reference, BaseKind.DEBOOTSTRAP, {
        "suite": "bookworm", "variant": "minbase", "mirror": None, "include": [],
        "cmd": ["bash"]}))
    assert (again.action, again.origin, again.packages) == (Action.PRESENT, "made",
                                                              outcome.packages)


def test_a_failing_recipe_names_the_base_and_shows_the_tool_output(docker_client,
                                                                   unique_reference):
    reference = unique_reference("broken")
    broken = recipe(reference, BaseKind.DEBOOTSTRAP, {
        "suite": "no-such-suite", "variant": "minbase", "mirror": None, "include": [],
        "cmd": ["bash"]})
    with pytest.raises(BaseError, match=rf"base {reference}: `debootstrap .*no-such-suite.*` "
                                        r"failed with exit code \d+:\nE: "):
        ensure(docker_client, broken)


def test_unmodified_from_debian_bookworm_builds_with_both_builders(docker_client, test_labels,
                                                                     tmp_path):
    (outcome,) = ensure_bases(docker_client, all_bases([SCENARIOS]), ["debian:bookworm"],
                              lambda message: None)
    assert outcome.action in (Action.BUILT, Action.PRESENT, Action.REBUILT)
    dockerfile = "FROM debian:bookworm\nRUN cp /etc/debian_version /version\nCMD [\"cat\", " \
                 "\"/version\"]\n"
    for builder in DEFAULT_BUILDERS:  # buildah's copy of bases: test_integ_buildah
        built = build_from(docker_client, dockerfile, builder, test_labels, tmp_path)
        assert built.ok, built.log_tail
        assert run_output(docker_client, built.image_id, []).startswith("12.")


def test_scratch_busybox_base_and_a_variant_from_it(docker_client, unique_reference, test_labels,
                                                    tmp_path):
    reference = unique_reference("busybox")
    (outcome,) = ensure(docker_client, recipe(reference, BaseKind.SCRATCH, BUSYBOX_OPTIONS))
    assert outcome.action is Action.BUILT
    assert 1_000_000 < outcome.size_bytes < 5_000_000
    for builder in DEFAULT_BUILDERS:  # buildah's copy of bases: test_integ_buildah
        built = build_from(docker_client, f"FROM {reference}\nRUN echo hi > /hi\n", builder,
                           test_labels, tmp_path)
        assert built.ok, built.log_tail
        assert run_output(docker_client, built.image_id, ["cat", "/hi"]) == "hi\n"


def test_same_recipe_is_kept_and_a_changed_recipe_rebuilds(docker_client, unique_reference):
    reference = unique_reference("busybox")
    first = recipe(reference, BaseKind.SCRATCH, BUSYBOX_OPTIONS)
    (built,) = ensure(docker_client, first)
    (again,) = ensure(docker_client, first)
    changed = recipe(reference, BaseKind.SCRATCH, {**BUSYBOX_OPTIONS, "cmd": ["sh", "-l"]})
    (rebuilt,) = ensure(docker_client, changed)

    assert (built.action, again.action, rebuilt.action) == (Action.BUILT, Action.PRESENT,
                                                            Action.REBUILT)
    assert again.image_id == built.image_id != rebuilt.image_id
    assert docker_client.api.inspect_image(reference)["Config"]["Cmd"] == ["sh", "-l"]
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(built.image_id)  # the superseded base was unused: removed


def test_an_image_harness_did_not_make_is_used_and_left_alone(docker_client, unique_reference,
                                                              tmp_path):
    reference = unique_reference("users-own")
    context = materialize(tmp_path / "ctx", dockerfile="FROM scratch\nCOPY busybox /b\n",
                          files={})
    (context / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
    users_image, _ = docker_client.images.build(path=str(context), dockerfile=DOCKERFILE_NAME,
                                                tag=reference, rm=True)
    (outcome,) = ensure(docker_client, recipe(reference, BaseKind.SCRATCH, BUSYBOX_OPTIONS))
    assert outcome.action is Action.PRESENT
    assert docker_client.images.get(reference).id == users_image.id


def test_a_missing_base_without_a_recipe_says_how_to_declare_it(docker_client):
    with pytest.raises(BaseError, match=r"harness-nothing:1 (is not present locally, has no "
                                        r"recipe and no registry answers: declare it under "
                                        r"`bases:`|has no recipe and could not be pulled)"):
        ensure_bases(docker_client, {}, ["harness-nothing:1"], lambda message: None)


def test_clean_bases_never_removes_what_harness_did_not_make(docker_client, unique_reference,
                                                             tmp_path):
    """A user's image built FROM a harness base inherits its labels; it must survive."""
    base = unique_reference("busybox")
    ensure(docker_client, recipe(base, BaseKind.SCRATCH, BUSYBOX_OPTIONS))
    users_tag = unique_reference("users-app")
    context = materialize(tmp_path / "ctx", dockerfile=f"FROM {base}\nRUN touch /mine\n",
                          files={})
    users_image, _ = docker_client.images.build(path=str(context), dockerfile=DOCKERFILE_NAME,
                                                tag=users_tag, rm=True)
    assert users_image.labels["harness.base"] == base  # inherited
    container = docker_client.containers.create(users_tag, ["ls", "/mine"])
    try:
        subprocess.run([sys.executable, "-m", "harness", "clean"], check=True,
                       capture_output=True)
        removed, kept = remove_bases(docker_client, only=[base])

        assert (removed, kept) == ([base], [])  # the base's tag; its layers stay in use
        assert docker_client.images.get(users_tag).id == users_image.id
        container.start()
        assert container.wait(timeout=30)["StatusCode"] == 0
    finally:
        container.remove(force=True)


def test_clean_bases_removes_an_unused_base(docker_client, unique_reference):
    base = unique_reference("busybox")
    ensure(docker_client, recipe(base, BaseKind.SCRATCH, BUSYBOX_OPTIONS))
    assert remove_bases(docker_client, only=[base]) == ([base], [])
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(base)


def test_a_changed_imported_base_is_remade_on_either_store(docker_client, unique_reference,
                                                            tmp_path):
    """An imported base that loses its tag is gone at once on the containerd store (the
    removal of the superseded one then answers 404), kept untagged on the classic one."""
    reference = unique_reference("imported")
    outcomes = []
    for content in (b"one\n", b"two\n"):
        root = tmp_path / content.decode().strip()
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "version").write_bytes(content)
        tarball = tmp_path / f"{root.name}.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
        (outcome,) = ensure(docker_client, recipe(reference, BaseKind.TAR,
                                                  {"path": str(tarball)}))
        outcomes.append(outcome)
    assert [o.action for o in outcomes] == [Action.BUILT, Action.REBUILT]
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(outcomes[0].image_id)
