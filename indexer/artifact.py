"""The index directory format: a manifest plus mmap-able files, checked at load.

Layout of an index directory:
    manifest.json   format name + version, build parameters, label count, per-file sha256
    *.marisa        marisa-tries (loaded with mmap)
    *.npy           numpy arrays (loaded with mmap_mode="r")
A sparse matrix NAME is stored as NAME.data.npy / NAME.indices.npy / NAME.indptr.npy with
its shape in the manifest, so it too is mmap'd and N server workers share one page-cache copy
(scipy's .npz cannot be mmap'd).

Writes go to a temporary sibling directory renamed into place, so a reader never sees half an
index; loading verifies every checksum and fails with `IndexFormatError`, never garbage.

The manifest is input like any other: every field is type-checked, and a file name is a plain
name inside the directory (no separators, no `..`, no leading dot, no symlink leading out), so
a hostile or damaged manifest can neither open files elsewhere nor crash the loader.

Reading every byte to check checksums is the slow part of loading, so a process that has
verified an index can hand a *fingerprint* to processes mapping the same files (the server's
workers): a hash of the manifest bytes and each file's size, inode and times, which a worker
recomputes from stat() calls alone and compares. Any write, replacement or rename after the
verification changes the fingerprint; only a same-size write within the file system's
timestamp granularity (milliseconds) of the file's previous change could go unseen.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import marisa_trie
import numpy as np
import scipy.sparse as sp

from .errors import IndexFormatError

FORMAT_NAME = "session-qac-index"
#: 2: queries and prefixes fold accents and letter widths (`indexer.text`); the labels of a
#: version 1 index are not folded, so unaccented typing would miss its accented labels.
FORMAT_VERSION = 2
#: Why an older index cannot be served as it is, by its format version.
_OUTDATED = {
    1: "it was built before accents and full-width letters were folded, so what users type "
    "would not match its accented labels",
}
MANIFEST = "manifest.json"
#: What an index file name may look like: the characters the writer uses, no leading dot.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class IndexWriter:
    """Collects arrays, tries and matrices, then writes them atomically with a manifest."""

    out_dir: Path
    _tmp: Path = field(init=False)
    _shapes: dict[str, list[int]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.", dir=self.out_dir.parent))

    def array(self, name: str, arr: np.ndarray) -> None:
        np.save(self._file(f"{name}.npy"), np.ascontiguousarray(arr), allow_pickle=False)

    def trie(self, name: str, trie: marisa_trie.Trie) -> None:
        trie.save(str(self._file(f"{name}.marisa")))

    def matrix(self, name: str, m: sp.csr_matrix) -> None:
        m = sp.csr_matrix(m)
        m.sort_indices()
        self.array(f"{name}.data", m.data.astype(np.float32))
        self.array(f"{name}.indices", m.indices.astype(np.int32))
        self.array(f"{name}.indptr", m.indptr.astype(np.int64))
        self._shapes[name] = [int(m.shape[0]), int(m.shape[1])]

    def json(self, name: str, obj: Any) -> None:
        self._file(f"{name}.json").write_text(json.dumps(obj, indent=1, sort_keys=True))

    def _file(self, fname: str) -> Path:
        """Where `fname` goes; a name the reader would refuse is refused here, before writing."""
        check_file_name(fname, f"{self.out_dir}: file name")
        return self._tmp / fname

    def commit(
        self,
        *,
        model: str,
        label_count: int,
        build_params: dict[str, Any],
        stats: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Checksum everything, write the manifest, swap the directory into place."""
        files = {
            p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
            for p in sorted(self._tmp.iterdir())
        }
        digest = hashlib.sha256(
            "".join(f"{k}:{v['sha256']}" for k, v in files.items()).encode()
        ).hexdigest()
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "index_version": f"{model}-{digest[:12]}",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": model,
            "label_count": int(label_count),
            "build_params": build_params,
            "matrices": self._shapes,
            "files": files,
            "stats": stats or {},
        }
        (self._tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        old = None
        if self.out_dir.exists():
            old = self.out_dir.with_name(f".{self.out_dir.name}.old-{os.getpid()}")
            self.out_dir.rename(old)
        self._tmp.rename(self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return manifest

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


class IndexFiles:
    """A verified, read-only view of an index directory; arrays come back mmap'd.

    expect_fingerprint: None (default) verifies every file's sha256, reading every byte. A
        `fingerprint` from a process that did verify this index instead checks, by stat()
        calls only, that the manifest and files are still the ones it verified (for the
        server's workers); a difference raises `IndexFormatError`.

    After loading, `fingerprint` is the fingerprint of the files as verified.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, expect_fingerprint: str | None = None
    ) -> None:
        self.path = Path(path)
        mpath = self.path / MANIFEST
        if not self.path.is_dir():
            raise IndexFormatError(f"{self.path}: not an index directory")
        raw = self._read_manifest()
        try:
            manifest = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise IndexFormatError(f"{mpath}: manifest is not valid JSON ({exc})") from None
        self.manifest: dict[str, Any] = check_manifest(manifest, mpath)
        stats = self._stat_files()
        fingerprint = index_fingerprint(raw, stats)
        if expect_fingerprint is None:
            for name, meta in self.manifest["files"].items():
                if _sha256(self.path / name) != meta["sha256"]:
                    raise IndexFormatError(
                        f"{self.path / name}: checksum mismatch; the file is corrupt"
                    )
            if index_fingerprint(self._read_manifest(), self._stat_files()) != fingerprint:
                raise IndexFormatError(
                    f"{self.path}: the index changed while its checksums were being verified; "
                    "load it again once it is complete"
                )
        elif fingerprint != expect_fingerprint:
            raise IndexFormatError(_changed(self.path))
        self.fingerprint = fingerprint

    def check_unchanged(self) -> None:
        """Raise `IndexFormatError` unless the files are still those verified (stat() only).

        Called once everything is mapped, so a file replaced between the check at load and
        its mapping is caught too.
        """
        if index_fingerprint(self._read_manifest(), self._stat_files()) != self.fingerprint:
            raise IndexFormatError(_changed(self.path))

    def _read_manifest(self) -> bytes:
        mpath = self.path / MANIFEST
        try:
            return mpath.read_bytes()
        except FileNotFoundError:
            raise IndexFormatError(f"{self.path}: no {MANIFEST}; not an index directory") from None
        except OSError as exc:
            raise IndexFormatError(f"{mpath}: cannot read the manifest ({exc})") from None

    def _stat_files(self) -> dict[str, os.stat_result]:
        """Each listed file's stat, after checking it is a regular file of the listed size
        that resolves inside the index directory (symlinks included)."""
        root = self.path.resolve()
        stats = {}
        for name, meta in self.manifest["files"].items():
            f = self.path / name
            try:
                real = f.resolve()
            except (OSError, RuntimeError) as exc:  # 3.11 reports a symlink loop as RuntimeError
                raise IndexFormatError(f"{f}: cannot resolve ({exc})") from None
            if not real.is_relative_to(root):
                raise IndexFormatError(
                    f"{self.path}: file {name} resolves to {real}, outside the index directory"
                )
            try:
                st = f.stat()
            except FileNotFoundError:
                raise IndexFormatError(f"{self.path}: missing file {name}") from None
            except OSError as exc:
                raise IndexFormatError(f"{f}: cannot read ({exc})") from None
            if not stat.S_ISREG(st.st_mode):
                raise IndexFormatError(f"{f}: not a regular file")
            if st.st_size != meta["bytes"]:
                raise IndexFormatError(f"{f}: size {st.st_size}, manifest says {meta['bytes']}")
            stats[name] = st
        return stats

    def amend(self, name: str, obj: Any, stats: dict[str, Any] | None = None) -> None:
        """Add a JSON file to a committed index and re-seal the manifest (atomic replace).

        Used for what can only be computed from the loaded index, such as blend weights fitted
        by the runtime ranker on the dev split. The index version changes with the content.
        """
        fname = f"{name}.json"
        check_file_name(fname, f"{self.path}: file name")
        path = self.path / fname
        tmp = self.path / f".{fname}.tmp"
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
        os.replace(tmp, path)
        m = dict(self.manifest)
        m["files"] = {**m["files"], fname: {"sha256": _sha256(path), "bytes": path.stat().st_size}}
        m["stats"] = {**m.get("stats", {}), **(stats or {})}
        digest = hashlib.sha256(
            "".join(f"{k}:{v['sha256']}" for k, v in sorted(m["files"].items())).encode()
        ).hexdigest()
        m["index_version"] = f"{m['model']}-{digest[:12]}"
        mtmp = self.path / f".{MANIFEST}.tmp"
        mtmp.write_text(json.dumps(m, indent=1, sort_keys=True))
        os.replace(mtmp, self.path / MANIFEST)
        self.manifest = m
        self.fingerprint = index_fingerprint(self._read_manifest(), self._stat_files())

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def version(self) -> str:
        return str(self.manifest["index_version"])

    def _need(self, fname: str) -> Path:
        """The path of a file the manifest lists: only those had their names checked."""
        if fname not in self.manifest["files"]:
            raise IndexFormatError(f"{self.path}: index has no {fname} (model {self.model!r})")
        return self.path / fname

    def has(self, name: str) -> bool:
        files = self.manifest["files"]
        return any(
            n in files
            for n in (f"{name}.npy", f"{name}.marisa", f"{name}.json", f"{name}.data.npy")
        )

    def array(self, name: str) -> np.ndarray:
        try:
            return np.load(self._need(f"{name}.npy"), mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise IndexFormatError(f"{self.path}/{name}.npy: {exc}") from None

    def trie(self, name: str) -> marisa_trie.Trie:
        t = marisa_trie.Trie()
        try:
            t.mmap(str(self._need(f"{name}.marisa")))
        except Exception as exc:  # marisa raises bare Exception subclasses on bad files
            raise IndexFormatError(f"{self.path}/{name}.marisa: {exc}") from None
        return t

    def matrix(self, name: str) -> sp.csr_matrix:
        shape = self.manifest.get("matrices", {}).get(name)
        if shape is None:
            raise IndexFormatError(f"{self.path}: index has no matrix {name}")
        data, indices, indptr = (self.array(f"{name}.{p}") for p in ("data", "indices", "indptr"))
        if indptr.shape[0] != shape[0] + 1 or data.shape != indices.shape:
            raise IndexFormatError(f"{self.path}: matrix {name} arrays disagree with shape {shape}")
        return sp.csr_matrix((data, indices, indptr), shape=tuple(shape), copy=False)

    def json(self, name: str) -> Any:
        return json.loads(self._need(f"{name}.json").read_text())


def _changed(path: Path) -> str:
    return (
        f"{path}: the index changed after it was verified (the manifest, or a file's size, "
        "inode or times differ); restart `autocomplete serve` to verify it again"
    )


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
