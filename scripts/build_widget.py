"""Bundle the widget's ES modules (web_demo/) into one minified, content-hashed file per flavour.

    python scripts/build_widget.py           # rewrite web_demo/dist/ (`make widget`)
    python scripts/build_widget.py --check   # exit 1 if web_demo/dist/ is not what the
                                              # sources build to (a test runs the same check)

Using the widget needs none of this (the modules run as they are); the bundle is for sites
that embed it: one request instead of four, minified, and named by its content so it can be
cached for a year (`autocomplete.server.assets`). Written to web_demo/dist/:

* `autocomplete-<version>.<hash>.min.js`: an ES module exporting what autocomplete.js does;
* `autocomplete-<version>.<hash>.global.min.js`: a classic script defining `QacAutocomplete`;
* `autocomplete-<version>.<hash>.min.css`: the stylesheet, which both load (option `styles`);
* `manifest.json`: those names, their subresource-integrity hashes, the version and the
  sha256 of every source, so a reader can tell which sources a bundle came from.

The output depends only on the sources and the minifiers (rjsmin, rcssmin from PyPI), so it
is checked in and rebuilt when the sources change. The bundler is deliberately small: it
understands the module syntax these sources use (named imports and exports between files of
web_demo/, `import.meta.url`) and refuses anything else with a `BundleError`, rather than
guessing. Each module becomes a function scope returning its exports, so module-level names
never collide; the version in package.json must equal `VERSION` in options.js.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import rcssmin
import rjsmin

from autocomplete.server.assets import hashed_name

ROOT = Path(__file__).resolve().parent.parent
WEB_DEMO = ROOT / "web_demo"
ENTRY = "autocomplete.js"
STYLESHEET = "autocomplete.css"
GLOBAL_NAME = "QacAutocomplete"
DIST = "dist"
#: The URL the bundle pretends its code was loaded from: where the entry module would be.
#: dist/ is one level below it, so URLs the modules resolve (../ws, ./autocomplete.css)
#: come out as they would unbundled.
_AS_IF_AT = f"../{ENTRY}"
_MODULE_URL = "__qacModuleUrl"

_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./([\w.-]+\.js)";?[ \t]*$', re.M)
_REEXPORT = re.compile(r'^export\s*\{([^}]*)\}\s*from\s*"\./([\w.-]+\.js)";?[ \t]*$', re.M)
_EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\};?[ \t]*$", re.M)
_EXPORT_DECL = re.compile(
    r"^export\s+((?:async\s+)?function\*?|class|const|let|var)\s+([\w$]+)", re.M
)
_LEFTOVER = re.compile(r"^\s*(import|export)\b(?!\.meta)|\bimport\s*\(", re.M)
_NAME = re.compile(r"[A-Za-z_$][\w$]*")


class BundleError(Exception):
    """The sources use syntax this bundler does not handle, or disagree with package.json."""


@dataclass
class Module:
    name: str
    body: str
    imports: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    exports: list[tuple[str, str]] = field(default_factory=list)  # (exported name, expression)


def _names(spec: str, where: str) -> list[tuple[str, str]]:
    """`a, b as c` -> [("a", "a"), ("b", "c")] (name in the other module, name here)."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        pieces = part.split()
        if len(pieces) == 1:
            pieces = [pieces[0], "as", pieces[0]]
        if len(pieces) != 3 or pieces[1] != "as" or not all(map(_NAME.fullmatch, pieces[::2])):
            raise BundleError(f"{where}: cannot read the import/export list item {part!r}")
        out.append((pieces[0], pieces[2]))
    return out


def parse_module(name: str, source: str) -> Module:
    """One module's imports, exports and body (import/export statements taken out)."""
    module = Module(name, source)

    def take_import(m: re.Match[str]) -> str:
        module.imports.append((m.group(2), _names(m.group(1), name)))
        return ""

    def take_reexport(m: re.Match[str]) -> str:
        other = _var(m.group(2))
        for theirs, ours in _names(m.group(1), name):
            module.exports.append((ours, f"{other}.{theirs}"))
        module.imports.append((m.group(2), []))
        return ""

    def take_list(m: re.Match[str]) -> str:
        module.exports.extend((ours, mine) for mine, ours in _names(m.group(1), name))
        return ""

    def take_decl(m: re.Match[str]) -> str:
        module.exports.append((m.group(2), m.group(2)))
        return f"{m.group(1)} {m.group(2)}"

    body = _IMPORT.sub(take_import, source)
    body = _REEXPORT.sub(take_reexport, body)
    body = _EXPORT_LIST.sub(take_list, body)
    body = _EXPORT_DECL.sub(take_decl, body)
    leftover = _LEFTOVER.search(body)
    if leftover:
        line = body.count("\n", 0, leftover.start()) + 1
        raise BundleError(
            f"{name}: unsupported module syntax near body line {line}: "
            f"{body[leftover.start() : leftover.start() + 40]!r} (only named imports and "
            "exports between files of web_demo/ are bundled)"
        )
    module.body = body.replace("import.meta.url", _MODULE_URL)
    return module


def _var(file_name: str) -> str:
    return "__qac_" + re.sub(r"\W", "_", file_name.removesuffix(".js"))


