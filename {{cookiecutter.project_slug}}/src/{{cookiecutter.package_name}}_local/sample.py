"""Seeded synthetic taxi trips with the schema of ``nyctaxi-with-zipcodes/subsampled``.

Columns: ``tpep_pickup_datetime``, ``tpep_dropoff_datetime`` (naive UTC timestamps),
``trip_distance`` (miles), ``fare_amount`` (USD), ``pickup_zip``, ``dropoff_zip`` (int).

Demand varies by hour, weekday and zip (business, residential, nightlife and airport zips
peak at different hours); destinations are mostly nearby; the trip distance follows the
distance between zips; the duration follows the distance and the traffic of the hour; the fare
follows a metered tariff on distance and duration (flat fare to and from JFK).
``drift=True`` shifts the batch: longer trips, slower traffic and a higher tariff
(covariate and concept drift at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

DEFAULT_START = "2016-01-01"
DEFAULT_END = "2016-02-29"
DEFAULT_ROWS = 20_000
DEFAULT_SEED = 42
DRIFT_START = "2016-03-01"
DRIFT_END = "2016-03-31"
DRIFT_ROWS = 8_000

COLUMNS = [
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "trip_distance",
    "fare_amount",
    "pickup_zip",
    "dropoff_zip",
]

MILES_PER_DEG_LAT = 69.0
MILES_PER_DEG_LON = 52.4  # at the latitude of New York
JFK_ZIP = 11430
JFK_FLAT_FARE = 52.0

# zip, latitude, longitude, relative demand, kind
ZIPS: list[tuple[int, float, float, float, str]] = [
    (10001, 40.750, -73.997, 6.0, "business"),
    (10002, 40.716, -73.986, 3.0, "nightlife"),
    (10003, 40.732, -73.989, 5.0, "nightlife"),
    (10004, 40.703, -74.013, 1.5, "business"),
    (10005, 40.706, -74.009, 1.5, "business"),
    (10010, 40.739, -73.982, 3.0, "residential"),
    (10011, 40.742, -74.000, 5.0, "nightlife"),
    (10012, 40.726, -73.998, 3.5, "nightlife"),
    (10013, 40.720, -74.005, 3.0, "nightlife"),
    (10014, 40.734, -74.006, 3.5, "nightlife"),
    (10016, 40.745, -73.978, 5.0, "residential"),
    (10017, 40.752, -73.973, 5.0, "business"),
    (10018, 40.755, -73.993, 3.0, "business"),
    (10019, 40.766, -73.986, 5.0, "business"),
    (10021, 40.769, -73.958, 3.0, "residential"),
    (10022, 40.758, -73.968, 5.0, "business"),
    (10023, 40.776, -73.983, 3.5, "residential"),
    (10024, 40.787, -73.975, 3.0, "residential"),
    (10025, 40.798, -73.967, 2.5, "residential"),
    (10026, 40.803, -73.953, 1.0, "residential"),
    (10028, 40.776, -73.953, 3.0, "residential"),
    (10036, 40.759, -73.990, 5.0, "business"),
    (10038, 40.709, -74.002, 2.0, "business"),
    (10065, 40.765, -73.963, 3.0, "residential"),
    (10128, 40.782, -73.950, 2.5, "residential"),
    (11201, 40.694, -73.990, 1.5, "residential"),
    (11211, 40.712, -73.953, 1.5, "nightlife"),
    (11215, 40.667, -73.986, 1.0, "residential"),
    (11101, 40.747, -73.939, 1.0, "business"),
    (11371, 40.773, -73.872, 1.5, "airport"),
    (11430, 40.646, -73.785, 2.0, "airport"),
]

# Relative demand per hour of day (0..23) for each kind of zip.
_HOURLY: dict[str, list[float]] = {
    "business": [2, 1, 1, 1, 1, 2, 4, 7, 9, 9, 8, 8, 9, 8, 8, 8, 9, 10, 10, 9, 7, 6, 4, 3],
    "residential": [2, 1, 1, 1, 1, 2, 5, 9, 10, 8, 6, 5, 5, 5, 5, 6, 6, 6, 6, 6, 5, 4, 3, 2],
    "nightlife": [7, 6, 4, 3, 2, 1, 2, 3, 4, 4, 4, 5, 5, 5, 5, 5, 6, 7, 8, 9, 9, 9, 9, 8],
    "airport": [2, 1, 1, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 7, 8, 8, 8, 8, 7, 7, 6, 5, 3],
}
_WEEKEND_FACTOR = {"business": 0.5, "residential": 0.9, "nightlife": 1.4, "airport": 1.0}


@dataclass(frozen=True)
class Tariff:
    """A metered fare: flag drop + per mile + per minute (minimum is the flag drop)."""

    flag_drop: float
    per_mile: float
    per_minute: float
    jfk_flat: float


NORMAL_TARIFF = Tariff(flag_drop=2.5, per_mile=2.0, per_minute=0.3, jfk_flat=JFK_FLAT_FARE)
DRIFT_TARIFF = Tariff(flag_drop=3.0, per_mile=2.4, per_minute=0.4, jfk_flat=60.0)


def _as_date(value: str | date | datetime) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _zip_table() -> pd.DataFrame:
    table = pd.DataFrame(ZIPS, columns=["zip", "lat", "lon", "weight", "kind"])
    table["x"] = (table["lon"] + 74.0) * MILES_PER_DEG_LON
    table["y"] = (table["lat"] - 40.7) * MILES_PER_DEG_LAT
    return table


def _pickup_times(
    rng: np.random.Generator, start: date, end: date, n_rows: int, zips: pd.DataFrame
) -> np.ndarray:
    """Pickup timestamps drawn from an hourly intensity (hour profile x weekday)."""
    n_days = (end - start).days + 1
    hours = pd.date_range(
        datetime.combine(start, datetime.min.time()), periods=n_days * 24, freq="h"
    )
    weekend = hours.dayofweek >= 5
    intensity = np.zeros(len(hours))
    for kind, profile in _HOURLY.items():
        weight = zips.loc[zips["kind"] == kind, "weight"].sum()
        by_hour = np.asarray(profile, dtype=float)[hours.hour]
        intensity += weight * by_hour * np.where(weekend, _WEEKEND_FACTOR[kind], 1.0)
    chosen = rng.choice(len(hours), size=n_rows, p=intensity / intensity.sum())
    seconds = rng.uniform(0, 3600, size=n_rows)
    return hours.values[chosen] + (seconds * 1e6).astype("timedelta64[us]")


def _pickup_zips(
    rng: np.random.Generator, pickup: pd.DatetimeIndex, zips: pd.DataFrame
) -> np.ndarray:
    """Pickup zip given the hour and weekday: P(zip | hour) ~ demand x profile of its kind."""
    profiles = np.array([_HOURLY[k] for k in zips["kind"]], dtype=float)  # (zips, 24)
    weekend_factor = np.array([_WEEKEND_FACTOR[k] for k in zips["kind"]])
    result = np.empty(len(pickup), dtype=np.int64)
    is_weekend = np.asarray(pickup.dayofweek >= 5)
    hours = np.asarray(pickup.hour)
    for hour in range(24):
        for weekend in (False, True):
            rows = np.flatnonzero((hours == hour) & (is_weekend == weekend))
            if rows.size == 0:
                continue
            p = zips["weight"].to_numpy() * profiles[:, hour] * (weekend_factor if weekend else 1.0)
            result[rows] = rng.choice(len(zips), size=rows.size, p=p / p.sum())
    return result


def _dropoff_zips(rng: np.random.Generator, origin: np.ndarray, zips: pd.DataFrame) -> np.ndarray:
    """Destination zip: popular and near zips are likelier (gravity model)."""
    xy = zips[["x", "y"]].to_numpy()
    dist = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    attract = zips["weight"].to_numpy()[None, :] * np.exp(-dist / 2.5)
    attract[:, zips["kind"].to_numpy() == "airport"] += 0.15
    probs = attract / attract.sum(axis=1, keepdims=True)
    cumulative = probs.cumsum(axis=1)
    draws = rng.random(len(origin))
    picked = (draws[:, None] > cumulative[origin]).sum(axis=1)
    return np.minimum(picked, len(zips) - 1)


def _speed_mph(pickup: pd.DatetimeIndex, distance: np.ndarray) -> np.ndarray:
    """Average speed: slow at rush hour on weekdays, fast at night and on long (highway) trips."""
    hour = np.asarray(pickup.hour)
    weekday = np.asarray(pickup.dayofweek < 5)
    rush = weekday & (((hour >= 7) & (hour < 10)) | ((hour >= 16) & (hour < 19)))
    night = (hour < 6) | (hour >= 22)
    speed = np.where(rush, 8.0, np.where(night, 17.0, 11.5))
    return speed + np.where(distance > 6.0, 9.0, 0.0)


def generate_trips(
    start: str | date = DEFAULT_START,
    end: str | date = DEFAULT_END,
    n_rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    drift: bool = False,
) -> pd.DataFrame:
    """``n_rows`` trips picked up between ``start`` and ``end`` (ISO dates, both inclusive).

    The same arguments always give the same frame. Timestamps are naive (UTC) ``datetime64[us]``.
    """
    start_day, end_day = _as_date(start), _as_date(end)
    if end_day < start_day:
        raise ValueError(f"end {end_day} is before start {start_day}")
    if n_rows <= 0:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    rng = np.random.default_rng(seed)
    zips = _zip_table()

    pickup = pd.DatetimeIndex(np.sort(_pickup_times(rng, start_day, end_day, n_rows, zips)))
    origin = _pickup_zips(rng, pickup, zips)
    destination = _dropoff_zips(rng, origin, zips)

    xy = zips[["x", "y"]].to_numpy()
    straight = np.linalg.norm(xy[origin] - xy[destination], axis=1)
    same_zip = rng.lognormal(mean=np.log(0.8), sigma=0.5, size=n_rows)
    distance = np.where(
        origin == destination, same_zip, 1.3 * straight * rng.lognormal(0, 0.2, n_rows)
    )
    speed = _speed_mph(pickup, distance)
    if drift:
        distance = distance * 1.3 + rng.exponential(0.5, n_rows)
        speed = speed * 0.8
    distance = np.round(np.clip(distance, 0.1, 60.0), 2)
    minutes = distance / speed * 60.0 * rng.lognormal(0, 0.2, n_rows) + rng.uniform(
        0.5, 3.0, n_rows
    )

    tariff = DRIFT_TARIFF if drift else NORMAL_TARIFF
    metered = tariff.flag_drop + tariff.per_mile * distance + tariff.per_minute * minutes
    zip_codes = zips["zip"].to_numpy()
    jfk = (zip_codes[origin] == JFK_ZIP) ^ (zip_codes[destination] == JFK_ZIP)
    fare = np.where(jfk & (distance > 8.0), tariff.jfk_flat, metered) + rng.normal(0, 0.8, n_rows)
    fare = np.maximum(np.round(fare * 2.0) / 2.0, tariff.flag_drop)

    dropoff = pickup + pd.to_timedelta(np.round(minutes * 60.0), unit="s")
    return pd.DataFrame(
        {
            "tpep_pickup_datetime": pickup.astype("datetime64[us]"),
            "tpep_dropoff_datetime": dropoff.astype("datetime64[us]"),
            "trip_distance": distance.astype("float64"),
            "fare_amount": fare.astype("float64"),
            "pickup_zip": zip_codes[origin].astype("int32"),
            "dropoff_zip": zip_codes[destination].astype("int32"),
        },
        columns=COLUMNS,
    )
