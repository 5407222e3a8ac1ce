"""`flask assets push` against a real S3-compatible HTTP endpoint on loopback (moto's threaded
server, which refuses anonymous reads unless the bucket's policy allows them, as S3 does), and
into a directory."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
import uuid
from typing import NamedTuple

import boto3
import pytest

from bench.smtp_sink import free_port
from webapp.assets.manifest import DIST_DIR, read_manifest
from webapp.assets.push import CACHE_CONTROL

from .support import decoded, sri_hash

ACCESS = {"aws_access_key_id": "tasklane-test", "aws_secret_access_key": "tasklane-test-secret"}
CONTENT_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **ACCESS)


@pytest.fixture
def bucket(s3) -> str:
    """A new bucket whose objects anyone may read, as a CDN's bucket is set up (README)."""
    name = f"assets-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    public_read = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }
    s3.put_bucket_policy(
        Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [public_read]})
    )
    return name


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    """Nothing for boto3 to find credentials in: no variables, no files, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def settings(app_config, s3_endpoint, bucket, no_aws_credentials) -> dict:
    app_config.update(
        ASSETS_S3_BUCKET=bucket,
        ASSETS_S3_ENDPOINT_URL=s3_endpoint,
        ASSETS_S3_REGION="us-east-1",
        ASSETS_S3_ACCESS_KEY_ID=ACCESS["aws_access_key_id"],
        ASSETS_S3_SECRET_ACCESS_KEY=ACCESS["aws_secret_access_key"],
    )
    return app_config


def _push(app, *options: str):
    return app.test_cli_runner().invoke(args=["assets", "push", *options])


class Pushed(NamedTuple):
    key: str
    encoding: str | None
    integrity: str  # of the built file, which a compressed variant holds too
    content_type: str


def _current_files() -> list[Pushed]:
    """Every file the current build's pages use, with its compressed variants."""
    built = read_manifest(DIST_DIR)
    assert built, "nothing is built: run `make assets`"
    return [
        Pushed(key, encoding, entry.integrity, CONTENT_TYPES[entry.source.rsplit(".", 1)[1]])
        for entry in built.values()
        for key, encoding in entry.files()
    ]


def _keys(s3, bucket: str) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_push_uploads_every_file_with_its_headers_and_anyone_can_read_it(settings, app, s3_endpoint, bucket):
    files = _current_files()

    pushed = _push(app)

    assert pushed.exit_code == 0, pushed.output
    assert (
        re.search(rf"\[ *1/{len(files)}\]", pushed.output) and f"[{len(files)}/{len(files)}]" in pushed.output
    )
    assert f"{len(files)} files: {len(files)} uploaded, 0 already there." in pushed.output
    for file in files:
        with urllib.request.urlopen(f"{s3_endpoint}/{bucket}/{file.key}") as answer:  # unsigned: anyone
            body = decoded(answer.read(), file.encoding)
            headers = answer.headers
        assert headers["Content-Type"] == file.content_type
        assert headers["Cache-Control"] == CACHE_CONTROL == "public, max-age=31536000, immutable"
        assert headers["Content-Encoding"] == file.encoding
        fingerprint = file.key.split(".")[-3 if file.encoding else -2]
        assert hashlib.sha256(body).hexdigest().startswith(fingerprint), file.key
        assert sri_hash(body) == file.integrity


def test_a_second_push_skips_what_is_there_and_rewrites_nothing(settings, app, s3, bucket):
    files = _current_files()
    assert _push(app).exit_code == 0
    first_key = files[0].key
    s3.put_object(Bucket=bucket, Key=first_key, Body=b"what a CDN already serves")

    again = _push(app)

    assert again.exit_code == 0, again.output
    assert f"{len(files)} files: 0 uploaded, {len(files)} already there." in again.output
    assert again.output.count("already there: s3://") == len(files)
    assert s3.get_object(Bucket=bucket, Key=first_key)["Body"].read() == b"what a CDN already serves"


def test_a_push_deletes_nothing_the_running_version_uses(settings, app, s3, bucket):
    running = "app.0123456789abcdef.css"  # the previous version's, still in its pages
    s3.put_object(Bucket=bucket, Key=running, Body=b"body{}")

    assert _push(app).exit_code == 0

    assert _keys(s3, bucket) == {running} | {file.key for file in _current_files()}


def test_a_dry_run_lists_what_would_go_where_and_needs_no_credentials(settings, app, s3, bucket):
    app.config.update(ASSETS_S3_ACCESS_KEY_ID=None, ASSETS_S3_SECRET_ACCESS_KEY=None)

    listed = _push(app, "--dry-run")

    assert listed.exit_code == 0, listed.output
    for file in _current_files():
        what = file.content_type + (f", {file.encoding}" if file.encoding else "")
        assert f" would upload {file.key} -> s3://{bucket}/{file.key} ({what})\n" in listed.output
    assert _keys(s3, bucket) == set()
    assert _push(app).exit_code != 0  # a real push needs them: the dry run really asked nothing


def test_push_to_a_directory_copies_each_file_once(app, tmp_path):
    origin = tmp_path / "origin"
    files = _current_files()
    running = origin / "app.0123456789abcdef.css"
    running.parent.mkdir()
    running.write_text("body{}")

    listed = _push(app, "--target", str(origin), "--dry-run")
    assert listed.exit_code == 0 and f"-> {origin}/{files[0].key} " in listed.output
    assert list(origin.iterdir()) == [running]

    pushed = _push(app, "--target", str(origin))
    again = _push(app, "--target", str(origin))

    assert pushed.exit_code == 0, pushed.output
    assert f"{len(files)} uploaded, 0 already there." in pushed.output
    assert f"0 uploaded, {len(files)} already there." in again.output
    for file in files:
        assert (origin / file.key).read_bytes() == (DIST_DIR / file.key).read_bytes()
    assert running.read_text() == "body{}"


def test_push_without_a_bucket_or_a_target_says_what_to_set(app):
    refused = _push(app)

    assert refused.exit_code != 0
    assert "ASSETS_S3_BUCKET" in refused.output and "--target" in refused.output
