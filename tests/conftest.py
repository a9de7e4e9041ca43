"""Shared fixtures: the option space of cookiecutter.json and cached renderings."""

from __future__ import annotations

import importlib.util
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())


def choice_options() -> dict[str, list[str]]:
    """Every option whose value is a choice list (toggles, cloud, CI platform)."""
    return {
        key: value
        for key, value in COOKIECUTTER_JSON.items()
        if isinstance(value, list) and not key.startswith("_")
    }


def all_combinations() -> list[dict[str, str]]:
    """The full product of the choice options (for reference: too many to render each time)."""
    options = choice_options()
    keys = sorted(options)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(options[k] for k in keys))
    ]


def pairwise_combinations() -> list[dict[str, str]]:
    """The default, the all-on rendering, then combinations chosen greedily until every pair of
    values of two options appears in at least one (deterministic: ties keep product order)."""
    options = choice_options()
    keys = sorted(options)
    default = {key: options[key][0] for key in keys}
    all_on = {key: ("yes" if "yes" in options[key] else options[key][0]) for key in keys}

    def pairs(combo: dict[str, str]) -> set[tuple[str, str, str, str]]:
        return {(a, combo[a], b, combo[b]) for a, b in itertools.combinations(keys, 2)}

    chosen = [default] + ([all_on] if all_on != default else [])
    wanted = {
        (a, va, b, vb)
        for a, b in itertools.combinations(keys, 2)
        for va in options[a]
        for vb in options[b]
    }
    for combo in chosen:
        wanted -= pairs(combo)
    candidates = all_combinations()
    while wanted:
        best = max(candidates, key=lambda combo: len(pairs(combo) & wanted))
        chosen.append(best)
        wanted -= pairs(best)
    return chosen


def combination_id(combo: dict[str, str]) -> str:
    return "-".join(f"{key}={value}" for key, value in sorted(combo.items()))


COMBINATIONS = pairwise_combinations()
DEFAULT_COMBINATION = {key: values[0] for key, values in choice_options().items()}
ALL_ON = COMBINATIONS[1] if len(COMBINATIONS) > 1 else COMBINATIONS[0]


def combinations_where(option: str, value: str) -> list[dict[str, str]]:
    """The tested combinations in which `option` has `value` (the pairwise cover has some)."""
    chosen = [combo for combo in COMBINATIONS if combo[option] == value]
    assert chosen, f"no tested combination has {option}={value}"
    return chosen


def render(output_dir: Path, **extra_context: str) -> Path:
    """Render the template without prompts and return the generated project directory."""
    project = cookiecutter(
        str(TEMPLATE_DIR),
        no_input=True,
        output_dir=str(output_dir),
        extra_context=extra_context,
    )
    return Path(project)


def load_hook(name: str) -> ModuleType:
    """Import a hook file as a module (its Jinja placeholder is only read inside main())."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE_DIR / "hooks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Renderings:
    """Renders each option combination once per test session."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._cache: dict[str, Path] = {}

    def get(self, combo: dict[str, str]) -> Path:
        key = combination_id(combo)
        if key not in self._cache:
            self._cache[key] = render(self._base / key, **combo)
        return self._cache[key]


@pytest.fixture(scope="session", autouse=True)
def cookiecutter_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep cookiecutter's replay files out of the user's home directory."""
    base = tmp_path_factory.mktemp("cookiecutter-home")
    config = base / "config.yaml"
    config.write_text(
        f"cookiecutters_dir: {base / 'cookiecutters'}\nreplay_dir: {base / 'replay'}\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COOKIECUTTER_CONFIG", str(config))
        yield


@pytest.fixture(scope="session")
def renderings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Renderings]:
    yield Renderings(tmp_path_factory.mktemp("renderings"))


@pytest.fixture(params=COMBINATIONS, ids=combination_id)
def rendered(request: pytest.FixtureRequest, renderings: Renderings) -> tuple[dict[str, str], Path]:
    """(options, project directory) for every option combination."""
    return request.param, renderings.get(request.param)
