"""Reading any image: from the engine (`docker save`), from an archive (`docker save` in the
classic or the containerd store's layout, or an OCI image layout; a tar, gzipped or not, or a
folder), or from a registry's HTTP API. The last two need no engine.

Every layer goes once through harness.layers' analysis, as a stream: nothing is unpacked or
written to disk. Each blob is checked against its digest and each layer against the config's
diff ID, so a corrupt archive or a lying registry is named, never analysed.

`harness run` reads its images through the same walk of the `docker save` stream, with the
layers it analysed before (harness.layers' cache) skipped unread: a variant shares most of its
layers with its base and the other variants, and a warm build repeats a cold one's.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform as host_platform
import posixpath
import tarfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from harness.errors import HarnessError
from harness.layers import (
    GZIP_MAGIC,
    READ_BYTES,
    ZSTD_MAGIC,
    LayerCache,
    LayerFacts,
    Prefixed,
    analyse_blob,
    default_cache_dir,
    image_layers,
    rewound,
)
from harness.model import ImageLayers

DOCUMENT_LIMIT = 16 << 20
"""A JSON member (manifest, index, config) larger than this is not one."""
MANIFEST_TYPES = {"application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json"}
INDEX_TYPES = {"application/vnd.docker.distribution.manifest.list.v2+json",
               "application/vnd.oci.image.index.v1+json"}
MACHINES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}
READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, zstandard.ZstdError)


class ImageReadError(HarnessError):
    pass


@dataclass(frozen=True, kw_only=True)
class ReadImage:
    """An image as read: its config (history, rootfs) and each layer's facts, in order."""

    reference: str
    source: str
    """engine, archive or registry."""
    platform: str
    image_id: str
    """The config's digest (what `docker images` shows as the ID)."""
    config: dict[str, Any]
    layers: list[LayerFacts]


Report = Callable[[str], None]


def host_platform_name() -> str:
    """The host's platform as an image index names it (linux/amd64, linux/arm64...)."""
    machine = host_platform.machine()
    return f"linux/{MACHINES.get(machine, machine)}"


def read_engine(client: Any, reference: str, platform: str, report: Report,
                known: KnownLayers | None = None) -> ReadImage:
    """The image as `docker save` streams it from the engine (either image store); layers
    `known` are not read again."""
    import docker.errors

    try:
        image_id = client.api.inspect_image(reference)["Id"]
        chunks = client.api.get_image(image_id)
        scan = _scan_tar(cast(IO[bytes], ChunkReader(iter(chunks))), f"`docker save {reference}`",
                         report, known)
    except docker.errors.ImageNotFound:
        raise ImageReadError(f"no image {reference!r} on the engine "
                             "(`docker images` lists what it has)") from None
    except docker.errors.APIError as error:
        raise ImageReadError(f"the engine could not save {reference!r}: "
                             f"{error.explanation or error}") from None
    return scan.image(reference, "engine", platform)


def analyse_engine_image(client: Any, reference: str, *, stored_blobs: bool = False,
                         cache_dir: Path | None = None) -> ImageLayers:
    """`harness run`'s layer analysis of an image on the engine (see engine_image)."""
    image = engine_image(client, reference, stored_blobs=stored_blobs, cache_dir=cache_dir)
    return image_layers(image.image_id, image.layers)


READ_IMAGES: OrderedDict[tuple[str, Path], ReadImage] = OrderedDict()
"""The images this process read last, by ID: advise's analysis and image guard take the
runner's read of an image instead of another `docker save`."""
READ_IMAGES_KEPT = 16


