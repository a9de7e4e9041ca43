"""A real (SQLite) MLflow registry behind the registry and serving calls of a platform."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.names import TAG_VALIDATION_STATUS, VALIDATION_PASSED
from {{ cookiecutter.package_name }}.platform.base import ServingEndpointError, ServingSpec
from {{ cookiecutter.package_name }}.registry import alias_version
from {{ cookiecutter.package_name }}_local.platform import configure_local_mlflow

MODEL = "dev.taxi.fare_model"
ALIASES = ("champion", "challenger", "previous_champion")


class RegistryPlatform:
    """The registry and serving calls of a platform: a real MlflowClient, recorded endpoints."""

    def __init__(
        self, client: MlflowClient, endpoint_fails: bool = False, online: tuple[str, ...] = ()
    ) -> None:
        self.client = client
        self.endpoint_fails = endpoint_fails
        self.online = set(online)  # the online tables published so far
        self.served: list[ServingSpec] = []

    def mlflow_client(self) -> MlflowClient:
        return self.client

    def missing_online_tables(self, online_tables: Sequence[str]) -> list[str]:
        return [name for name in online_tables if name not in self.online]

    def deploy_serving_endpoint(self, spec: ServingSpec) -> None:
        if self.endpoint_fails:
            raise ServingEndpointError(f"{spec.endpoint_name} did not become ready")
        self.served.append(spec)


def make_registry(state: Path, versions: int = 3) -> RegistryPlatform:
    """Model versions 1..``versions`` of MODEL, each passed the gate."""
    uri = configure_local_mlflow(state)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    for _ in range(versions):
        version = client.create_model_version(MODEL, source=str(state)).version
        client.set_model_version_tag(MODEL, version, TAG_VALIDATION_STATUS, VALIDATION_PASSED)
    return RegistryPlatform(client)


def aliases(platform: RegistryPlatform) -> dict[str, str]:
    return {
        alias: version
        for alias in ALIASES
        if (version := alias_version(platform.client, MODEL, alias)) is not None
    }


def tags(platform: RegistryPlatform, version: str) -> dict[str, str]:
    return platform.client.get_model_version(MODEL, version).tags
