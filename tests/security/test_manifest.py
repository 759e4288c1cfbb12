"""A manifest is input: its names stay inside the index directory, its fields have their types.

Each case is one the loader once opened or crashed on: a name reaching outside the directory
(absolute, `..`, a subdirectory, a symlink), a file entry that is not an object, a field of the
wrong type. All must end in `IndexFormatError` naming the problem, never in a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.errors import IndexFormatError

SECRET = b"not part of any index\n"


@pytest.fixture
def index(tmp_path: Path) -> Path:
    w = IndexWriter(tmp_path / "idx")
    w.array("ids", np.arange(5, dtype=np.int32))
    w.matrix("m", sp.csr_matrix(np.eye(2, dtype=np.float32)))
    w.commit(model="mpc", label_count=5, build_params={"min_count": 1})
    return tmp_path / "idx"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable file next to the index directory, which no manifest may reach."""
    path = tmp_path / "secret.txt"
    path.write_bytes(SECRET)
    return path


def edit_manifest(index: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = index / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def list_file(index: Path, name: str, content: bytes) -> None:
    """Add `name` to the manifest with the checksum and size of `content`, as if verified."""
    entry = {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
    edit_manifest(index, lambda m: m["files"].__setitem__(name, entry))


def test_an_absolute_file_name_is_refused_not_opened(index: Path, outside: Path) -> None:
    list_file(index, str(outside), SECRET)
    with pytest.raises(IndexFormatError, match="absolute paths are not allowed"):
        IndexFiles(index)


def test_a_parent_directory_name_is_refused_not_opened(index: Path, outside: Path) -> None:
    list_file(index, f"../{outside.name}", SECRET)
    with pytest.raises(IndexFormatError, match="path separators are not allowed"):
        IndexFiles(index)


def test_a_bare_dot_dot_name_is_refused(index: Path) -> None:
    list_file(index, "..", b"")
    with pytest.raises(IndexFormatError, match=r"'\.\.' is not allowed"):
        IndexFiles(index)


def test_a_name_in_a_subdirectory_is_refused(index: Path) -> None:
    (index / "sub").mkdir()
    (index / "sub" / "x.npy").write_bytes(SECRET)
    list_file(index, "sub/x.npy", SECRET)
    with pytest.raises(IndexFormatError, match="path separators are not allowed"):
        IndexFiles(index)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("sub\\x.npy", "path separators are not allowed"),
        (".hidden.npy", "a leading dot is not allowed"),
        ("a..b.npy", r"'\.\.' is not allowed"),
        ("x\x00.npy", "only letters, digits"),
        ("x y.npy", "only letters, digits"),
        ("", "must be a non-empty string"),
        ("manifest.json", "the manifest cannot list itself"),
        ("x" * 300, r"at most 255"),
    ],
)
def test_a_name_that_is_not_a_plain_file_name_is_refused(
    index: Path, name: str, problem: str
) -> None:
    list_file(index, name, b"")
    with pytest.raises(IndexFormatError, match=problem):
        IndexFiles(index)


def test_a_symlink_leading_out_of_the_directory_is_refused(index: Path, outside: Path) -> None:
    os.symlink(outside, index / "link.npy")
    list_file(index, "link.npy", SECRET)
    with pytest.raises(IndexFormatError, match="outside the index directory"):
        IndexFiles(index)


def test_a_relative_symlink_climbing_out_is_refused(index: Path, outside: Path) -> None:
    os.symlink(f"../{outside.name}", index / "link.npy")
    list_file(index, "link.npy", SECRET)
    with pytest.raises(IndexFormatError, match="outside the index directory"):
        IndexFiles(index)


def test_a_listed_name_that_is_not_a_regular_file_is_refused(index: Path) -> None:
    (index / "dir.npy").mkdir()
    list_file(index, "dir.npy", b"")
    with pytest.raises(IndexFormatError, match="not a regular file"):
        IndexFiles(index)


def test_a_file_entry_that_is_not_an_object_is_refused(index: Path) -> None:
    edit_manifest(index, lambda m: m["files"].__setitem__("ids.npy", 3))
    with pytest.raises(IndexFormatError, match=r"files\['ids.npy'\] must be an object"):
        IndexFiles(index)


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        node = manifest
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda manifest: manifest.pop(key)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_set(("format_version",), 1.0), "format version 1.0"),
        (_set(("format_version",), True), "format version True"),
        (_set(("index_version",), 7), "index_version must be a string, got int"),
        (_drop("index_version"), "index_version must be a string, got NoneType"),
        (_set(("model",), ["mpc"]), "model must be a string, got list"),
        (_set(("label_count",), "5"), "label_count must be an integer >= 0, got str"),
        (_set(("label_count",), -1), "label_count must be an integer >= 0, got int -1"),
        (_set(("label_count",), True), "label_count must be an integer >= 0, got bool"),
        (_set(("label_count",), 5.0), "label_count must be an integer >= 0, got float"),
        (_set(("created",), 1700000000), "created must be a string, got int"),
        (_set(("build_params",), []), "build_params must be an object, got list"),
        (_set(("stats",), "none"), "stats must be an object, got str"),
        (_set(("files",), ["ids.npy"]), "files must be an object of file entries, got list"),
        (_drop("files"), "files must be an object of file entries, got NoneType"),
        (_set(("files", "ids.npy", "sha256"), "abc"), r"files\['ids.npy'\].sha256 must be 64"),
        (_set(("files", "ids.npy", "sha256"), 12), r"files\['ids.npy'\].sha256 must be 64"),
        (_set(("files", "ids.npy", "sha256"), "A" * 64), r"\.sha256 must be 64 lowercase hex"),
        (_set(("files", "ids.npy", "bytes"), "80"), r"files\['ids.npy'\].bytes must be an int"),
        (_set(("files", "ids.npy", "bytes"), -1), r"files\['ids.npy'\].bytes must be an int"),
        (_set(("files", "ids.npy", "bytes"), False), r"files\['ids.npy'\].bytes must be an int"),
        (_set(("matrices",), [[2, 2]]), "matrices must be an object, got list"),
        (_set(("matrices", "m"), [2]), r"matrices\['m'\] must be \[rows, cols\]"),
        (_set(("matrices", "m"), "2x2"), r"matrices\['m'\] must be \[rows, cols\]"),
        (_set(("matrices", "m"), [2, -2]), r"matrices\['m'\] must be \[rows, cols\]"),
        (_set(("matrices", "m"), [2, 2.5]), r"matrices\['m'\] must be \[rows, cols\]"),
        (_set(("matrices", "ghost"), [1, 1]), "matrix 'ghost' needs ghost.data.npy"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(
    index: Path, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    edit_manifest(index, change)
    with pytest.raises(IndexFormatError, match=problem):
        IndexFiles(index)


@pytest.mark.parametrize("name", ["../escape", "/tmp/escape", "sub/x", ".hidden"])
def test_the_writer_refuses_names_the_reader_would_refuse(tmp_path: Path, name: str) -> None:
    w = IndexWriter(tmp_path / "idx")
    try:
        with pytest.raises(IndexFormatError, match="not allowed"):
            w.array(name, np.zeros(1))
        with pytest.raises(IndexFormatError, match="not allowed"):
            w.json(name, {})
    finally:
        w.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
