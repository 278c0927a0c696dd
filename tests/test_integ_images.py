"""Reading images from a real registry (plain HTTP, htpasswd over TLS, bearer tokens) and from
the engine (either image store: `nox -s engines` runs the docker tests on containerd's), each
giving the independent count of the hand-made image."""

import base64
import hashlib
import http.server
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import bcrypt
import pytest
import requests
import yaml

from harness import registry
from harness.analyse import analyse
from harness.cli import main
from harness.images import ImageReadError, read_archive, read_engine, read_registry
from tests.image_tars import (
    WASTE_EXPECTED,
    WASTE_LAYERS,
    docker_save_layout,
    hand_made,
    oci_blobs,
    write_tar,
)

PLAIN_PORT, AUTH_PORT = 5061, 5062
TOKEN_PORT, TOKEN_REGISTRY_PORT = 5065, 5066
ACTION = Path(__file__).parent.parent / "action.yml"


def figures(analysis):
    return (analysis.size_bytes, analysis.wasted_bytes, analysis.file_bytes,
            [row.wasted_bytes for row in analysis.layers],
            [(r.files_added, r.files_changed, r.files_removed) for r in analysis.layers])


EXPECTED = (WASTE_EXPECTED["size_bytes"], WASTE_EXPECTED["wasted_bytes"],
            WASTE_EXPECTED["file_bytes"], WASTE_EXPECTED["per_layer_wasted"],
            WASTE_EXPECTED["files"])


