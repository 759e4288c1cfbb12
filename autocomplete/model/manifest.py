"""The manifest of an index directory: what it must hold, and how a verified one is named.

`manifest.json` carries the format name and version, the index version, the model, the label
count, the build parameters and statistics, each matrix's shape, and every file's sha256 and
size. `check_manifest` type-checks every field, so a hostile or damaged manifest cannot crash
the loader; `check_file_name` keeps every listed name a plain name inside the directory.
`index_fingerprint` names a verified index by stat() data alone (see `artifact.IndexFiles`).

Format versions: 1, the first; 2, queries and prefixes fold accents and letter widths
(`indexer.text`); 3, the blend weights and the XR-Linear featuriser carry their own versioned
files (`weights.BlendWeights`, `featurizer.Featurizer`) and the XR-Linear model no longer
stores blend weights of its own.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

from .errors import IndexFormatError

FORMAT_NAME = "session-qac-index"
FORMAT_VERSION = 3
#: Why an older index cannot be served as it is, by its format version.
_OUTDATED = {
    1: "it was built before accents and full-width letters were folded, so what users type "
    "would not match its accented labels",
    2: "its blend weights and XR-Linear files predate the one blend over the model's raw features",
}
MANIFEST = "manifest.json"
#: What an index file name may look like: the characters the writer uses, no leading dot.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def index_fingerprint(manifest_bytes: bytes, stats: Mapping[str, os.stat_result]) -> str:
    """What identifies a verified index without reading its files: a sha256 over the manifest
    bytes and each listed file's size, device, inode, mtime and ctime (nanoseconds).

    A rewrite in place moves mtime and ctime (ctime cannot be set back from user space), a
    replacement or rename moves the inode, and the manifest carries every checksum, so equal
    fingerprints mean the files a process maps are those another process hashed.
    """
    h = hashlib.sha256(manifest_bytes)
    for name in sorted(stats):
        st = stats[name]
        h.update(
            f"\0{name}\0{st.st_size}:{st.st_dev}:{st.st_ino}:"
            f"{st.st_mtime_ns}:{st.st_ctime_ns}".encode()
        )
    return h.hexdigest()


def is_fingerprint(value: str) -> bool:
    """Whether `value` has the form of an `index_fingerprint` (64 lowercase hex digits)."""
    return _SHA256_HEX.fullmatch(value) is not None


def check_file_name(name: object, what: str) -> str:
    """`name` if it is a plain file name that stays inside the index directory.

    The manifest decides which files are opened, so a name must not reach elsewhere: no
    path separator, no `..`, not absolute, no leading dot (the writer's temporary files
    and nothing it lists), not the manifest itself.
    """
    if not isinstance(name, str) or not name:
        raise IndexFormatError(f"{what} {name!r}: must be a non-empty string")
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        raise IndexFormatError(f"{what} {name!r}: absolute paths are not allowed")
    if "/" in name or "\\" in name:
        raise IndexFormatError(f"{what} {name!r}: path separators are not allowed")
    if ".." in name:
        raise IndexFormatError(f"{what} {name!r}: '..' is not allowed")
    if name.startswith("."):
        raise IndexFormatError(f"{what} {name!r}: a leading dot is not allowed")
    if _PLAIN_NAME.fullmatch(name) is None:
        raise IndexFormatError(
            f"{what} {name!r}: only letters, digits, '_', '.' and '-' are allowed (at most 255)"
        )
    if name == MANIFEST:
        raise IndexFormatError(f"{what} {name!r}: the manifest cannot list itself")
    return name


def check_manifest(manifest: object, where: Path) -> dict[str, Any]:
    """`manifest` if every field has its type; `IndexFormatError` naming the first that has not.

    Required: format, format_version, index_version (str), model (str), label_count (int >= 0),
    files ({name: {"sha256": 64 hex digits, "bytes": int >= 0}}). Optional: created (str),
    build_params and stats (objects), matrices ({name: [rows, cols]}, each matrix's three
    arrays listed in files). Unknown fields are kept, for newer writers of the same version.
    """
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{where}: not a {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if not _is_int(version) or version != FORMAT_VERSION:
        why = _OUTDATED.get(version) if _is_int(version) else None
        raise IndexFormatError(
            f"{where}: format version {version!r}, this build reads "
            f"{FORMAT_VERSION}{f' ({why})' if why else ''}; rebuild the index with this "
            "version (autocomplete build-index)"
        )
    for key in ("index_version", "model"):
        if not isinstance(manifest.get(key), str):
            raise IndexFormatError(_wrong(where, key, "a string", manifest.get(key)))
    if not _is_int(manifest.get("label_count")) or manifest["label_count"] < 0:
        raise IndexFormatError(
            _wrong(where, "label_count", "an integer >= 0", manifest.get("label_count"))
        )
    if "created" in manifest and not isinstance(manifest["created"], str):
        raise IndexFormatError(_wrong(where, "created", "a string", manifest["created"]))
    for key in ("build_params", "stats", "matrices"):
        if key in manifest and not isinstance(manifest[key], dict):
            raise IndexFormatError(_wrong(where, key, "an object", manifest[key]))
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexFormatError(_wrong(where, "files", "an object of file entries", files))
    for name, meta in files.items():
        check_file_name(name, f"{where}: file name")
        if not isinstance(meta, dict):
            raise IndexFormatError(
                _wrong(where, f"files[{name!r}]", 'an object {"sha256", "bytes"}', meta)
            )
        sha = meta.get("sha256")
        if not isinstance(sha, str) or _SHA256_HEX.fullmatch(sha) is None:
            raise IndexFormatError(
                _wrong(where, f"files[{name!r}].sha256", "64 lowercase hex digits", sha)
            )
        size = meta.get("bytes")
        if not _is_int(size) or size < 0:
            raise IndexFormatError(_wrong(where, f"files[{name!r}].bytes", "an integer >= 0", size))
    for name, shape in manifest.get("matrices", {}).items():
        if not (
            isinstance(shape, list)
            and len(shape) == 2
            and all(_is_int(n) and n >= 0 for n in shape)
        ):
            raise IndexFormatError(
                _wrong(where, f"matrices[{name!r}]", "[rows, cols] (integers >= 0)", shape)
            )
        for part in ("data", "indices", "indptr"):
            if f"{name}.{part}.npy" not in files:
                raise IndexFormatError(
                    f"{where}: matrix {name!r} needs {name}.{part}.npy, which files does not list"
                )
    return manifest


def _is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool (JSON `true` loads as a Python int subclass)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _wrong(where: Path, key: str, expected: str, got: object) -> str:
    shown = repr(got)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{where}: {key} must be {expected}, got {type(got).__name__} {shown}"
