"""The build (`flask assets build`, run by `make assets`): every file under static/ is written into
static/dist/ under a name that carries a hash of its content, CSS and JS minified by esbuild
(pinned in package-lock.json), text files with .br and .gz variants beside them, and the manifest
that templates and `flask assets push` read.

A fingerprinted file is never rewritten or removed: pages rendered by the previous version keep
finding theirs (`make clean` empties dist/ in development)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import brotli

from ..config import BASE_DIR
from .manifest import DIST_DIR, ENCODINGS, STATIC_DIR, BuiltFile, write_atomically, write_manifest

ESBUILD = BASE_DIR / "node_modules" / ".bin" / "esbuild"
MINIFIABLE = (".css", ".js")  # unless the name says the file already is (".min.")
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".map", ".txt", ".xml")
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "br": lambda content: brotli.compress(content, quality=11),
    "gzip": lambda content: gzip.compress(content, compresslevel=9, mtime=0),
}
HASH_LENGTH = 16  # hex digits of SHA-256 in a name: 64 bits


class BuildError(RuntimeError):
    pass


def build(source: Path = STATIC_DIR, dist: Path = DIST_DIR, esbuild: Path = ESBUILD) -> dict[str, BuiltFile]:
    """Build every file under `source` (but `dist`) into `dist`; the manifest, by source name."""
    names = _source_names(source.resolve(), dist.resolve())
    minified = _minify(source, [name for name in names if _minifiable(name)], esbuild)
    built = {
        name: _fingerprint(dist, name, minified[name] if name in minified else (source / name).read_bytes())
        for name in names
    }
    write_manifest(dist, built)
    return built


def _source_names(source: Path, dist: Path) -> list[str]:
    return sorted(
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file() and dist not in path.parents and not path.name.startswith(".")
    )


def _minifiable(name: str) -> bool:
    return name.endswith(MINIFIABLE) and ".min." not in name


def _minify(source: Path, names: list[str], esbuild: Path) -> dict[str, bytes]:
    if not names:
        return {}
    if not esbuild.exists():
        raise BuildError(f"{esbuild} is missing: run `npm ci` (make assets does)")
    with tempfile.TemporaryDirectory() as out:
        command = [str(esbuild), *(str(source / name) for name in names)]
        command += ["--minify", f"--outbase={source}", f"--outdir={out}", "--log-level=warning"]
        if subprocess.run(command, check=False).returncode:
            raise BuildError("esbuild could not minify the static files (its message is above)")
        return {name: (Path(out) / name).read_bytes() for name in names}


def _fingerprint(dist: Path, name: str, content: bytes) -> BuiltFile:
    path = PurePosixPath(name)
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    file = str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))
    _write_new(dist / file, content)
    encodings = []
    if path.suffix in COMPRESSIBLE:
        for encoding, compress in COMPRESSORS.items():
            variant = dist / (file + ENCODINGS[encoding])
            if not variant.exists():
                compressed = compress(content)
                if len(compressed) >= len(content):
                    continue
                write_atomically(variant, compressed)
            encodings.append(encoding)
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()
    return BuiltFile(name, file, integrity, tuple(encodings))


def _write_new(path: Path, content: bytes) -> None:
    """Write a fingerprinted file unless it is there: same name, same content, and it may be in
    use."""
    if not path.exists():
        write_atomically(path, content)