def certificate(home, name, *extensions):
    """A self-signed RSA certificate and its key: HOME/NAME.pem, HOME/NAME-key.pem."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", home / f"{name}-key.pem", "-out", home / f"{name}.pem",
                    "-subj", "/CN=127.0.0.1", *extensions], check=True, capture_output=True)


def start_registry(home, port, *, auth=None):
    """Debian's docker-registry on 127.0.0.1:`port`: plain HTTP, or over TLS (HOME/cert.pem)
    with `auth` "htpasswd" (tester:s3cret) or "token" (tokens from TOKEN_PORT, signed by
    HOME/token.pem's key)."""
    binary = shutil.which("docker-registry") or registry._unpacked_binary(
        registry.registry_home(), lambda message: None)
    config = ["version: 0.1", "log: {level: error}",
              f"storage: {{filesystem: {{rootdirectory: {home / 'storage'}}}}}"]
    scheme = "http"
    if auth:
        scheme = "https"
        certificate(home, "cert", "-addext", "subjectAltName=IP:127.0.0.1")
        config.append(f"http: {{addr: '127.0.0.1:{port}', tls: {{certificate: "
                      f"{home / 'cert.pem'}, key: {home / 'cert-key.pem'}}}}}")
    else:
        config.append(f"http: {{addr: '127.0.0.1:{port}'}}")
    if auth == "htpasswd":
        (home / "htpasswd").write_bytes(b"tester:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(5)))
        config.append(f"auth: {{htpasswd: {{realm: harness-test, path: {home / 'htpasswd'}}}}}")
    elif auth == "token":
        certificate(home, "token")
        config.append(f"auth: {{token: {{realm: 'https://127.0.0.1:{TOKEN_PORT}/token', "
                      "service: harness-test, issuer: harness-test-issuer, "
                      f"rootcertbundle: {home / 'token.pem'}}}}}")
    (home / "config.yml").write_text("\n".join(config) + "\n")
    process = subprocess.Popen([binary, "serve", home / "config.yml"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    verify = str(home / "cert.pem") if auth else True
    for _ in range(100):
        try:
            requests.get(f"{scheme}://127.0.0.1:{port}/v2/", timeout=1, verify=verify)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"docker-registry did not start on {port}")


def push(image, address, repository, tag, **connection):
    from dxf import DXF

    manifest, blobs = oci_blobs(image)
    client = DXF(address, repository, **connection)
    for digest, data in blobs.items():
        client.push_blob(data=io.BytesIO(data), digest=digest)
    client.set_manifest(tag, manifest.decode())


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory):
    home = tmp_path_factory.mktemp("plain-registry")
    process = start_registry(home, PLAIN_PORT)
    push(hand_made(WASTE_LAYERS), f"127.0.0.1:{PLAIN_PORT}", "handmade", "v1", insecure=True)
    yield f"127.0.0.1:{PLAIN_PORT}", home
    process.kill()
    process.wait()


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    """HOME, TMPDIR and the caches as empty folders, to see what a read writes."""
    for name in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.chdir(tmp_path / "HOME")
    return tmp_path


@pytest.mark.registry
def test_a_plain_http_registry_gives_the_independent_count_writing_nothing(
        plain_registry, empty_home):
    image = read_registry(f"{plain_registry[0]}/handmade:v1", "linux/amd64", lambda m: None)
    assert figures(analyse(image)) == EXPECTED
    assert image.image_id == hand_made(WASTE_LAYERS).config_digest
    assert [p for p in empty_home.rglob("*") if p.is_file()] == []
    manifest, _ = oci_blobs(hand_made(WASTE_LAYERS))
    by_digest = read_registry(f"{plain_registry[0]}/handmade@sha256:"
                              f"{hashlib.sha256(manifest).hexdigest()}", "linux/amd64",
                              lambda m: None)
    assert figures(analyse(by_digest)) == EXPECTED


@pytest.mark.registry
def test_a_missing_tag_and_a_corrupt_blob_are_named(plain_registry, capsys):
    address, home = plain_registry
    assert main(["analyse", "--registry", f"{address}/handmade:nope"]) == 2
    assert f"the registry at {address} has no handmade:nope" in capsys.readouterr().err
    other = hand_made([[]], ["RUN true"])
    push(other, address, "corrupt", "v1", insecure=True)
    _, blobs = oci_blobs(other)
    layer = next(d for d in blobs if d != other.config_digest).split(":")[1]
    data = home / "storage" / "docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
    data.write_bytes(data.read_bytes()[:-4] + b"\0\0\0\0")  # same size, other bytes
    assert main(["analyse", "--registry", f"{address}/corrupt:v1"]) == 2
    assert "served a blob that does not match its digest" in capsys.readouterr().err


@pytest.mark.registry
def test_an_htpasswd_registry_over_tls_reads_with_docker_logins_credentials(
        tmp_path, monkeypatch):
    home = tmp_path / "registry"
    home.mkdir()
    process = start_registry(home, AUTH_PORT, auth="htpasswd")
    try:
        address = f"127.0.0.1:{AUTH_PORT}"
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(home / "cert.pem"))

        def login(registry_client, response):
            registry_client.authenticate("tester", "s3cret", response=response)
        push(hand_made(WASTE_LAYERS), address, "private", "v1", auth=login)
        config = tmp_path / "docker-config"
        config.mkdir()
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        with pytest.raises(ImageReadError, match=r"asks for credentials \(`docker login"):
            read_registry(f"{address}/private:v1", "linux/amd64", lambda m: None)
        def stored(password):
            (config / "config.json").write_text(json.dumps({"auths": {address: {
                "auth": base64.b64encode(b"tester:" + password).decode()}}}))
        stored(b"wrong")
        with pytest.raises(ImageReadError, match="refused the credentials `docker login`"):
            read_registry(f"{address}/private:v1", "linux/amd64", lambda m: None)
        stored(b"s3cret")
        image = read_registry(f"{address}/private:v1", "linux/amd64", lambda m: None)
        assert figures(analyse(image)) == EXPECTED
    finally:
        process.kill()
        process.wait()


@pytest.mark.docker
def test_the_engine_gives_the_same_figures_as_the_archive(docker_client, tmp_path,
                                                          unique_reference):
    """On the classic store and (under nox -s engines) containerd's `docker save` layout."""
    reference = unique_reference("handmade")
    archive = write_tar(docker_save_layout(hand_made(WASTE_LAYERS), tag=reference),
                        tmp_path / "handmade.tar")
    docker_client.images.load(archive.read_bytes())
    image = read_engine(docker_client, reference, "linux/amd64", lambda m: None)
    assert figures(analyse(image)) == EXPECTED
    saved = tmp_path / "saved.tar"
    with saved.open("wb") as file:
        for chunk in docker_client.api.get_image(reference):
            file.write(chunk)
    assert figures(analyse(read_archive(saved, "linux/amd64", lambda m: None))) == EXPECTED


@pytest.mark.docker
def test_an_image_the_engine_lacks_is_named(docker_client, capsys):
    assert main(["analyse", "harness-test/no-such-image:never"]) == 2
    assert "no image 'harness-test/no-such-image:never' on the engine" in capsys.readouterr().err


@pytest.mark.docker
def test_the_action_passes_the_tidy_image_and_fails_the_wasteful_one(docker_client, busybox,
                                                                     unique_reference):
    """action.yml's own script, on the images its workflow builds (here on the local busybox)."""
    script = yaml.safe_load(ACTION.read_text())["runs"]["steps"][1]["run"]
    inputs = {"ARCHIVE": "", "REGISTRY": "", "MIN_EFFICIENCY": "", "MAX_WASTED_BYTES": "",
              "MAX_WASTED_PERCENT": "", "MAX_SIZE": "", "MAX_LAYERS": "",
              "CI_CONFIG": str(ACTION.parent / "tests/data/action/.dive-ci")}
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # this harness's own
    for target, expected in (("tidy", 0), ("wasteful", 1)):
        tag = unique_reference(target)
        docker_client.images.build(path=str(ACTION.parent / "tests/data/action"), target=target,
                                   buildargs={"BASE": busybox}, tag=tag, rm=True)
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                                env={**os.environ, **inputs, "IMAGE": tag, "PATH": path},
                                timeout=300)
        assert result.returncode == expected, result.stderr
        assert ("| FAIL | min efficiency" in result.stdout) is (expected == 1)



