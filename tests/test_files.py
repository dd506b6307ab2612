"""files.py: the one writer. Atomic, never clobbers what is not a regular file, never deletes."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from transformer_catalog import files
from transformer_catalog.errors import TcatError


def test_write_text_bytes_json_and_replace_regular_file(tmp_path):
    p = tmp_path / "a.txt"
    assert files.write_text(p, "héllo") == p
    assert p.read_text(encoding="utf-8") == "héllo"
    files.write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    files.write_json(tmp_path / "b.json", {"x": [1, "ü"]})
    assert json.loads((tmp_path / "b.json").read_text(encoding="utf-8")) == {"x": [1, "ü"]}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt", "b.json"]  # no temp files left


def test_existing_file_keeps_its_permission_bits(tmp_path):
    p = tmp_path / "script.sh"
    p.write_text("old")
    os.chmod(p, 0o750)
    files.write_text(p, "new")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o750 and p.read_text() == "new"


def test_symlink_is_refused_and_link_and_target_untouched(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious.txt"
    target.write_text("keep me")
    work = tmp_path / "work"
    work.mkdir()
    link = work / "out.json"
    link.symlink_to(target)
    with pytest.raises(TcatError, match="symbolic link"):
        files.write_json(link, {"a": 1})
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "keep me"
    assert sorted(x.name for x in work.iterdir()) == ["out.json"]
    # a dangling link is refused too (writing would create a file wherever it points)
    dangling = work / "dangling"
    dangling.symlink_to(outside / "nowhere")
    with pytest.raises(TcatError):
        files.write_text(dangling, "x")
    assert not (outside / "nowhere").exists()


def test_device_node_copy_is_refused(tmp_path):
    st = os.stat("/dev/null")
    node = tmp_path / "null"
    try:
        os.mknod(node, st.st_mode, st.st_rdev)
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    with pytest.raises(TcatError, match="device"):
        files.write_text(node, "data")
    after = os.lstat(node)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == st.st_rdev


def test_fifo_and_folder_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(TcatError, match="fifo"):
        files.write_text(fifo, "x")  # must not block opening the fifo either
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    d = tmp_path / "dir"
    d.mkdir()
    (d / "inside").write_text("keep")
    with pytest.raises(TcatError, match="folder"):
        files.write_text(d, "x")
    assert (d / "inside").read_text() == "keep"


def test_missing_parent_and_parent_is_a_file(tmp_path):
    with pytest.raises(TcatError, match="does not exist"):
        files.write_text(tmp_path / "no" / "such" / "f.txt", "x")
    assert not (tmp_path / "no").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(TcatError, match="not a folder"):
        files.write_text(tmp_path / "file" / "f.txt", "x")


def test_oserror_becomes_one_line_tcaterror_naming_the_path():
    with pytest.raises(TcatError) as e:
        files.write_text("/proc/tcat-test-file", "x")
    assert "/proc/tcat-test-file" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(TcatError) as e:
        files.output_dir("/proc/tcat-test-dir")
    assert "/proc/tcat-test-dir" in str(e.value)


def test_temp_file_is_never_a_planted_symlink(tmp_path, monkeypatch):
    """The temporary name is opened with O_EXCL|O_NOFOLLOW: a link planted under it is not followed."""
    victim = tmp_path / "victim"
    victim.write_text("keep")
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: "fixed")
    (tmp_path / ".out.txt.fixed.tmp").symlink_to(victim)
    with pytest.raises(TcatError):
        files.write_text(tmp_path / "out.txt", "x")
    assert victim.read_text() == "keep" and not (tmp_path / "out.txt").exists()


def test_a_crash_mid_write_leaves_the_old_file_whole(tmp_path):
    p = tmp_path / "state.json"
    files.write_json(p, {"v": 1})
    code = (
        "import os; from transformer_catalog import files\n"
        "os.replace = lambda *a, **k: os._exit(9)\n"
        f"files.write_json({str(p)!r}, {{'v': 2}})\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert json.loads(p.read_text()) == {"v": 1}


def test_output_dir_creates_and_marks(tmp_path):
    out = files.output_dir(tmp_path / "a" / "b")
    assert out.is_dir() and (out / files.MARKER).is_file()
    (out / "thesis.tex").write_text("mine")
    assert files.output_dir(out) == out  # marked: accepted again
    assert (out / "thesis.tex").read_text() == "mine"


def test_output_dir_accepts_empty_refuses_user_folder_unless_forced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    files.output_dir(empty)
    assert (empty / files.MARKER).is_file()
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    with pytest.raises(TcatError, match="did not create.*--force"):
        files.output_dir(user)
    assert sorted(x.name for x in user.iterdir()) == ["thesis.tex"]
    assert files.output_dir(user, force=True) == user
    assert (user / "thesis.tex").read_text() == "mine"
    assert files.is_marked(user) and files.output_dir(user) == user  # forced once, then tcat's


def test_output_dir_marker_must_be_a_regular_file(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "x").write_text("mine")
    (d / files.MARKER).mkdir()
    with pytest.raises(TcatError):
        files.output_dir(d)


def test_output_dir_on_a_file_or_device_is_refused(tmp_path):
    f = tmp_path / "report.txt"
    f.write_text("mine")
    with pytest.raises(TcatError, match="not a folder"):
        files.output_dir(f)
    assert f.read_text() == "mine"
    with pytest.raises(TcatError, match="not a folder"):
        files.output_dir("/dev/null")
    with pytest.raises(TcatError):
        files.output_dir(f / "sub")
    assert f.read_text() == "mine"


# -- folder swaps ---------------------------------------------------------------------------------


def _version(folder, n):
    files.write_text(folder / "a.txt", f"a{n}")
    files.write_text(folder / "b.txt", f"b{n}")


def _complete(folder):
    a, b = (folder / "a.txt").read_text(), (folder / "b.txt").read_text()
    assert a[1:] == b[1:], "files of two different versions"
    return int(a[1:])


def test_swap_dir_replaces_whole_and_leaves_nothing(tmp_path):
    f = tmp_path / "ckpt"
    for n in (1, 2):
        tmp = files.staging_dir(f)
        _version(tmp, n)
        files.swap_dir(tmp, f)
        assert _complete(f) == n
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ckpt"]


def test_swap_dir_refuses_a_symlink_or_file_in_place(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "ckpt").symlink_to(real)
    tmp = files.staging_dir(tmp_path / "ckpt")
    _version(tmp, 1)
    with pytest.raises(TcatError, match="symbolic link"):
        files.swap_dir(tmp, tmp_path / "ckpt")
    assert (tmp_path / "ckpt").is_symlink() and list(real.iterdir()) == []


_STOP = """
import os, shutil, sys
from transformer_catalog import files
k = int(sys.argv[2]); calls = [0]
def stop(fn):
    def wrapped(*a, **kw):
        calls[0] += 1
        if calls[0] == k:
            os._exit(7)
        return fn(*a, **kw)
    return wrapped
