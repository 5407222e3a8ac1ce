"""`flask assets push`: the files of the current build to where browsers fetch them, an
S3-compatible bucket (S3, R2, MinIO, Spaces…) or a directory that nginx serves.

A push only adds. A name carries a hash of its content, so a file already at the destination is
the same one and is skipped, never rewritten, and nothing is ever deleted: the pages of the
version still running keep finding their files. Push before rolling the app out, and the new
pages find theirs from their first request.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from .manifest import DIST_DIR, read_manifest, write_atomically

CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPES = {  # the usual text types, spelled alike on every machine (mimetypes reads /etc)
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
MISSING = ("404", "NoSuchKey", "NotFound")


class PushError(RuntimeError):
    pass


@dataclass(frozen=True)
class Upload:
    key: str  # its name under dist/, and at the destination
    path: Path
    content_type: str  # of the original file, for a compressed variant too
    content_encoding: str | None  # "br", "gzip", or None for the file itself


def current_uploads(dist: Path = DIST_DIR) -> list[Upload]:
    """The files the current build's pages refer to, with their compressed variants."""
    built = read_manifest(dist)
    if built is None:
        raise PushError(f"nothing is built in {dist}: run `flask assets build` (or `make assets`) first")
    uploads = [
        Upload(key, dist / key, content_type(entry.source), encoding)
        for entry in built.values()
        for key, encoding in entry.files()
    ]
    if missing := [upload.key for upload in uploads if not upload.path.exists()]:
        raise PushError(f"the build in {dist} lacks {', '.join(missing)}: run `flask assets build` again")
    return uploads


def content_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class Destination(Protocol):
    def where(self, key: str) -> str: ...

    def has(self, key: str) -> bool: ...

    def put(self, upload: Upload) -> None: ...


class Bucket:
    """An S3-compatible bucket; the client is made at the first request, so a dry run needs no
    credentials."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self._client_settings = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self._client = None

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def has(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING:
                return False
            raise
        return True

    def put(self, upload: Upload) -> None:
        encoding = {"ContentEncoding": upload.content_encoding} if upload.content_encoding else {}
        with upload.path.open("rb") as body:
            self.client.put_object(
                Bucket=self.bucket,
                Key=upload.key,
                Body=body,
                ContentType=upload.content_type,
                CacheControl=CACHE_CONTROL,
                **encoding,
            )

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Checksums only where the API requires them: stores other than AWS refuse some of
            # the newer default ones.
            compatible = Config(request_checksum_calculation="when_required", retries={"mode": "standard"})
            self._client = boto3.session.Session().client("s3", config=compatible, **self._client_settings)
        return self._client


class Directory:
    """A directory served as the asset origin (nginx/tasklane-assets.conf)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def where(self, key: str) -> str:
        return str(self.root / key)

    def has(self, key: str) -> bool:
        return (self.root / key).exists()

    def put(self, upload: Upload) -> None:
        write_atomically(self.root / upload.key, upload.path.read_bytes())


def push(
    uploads: list[Upload], destination: Destination, *, dry_run: bool, echo: Callable[[str], None]
) -> dict[str, int]:
    """Each upload not at `destination` yet, one progress line each; how many went and were there.
    A dry run only lists what would go where, and asks the destination nothing."""
    counts = {"uploaded": 0, "already there": 0}
    for number, upload in enumerate(uploads, 1):
        progress = f"[{number:>{len(str(len(uploads)))}}/{len(uploads)}]"
        what = upload.content_type + (f", {upload.content_encoding}" if upload.content_encoding else "")
        if dry_run:
            echo(f"{progress} would upload {upload.key} -> {destination.where(upload.key)} ({what})")
        elif destination.has(upload.key):
            counts["already there"] += 1
            echo(f"{progress} already there: {destination.where(upload.key)}")
        else:
            destination.put(upload)
            counts["uploaded"] += 1
            size = upload.path.stat().st_size
            echo(f"{progress} uploaded {destination.where(upload.key)} ({what}, {size:,} bytes)")
    return counts