def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(http.server.ThreadingHTTPServer):
    """A token service as Docker Hub's: anonymous pull of `public`, anything for tester:s3cret.
    Tokens are RS256 JWTs signed (by openssl) with a key whose certificate the registry
    trusts, the certificate in the header's x5c."""

    def __init__(self, home: Path) -> None:
        super().__init__(("127.0.0.1", TOKEN_PORT), TokenHandler)
        self.home, self.issued = home, []
        der = subprocess.run(["openssl", "x509", "-in", home / "token.pem", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.header = _b64url(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [
            base64.b64encode(der).decode()]}).encode())

    def token(self, user: str | None, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            allowed = actions.split(",") if user == "tester" else \
                [a for a in actions.split(",") if name == "public" and a == "pull"]
            access.append({"type": kind, "name": name, "actions": allowed})
        now_s = int(time.time())
        claims = _b64url(json.dumps({
            "iss": "harness-test-issuer", "sub": user or "", "aud": "harness-test",
            "exp": now_s + 300, "nbf": now_s - 10, "iat": now_s, "jti": os.urandom(8).hex(),
            "access": access}).encode())
        signed = f"{self.header}.{claims}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                                    self.home / "token-key.pem"], input=signed.encode(),
                                   check=True, capture_output=True).stdout
        self.issued.append((user, scopes))
        return f"{signed}.{_b64url(signature)}"


class TokenHandler(http.server.BaseHTTPRequestHandler):
    server: TokenServer

    def do_GET(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        user = None
        if header := self.headers.get("Authorization", ""):
            user, _, password = base64.b64decode(header.split()[1]).decode().partition(":")
            if (user, password) != ("tester", "s3cret"):
                self.send_response(401)
                self.end_headers()
                return
        token = self.server.token(user, query.get("scope", []))
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.registry
def test_a_token_registry_reads_anonymously_where_allowed_and_with_docker_logins_credentials(
        tmp_path, monkeypatch):
    """Bearer-token auth, as Docker Hub and most registries ask: the registry answers 401
    with a token realm; the reader fetches a token there (anonymous, or with `docker
    login`'s credentials) and reads with it."""
    home = tmp_path / "registry"
    home.mkdir()
    process = start_registry(home, TOKEN_REGISTRY_PORT, auth="token")
    server = TokenServer(home)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(home / "cert.pem", home / "cert-key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{TOKEN_REGISTRY_PORT}"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(home / "cert.pem"))
    try:
        def login(registry_client, response):
            registry_client.authenticate("tester", "s3cret", response=response)
        for repository in ("public", "private"):
            push(hand_made(WASTE_LAYERS), address, repository, "v1", auth=login)
        config = tmp_path / "docker-config"
        config.mkdir()
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        server.issued.clear()
        public = read_registry(f"{address}/public:v1", "linux/amd64", lambda m: None)
        assert figures(analyse(public)) == EXPECTED
        assert server.issued and {user for user, _ in server.issued} == {None}  # anonymous
        with pytest.raises(ImageReadError, match=r"asks for credentials \(`docker login"):
            read_registry(f"{address}/private:v1", "linux/amd64", lambda m: None)
        (config / "config.json").write_text(json.dumps({"auths": {address: {
            "auth": base64.b64encode(b"tester:s3cret").decode()}}}))
        server.issued.clear()
        private = read_registry(f"{address}/private:v1", "linux/amd64", lambda m: None)
        assert figures(analyse(private)) == EXPECTED
        assert server.issued and {user for user, _ in server.issued} == {"tester"}
        assert any("repository:private:pull" in scopes for _, scopes in server.issued)
    finally:
        process.kill()
        process.wait()
        server.shutdown()
        server.server_close()
