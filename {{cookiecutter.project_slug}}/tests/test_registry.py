"""Registry lookups: only a missing model or alias means "no champion"; any other registry
error fails the task that asked (an autospec'd ``MlflowClient`` raising each error)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace
from unittest import mock

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

from {{ cookiecutter.package_name }}.inference.batch import score_trips
from {{ cookiecutter.package_name }}.registry import alias_version

MODEL = "dev.s.m"


def client_raising(code: int) -> MlflowClient:
    client = mock.create_autospec(MlflowClient, instance=True)
    client.get_model_version_by_alias.side_effect = MlflowException("refused", error_code=code)
    return client


@pytest.mark.parametrize(
    "code", [databricks_pb2.RESOURCE_DOES_NOT_EXIST, databricks_pb2.INVALID_PARAMETER_VALUE]
)
def test_a_missing_model_or_alias_means_no_version(code):
    assert alias_version(client_raising(code), MODEL, "champion") is None


@pytest.mark.parametrize(
    "code",
    [
        databricks_pb2.PERMISSION_DENIED,
        databricks_pb2.UNAUTHENTICATED,
        databricks_pb2.TEMPORARILY_UNAVAILABLE,
        databricks_pb2.INTERNAL_ERROR,
    ],
)
def test_any_other_registry_error_is_raised_as_it_is(code):
    with pytest.raises(MlflowException, match="refused") as raised:
        alias_version(client_raising(code), MODEL, "champion")
    assert raised.value.error_code == databricks_pb2.ErrorCode.Name(code)


def test_the_version_behind_the_alias():
    client = mock.create_autospec(MlflowClient, instance=True)
    client.get_model_version_by_alias.return_value = SimpleNamespace(version=7)
    assert alias_version(client, MODEL, "champion") == "7"
    client.get_model_version_by_alias.assert_called_once_with(MODEL, "champion")


def denied_platform() -> SimpleNamespace:
    """Just enough platform for the inference jobs to ask the registry for the champion."""
    client = client_raising(databricks_pb2.PERMISSION_DENIED)
    return SimpleNamespace(mlflow_client=lambda: client)


def test_batch_inference_fails_when_the_registry_refuses():
    with pytest.raises(MlflowException, match="refused"):
        score_trips(
            denied_platform(),
            input_table="dev.s.trips",
            model_name=MODEL,
            catalog="dev",
            schema="s",
        )


if importlib.util.find_spec("{{ cookiecutter.package_name }}.inference.streaming"):

    def test_streaming_inference_fails_when_the_registry_refuses():
        from {{ cookiecutter.package_name }}.inference.streaming import stream_trips

        with pytest.raises(MlflowException, match="refused"):
            stream_trips(
                denied_platform(),
                input_table="dev.s.trips",
                model_name=MODEL,
                catalog="dev",
                schema="s",
                checkpoint="/Volumes/dev/s/checkpoints/x",
            )
