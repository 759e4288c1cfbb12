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
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marisa_trie
import numpy as np
import scipy.sparse as sp

from .errors import IndexFormatError

FORMAT_NAME = "session-qac-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


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
        np.save(self._tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)

    def trie(self, name: str, trie: marisa_trie.Trie) -> None:
        trie.save(str(self._tmp / f"{name}.marisa"))

    def matrix(self, name: str, m: sp.csr_matrix) -> None:
        m = sp.csr_matrix(m)
        m.sort_indices()
        self.array(f"{name}.data", m.data.astype(np.float32))
        self.array(f"{name}.indices", m.indices.astype(np.int32))
        self.array(f"{name}.indptr", m.indptr.astype(np.int64))
        self._shapes[name] = [int(m.shape[0]), int(m.shape[1])]

    def json(self, name: str, obj: Any) -> None:
        (self._tmp / f"{name}.json").write_text(json.dumps(obj, indent=1, sort_keys=True))

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
    """A verified, read-only view of an index directory; arrays come back mmap'd."""

    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True) -> None:
        self.path = Path(path)
        mpath = self.path / MANIFEST
        if not self.path.is_dir():
            raise IndexFormatError(f"{self.path}: not an index directory")
        try:
            manifest = json.loads(mpath.read_text())
        except FileNotFoundError:
            raise IndexFormatError(f"{self.path}: no {MANIFEST}; not an index directory") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise IndexFormatError(f"{mpath}: manifest is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise IndexFormatError(f"{mpath}: not a {FORMAT_NAME} manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(
                f"{mpath}: format version {manifest.get('format_version')!r}, this build reads "
                f"{FORMAT_VERSION}; rebuild the index with this version"
            )
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise IndexFormatError(f"{mpath}: manifest lists no files")
        for name, meta in files.items():
            f = self.path / name
            if not f.is_file():
                raise IndexFormatError(f"{self.path}: missing file {name}")
            if f.stat().st_size != meta.get("bytes"):
                raise IndexFormatError(
                    f"{f}: size {f.stat().st_size}, manifest says {meta.get('bytes')}"
                )
            if verify and _sha256(f) != meta.get("sha256"):
                raise IndexFormatError(f"{f}: checksum mismatch; the file is corrupt")
        self.manifest: dict[str, Any] = manifest

    def amend(self, name: str, obj: Any, stats: dict[str, Any] | None = None) -> None:
        """Add a JSON file to a committed index and re-seal the manifest (atomic replace).

        Used for what can only be computed from the loaded index, such as blend weights fitted
        by the runtime ranker on the dev split. The index version changes with the content.
        """
        fname = f"{name}.json"
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

    @property
    def model(self) -> str:
        return str(self.manifest["model"])

    @property
    def version(self) -> str:
        return str(self.manifest["index_version"])

    def _need(self, fname: str) -> Path:
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
