"""harness diff on hand-made images: file by file, summing to the size difference."""

import json

from harness.cli import main
from harness.diff import image_diff
from harness.images import read_archive
from tests.image_tars import Member, hand_made, oci_layout, write_tar

BASE = [Member("bin", "dir"), Member("bin/sh", size=1000, mode=0o755),
        Member("etc", "dir"), Member("etc/conf", size=300)]


def images(tmp_path):
    a = hand_made([BASE, [Member("app", size=50_000)]], ["base", "COPY app"])
    b = hand_made([BASE, [Member("app", size=60_000), Member("etc", "dir"),
                          Member("etc/conf", size=300, mode=0o600),
                          Member("cache", "dir"), Member("cache/pkg", size=200_000)],
                   [Member("cache/.wh.pkg"), Member("extra", size=7_000)]],
                  ["base", "RUN build", "RUN rm -rf /cache/pkg"])
    return tuple(read_archive(write_tar(oci_layout(image), tmp_path / f"{name}.tar"),
                              "linux/amd64", lambda m: None)
                 for name, image in (("a", a), ("b", b)))


def test_the_files_explain_the_size_difference_and_the_biggest_comes_first(tmp_path):
    a, b = images(tmp_path)
    diff = image_diff(a, b)
    # B's chmod of etc/conf writes the file again: its first copy is shipped too
    assert diff.b_size_bytes - diff.a_size_bytes == 10_000 + 200_000 + 7_000 + 300
    assert sum(f.delta_bytes for f in diff.files) == diff.b_size_bytes - diff.a_size_bytes
    assert [(f.path, f.change, f.delta_bytes) for f in diff.files] == [
        ("cache/pkg", "wasted in B", 200_000), ("app", "changed", 10_000),
        ("extra", "added", 7_000), ("etc/conf", "wasted in B", 300),
        ("etc/conf", "changed", 0)]
    assert "mode 600" in diff.files[-1].detail
    assert "RUN build" in diff.files[0].detail and "RUN rm -rf /cache/pkg" in diff.files[0].detail
    assert diff.why.startswith("B is 0.2 MB bigger than A: 0.2 MB wasted in B")
    assert diff.by_directory == {"/cache": 200_000, "/app": 10_000, "/extra": 7_000,
                                 "/etc": 300}
    assert diff.a_only_layers == ["layer 1: COPY app"]
    assert [line.split(":")[0] for line in diff.b_only_layers] == ["layer 1", "layer 2"]


def test_the_command_prints_why_first_and_json_on_request(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    images(tmp_path)
    a, b = f"archive:{tmp_path / 'a.tar'}", f"archive:{tmp_path / 'b.tar'}"
    assert main(["diff", a, b]) == 0
    assert capsys.readouterr().out.startswith("B is 0.2 MB bigger than A")
    assert main(["diff", b, a, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == "harness-diff/1"
    assert document["why"].startswith("B is 0.2 MB smaller than A: 0.2 MB wasted in A")
    assert document["files"][0]["path"] == "cache/pkg"  # what explains it first
    assert main(["diff", a, f"archive:{tmp_path / 'none.tar'}"]) == 2


def test_a_runs_variants_are_diffed_against_its_baseline_from_the_layers_analysed_here(
        tmp_path):
    import io

    from harness.diff import baseline_diffs
    from harness.layers import LayerCache, analyse_layer

    cache = LayerCache(tmp_path / "cache")
    a, b = (hand_made(layers) for layers in ([BASE], [BASE, [Member("app", size=5)]]))

    def record(variant, image):
        rows = []
        for tar in image.layers:
            layer = analyse_layer(io.BytesIO(tar))
            cache.put(layer)
            rows.append({"diff_id": layer.diff_id})
        return {"scenario": "s", "variant": variant, "builder": "legacy",
                "image_id": image.config_digest, "layers": {"layers": rows},
                "history": [{"created_by": f"step {i}", "size_bytes": 1}
                            for i in range(len(rows))]}
    document = {"scenarios": [{"name": "s", "baseline": "base"}],
                "images": [record("base", a), record("app", b)]}
    (diff,) = baseline_diffs(document, tmp_path / "cache").values()
    assert diff.why.startswith("B is 5 B bigger than A: 5 B added")
    assert diff.b_only_layers == ["layer 1: step 1"]
    assert baseline_diffs(document, tmp_path / "elsewhere") == {}  # layers not analysed here