def engine_image(client: Any, reference: str, *, stored_blobs: bool = False,
                 cache_dir: Path | None = None) -> ReadImage:
    """An image on the engine, read once: from this process's last reads, or from the layer
    cache alone where it knows every layer and the config and the store keeps no compressed
    blobs; otherwise one `docker save`, analysing only the layers the cache lacks.
    `stored_blobs` (the containerd store): the save is always read, for each compressed
    blob's stored size."""
    attrs = client.api.inspect_image(reference)
    folder = cache_dir or default_cache_dir()
    key = (attrs["Id"], folder)
    kept = READ_IMAGES.get(key)
    if kept is not None and (all(f.compressed_stored for f in kept.layers) or not stored_blobs):
        READ_IMAGES.move_to_end(key)
        return replace(kept, reference=reference)
    diff_ids: list[str] = list((attrs.get("RootFS") or {}).get("Layers") or [])
    cache = LayerCache(folder)
    cached = {d: f for d in diff_ids
              if (f := cache.get(d)) is not None and not f.compressed_stored}
    config = cache.config(attrs["Id"])
    if not stored_blobs and len(cached) == len(set(diff_ids)) and config is not None:
        image = ReadImage(reference=reference, source="engine", platform=host_platform_name(),
                          image_id=attrs["Id"], config=config,
                          layers=[cached[d] for d in diff_ids])
    else:
        sizes = Counter(f.tar_bytes for f in cached.values())
        known = KnownLayers(cache, {f.tar_bytes: f for f in cached.values()
                                    if sizes[f.tar_bytes] == 1})
        try:
            image = read_engine(client, attrs["Id"], host_platform_name(), _silent, known)
        except ImageReadError:
            if not known.by_size:
                raise
            # a classic layer.tar skipped for its size was another layer: read them all
            image = read_engine(client, attrs["Id"], host_platform_name(), _silent,
                                KnownLayers(cache, {}))
        # the engine's ID: on the containerd store the manifest's digest, not the config's
        image = replace(image, reference=reference, image_id=attrs["Id"])
        cache.put_config(image.image_id, image.config)
    READ_IMAGES[key] = image
    while len(READ_IMAGES) > READ_IMAGES_KEPT:
        READ_IMAGES.popitem(last=False)
    return image


def _silent(message: str) -> None:
    """`harness run` shows its own progress, not each layer's."""


@dataclass(frozen=True)
class KnownLayers:
    """Layers analysed before, so a `docker save` stream's members among them are skipped
    unread; the layers read are added.

    The containerd store's blobs are named by digest: an uncompressed one by its diff ID, a
    compressed one by its own (the cache keeps which diff ID that was). The classic store's
    `ID/layer.tar` members are named by an ID no config gives, so a member is taken for the
    cached layer of the same tar size (`by_size`); a wrong guess fails the diff ID check."""

    cache: LayerCache
    by_size: dict[int, LayerFacts]

    def find(self, name: str, size: int) -> LayerFacts | None:
        if name.startswith("blobs/sha256/"):
            digest = "sha256:" + name.rsplit("/", 1)[1]
            plain = self.cache.get(digest)
            if plain is not None and not plain.compressed_stored:
                return plain
            compressed = self.cache.get(self.cache.alias(digest) or "")
            if compressed is not None:  # the blob's own size is its stored compressed size
                return replace(compressed, compressed_bytes=size, compressed_stored=True)
            return None
        return self.by_size.get(size) if name.endswith("/layer.tar") else None

    def add(self, name: str, layer: LayerFacts) -> None:
        blob = "sha256:" + name.rsplit("/", 1)[1] if name.startswith("blobs/sha256/") else None
        self.cache.put(layer, blob_digest=blob if blob != layer.diff_id else None)


def read_archive(path: Path, platform: str, report: Report) -> ReadImage:
    """A `docker save` archive (either layout) or an OCI image layout, tarred or a folder."""
    if path.is_dir():
        scan = _scan_folder(path, report)
    elif path.is_file():
        scan = _scan_tar(path, str(path), report)
    else:
        raise ImageReadError(f"{path}: no such archive (expected a `docker save` tar or an OCI "
                             "image layout, as a tar or a folder)")
    return scan.image(str(path), "archive", platform)


@dataclass
class _Scan:
    """What one pass over an archive found: its JSON documents and its analysed layers, both
    by member name (blobs/sha256/HEX, or the classic layout's ID/layer.tar)."""

    where: str
    documents: dict[str, Any]
    digests: dict[str, str]
    layers: dict[str, LayerFacts]

    def image(self, reference: str, source: str, platform: str) -> ReadImage:
        if "manifest.json" in self.documents:  # docker save, either layout
            entries = self.documents["manifest.json"]
            if not isinstance(entries, list) or not entries:
                raise ImageReadError(f"{self.where}: manifest.json lists no image")
            if len(entries) > 1:
                tags = ", ".join(t for e in entries for t in e.get("RepoTags") or []) or "untagged"
                raise ImageReadError(f"{self.where} holds {len(entries)} images ({tags}); "
                                     "save one image per archive")
            config_name, layer_names = entries[0]["Config"], entries[0]["Layers"]
            chosen = platform
        elif "index.json" in self.documents:  # an OCI image layout
            manifest, chosen = _choose(self.documents["index.json"], platform, self.where,
                                       lambda d: self._document(_blob_name(d)))
            config_name = _blob_name(manifest["config"]["digest"])
            layer_names = [_blob_name(layer["digest"]) for layer in manifest["layers"]]
        else:
            raise ImageReadError(f"{self.where}: neither manifest.json (`docker save`) nor "
                                 "index.json (an OCI image layout); is it an image archive?")
        config = self._document(config_name)
        missing = [n for n in layer_names if n not in self.layers]
        if missing:
            raise ImageReadError(f"{self.where} is incomplete: {len(missing)} of "
                                 f"{len(layer_names)} layers missing (first: {missing[0]})")
        layers = [self.layers[n] for n in layer_names]
        _check_diff_ids(config, layers, self.where)
        return ReadImage(reference=reference, source=source, platform=chosen,
                         image_id=self.digests[config_name],
                         config=config, layers=layers)

    def _document(self, name: str) -> Any:
        try:
            return self.documents[name]
        except KeyError:
            raise ImageReadError(f"{self.where} is incomplete: {name} is missing") from None


