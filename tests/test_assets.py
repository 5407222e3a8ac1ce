"""The static files build (esbuild, as `make assets` runs it) and the URLs pages load them from:
fingerprinted names, minified CSS and JS, .br and .gz variants, integrity hashes, and the CDN."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from webapp.assets import asset
from webapp.assets.build import BuildError, build
from webapp.assets.manifest import DIST_DIR, ENCODINGS, read_manifest

from .support import decoded, sri_hash

CSS = "/* Colours */\nbody {\n    color: #112233;\n    margin: 0px;\n}\n"
JS = "// Says hello\n(function () {\n  var greeting = 'hello';\n  console.log(greeting);\n})();\n"
VENDOR = "var already=1;"  # a .min.js is taken as it is


@pytest.fixture
def sources(tmp_path) -> Path:
    static = tmp_path / "static"
    (static / "vendor").mkdir(parents=True)
    (static / "app.css").write_text(CSS)
    (static / "app.js").write_text(JS)
    (static / "vendor" / "lib.min.js").write_text(VENDOR)
    (static / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (static / ".DS_Store").write_bytes(b"\0")
    return static


def _built_bytes(dist: Path, name: str) -> bytes:
    return (dist / read_manifest(dist)[name].file).read_bytes()


def test_each_file_is_named_by_its_content_and_css_and_js_are_minified(sources, tmp_path):
    dist = sources / "dist"

    built = build(sources, dist)

    assert set(built) == {"app.css", "app.js", "vendor/lib.min.js", "logo.png"}
    assert read_manifest(dist) == built
    for name, entry in built.items():
        content = (dist / entry.file).read_bytes()
        stem, suffix = name.rsplit(".", 1)
        assert re.fullmatch(rf"{re.escape(stem)}\.[0-9a-f]{{16}}\.{suffix}", entry.file), entry.file
        assert hashlib.sha256(content).hexdigest().startswith(entry.file.split(".")[-2])
        assert entry.integrity == sri_hash(content)
    css, js = _built_bytes(dist, "app.css").decode(), _built_bytes(dist, "app.js").decode()
    assert "Colours" not in css and "#123" in css and len(css) < len(CSS) / 2
    assert "Says hello" not in js and "console.log" in js and len(js) < len(JS)
    assert _built_bytes(dist, "vendor/lib.min.js") == VENDOR.encode()


def test_text_files_get_br_and_gz_variants_of_the_same_bytes(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "big.css").write_text("".join(f".row-{n} {{ padding: {n}px; }}\n" for n in range(300)))
    (static / "logo.png").write_bytes(bytes(range(256)) * 8)

    built = build(static, tmp_path / "dist")

    css = built["big.css"]
    assert css.encodings == ("br", "gzip")
    content = (tmp_path / "dist" / css.file).read_bytes()
    for encoding in css.encodings:
        variant = (tmp_path / "dist" / (css.file + ENCODINGS[encoding])).read_bytes()
        assert len(variant) < len(content) / 3
        assert decoded(variant, encoding) == content
    assert built["logo.png"].encodings == ()


def test_a_changed_file_gets_a_new_name_and_the_previous_build_stays(sources):
    dist = sources / "dist"
    before = build(sources, dist)
    mtimes = {path: path.stat().st_mtime_ns for path in dist.rglob("*.*") if path.name != "manifest.json"}

    (sources / "app.css").write_text(CSS.replace("#112233", "#445566"))
    after = build(sources, dist)

    assert after["app.css"].file != before["app.css"].file
    assert after["app.js"] == before["app.js"]
    assert {path: path.stat().st_mtime_ns for path in mtimes} == mtimes  # kept, and not rewritten
    assert read_manifest(dist)["app.css"] == after["app.css"]


def test_without_esbuild_the_build_says_how_to_get_it(sources, tmp_path):
    with pytest.raises(BuildError, match="npm ci"):
        build(sources, sources / "dist", esbuild=tmp_path / "no-esbuild")


def _tags(page: str) -> list[dict[str, str]]:
    """The stylesheet and script tags of a page, as attribute dicts."""
    tags = re.findall(r"<(?:link rel=\"stylesheet\"|script) ([^>]*)>", page)
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', tag)) for tag in tags]


def test_pages_load_the_built_files_from_the_app_with_their_integrity(client):
    tags = _tags(client.get("/login").get_data(as_text=True))

    assert len(tags) == 3
    for tag in tags:
        url = tag.get("href") or tag["src"]
        assert url.startswith("/static/dist/"), url
        assert tag["crossorigin"] == "anonymous"
        served = client.get(url)
        assert served.status_code == 200
        assert tag["integrity"] == sri_hash(served.data)


@pytest.fixture
def cdn(app_config) -> str:
    app_config["CDN_URL"] = "https://cdn.example.test/tasklane"
    return app_config["CDN_URL"]


def test_with_a_cdn_pages_load_the_built_files_from_it(cdn, client):
    built = {entry.file: entry for entry in read_manifest(DIST_DIR).values()}

    tags = _tags(client.get("/login").get_data(as_text=True))

    assert len(tags) == 3
    for tag in tags:
        url = tag.get("href") or tag["src"]
        assert url.startswith(cdn + "/"), url
        entry = built[url.removeprefix(cdn + "/")]
        assert tag["integrity"] == entry.integrity == sri_hash((DIST_DIR / entry.file).read_bytes())
        assert tag["crossorigin"] == "anonymous"


def test_a_file_the_build_has_not_seen_is_served_from_static_as_it_is(app, caplog):
    with app.test_request_context():
        found = asset("added-after-the-build.js")

    assert found.url == "/static/added-after-the-build.js"
    assert found.integrity == ""  # nothing to check: the browser loads it as it is
    assert "make assets" in caplog.text
