"""files.py names the kind of what stands at an output path: a regular file where a folder is
wanted says "a regular file" (the kinds table once lacked it and said "not a regular file")."""

import pytest

from transformer_catalog import files
from transformer_catalog.errors import TcatError


def test_a_regular_file_at_a_folder_path_is_named_as_one(tmp_path):
    f = tmp_path / "report.txt"
    f.write_text("mine")
    with pytest.raises(TcatError, match=r"report.txt: exists and is not a folder \(a regular file\); choose a folder"):
        files.output_dir(f)
    with pytest.raises(TcatError, match=r"report.txt: exists and is a regular file; refusing to replace it with a"):
        files.swap_dir(tmp_path, f)
    assert f.read_text() == "mine"
    with pytest.raises(TcatError, match=r"null: exists and is not a folder \(a device\)"):
        files.output_dir("/dev/null")
