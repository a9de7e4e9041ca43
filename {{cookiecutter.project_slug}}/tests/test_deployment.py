"""Alias moves of promote and rollback, against an in-memory registry."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from {{ cookiecutter.package_name }}.deployment.promote import DeploymentError, promote, rollback

MODEL = "dev.taxi.fare_model"


class FakeRegistry:
    """The alias and tag calls of MlflowClient that deployment uses."""

    def __init__(self, aliases: dict[str, str]):
        self.aliases = dict(aliases)
        self.tags: dict[tuple[str, str], str] = {}

    def get_model_version_by_alias(self, name, alias):
        if alias not in self.aliases:
            raise MlflowException(f"alias {alias} not found")
        return type("Version", (), {"version": self.aliases[alias]})()

    def set_registered_model_alias(self, name, alias, version):
        self.aliases[alias] = str(version)

    def delete_registered_model_alias(self, name, alias):
        del self.aliases[alias]

    def set_model_version_tag(self, name, version, key, value):
        self.tags[(str(version), key)] = value


class FakePlatform:
    def __init__(self, aliases: dict[str, str]):
        self.registry = FakeRegistry(aliases)
        self.endpoint_updates: list[tuple[str, str, str]] = []

    def mlflow_client(self):
        return self.registry

    def update_serving_endpoint(self, endpoint_name, model_name, version):
        self.endpoint_updates.append((endpoint_name, model_name, version))


def test_promote_keeps_the_old_champion_as_previous():
    platform = FakePlatform({"champion": "1", "challenger": "2"})
    change = promote(platform, MODEL, "2", "fare-endpoint")
    assert (change.champion_version, change.replaced_version) == ("2", "1")
    assert platform.registry.aliases == {"champion": "2", "previous_champion": "1"}
    assert platform.endpoint_updates == [("fare-endpoint", MODEL, "2")]


def test_first_promotion_and_no_endpoint():
    platform = FakePlatform({"challenger": "1"})
    assert promote(platform, MODEL, "", "").champion_version == "1"
    assert platform.registry.aliases == {"champion": "1"}
    assert platform.endpoint_updates == []


def test_only_the_validated_challenger_is_promoted():
    platform = FakePlatform({"champion": "1", "challenger": "2"})
    with pytest.raises(DeploymentError, match="not the challenger"):
        promote(platform, MODEL, "3")
    with pytest.raises(DeploymentError, match="nothing validated"):
        promote(FakePlatform({}), MODEL, "")
    assert platform.registry.aliases == {"champion": "1", "challenger": "2"}


def test_rollback_restores_previous_champion_once():
    platform = FakePlatform({"champion": "2", "previous_champion": "1"})
    change = rollback(platform, MODEL, "fare-endpoint")
    assert (change.champion_version, change.replaced_version) == ("1", "2")
    assert platform.registry.aliases == {"champion": "1"}
    assert platform.registry.tags[("2", "rolled_back")] == "true"
    assert platform.endpoint_updates == [("fare-endpoint", MODEL, "1")]
    with pytest.raises(DeploymentError, match="no @previous_champion"):
        rollback(platform, MODEL)
