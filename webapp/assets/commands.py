"""`flask assets build` and `flask assets push`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .build import BuildError, build
from .manifest import DIST_DIR
from .push import Bucket, Directory, PushError, current_uploads, push

assets_cli = AppGroup("assets", help="Build the static files and push them to the CDN.")


@assets_cli.command("build")
def build_command() -> None:
    """Fingerprint, minify and compress static/ into static/dist/ (what `make assets` runs)."""
    try:
        built = build()
    except BuildError as error:
        raise click.ClickException(str(error)) from None
    for entry in built.values():
        sizes = ", ".join(
            f"{encoding or 'plain'} {(DIST_DIR / file).stat().st_size:,} B"
            for file, encoding in entry.files()
        )
        click.echo(f"{entry.source} -> dist/{entry.file} ({sizes})")


@assets_cli.command("push")
@click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy into this directory (an origin nginx serves) instead of the bucket.",
)
@click.option("--dry-run", is_flag=True, help="List what would go where; needs no credentials.")
def push_command(target: Path | None, dry_run: bool) -> None:
    """Upload the current build to ASSETS_S3_BUCKET (or --target), adding only what is missing."""
    from botocore.exceptions import BotoCoreError, ClientError

    config = current_app.config
    try:
        uploads = current_uploads()
    except PushError as error:
        raise click.ClickException(str(error)) from None
    if target is not None:
        destination = Directory(target)
    elif config["ASSETS_S3_BUCKET"]:
        destination = Bucket(
            config["ASSETS_S3_BUCKET"],
            endpoint_url=config["ASSETS_S3_ENDPOINT_URL"],
            region=config["ASSETS_S3_REGION"],
            access_key_id=config["ASSETS_S3_ACCESS_KEY_ID"],
            secret_access_key=config["ASSETS_S3_SECRET_ACCESS_KEY"],
        )
    else:
        raise click.UsageError("set ASSETS_S3_BUCKET (and its endpoint and keys), or give --target DIR")
    try:
        counts = push(uploads, destination, dry_run=dry_run, echo=click.echo)
    except (BotoCoreError, ClientError, OSError) as error:
        raise click.ClickException(f"the push stopped: {error}") from None
    if dry_run:
        click.echo(f"Dry run: {len(uploads)} files would go where listed unless already there.")
    else:
        click.echo(
            f"{len(uploads)} files: {counts['uploaded']} uploaded, {counts['already there']} already there."
        )
