"""`epolicy verify_pdf` on several files and on folders: a line per file, a summary, one exit status.

Run as a person runs it (a new process with its own database, PKI and issued e-policy), because what is
tested is what reaches the terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The same process runner, output filter and installation (database, PKI, one sealed e-policy) as the
# single-file command's tests.
from tests.verification.test_verify_pdf_command import epolicy, installation, noise


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Path:
    return installation(tmp_path_factory.mktemp("verify-many"))


@pytest.fixture
def files(platform, tmp_path) -> dict[str, Path]:
    """A folder holding a genuine e-policy, a copy with one byte changed, a text file, a hidden file and
    a sub-folder with another genuine copy."""
    from tests.signing.conftest import swap_page_content

    sealed = (platform / "sealed.pdf").read_bytes()
    folder = tmp_path / "uploads"
    (folder / "more").mkdir(parents=True)
    out = {
        "genuine": folder / "a-genuine.pdf",
        "forged": folder / "b-forged.pdf",
        "text": folder / "c-notes.txt",
        "copy": folder / "more" / "d-copy.pdf",
    }
    out["genuine"].write_bytes(sealed)
    out["forged"].write_bytes(swap_page_content(sealed))
    out["text"].write_text("这不是 PDF 文件。\n", encoding="utf-8")
    out["copy"].write_bytes(sealed)
    (folder / ".hidden.pdf").write_bytes(b"not looked at")
    out["folder"] = folder
    return out


def test_several_files_a_line_each_in_order_then_a_summary(platform, files):
    result = epolicy(platform, "verify_pdf", str(files["genuine"]), str(files["forged"]), str(files["text"]))
    assert result.returncode == 1  # not every file is genuine
    assert noise(result.stderr) == [], result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    assert lines[0].startswith(f"✔ 验真通过（genuine） {files['genuine']}：policy ")
    assert lines[0].endswith("与存档正本一致：是")
    assert lines[1].startswith(f"✘ 验真未通过（modified_after_signing） {files['forged']}：policy ")
    assert lines[2].startswith(f"✘ 验真未通过（not_pdf） {files['text']}：文件 —")
    assert lines[3].startswith("共 3 个文件：验真通过 1 个，未通过 2 个，无法读取 0 个")


def test_a_folder_is_walked(platform, files):
    """Every regular file under the folder, sorted by path; hidden ones are left out."""
    result = epolicy(platform, "verify_pdf", str(files["folder"]), "--jobs", "2")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    checked = [line.split(" ", 2)[2].split("：", 1)[0] for line in lines[:-1]]
    assert checked == [str(files[k]) for k in ("genuine", "forged", "text", "copy")]
    assert lines[-1].startswith("共 4 个文件：验真通过 2 个，未通过 2 个，无法读取 0 个")
    # With -v 2 the libraries' log (pyHanko's traceback for the forged file) follows on standard error.
    verbose = epolicy(platform, "verify_pdf", str(files["folder"]), "-v", "2")
    assert verbose.stdout.splitlines()[-1].startswith("共 4 个文件：验真通过 2 个，未通过 2 个")
    assert "Traceback" in verbose.stderr


def test_all_genuine_exits_zero_and_json_lists_each_file(platform, files):
    result = epolicy(platform, "verify_pdf", str(files["genuine"]), str(files["copy"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("共 2 个文件：验真通过 2 个，未通过 0 个")

    as_json = epolicy(platform, "verify_pdf", str(files["folder"]), "--json")
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    assert [(Path(f["path"]).name, f["genuine"], f["code"]) for f in body["files"]] == [
        ("a-genuine.pdf", True, "genuine"),
        ("b-forged.pdf", False, "modified_after_signing"),
        ("c-notes.txt", False, "not_pdf"),
        ("d-copy.pdf", True, "genuine"),
    ]
    assert body["files"][0]["report"]["policy"]["policy_number"]  # the report, as for one file
    assert {k: body["summary"][k] for k in ("files", "genuine", "not_genuine", "unreadable")} == {
        "files": 4,
        "genuine": 2,
        "not_genuine": 2,
        "unreadable": 0,
    }


def test_an_unreadable_file_in_a_folder_is_a_result(platform, files):
    """A file that cannot be read (here a link to nothing) is one failed line, not the end of the run."""
    dangling = files["folder"] / "e-gone.pdf"
    dangling.symlink_to(files["folder"] / "removed.pdf")
    result = epolicy(platform, "verify_pdf", str(files["folder"]))
    assert result.returncode == 1
    assert f"✘ 无法读取：找不到文件：{dangling}" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith("共 5 个文件：验真通过 2 个，未通过 2 个，无法读取 1 个")


def test_a_missing_path_among_several_is_a_chinese_error(platform, files, tmp_path):
    missing = tmp_path / "nope.pdf"
    result = epolicy(platform, "verify_pdf", str(files["genuine"]), str(missing))
    assert result.returncode == 1
    assert result.stdout == ""
    assert noise(result.stderr) == [f"CommandError: 找不到文件：{missing}"]
