"""advise --plan over a corpus of real public Dockerfiles (tests/data/corpus, sources named
in its README): a plan for every file, never a traceback, and every rewrite a Dockerfile
BuildKit's parser reads whose RUNs the shell parser reads as well as it read the original's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.advice.edit import Rewrite
from harness.advice.parse import parse, parse_text
from harness.advice.pieces import PIECES, combine

CORPUS = Path(__file__).parent / "data" / "corpus"
FILES = sorted(p for p in CORPUS.rglob("Dockerfile*") if p.is_file())


def unreadable(parsed):
    return [i.start for i in parsed.instructions if "cannot read" in i.unsafe]


def test_the_corpus_is_real_and_named():
    assert len(FILES) >= 300
    readme = (CORPUS / "README.md").read_text()
    assert f"{len(FILES)} Dockerfiles" in readme
    for owner_repo in {p.relative_to(CORPUS).parts[:2] for p in FILES}:
        assert f"[{'/'.join(owner_repo)}]" in readme
        assert list((CORPUS.joinpath(*owner_repo)).glob("LICENSE*"))


def test_plan_reads_every_file_and_gives_every_piece_a_verdict():
    result = subprocess.run([sys.executable, "-m", "harness", "advise", "--plan", "--json",
                             *map(str, FILES)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 0 and result.stderr == ""
    plans = json.loads(result.stdout)
    assert [p["dockerfile"] for p in plans] == list(map(str, FILES))
    for found in plans:
        for piece in found["pieces"]:
            assert piece["diff"] if piece["applies"] else piece["reason"]
    applying = {piece["key"] for found in plans for piece in found["pieces"] if piece["applies"]}
    assert {"chain", "cache", "nodocs", "group", "recommends"} <= applying


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_every_rewrite_is_a_dockerfile_whose_shell_reads(path):
    parsed = parse(path, path.parent)
    assert not unreadable(parsed)  # every RUN's shell is read (case, [[ ]], arrays included)
    rewrites = {key: piece.apply(parsed) for key, piece in PIECES.items()}
    texts = {key: r.dockerfile for key, r in rewrites.items() if isinstance(r, Rewrite)}
    combined = combine(parsed, list(texts), None)
    if combined:
        texts["combined"] = combined[0]
    for key, text in texts.items():
        assert not unreadable(parse_text(text, path, path.parent)), key
