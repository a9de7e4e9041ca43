"""The template's lock and the generated project's lock pin shared packages alike."""

from __future__ import annotations

from pathlib import Path

from conftest import TEMPLATE_DIR


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: '{line}' is not pinned with =="
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_generated_lock_agrees_with_template_lock() -> None:
    template = read_lock(TEMPLATE_DIR / "constraints.txt")
    generated = read_lock(TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "constraints.txt")
    assert {"pyspark", "mlflow", "deltalake", "databricks-feature-engineering"} <= generated.keys()
    missing = sorted(generated.keys() - template.keys())
    assert not missing, f"pinned for the generated project but not for the template: {missing}"
    differ = {
        name: (template[name], generated[name])
        for name in generated
        if template[name] != generated[name]
    }
    assert not differ, f"the two locks disagree: {differ}"


def test_every_requirement_is_locked() -> None:
    template = read_lock(TEMPLATE_DIR / "constraints.txt")
    requirements = [
        line.strip().lower()
        for line in (TEMPLATE_DIR / "requirements-dev.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    names = [name.split("[", 1)[0] for name in requirements]  # pyspark[connect] -> pyspark
    assert names
    assert [name for name in names if name not in template] == []
