"""The shipped widget bundle (web_demo/dist/) is what scripts/build_widget.py makes of the
sources, named by content hash; the bundler refuses what it does not understand."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from autocomplete.server.assets import HASH_CHARS, is_hashed
from tests.conftest import ROOT

WEB_DEMO = ROOT / "web_demo"
DIST = WEB_DEMO / "dist"


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_widget", ROOT / "scripts/build_widget.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of web_demo/ to break."""
    src = tmp_path / "web_demo"
    shutil.copytree(WEB_DEMO, src, ignore=shutil.ignore_patterns("dist", "index.html"))
    return src


def test_the_shipped_bundle_is_up_to_date_with_the_sources() -> None:
    assert builder.differences() == [], (
        "web_demo/dist/ does not match the sources: run `make widget` and commit web_demo/dist/"
    )


def test_bundles_are_named_by_version_and_content_hash_with_integrity_hashes() -> None:
    manifest = json.loads((DIST / "manifest.json").read_text())
    version = json.loads((WEB_DEMO / "package.json").read_text())["version"]
    assert manifest["version"] == version
    assert sorted(p.name for p in DIST.iterdir()) == sorted(
        [manifest["module"], manifest["global"], manifest["css"], "manifest.json"]
    )
    for key, suffix in (("module", ".min.js"), ("global", ".global.min.js"), ("css", ".min.css")):
        name = manifest[key]
        data = (DIST / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
        assert name == f"autocomplete-{version}.{digest}{suffix}" and is_hashed(name)
        sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
        assert manifest["integrity"][name] == sri


def test_the_bundles_export_what_the_entry_module_exports() -> None:
    manifest = json.loads((DIST / "manifest.json").read_text())
    module = (DIST / manifest["module"]).read_text()
    exported = re.search(r"export const\{([^}]*)\}=__qac_autocomplete;\s*$", module)
    assert exported is not None
    entry = builder.parse_module("autocomplete.js", (WEB_DEMO / "autocomplete.js").read_text())
    names = [name for name, _ in entry.exports]
    assert exported.group(1).split(",") == names
    assert {"attachAutocomplete", "EVENTS", "VERSION", "QacConnection"} <= set(names)
    script = (DIST / manifest["global"]).read_text()
    assert "globalThis.QacAutocomplete=__qac_autocomplete" in script
    assert "import.meta" not in script and "export " not in script
    assert f'"./dist/{manifest["css"]}"' in module and f'"./dist/{manifest["css"]}"' in script


def test_building_twice_gives_the_same_bytes(sources: Path, tmp_path: Path) -> None:
    first = builder.build(sources, tmp_path / "a")
    second = builder.build(sources, tmp_path / "b")
    assert first == second
    for name in (first["module"], first["global"], first["css"]):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_names_follow_the_code_not_its_comments(sources: Path, tmp_path: Path) -> None:
    before = builder.build(sources, tmp_path / "a")
    render = sources / "render.js"
    render.write_text(render.read_text() + "\n// a comment is minified away\n")
    assert builder.build(sources, tmp_path / "b")["module"] == before["module"]
    options = sources / "options.js"
    options.write_text(options.read_text().replace('fresh: "trending"', 'fresh: "new"'))
    after = builder.build(sources, tmp_path / "c")
    assert before["css"] == after["css"]
    assert before["module"] != after["module"] and before["global"] != after["global"]


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("export default function x() {}", "unsupported module syntax"),
        ('import * as all from "./render.js";', "unsupported module syntax"),
        ('const later = import("./render.js");', "unsupported module syntax"),
        ('import { x } from "https://cdn.example/x.js";', "unsupported module syntax"),
    ],
)
def test_module_syntax_it_cannot_bundle_is_refused(
    sources: Path, line: str, complaint: str
) -> None:
    render = sources / "render.js"
    render.write_text(render.read_text() + "\n" + line + "\n")
    with pytest.raises(builder.BundleError, match=complaint):
        builder.build(sources, sources / "out")


def test_an_import_cycle_is_refused(sources: Path) -> None:
    render = sources / "render.js"
    render.write_text('import { EVENTS } from "./options.js";\n' + render.read_text())
    options = sources / "options.js"
    options.write_text('import { hide } from "./render.js";\n' + options.read_text())
    with pytest.raises(builder.BundleError, match="import cycle"):
        builder.build(sources, sources / "out")


def test_package_json_and_the_modules_must_agree_on_the_version(sources: Path) -> None:
    package = json.loads((sources / "package.json").read_text())
    (sources / "package.json").write_text(json.dumps({**package, "version": "9.9.9"}))
    with pytest.raises(builder.BundleError, match=r"must equal package.json's version \(9.9.9\)"):
        builder.build(sources, sources / "out")


def test_check_mode_reports_a_stale_bundle(
    sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder.build(sources)
    assert builder.differences(sources) == []
    (sources / "autocomplete.css").write_text("/* changed */\n")
    assert any(d.startswith("missing autocomplete-") for d in builder.differences(sources))


def test_package_json_declares_the_types_and_ships_the_bundle() -> None:
    package = json.loads((WEB_DEMO / "package.json").read_text())
    assert package["types"] == "./autocomplete.d.ts"
    assert package["exports"]["."] == {
        "types": "./autocomplete.d.ts",
        "default": "./autocomplete.js",
    }
    for shipped in ("autocomplete.js", "connection.js", "options.js", "render.js"):
        assert shipped in package["files"]
    assert "dist/" in package["files"] and "autocomplete.d.ts" in package["files"]


def test_the_type_declarations_name_every_export_option_and_event() -> None:
    """The declarations cannot drift from the code unnoticed (no TypeScript needed here: the
    browser tests check the runtime side, this checks the names)."""
    dts = (WEB_DEMO / "autocomplete.d.ts").read_text()
    entry = builder.parse_module("autocomplete.js", (WEB_DEMO / "autocomplete.js").read_text())
    declared = set(re.findall(r"^export declare (?:const|function|class) (\w+)", dts, re.M))
    assert declared == {name for name, _ in entry.exports}
    options = (WEB_DEMO / "options.js").read_text()
    defaults = re.search(r"DEFAULTS = Object\.freeze\(\{(.*?)\}\);", options, re.S)
    assert defaults is not None
    option_names = re.findall(r"^\s+(\w+):", defaults.group(1), re.M)
    interface = re.search(r"interface AutocompleteOptions \{(.*?)\n\}", dts, re.S)
    assert interface is not None
    assert option_names == re.findall(r"^  (\w+)\?:", interface.group(1), re.M)
    events = re.findall(r'^\s+\w+: "(autocomplete:\w+)"', options, re.M)
    assert events and all(f'"{e}": CustomEvent<' in dts for e in events)
    messages = re.search(r"MESSAGES = Object\.freeze\(\{(.*?)\}\);", options, re.S)
    assert messages is not None
    for name in re.findall(r"^\s+(\w+):", messages.group(1), re.M):
        assert re.search(rf"^  {name}: ", dts, re.M), name