for name in ("rename", "replace", "unlink", "rmdir", "fsync", "mkdir"):
    setattr(os, name, stop(getattr(os, name)))
shutil.rmtree = stop(shutil.rmtree)
f = sys.argv[1]
tmp = files.staging_dir(f)
files.write_text(os.path.join(tmp, "a.txt"), "a2")
files.write_text(os.path.join(tmp, "b.txt"), "b2")
files.swap_dir(tmp, f)
print(calls[0])
"""


def test_swap_stopped_at_every_step_is_recoverable(tmp_path):
    """Stop the swap at each of its file-system calls in turn: afterwards exactly one complete
    version is found, and recovery leaves no temporary folder behind."""
    f = tmp_path / "ckpt"
    tmp = files.staging_dir(f)
    _version(tmp, 1)
    files.swap_dir(tmp, f)
    full = subprocess.run([sys.executable, "-c", _STOP, str(f), "0"], capture_output=True, text=True, check=True)
    steps = int(full.stdout)  # the calls of one uninterrupted swap over an existing version
    assert _complete(f) == 2
    assert steps >= 8
    seen = set()
    for k in range(1, steps + 1):
        r = subprocess.run([sys.executable, "-c", _STOP, str(f), str(k)])
        assert r.returncode == 7, k
        assert files.recover_dir(f), f"no checkpoint after stopping at step {k}"
        seen.add(_complete(f))
        assert sorted(x.name for x in tmp_path.iterdir()) == ["ckpt"], k
        # back to version 1 for the next stop
        tmp = files.staging_dir(f)
        _version(tmp, 1)
        files.swap_dir(tmp, f)
    assert seen == {1, 2}


def test_recover_leaves_a_live_writers_folders_alone(tmp_path):
    f = tmp_path / "ckpt"
    parent_pid = os.getppid()  # alive, and not us
    (tmp_path / f"ckpt.tcat-tmp-{parent_pid}").mkdir()
    (tmp_path / f"ckpt.tcat-old-{parent_pid}").mkdir()
    assert not files.recover_dir(f)
    assert (tmp_path / f"ckpt.tcat-tmp-{parent_pid}").is_dir() and (tmp_path / f"ckpt.tcat-old-{parent_pid}").is_dir()


def test_recover_never_deletes_a_users_similarly_named_folders(tmp_path):
    """A user's "ckpt.old-2024" or "ckpt.tmp-7" is not tcat's debris: kept, whatever the pid."""
    f = tmp_path / "ckpt"
    tmp = files.staging_dir(f)
    _version(tmp, 1)
    files.swap_dir(tmp, f)
    dead = 2**22 + 17
    for name in ("ckpt.old-2024", "ckpt.tmp-7", f"ckpt.old-{dead}", "ckpt.backup"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text("keep")
    (tmp_path / f"ckpt.tcat-tmp-{dead}").mkdir()  # tcat's own debris: removed
    assert files.recover_dir(f)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ckpt", "ckpt.old-2024", "ckpt.tmp-7", f"ckpt.old-{dead}", "ckpt.backup"]
    )


def test_recover_restores_an_aside_left_by_earlier_versions(tmp_path):
    """Before the tcat- names, a kill between the renames left F.old-PID and F.tmp-PID: restored."""
    f = tmp_path / "ckpt"
    dead = 2**22 + 17
    (tmp_path / f"ckpt.old-{dead}").mkdir()
    _version(tmp_path / f"ckpt.old-{dead}", 1)
    assert files.recover_dir(f) and _complete(f) == 1


# -- the cache (data/cache.py) is best effort and never a traceback ---------------------------------


def test_cache_round_trip_and_damage_is_a_miss(tmp_path):
    from transformer_catalog.data.cache import read_cached, write_cached

    p = tmp_path / "c.json"
    assert write_cached(p, {"a": [1, 2]}) and read_cached(p) == {"a": [1, 2]}
    raw = p.read_bytes()
    p.write_bytes(raw.replace(b"[1, 2]", b"[1, 3]"))  # edited by hand (or bit rot): digest mismatch
    assert read_cached(p) is None
    head = raw.split(b"\n", 1)[0]
    for junk in (
        b"[1]",
        b"{}",
        b"nope",
        head + b"\n[1]",
        head[:-1] + (b"1" if head.endswith(b"0") else b"0") + b"\n" + raw.split(b"\n", 1)[1],
        b"\xff\xfe",
    ):
        p.write_bytes(junk)
        assert read_cached(p) is None
    assert read_cached(tmp_path / "missing.json") is None


def test_unwritable_cache_is_skipped_or_one_line(tmp_path, monkeypatch):
    from transformer_catalog.data import cache

    monkeypatch.setenv("TCAT_CACHE", "/proc/tcat-cache")
    assert cache.cache_dir() == Path("/proc/tcat-cache")
    assert cache.write_cached(cache.cache_dir() / "x.json", {"a": 1}) is False
    with pytest.raises(TcatError, match="/proc/tcat-cache.*TCAT_CACHE"):
        cache.writable_cache_dir("vader")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("TCAT_CACHE", str(blocker))
    assert cache.write_cached(blocker / "x.json", {"a": 1}) is False and blocker.read_text() == "x"
    with pytest.raises(TcatError, match="TCAT_CACHE"):
        cache.writable_cache_dir()
    monkeypatch.delenv("TCAT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "transformer-catalog"
