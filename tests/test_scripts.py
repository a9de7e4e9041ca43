"""scripts/demo deletes only what it created and rejects arguments in the wrong place."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import TEMPLATE_DIR

DEMO = TEMPLATE_DIR / "scripts" / "demo"


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEMO), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_an_option_in_place_of_the_output_folder_is_rejected(tmp_path: Path) -> None:
    result = demo("include_feature_store=no", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: 'include_feature_store=no' looks like a cookiecutter option: give the output "
        "folder first, e.g. scripts/demo demo-output include_feature_store=no"
    )
    assert not (TEMPLATE_DIR / "include_feature_store=no").exists()


def test_a_flag_and_a_bare_word_after_the_folder_are_rejected(tmp_path: Path) -> None:
    assert demo("--help", cwd=tmp_path).returncode == 2
    result = demo(str(tmp_path / "out"), "serverless", cwd=tmp_path)
    assert result.returncode == 2 and "is not OPTION=VALUE" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_the_demo_did_not_make_is_never_deleted(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "keep.md").write_text("mine")
    result = demo(str(docs), cwd=tmp_path)
    assert result.returncode == 2 and "was not made by scripts/demo" in result.stderr
    assert (docs / "keep.md").read_text() == "mine"
