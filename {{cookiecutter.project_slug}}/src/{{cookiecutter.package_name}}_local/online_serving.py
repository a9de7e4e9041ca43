"""Key-only requests, locally: a model version that looks its features up per request in the
local online store, as a Databricks endpoint looks them up in its online store.

A request carries the lookup keys and the trip's own fields (``dataframe_split`` or
``dataframe_records``, as on Databricks); each lookup fills its features with the row of the
published online table (the newest row per key), a feature sent in the request overrides the
looked-up value, and a key without an online row leaves its features empty (null), as on
Databricks. The local endpoint (:mod:`.endpoint`) serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.platform.base import FeatureLookupSpec

from .feature_lookups import lookups_from_metadata
from .online_store import LocalOnlineStore
from .platform import FEATURE_LOOKUPS_KEY


class RequestError(ValueError):
    """A request the model cannot answer (the endpoint's 400)."""


@dataclass(frozen=True)
class OnlineLookup:
    """One lookup of the model, bound to the online table its features are read from."""

    online_table: str
    lookup_key: list[str]
    features: list[str]
    outputs: list[str]


def bind_lookups(
    lookups: list[FeatureLookupSpec], store: LocalOnlineStore
) -> list[OnlineLookup] | None:
    """The lookups with their online tables, or ``None`` when a feature table is not published."""
    bound = []
    for lookup in lookups:
        online = store.online_table_for(lookup.table_name)
        if online is None or not lookup.feature_names:
            return None
        renames = lookup.rename_outputs or {}
        bound.append(
            OnlineLookup(
                online,
                list(lookup.lookup_key),
                list(lookup.feature_names),
                [renames.get(n, n) for n in lookup.feature_names],
            )
        )
    return bound


class OnlineModel:
    """A model whose features are looked up per request in the online store."""

    def __init__(
        self,
        predict: Callable[[pd.DataFrame], Any],
        inputs: list[str],
        lookups: list[OnlineLookup],
        store: LocalOnlineStore,
    ) -> None:
        self._predict = predict
        self.inputs = inputs
        self.lookups = lookups
        self.store = store

    @classmethod
    def load(cls, model_uri: str, store: LocalOnlineStore) -> OnlineModel | None:
        """The model at ``model_uri`` (MLflow's tracking and registry URIs set), or ``None``
        when it has no feature lookups or one of its feature tables was never published."""
        info = mlflow.models.get_model_info(model_uri)
        spec = (info.metadata or {}).get(FEATURE_LOOKUPS_KEY)
        if not spec or info.signature is None or info.signature.inputs is None:
            return None
        bound = bind_lookups(lookups_from_metadata(spec), store)
        if bound is None:
            return None
        model = mlflow.pyfunc.load_model(model_uri)
        return cls(model.predict, info.signature.inputs.input_names(), bound, store)

    @property
    def request_columns(self) -> list[str]:
        """What a request carries: the lookup keys, then the inputs no lookup provides."""
        looked_up = {o for lookup in self.lookups for o in lookup.outputs}
        keys = [k for lookup in self.lookups for k in lookup.lookup_key]
        keys = list(dict.fromkeys(keys))
        return [*keys, *[c for c in self.inputs if c not in looked_up and c not in keys]]

    def features(self, request: pd.DataFrame) -> pd.DataFrame:
        """The model's inputs for ``request``: looked-up features where it does not send them."""
        missing = [c for c in self.request_columns if c not in request.columns]
        if missing:
            raise RequestError(
                f"the request lacks columns {missing}: send the lookup keys and the trip's own "
                f"fields ({', '.join(self.request_columns)})"
            )
        frame = request.reset_index(drop=True).copy()
        for lookup in self.lookups:
            keys = [tuple(row) for row in frame[lookup.lookup_key].itertuples(index=False)]
            found = self.store.lookup(lookup.online_table, keys, lookup.features)
            values = np.array(
                [row if row is not None else (None,) * len(lookup.features) for row in found],
                dtype=object,
            ).reshape(len(keys), len(lookup.features))
            for i, output in enumerate(lookup.outputs):
                online = pd.Series(values[:, i], dtype="float64")
                frame[output] = frame[output].fillna(online) if output in frame else online
        return frame[self.inputs]

    def predict(self, request: pd.DataFrame) -> list[float]:
        predictions = self._predict(self.features(request))
        return [float(p) for p in np.asarray(predictions, dtype=float).reshape(-1)]
