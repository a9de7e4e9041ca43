"""``card``: a model version's card (the ``model_card.md`` its jobs last wrote), from the local
registry; and the cards the report links to."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from {{ cookiecutter.package_name }}.model_card import CARD_ARTIFACT

from .runner.errors import RunnerError


class CardError(RunnerError):
    """No such version, or no card for it yet."""


def _client(state: Path) -> MlflowClient:
    if not (state / "mlflow.db").exists():
        raise CardError(f"nothing trained yet in {state}: run training_job first")
    uri = f"sqlite:///{state / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def card_path(client: MlflowClient, model_name: str, version: str) -> Path | None:
    """The local file of the version's card (``None`` before validation wrote one)."""
    try:
        run_id = client.get_model_version(model_name, str(version)).run_id
    except MlflowException as exc:
        raise CardError(f"{model_name} has no version {version}") from exc
    if not run_id:
        return None
    uri = client.get_run(run_id).info.artifact_uri
    path = Path(uri.removeprefix("file://")) / CARD_ARTIFACT
    return path if path.is_file() else None


def read_card(state: Path, model_name: str, version: str) -> str:
    """The card of ``model_name`` v``version``."""
    path = card_path(_client(state), model_name, version)
    if path is None:
        raise CardError(
            f"{model_name} v{version} has no model card yet: validation writes it "
            "(run training_job)"
        )
    return path.read_text()


def model_cards(state: Path, model_name: str) -> list[tuple[str, Path]]:
    """(``v<version>``, card file) of every version with a card, newest first."""
    if not (state / "mlflow.db").exists():
        return []
    client = _client(state)
    versions = client.search_model_versions(f"name = '{model_name}'")
    found = []
    for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
        path = card_path(client, model_name, version.version)
        if path is not None:
            found.append((f"v{version.version}", path))
    return found