def _scan_tar(file: IO[bytes] | Path, where: str, report: Report,
              known: KnownLayers | None = None) -> _Scan:
    """One pass over a tar: a file is read in place (members by offset, gzip as a stream),
    the engine's `docker save` output as the stream it is."""
    try:
        with (tarfile.open(file, mode="r:*") if isinstance(file, Path) else
              tarfile.open(fileobj=file, mode="r|", bufsize=READ_BYTES)) as archive:
            in_file = isinstance(archive.fileobj, io.BufferedReader)  # not decompressing
            members = ((m.name, m.size, _Window(archive.fileobj, m.offset_data, m.size)
                        if in_file and not m.issparse() else archive.extractfile(m))
                       for m in archive if m.isfile())
            return _scan(cast(Iterator[tuple[str, int, IO[bytes]]], members), where, report,
                         known)
    except READ_ERRORS as error:
        raise ImageReadError(f"{where} could not be read (truncated or corrupt?): "
                             f"{error}") from None


def _scan_folder(folder: Path, report: Report) -> _Scan:
    def members() -> Iterator[tuple[str, int, IO[bytes]]]:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            with path.open("rb") as file:
                yield path.relative_to(folder).as_posix(), path.stat().st_size, file
    try:
        return _scan(members(), str(folder), report)
    except READ_ERRORS as error:
        raise ImageReadError(f"{folder} could not be read (truncated or corrupt?): "
                             f"{error}") from None


def _scan(members: Iterator[tuple[str, int, IO[bytes]]], where: str, report: Report,
          known: KnownLayers | None = None) -> _Scan:
    """Parse the small JSON members; analyse every layer blob not `known`, checking blob
    digests."""
    scan = _Scan(where, {}, {}, {})
    for raw_name, size, stream in members:
        name = posixpath.normpath("/" + raw_name).lstrip("/")
        if known is not None and (layer := known.find(name, size)) is not None:
            scan.layers[name] = layer
            continue
        expected = ("sha256:" + name.rsplit("/", 1)[1]) if name.startswith("blobs/sha256/") \
            else None
        source = _Digested(stream)
        head = source.read(512)
        if head.lstrip()[:1] in (b"{", b"[") and size <= DOCUMENT_LIMIT:
            text = head + source.read()
            _check_digest(source.digest(), expected, name, where)
            try:
                scan.documents[name] = json.loads(text)
            except ValueError:
                continue  # not a document after all
            scan.digests[name] = source.digest()
            continue
        if not _is_layer(head):
            continue
        report(f"reading layer {name} ({size / 1e6:.1f} MB)")
        compressed = not _is_tar(head)
        source.hashing = compressed  # an uncompressed blob's digest is its diff ID
        if not compressed and rewound(stream):  # a tar in a file: read in place
            layer = analyse_blob(stream, size)
        else:
            layer = analyse_blob(cast(IO[bytes], Prefixed(head, cast(IO[bytes], source))),
                                 size)
        while source.read(READ_BYTES):  # a tar's end padding, or a stream's trailing bytes
            pass
        _check_digest(source.digest() if compressed else layer.diff_id, expected, name, where)
        scan.layers[name] = layer
        if known is not None:
            known.add(name, layer)
    return scan


def _is_layer(head: bytes) -> bool:
    return head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC) or _is_tar(head)


def _is_tar(head: bytes) -> bool:
    """A tar's first header (ustar or GNU), or an empty tar's zero blocks."""
    return head[257:262] == b"ustar" or (len(head) == 512 and not head.strip(b"\0"))


