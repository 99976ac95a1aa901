"""Atomic file output: a killed stage never leaves a half-written file for DVC to cache.

The temporary siblings are `.<name>.<pid>.<random>.tmp` (git-ignored, like `.<name>.old`);
the next write of the same output removes those whose process is gone, so a killed stage's
leftovers last only until the stage runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def remove_stale(path: str | Path) -> list[Path]:
    """Remove the temporary siblings of `path` that killed writers left: those of a process
    that is gone (or of the format before the pid was in the name), and `.<name>.old` (a
    kill between atomic_dir's two renames). Returns what it removed."""
    path = Path(path)
    removed = []
    # `.<name>.<pid>.<random>.tmp`, or the older `.<name>.<random>.tmp` (mkstemp's random
    # part has no dot, so another output's `.<name>.json.<pid>.<random>.tmp` never matches)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?[^.]+\.tmp")
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        match = pattern.fullmatch(tmp.name)
        if match and (match[1] is None or not process_alive(int(match[1]))):
            _remove(tmp)
            removed.append(tmp)
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        _remove(old)
        removed.append(old)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether process `pid` of this machine still runs (another user's counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o644)  # mkstemp makes files private; outputs are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; swap it in for `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                dir=path.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    # numpy scalars and paths show up in metrics; write them as plain JSON values
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (e.g. a model's weights: the key between a training run and
    its evaluation)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
