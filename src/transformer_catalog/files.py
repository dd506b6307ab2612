"""The one way tcat writes files and folders.

Rules (issue 11.1): never delete or replace anything the user did not ask to replace.
- A file is written atomically: a temporary file in the same folder (created with O_EXCL|O_NOFOLLOW,
  so a planted link cannot redirect it), fsync, then os.replace. Readers never see half a file.
- An existing path is replaced only when it is a regular file: a symlink, folder, device node, fifo
  or socket at the target is refused (os.lstat: the link itself, never its target, is examined).
- A folder tcat writes into is either created by tcat (and then holds MARKER), empty, or forced.
  Nothing here ever deletes a user's file.
- Folders that must change as a whole (checkpoints) are swapped with an aside copy so that at every
  instant a complete version exists under a name `recover_dir` knows (see `swap_dir`).
Every OSError becomes a TcatError naming the path: one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from pathlib import Path

from .errors import TcatError

MARKER = ".tcat"
MARKER_TEXT = "This folder was written by tcat (transformer-catalog); tcat may rewrite the files it made here.\n"

_KINDS = {
    stat.S_IFREG: "a regular file",
    stat.S_IFDIR: "a folder",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFIFO: "a fifo",
    stat.S_IFSOCK: "a socket",
}


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _lstat(path: Path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise TcatError(f"{path}: cannot examine ({_reason(e)})") from None


def _check_replaceable(path: Path):
    """The lstat of `path` if it is a regular file, None if absent; anything else is refused."""
    st = _lstat(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise TcatError(
            f"{path}: exists and is {_kind(st.st_mode)}; tcat only replaces regular files (choose another path)"
        )
    return st


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; best effort (some file systems refuse to open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` atomically. The parent must be an existing folder; an existing
    regular file is replaced (keeping its permission bits), anything else at `path` is refused."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        what = "does not exist" if _lstat(parent) is None else "is not a folder"
        raise TcatError(f"{path}: cannot write, {parent} {what}")
    old = _check_replaceable(path)
    mode = stat.S_IMODE(old.st_mode) if old is not None else 0o666
    tmp = parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except OSError as e:
        raise TcatError(f"{path}: cannot write ({_reason(e)})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if old is not None:
            os.chmod(tmp, mode)  # the umask applied at creation; an existing file keeps its bits
        # Checked again right before the swap: something may have appeared meanwhile.
        _check_replaceable(path)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise TcatError(f"{path}: cannot write ({_reason(e)})") from None
        raise
    _fsync_dir(parent)
    return path


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj, *, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def is_marked(folder) -> bool:
    """Whether `folder` holds tcat's MARKER as a regular file (a link or folder named so does not count)."""
    st = _lstat(Path(folder) / MARKER)
    return st is not None and stat.S_ISREG(st.st_mode)


