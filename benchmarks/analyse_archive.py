"""`harness analyse` with no engine: from an archive against the floor, and from a registry
without writing the image to disk.

The archive is a hand-made `docker save` (classic layout: uncompressed layer tars) of GIB GiB
in four layers, half random bytes and half text, written to a temporary folder. Each side runs
as its own process with DOCKER_HOST at a missing socket; its peak resident memory is
`wait4`'s ru_maxrss. The floor is `pigz -6 -p2` over the same archive (reading it and
compressing it on two cores, which the analysis must do at least). Then, with --registry
HOST:PORT, the same layers gzipped are pushed to that registry and analysed from it, with
the free space of the temporary folder's and the home folder's file systems before and after.
Run:

    python benchmarks/analyse_archive.py GIB [REPEAT] [--registry HOST:PORT]

It prints the medians, their ratio (target: at most 1.1) and the analysis's peak (target:
under 128 MB whatever the image size).
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

LAYERS = 4
CHUNK = 1 << 20
TEXT = b"".join(b"line %d of a log file nobody reads, kept in the image\n" % i
                for i in range(20_000))[:CHUNK]


def timed_peak(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS in bytes of a command, with no engine reachable."""
    environment = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[:4]} failed")
    return seconds, usage.ru_maxrss * 1024


def layer_tar(path: Path, mib: int, seed: int) -> str:
    """One layer: files of 64 MiB, alternately random and text; returns its diff ID."""
    with tarfile.open(path, "w") as tar:
        for number in range(0, mib, 64):
            size = min(64, mib - number) * CHUNK
            info = tarfile.TarInfo(f"data/{seed}-{number}.bin")
            info.size = size
            source = io.BytesIO(os.urandom(size) if (number // 64) % 2 else
                                (TEXT * (size // CHUNK)))
            tar.addfile(info, source)
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def make_archive(folder: Path, gib: float) -> tuple[Path, list[Path], dict]:
    mib = int(gib * 1024 / LAYERS)
    tars = [folder / f"layer{i}.tar" for i in range(LAYERS)]
    diff_ids = [layer_tar(path, mib, i) for i, path in enumerate(tars)]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"COPY data{i}"} for i in range(LAYERS)]
                         }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    archive = folder / "image.tar"
    with tarfile.open(archive, "w") as tar:
        names = []
        for index, path in enumerate(tars):
            name = f"{index:064d}/layer.tar"
            tar.add(path, arcname=name)
            names.append(name)
        for name, data in ((config_name, config), ("manifest.json", json.dumps(
                [{"Config": config_name, "RepoTags": ["bench:1"], "Layers": names}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive, tars, {"config": config}


def push(address: str, tars: list[Path], config: bytes) -> str:
    """The layers gzipped (streamed, in pieces) and the config, pushed with python-dxf."""
    from dxf import DXF

    registry = DXF(address, "bench/analyse", insecure=True)
    descriptors = []
    for path in tars:
        gzipped = path.with_suffix(".tar.gz")
        with path.open("rb") as source, gzip.open(gzipped, "wb", compresslevel=1) as target:
            shutil.copyfileobj(source, target, CHUNK)
        digest = registry.push_blob(str(gzipped))
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": digest, "size": gzipped.stat().st_size})
        gzipped.unlink()
    config_digest = registry.push_blob(data=iter([config]),
                                       digest="sha256:" + hashlib.sha256(config).hexdigest())
    registry.set_manifest("1", json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": descriptors}))
    return f"{address}/bench/analyse:1"


def free_bytes(*paths: Path) -> list[int]:
    return [shutil.disk_usage(path).free for path in paths]


def made_elsewhere(folder: Path, gib: float) -> tuple[Path, list[Path], bytes]:
    """The archive, made by a process of its own: what this one allocated would count in its
    children's peak memory (a fork starts with its parent's pages)."""
    subprocess.run([sys.executable, __file__, "--make", str(folder), str(gib)], check=True)
    tars = [folder / f"layer{i}.tar" for i in range(LAYERS)]
    return folder / "image.tar", tars, (folder / "config.json").read_bytes()


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--make"]:
        _, tars, made = make_archive(Path(args[1]), float(args[2]))
        (Path(args[1]) / "config.json").write_bytes(made["config"])
        return 0
    registry = None
    if "--registry" in args:
        at = args.index("--registry")
        registry = args[at + 1]
        del args[at:at + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("pigz"):
        print("needs pigz: apt-get install pigz", file=sys.stderr)
        return 2
    gib, repeat = float(args[0]), int(args[1]) if len(args) > 1 else 3
    harness = [sys.executable, "-m", "harness", "analyse"]
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        archive, tars, config = made_elsewhere(Path(tmp), gib)
        os.sync()  # the GiBs just written are flushed before, not during, the timed reads
        ours, theirs = [], []
        for turn in range(repeat):  # each side first in every other turn
            sides = [(ours, [*harness, "--archive", str(archive)]),
                     (theirs, ["bash", "-c", f"pigz -6 -p2 -c {archive} > /dev/null"])]
            for times, command in sides[::-1] if turn % 2 else sides:
                times.append(timed_peak(command))
        ours_s, theirs_s = (statistics.median(t for t, _ in side) for side in (ours, theirs))
        # each turn's two runs are neighbours in time: their ratio is free of the machine's
        # drift (a VM's steal, other load) that the medians of each side are not
        pairs = [(a, b) for (a, _), (b, _) in zip(ours, theirs, strict=True)]
        ratio = statistics.median(a / b for a, b in pairs)
        print(f"archive {archive.stat().st_size / 2**30:.2f} GiB: analysis {ours_s:.2f} s, "
              f"peak {max(p for _, p in ours) / 1e6:.0f} MB; pigz -6 -p2 {theirs_s:.2f} s; "
              f"time ratio {ratio:.2f} (median of {repeat} turns; each turn's "
              f"{', '.join(f'{a:.2f}/{b:.2f}' for a, b in pairs)} s)")
        if registry:
            reference = push(registry, tars, config)
            archive.unlink()
            watched = [Path(tmp), Path.home()]
            before = free_bytes(*watched)
            seconds, peak = timed_peak([*harness, "--registry", reference])
            after = free_bytes(*watched)
            print(f"registry {reference}: analysis {seconds:.2f} s, peak {peak / 1e6:.0f} MB; "
                  f"free space before/after: " + ", ".join(
                      f"{path} {b / 1e6:.0f}/{a / 1e6:.0f} MB"
                      for path, b, a in zip(watched, before, after, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
