"""A project takes in a later version of the template with cruft, as its README says, offline.

The story: a git copy of the template at one commit renders a project (plain cookiecutter; the
post-generation hook records .cruft.json), the team commits it and edits a file, the template
changes in a second commit, and `cruft update` brings that change in and keeps the team's edit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATE_DIR
from cookiecutter.main import cookiecutter

BIN = Path(sys.executable).parent
IGNORED = shutil.ignore_patterns(".git", ".venv", "*_cache", "__pycache__", "demo-output")


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_cruft_update_brings_template_changes_and_keeps_own_edits(tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, template, ignore=IGNORED)
    git(template, "init", "-q", "-b", "main")
    first = commit_all(template, "template v1")

    project = Path(
        cookiecutter(
            str(template),
            no_input=True,
            output_dir=str(tmp_path / "out"),
            extra_context={"cicd_platform": "gitlab"},
        )
    )
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(template), first)
    assert state["context"]["cookiecutter"]["cicd_platform"] == "gitlab"
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated")

    # The team's own edit, and a template change elsewhere in the same file and in another.
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our team\n\nOwned by the fares team.\n")
    commit_all(project, "our notes")
    template_readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    text = template_readme.read_text()
    template_readme.write_text(text.replace("## Quick start", "## Quick start (template v2)", 1))
    doc = template / "{{cookiecutter.project_slug}}" / "docs" / "architecture.md"
    doc.write_text(doc.read_text() + "\nTemplate v2 adds this line.\n")
    second = commit_all(template, "template v2")

    proc = subprocess.run(
        [str(BIN / "cruft"), "update", "--skip-apply-ask", "--project-dir", str(project)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    updated = readme.read_text()
    assert "## Quick start (template v2)" in updated
    assert "Owned by the fares team." in updated
    assert "Template v2 adds this line." in (project / "docs" / "architecture.md").read_text()
    assert not list(project.rglob("*.rej")) and "<<<<<<<" not in updated
    assert json.loads((project / ".cruft.json").read_text())["commit"] == second
    # Only the template's changes are left to review; GitLab's file was not touched or removed.
    changed = set(git(project, "diff", "HEAD", "--name-only").splitlines())
    assert changed == {"README.md", "docs/architecture.md", ".cruft.json"}
    assert (project / ".gitlab-ci.yml").exists() and not (project / ".github").exists()