def _check_digest(actual: str, expected: str | None, name: str, where: str) -> None:
    if expected and actual != expected:
        raise ImageReadError(f"{where}: blob {name} does not match its digest (its content "
                             f"hashes to {actual}): the archive is corrupt")


def _check_diff_ids(config: dict[str, Any], layers: list[LayerFacts], where: str) -> None:
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise ImageReadError(f"{where}: the config names {len(diff_ids)} layers, the manifest "
                             f"{len(layers)}")
    for index, (diff_id, layer) in enumerate(zip(diff_ids, layers, strict=True)):
        if diff_id != layer.diff_id:
            raise ImageReadError(f"{where}: layer {index}'s content hashes to {layer.diff_id}, "
                                 f"not the config's {diff_id}: the image is corrupt")


def _choose(index: dict[str, Any], platform: str, where: str,
            fetch: Callable[[str], Any]) -> tuple[dict[str, Any], str]:
    """The image manifest for `platform` below an index (indexes may nest), and its platform."""
    document, chosen = index, platform
    for _ in range(4):
        media_type = document.get("mediaType") or ("application/vnd.oci.image.index.v1+json"
                                                   if "manifests" in document else "")
        if media_type in MANIFEST_TYPES or ("layers" in document and "config" in document):
            return document, chosen
        if media_type not in INDEX_TYPES:
            raise ImageReadError(f"{where}: a manifest of media type {media_type or 'none'!r}, "
                                 "which is not an image (expected an image manifest or index)")
        entries = [m for m in document.get("manifests") or []
                   if (m.get("annotations") or {}).get("vnd.docker.reference.type")
                   != "attestation-manifest"]
        with_platform = {_platform_name(m["platform"]): m for m in entries if "platform" in m}
        if platform in with_platform:
            entry = with_platform[platform]
        elif len(entries) == 1:
            entry = entries[0]
            chosen = _platform_name(entry["platform"]) if "platform" in entry else platform
        else:
            offered = ", ".join(sorted(with_platform)) or "none named"
            raise ImageReadError(f"{where}: no image for {platform} (offered: {offered}); "
                                 "choose one with --platform")
        document = fetch(entry["digest"])
    raise ImageReadError(f"{where}: indexes nested too deep")


def _platform_name(platform: dict[str, str]) -> str:
    name = f"{platform.get('os', '')}/{platform.get('architecture', '')}"
    return name + (f"/{platform['variant']}" if platform.get("variant") else "")


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


class _Window:
    """A member of a tar file, read straight from the file by offset: each read is one
    pread into the bytes returned (tarfile's member reader copies every byte twice more)."""

    def __init__(self, file: Any, offset: int, size: int) -> None:
        self.descriptor, self.offset, self.size, self.position = file.fileno(), offset, size, 0

    def read(self, size: int = -1) -> bytes:
        remaining = self.size - self.position
        size = remaining if size < 0 else min(size, remaining)
        data = os.pread(self.descriptor, size, self.offset + self.position) if size > 0 else b""
        if len(data) < size:
            raise tarfile.ReadError("unexpected end of data")
        self.position += len(data)
        return data

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = base + position
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True


class ChunkReader:
    """A file-like reader over the byte chunks docker-py yields (no quadratic copying)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.chunk = b""
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        parts = []
        wanted = size
        while wanted != 0:
            if self.offset >= len(self.chunk):
                self.chunk, self.offset = next(self.chunks, b""), 0
                if not self.chunk:
                    break
            end = len(self.chunk) if wanted < 0 else min(len(self.chunk), self.offset + wanted)
            parts.append(self.chunk[self.offset:end])
            wanted -= (end - self.offset) if wanted > 0 else 0
            self.offset = end
        return b"".join(parts)


class _Digested:
    """A stream that hashes what is read from it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.sha256 = hashlib.sha256()
        self.hashing = True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        if self.hashing:
            self.sha256.update(data)
        return data

    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


# -- registries ------------------------------------------------------------------------------

def parse_registry_reference(reference: str) -> tuple[str, str, str]:
    """HOST[:PORT]/REPO[:TAG|@DIGEST] -> (host, repository, tag or digest; latest if none)."""
    host, _, rest = reference.partition("/")
    if not rest or not ("." in host or ":" in host or host == "localhost"):
        raise ImageReadError(f"--registry {reference!r}: expected HOST[:PORT]/REPOSITORY[:TAG] "
                             "or HOST[:PORT]/REPOSITORY@sha256:DIGEST")
    if "@" in rest:
        repository, _, alias = rest.partition("@")
    else:
        repository, _, alias = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    if not repository or not alias:
        raise ImageReadError(f"--registry {reference!r}: expected HOST[:PORT]/REPOSITORY[:TAG]")
    return host, repository, alias