def output_dir(path, *, force: bool = False) -> Path:
    """A folder tcat may write into. Created (with parents) and marked if missing; accepted when
    empty or with `force` (then marked), or when it holds MARKER; otherwise refused. Never deletes."""
    path = Path(path)
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        pass
    except OSError as e:
        raise TcatError(f"{path}: cannot create folder ({_reason(e)})") from None
    else:
        write_text(path / MARKER, MARKER_TEXT)
        return path
    # It existed. A symlink to a folder is the user's way of naming that folder: follow it.
    try:
        st = os.stat(path)
    except OSError as e:
        raise TcatError(f"{path}: cannot use as output folder ({_reason(e)})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise TcatError(f"{path}: exists and is not a folder ({_kind(st.st_mode)}); choose a folder path")
    if is_marked(path):
        return path
    if force:  # the user chose this folder for tcat's files: mark it, so later writes need no --force
        write_text(path / MARKER, MARKER_TEXT)
        return path
    try:
        with os.scandir(path) as entries:
            empty = not any(entries)
    except OSError as e:
        raise TcatError(f"{path}: cannot read folder ({_reason(e)})") from None
    if not empty:
        raise TcatError(
            f"{path} is a non-empty folder tcat did not create; choose an empty or new folder, "
            "or pass --force to write into it (tcat never deletes files there)"
        )
    write_text(path / MARKER, MARKER_TEXT)
    return path


# -- whole-folder swaps (checkpoints) -------------------------------------------------------------
#
# A folder F is replaced by a new version in three steps:
#   1. the new version is written into F.tcat-tmp-PID (fsynced); F untouched
#   2. F -> F.tcat-old-PID                          (only F.tcat-old-PID and F.tcat-tmp-PID exist)
#   3. F.tcat-tmp-PID -> F, then F.tcat-old-PID is removed
# `recover_dir` repairs a swap stopped at any instant: without F, the aside copy (complete by
# construction) is renamed back; leftovers of writers no longer alive are removed. The names carry
# "tcat" so that a user's own "model.old-2024" is never taken for debris and deleted. Asides named
# by earlier versions (F.old-PID) are restored when F is missing, but never deleted.
TMP_TAG, OLD_TAG, LEGACY_OLD_TAG = "tcat-tmp", "tcat-old", "old"


def _pid_alive(pid: int) -> bool:
    """Whether another process `pid` may still be mid-swap. Our own pid counts as dead: a process never
    recovers while it swaps, and a restarted container often reuses the pid of the killed run."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _leftovers(folder: Path, kind: str) -> list[tuple[int, Path]]:
    """[(pid, path)] of the F.<kind>-PID siblings of `folder`, oldest (by mtime) first."""
    out = []
    prefix = f"{folder.name}.{kind}-"
    try:
        entries = list(os.scandir(folder.parent))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name[len(prefix) :].isdigit():
            out.append((int(entry.name[len(prefix) :]), Path(entry.path)))
    return sorted(out, key=lambda x: _mtime(x[1]))


def _mtime(path: Path) -> float:
    st = _lstat(path)
    return st.st_mtime if st else 0.0


def _remove_tree(path: Path) -> None:
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def recover_dir(folder) -> bool:
    """Repair an interrupted `swap_dir` of `folder`. Returns whether `folder` exists afterwards."""
    folder = Path(folder)
    if not folder.parent.is_dir():
        return False
    asides = [(pid, p) for pid, p in _leftovers(folder, OLD_TAG) if not _pid_alive(pid)]
    legacy = [(pid, p) for pid, p in _leftovers(folder, LEGACY_OLD_TAG) if not _pid_alive(pid)]
    if _lstat(folder) is None and (asides or legacy):
        # Stopped between steps 2 and 3: the newest aside copy is the last complete version.
        pid, newest = (asides or legacy).pop()
        try:
            os.rename(newest, folder)
        except OSError as e:
            raise TcatError(f"{folder}: cannot restore the checkpoint from {newest.name} ({_reason(e)})") from None
        _fsync_dir(folder.parent)
    for _, p in asides:
        _remove_tree(p)
    for pid, p in _leftovers(folder, TMP_TAG):
        if not _pid_alive(pid):
            _remove_tree(p)
    return _lstat(folder) is not None


def staging_dir(folder) -> Path:
    """A fresh, empty F.tcat-tmp-PID beside `folder` to write the new version into (step 1)."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TcatError(f"{folder.parent}: cannot create folder ({_reason(e)})") from None
    recover_dir(folder)
    tmp = folder.with_name(f"{folder.name}.{TMP_TAG}-{os.getpid()}")
    _remove_tree(tmp)  # our own unfinished attempt (an exception in an earlier save of this process)
    try:
        tmp.mkdir()
    except OSError as e:
        raise TcatError(f"{tmp}: cannot create folder ({_reason(e)})") from None
    return tmp


def swap_dir(tmp, folder) -> Path:
    """Steps 2-3: put the finished `tmp` (from `staging_dir`) in place of `folder`.
    `folder`, if present, must be a folder (a link or file there is refused, never replaced)."""
    tmp, folder = Path(tmp), Path(folder)
    st = _lstat(folder)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise TcatError(f"{folder}: exists and is {_kind(st.st_mode)}; refusing to replace it with a folder")
    for name in os.listdir(tmp):  # the new version reaches the disk before it becomes visible
        p = tmp / name
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(tmp)
    old = folder.with_name(f"{folder.name}.{OLD_TAG}-{os.getpid()}")
    _remove_tree(old)
    try:
        if st is not None:
            os.rename(folder, old)
        os.rename(tmp, folder)
    except OSError as e:
        raise TcatError(f"{folder}: cannot put the new version in place ({_reason(e)})") from None
    _fsync_dir(folder.parent)
    _remove_tree(old)
    return folder
