"""Static files: fingerprinted by the build, loaded by pages from the CDN when CDN_URL is set.

- `flask assets build` (build.py; `make assets` runs it) writes static/dist/ and its manifest.
- Templates ask `asset("app.css")` for a file's URL and Subresource Integrity hash: the CDN's
  copy of the fingerprinted file with CDN_URL set, else the app's own /static/dist/ one.
- `flask assets push` (push.py) uploads the build to a bucket or a directory, before the app is
  rolled out.

The Content-Security-Policy allows the CDN's origin (webapp/headers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, url_for

from .manifest import DIST_DIR, STATIC_DIR, read_manifest

DIST_UNDER_STATIC = DIST_DIR.relative_to(STATIC_DIR).as_posix()


@dataclass(frozen=True)
class Asset:
    url: str
    integrity: str  # "sha384-…"; empty (nothing to check) for a file the build has not seen


def init_app(app: Flask) -> None:
    app.extensions["tasklane_assets"] = read_manifest(DIST_DIR)
    app.add_template_global(asset)
    from .commands import assets_cli

    app.cli.add_command(assets_cli)


def asset(name: str) -> Asset:
    """The URL and integrity hash of the static file `name` (a path under static/)."""
    built = (current_app.extensions["tasklane_assets"] or {}).get(name)
    if built is None:
        current_app.logger.warning(
            "static/%s is not in the build (%s): served as it is; run `make assets`", name, DIST_DIR
        )
        return Asset(url_for("static", filename=name), "")
    if cdn := current_app.config["CDN_URL"]:
        return Asset(f"{cdn}/{built.file}", built.integrity)
    return Asset(url_for("static", filename=f"{DIST_UNDER_STATIC}/{built.file}"), built.integrity)