def read_registry(reference: str, platform: str, report: Report) -> ReadImage:
    """The image through the registry's HTTP API, each blob streamed into the analysis.

    HTTPS first; plain HTTP for a registry on this machine that does not speak TLS (as the
    engine treats 127.0.0.1). Credentials are `docker login`'s, from the Docker config file;
    a bearer token is fetched where the registry asks for one.
    """
    import requests
    from dxf import DXF, DXFBase
    from dxf import exceptions as dxf_errors

    host, repository, alias = parse_registry_reference(reference)
    where = f"the registry at {host}"
    credentials = _docker_login(host)

    def authenticate(registry: DXFBase, response: requests.Response) -> None:
        user, password = credentials or (None, None)
        registry.authenticate(user, password, response=response)

    local = host.split(":")[0] in ("localhost", "127.0.0.1", "[::1]")
    try:
        for insecure in ((False, True) if local else (False,)):
            registry = DXF(host, repository, auth=authenticate, insecure=insecure, timeout=60)
            try:
                registry.api_version_check()
                break
            except requests.exceptions.SSLError:
                if not local or insecure:
                    raise
        def manifest_named(name: str) -> Any:
            """A manifest or index by tag or digest; one asked by digest must hash to it."""
            _, response = registry.get_manifest_and_response(name)
            if name.startswith("sha256:") and \
                    "sha256:" + hashlib.sha256(response.content).hexdigest() != name:
                raise ImageReadError(f"{where} served a manifest that does not match its "
                                     f"digest {name}")
            return json.loads(response.content)

        document = manifest_named(alias)

        manifest, chosen = _choose(document, platform, f"{reference}", manifest_named)
        config_blob = manifest["config"]["digest"]
        config = json.loads(b"".join(cast(Iterator[bytes], registry.pull_blob(config_blob))))
        layers = []
        for number, layer in enumerate(manifest["layers"], 1):
            report(f"reading layer {number}/{len(manifest['layers'])} "
                   f"({layer['size'] / 1e6:.1f} MB) from {host}")
            chunks = cast(Iterator[bytes], registry.pull_blob(layer["digest"], chunk_size=1 << 20))
            stream = ChunkReader(iter(chunks))
            layers.append(analyse_blob(cast(IO[bytes], stream), layer["size"]))
            while stream.read(1 << 20):  # the end of the blob, where dxf checks its digest
                pass
    except dxf_errors.DXFAuthInsecureError:
        raise ImageReadError(f"{where} asks for credentials over plain HTTP; harness sends "
                             "them over HTTPS only") from None
    except dxf_errors.DXFUnauthorizedError:
        how = "refused the credentials `docker login` stored" if credentials else \
            f"asks for credentials (`docker login {host}` first)"
        raise ImageReadError(f"{where} {how}") from None
    except dxf_errors.DXFDigestMismatchError as error:
        raise ImageReadError(f"{where} served a blob that does not match its digest "
                             f"({error})") from None
    except dxf_errors.DXFUnexpectedStatusCodeError as error:
        raise ImageReadError(f"{where} refused: HTTP {error.got}") from None
    except dxf_errors.DXFError as error:
        raise ImageReadError(f"{where}: {error}") from None
    except requests.exceptions.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        what = {401: "refused the credentials (`docker login` first)",
                403: "denied access", 404: f"has no {repository}:{alias}"}.get(
                    status if isinstance(status, int) else 0, f"answered HTTP {status}")
        raise ImageReadError(f"{where} {what}") from None
    except requests.exceptions.RequestException as error:
        raise ImageReadError(f"{where} could not be reached: {type(error).__name__}") from None
    except READ_ERRORS as error:
        raise ImageReadError(f"{where} served a layer that could not be read: {error}") from None
    _check_diff_ids(config, layers, reference)
    return ReadImage(reference=reference, source="registry", platform=chosen,
                     image_id=config_blob, config=config, layers=layers)


def _docker_login(host: str) -> tuple[str, str] | None:
    """The user name and password `docker login HOST` stored, if any (plain `auths` entries;
    credential helpers are not asked)."""
    folder = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        auths = json.loads((folder / "config.json").read_text()).get("auths") or {}
        encoded = (auths.get(host) or auths.get(f"https://{host}") or {}).get("auth")
        if not encoded:
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (OSError, ValueError, AttributeError):
        return None
    return user, password