def load_modules(src: Path, entry: str = ENTRY) -> list[Module]:
    """The modules reachable from `entry`, each after the modules it imports."""
    order: list[Module] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise BundleError(f"import cycle: {' -> '.join((*chain, name))}")
        path = src / name
        if not path.is_file():
            raise BundleError(f"{chain[-1] if chain else 'entry'} imports missing {path}")
        state[name] = "visiting"
        module = parse_module(name, path.read_text(encoding="utf-8"))
        for dep, _ in module.imports:
            visit(dep, (*chain, name))
        state[name] = "done"
        order.append(module)

    visit(entry, ())
    return order


def _wrap(module: Module) -> str:
    lines = [f"const {_var(module.name)} = (() => {{"]
    for dep, names in module.imports:
        if names:
            fields = ", ".join(t if t == o else f"{t}: {o}" for t, o in names)
            lines.append(f"const {{ {fields} }} = {_var(dep)};")
    lines.append(module.body.strip("\n"))
    fields = ", ".join(e if e == x else f"{e}: {x}" for e, x in module.exports)
    lines.append(f"return Object.freeze({{ {fields} }});")
    lines.append("})();")
    return "\n".join(lines)


def bundle_source(modules: list[Module], flavour: str, css_name: str, banner: str) -> str:
    """The unminified bundle: `flavour` "module" (ES module) or "global" (classic script)."""
    entry = modules[-1]
    code = "\n".join(_wrap(m) for m in modules)
    css_ref = f'"./{STYLESHEET}"'
    if code.count(css_ref) != 1:
        raise BundleError(f"expected one reference to {css_ref} in the modules")
    code = code.replace(css_ref, f'"./{DIST}/{css_name}"')
    if flavour == "module":
        names = ", ".join(e for e, _ in entry.exports)
        return (
            f"{banner}\nconst {_MODULE_URL} = new URL({_AS_IF_AT!r}, import.meta.url).href;\n"
            f"{code}\nexport const {{ {names} }} = {_var(entry.name)};\n"
        )
    if flavour == "global":
        # document.currentScript is only set while the script first runs: read it at once.
        return (
            f'{banner}\n(function () {{\n"use strict";\n'
            f"const __qacScript = document.currentScript;\n"
            f"const {_MODULE_URL} = new URL({_AS_IF_AT!r}, "
            f"(__qacScript && __qacScript.src) || location.href).href;\n"
            f"{code}\nglobalThis.{GLOBAL_NAME} = {_var(entry.name)};\n}})();\n"
        )
    raise ValueError(f"flavour must be 'module' or 'global', got {flavour!r}")


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _version(src: Path) -> str:
    version = str(json.loads((src / "package.json").read_text(encoding="utf-8"))["version"])
    found = re.search(r'export const VERSION = "([^"]+)";', (src / "options.js").read_text())
    if found is None or found.group(1) != version:
        raise BundleError(
            f"options.js VERSION ({found.group(1) if found else 'missing'}) must equal "
            f"package.json's version ({version})"
        )
    return version


def build(src: Path = WEB_DEMO, out: Path | None = None) -> dict[str, object]:
    """Write the bundles of the widget in `src` to `out` (default `src`/dist, emptied first);
    return the manifest."""
    out = src / DIST if out is None else out
    version = _version(src)
    stem = f"autocomplete-{version}"
    banner = f"/*! session-qac widget {version} | Apache-2.0 | built by scripts/build_widget.py */"
    modules = load_modules(src)
    css = rcssmin.cssmin((src / STYLESHEET).read_text(encoding="utf-8")).encode()
    css_name = hashed_name(stem, hashlib.sha256(css).hexdigest(), ".min.css")
    files = {css_name: css}
    names = {"css": css_name}
    for flavour, suffix in (("module", ".min.js"), ("global", ".global.min.js")):
        source = bundle_source(modules, flavour, css_name, banner)
        data = (rjsmin.jsmin(source, keep_bang_comments=True).strip() + "\n").encode()
        name = hashed_name(stem, hashlib.sha256(data).hexdigest(), suffix)
        files[name] = data
        names[flavour] = name
    sources = [m.name for m in modules] + [STYLESHEET, "package.json"]
    manifest: dict[str, object] = {
        "version": version,
        **names,
        "global_name": GLOBAL_NAME,
        "integrity": {name: _sri(data) for name, data in sorted(files.items())},
        "sources": {
            name: hashlib.sha256((src / name).read_bytes()).hexdigest() for name in sorted(sources)
        },
    }
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def differences(src: Path = WEB_DEMO) -> list[str]:
    """What differs between `src`/dist and a fresh build of `src` (empty: up to date)."""
    shipped = src / DIST
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / DIST
        build(src, fresh)
        want = {p.name: p.read_bytes() for p in fresh.iterdir()}
    have = {p.name: p.read_bytes() for p in shipped.iterdir()} if shipped.is_dir() else {}
    out = [f"missing {n}" for n in sorted(want.keys() - have.keys())]
    out += [f"stale {n}" for n in sorted(have.keys() - want.keys())]
    out += [f"differs {n}" for n in sorted(want.keys() & have.keys()) if want[n] != have[n]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check dist/ is up to date")
    args = parser.parse_args(argv)
    try:
        if args.check:
            diff = differences()
            if diff:
                print("web_demo/dist/ is out of date; run `make widget`:", *diff, sep="\n  ")
                return 1
            print("web_demo/dist/ is up to date")
            return 0
        manifest = build()
    except BundleError as exc:
        print(f"build_widget: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: manifest[k] for k in ("module", "global", "css")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
