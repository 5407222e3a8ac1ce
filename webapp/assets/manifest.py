"""What a build produced: for each static file, its fingerprinted name, its Subresource Integrity
hash and its compressed variants, kept in static/dist/manifest.json."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
DIST_DIR = STATIC_DIR / "dist"
MANIFEST_NAME = "manifest.json"
# Content-Encoding of each compressed variant, and the suffix its file has beside the original
# (what nginx's gzip_static and brotli_static look for).
ENCODINGS = {"br": ".br", "gzip": ".gz"}


@dataclass(frozen=True)
class BuiltFile:
    source: str  # the name templates ask for, relative to static/: "vendor/htmx.min.js"
    file: str  # the fingerprinted name, relative to dist/: "vendor/htmx.min.3f2a1b9c0d8e7f65.js"
    integrity: str  # "sha384-…", for the integrity attribute
    encodings: tuple[str, ...]  # keys of ENCODINGS written beside `file`

    def files(self) -> list[tuple[str, str | None]]:
        """Each file of this one under dist/, with its Content-Encoding (None: the file itself)."""
        return [(self.file, None)] + [(self.file + ENCODINGS[name], name) for name in self.encodings]


def read_manifest(dist: Path = DIST_DIR) -> dict[str, BuiltFile] | None:
    """The files of the last build in `dist`, by source name; None when nothing was built there."""
    try:
        entries = json.loads((dist / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        return None
    return {
        source: BuiltFile(source, entry["file"], entry["integrity"], tuple(entry["encodings"]))
        for source, entry in entries.items()
    }


def write_manifest(dist: Path, built: dict[str, BuiltFile]) -> None:
    entries = {
        source: {"file": f.file, "integrity": f.integrity, "encodings": list(f.encodings)}
        for source, f in sorted(built.items())
    }
    write_atomically(dist / MANIFEST_NAME, (json.dumps(entries, indent=2) + "\n").encode())


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` so that a reader (nginx, an app starting) sees the old file or the
    new one, never part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
