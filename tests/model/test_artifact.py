import json
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.manifest import FORMAT_VERSION


def _write(path):
    w = IndexWriter(path)
    w.array("ids", np.arange(5, dtype=np.int32))
    w.matrix("m", sp.csr_matrix(np.array([[0, 1.5], [2.0, 0]], dtype=np.float32)))
    w.json("meta", {"a": 1})
    return w.commit(model="mpc", label_count=5, build_params={"min_count": 1})


def test_round_trip_gives_back_mmapped_arrays_and_matrices(tmp_path):
    m = _write(tmp_path / "idx")
    f = IndexFiles(tmp_path / "idx")
    ids = f.array("ids")
    assert isinstance(ids, np.memmap) and ids.tolist() == [0, 1, 2, 3, 4]
    assert f.matrix("m").toarray().tolist() == [[0, 1.5], [2.0, 0]]
    assert f.json("meta") == {"a": 1}
    assert f.version == m["index_version"] and f.version.startswith("mpc-")
    assert f.manifest["label_count"] == 5 and f.manifest["build_params"] == {"min_count": 1}


def test_rewriting_replaces_the_directory_atomically(tmp_path):
    _write(tmp_path / "idx")
    _write(tmp_path / "idx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_flipped_byte_is_a_checksum_error(tmp_path):
    _write(tmp_path / "idx")
    p = tmp_path / "idx" / "ids.npy"
    b = bytearray(p.read_bytes())
    b[-1] ^= 0xFF
    p.write_bytes(bytes(b))
    with pytest.raises(IndexFormatError, match="checksum mismatch"):
        IndexFiles(tmp_path / "idx")


def test_truncated_file_is_a_size_error(tmp_path):
    _write(tmp_path / "idx")
    p = tmp_path / "idx" / "ids.npy"
    p.write_bytes(p.read_bytes()[:-4])
    with pytest.raises(IndexFormatError, match="size"):
        IndexFiles(tmp_path / "idx")


def test_missing_file_is_named(tmp_path):
    _write(tmp_path / "idx")
    (tmp_path / "idx" / "meta.json").unlink()
    with pytest.raises(IndexFormatError, match="missing file meta.json"):
        IndexFiles(tmp_path / "idx")


def test_other_format_version_is_refused_with_advice(tmp_path):
    _write(tmp_path / "idx")
    mp = tmp_path / "idx" / "manifest.json"
    m = json.loads(mp.read_text())
    m["format_version"] = FORMAT_VERSION + 1
    mp.write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match="rebuild"):
        IndexFiles(tmp_path / "idx")


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": "other"}'])
def test_garbage_manifest_is_refused(tmp_path, content):
    _write(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text(content)
    with pytest.raises(IndexFormatError):
        IndexFiles(tmp_path / "idx")


def test_not_a_directory_is_refused(tmp_path):
    with pytest.raises(IndexFormatError, match="not an index directory"):
        IndexFiles(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError, match="no manifest.json"):
        IndexFiles(tmp_path / "empty")


def test_loading_a_corrupt_label_trie_fails_clearly(mpc_index_dir, tmp_path):
    from autocomplete.loader import load_index

    bad = tmp_path / "bad"
    shutil.copytree(mpc_index_dir, bad)
    trie = bad / "labels.marisa"
    data = bytearray(trie.read_bytes())
    data[len(data) // 2] ^= 0x55
    trie.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="labels.marisa"):
        load_index(bad)


def test_an_index_reached_through_a_symlinked_directory_loads(tmp_path):
    """Deployments swap a `current` symlink between index directories; that path must load."""
    _write(tmp_path / "idx-v1")
    (tmp_path / "current").symlink_to(tmp_path / "idx-v1")
    assert IndexFiles(tmp_path / "current").array("ids").tolist() == [0, 1, 2, 3, 4]


def test_a_symlink_between_files_of_the_same_index_loads(tmp_path):
    _write(tmp_path / "idx")
    ids = tmp_path / "idx" / "ids.npy"
    ids.rename(tmp_path / "idx" / "ids-real.npy")
    ids.symlink_to("ids-real.npy")
    assert IndexFiles(tmp_path / "idx").array("ids").tolist() == [0, 1, 2, 3, 4]


def test_the_fingerprint_is_the_same_in_every_process_that_loads_unchanged_files(tmp_path):
    _write(tmp_path / "idx")
    first = IndexFiles(tmp_path / "idx").fingerprint
    assert IndexFiles(tmp_path / "idx", expect_fingerprint=first).fingerprint == first
    assert IndexFiles(tmp_path / "idx").fingerprint == first


def test_amend_reseals_the_fingerprint(tmp_path):
    _write(tmp_path / "idx")
    files = IndexFiles(tmp_path / "idx")
    before = files.fingerprint
    files.amend("extra", {"b": 2})
    assert files.fingerprint != before
    assert IndexFiles(tmp_path / "idx").fingerprint == files.fingerprint
    files.check_unchanged()


def test_an_index_of_format_1_is_refused_saying_why_and_to_rebuild(tmp_path):
    _write(tmp_path / "idx")
    mp = tmp_path / "idx" / "manifest.json"
    m = json.loads(mp.read_text())
    m["format_version"] = 1
    mp.write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match=r"format version 1,.*accents.*rebuild the index"):
        IndexFiles(tmp_path / "idx")
