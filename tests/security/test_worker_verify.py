"""Workers trust the supervisor's verification only for the files it verified.

`autocomplete serve` checks every sha256 once and hands its workers the index fingerprint; a
worker recomputes it from stat() calls and refuses to start if anything changed in between.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import autocomplete.model.artifact
from autocomplete.loader import load_index
from autocomplete.model.artifact import IndexFiles
from autocomplete.model.errors import IndexFormatError
from autocomplete.server.app import app_from_env
from autocomplete.server.config import ServerConfig
from autocomplete.server.errors import ConfigError
from autocomplete.server.runner import worker_config

#: A time long past, so a write now gives a file a different mtime whatever the clock's grain.
_LONG_AGO_NS = 1_000_000_000 * 1_000_000_000


@pytest.fixture
def index(mpc_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of a real index whose files were last written long ago."""
    out = tmp_path / "idx"
    shutil.copytree(mpc_index_dir, out)
    for path in out.iterdir():
        os.utime(path, ns=(_LONG_AGO_NS, _LONG_AGO_NS))
    return out


def supervisor_env(index: Path) -> dict[str, str]:
    """What `autocomplete serve --workers N` puts in the workers' environment."""
    verified = load_index(index)
    return worker_config(ServerConfig(index=str(index), workers=2), verified).to_env()


def flip_a_byte_in_place(path: Path) -> None:
    """Same size, same inode: what a size check alone cannot see."""
    with open(path, "r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0xFF]))


def test_an_unchanged_index_starts_a_worker(index: Path, monkeypatch) -> None:
    env = supervisor_env(index)
    monkeypatch.setattr(os, "environ", env)
    app = app_from_env()
    assert app.state.server is not None


def test_a_file_tampered_with_after_verification_is_refused(index: Path, monkeypatch) -> None:
    env = supervisor_env(index)
    flip_a_byte_in_place(index / "labels_counts.npy")
    monkeypatch.setattr(os, "environ", env)
    with pytest.raises(IndexFormatError, match="changed after it was verified"):
        app_from_env()


def test_a_file_replaced_by_an_identical_copy_is_refused(index: Path) -> None:
    """A new inode is a file nobody hashed, even with the same size and mtime."""
    env = supervisor_env(index)
    target = index / "labels.marisa"
    shutil.copy2(target, index / "copy.tmp")
    os.replace(index / "copy.tmp", target)
    with pytest.raises(IndexFormatError, match="changed after it was verified"):
        load_index(index, expect_fingerprint=env["QAC_INDEX_FINGERPRINT"])


def test_an_edited_manifest_is_refused(index: Path) -> None:
    env = supervisor_env(index)
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["stats"]["note"] = "edited"
    (index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="changed after it was verified"):
        load_index(index, expect_fingerprint=env["QAC_INDEX_FINGERPRINT"])


def test_a_worker_checks_the_fingerprint_without_reading_file_contents(
    index: Path, monkeypatch
) -> None:
    fingerprint = IndexFiles(index).fingerprint

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"a worker hashed {path}")

    monkeypatch.setattr(autocomplete.model.artifact, "_sha256", no_hashing)
    assert load_index(index, expect_fingerprint=fingerprint).files.fingerprint == fingerprint


def test_a_worker_without_a_fingerprint_verifies_every_checksum(index: Path, monkeypatch) -> None:
    flip_a_byte_in_place(index / "labels_counts.npy")
    monkeypatch.setattr(os, "environ", {"QAC_INDEX": str(index)})
    with pytest.raises(IndexFormatError, match="checksum mismatch"):
        app_from_env()


def test_a_file_changed_while_the_supervisor_hashes_is_refused(index: Path, monkeypatch) -> None:
    real_sha256 = autocomplete.model.artifact._sha256

    def tamper_then_hash(path: Path) -> str:
        digest = real_sha256(path)
        if path.name == "labels_counts.npy":
            flip_a_byte_in_place(path)  # after its hash was taken: the hash looks right
        return digest

    monkeypatch.setattr(autocomplete.model.artifact, "_sha256", tamper_then_hash)
    with pytest.raises(IndexFormatError, match="changed while its checksums were being verified"):
        load_index(index)


def test_the_supervisor_hands_workers_the_fingerprint_it_verified(index: Path) -> None:
    env = supervisor_env(index)
    assert env["QAC_INDEX_FINGERPRINT"] == IndexFiles(index).fingerprint
    assert ServerConfig.from_env(env).index_fingerprint == env["QAC_INDEX_FINGERPRINT"]


@pytest.mark.parametrize("raw", ["abc", "G" * 64, "A" * 64])
def test_a_malformed_fingerprint_setting_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="QAC_INDEX_FINGERPRINT"):
        ServerConfig.from_env({"QAC_INDEX": "idx", "QAC_INDEX_FINGERPRINT": raw})


def test_an_empty_fingerprint_setting_means_full_verification() -> None:
    config = ServerConfig.from_env({"QAC_INDEX": "idx", "QAC_INDEX_FINGERPRINT": ""})
    assert config.index_fingerprint is None
    assert ServerConfig.from_env(config.to_env()) == config
