"""Cost metadata: per-second billing with a one-minute minimum, for the instances that ran."""

import datetime as dt

import pytest

from genre_assets.errors import ConfigurationError
from genre_assets.resources.aws import emr_cluster

T0 = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)


class _FakeEmr:
    def __init__(self, instances):
        self.instances = instances

    def get_paginator(self, name):
        assert name == "list_instances"
        outer = self

        class _Pages:
            def paginate(self, ClusterId):
                yield {"Instances": outer.instances[:1]}
                yield {"Instances": outer.instances[1:]}

        return _Pages()


def _instance(kind, market, seconds, ended=True):
    timeline = {"CreationDateTime": T0}
    if ended:
        timeline["EndDateTime"] = T0 + dt.timedelta(seconds=seconds)
    return {"InstanceType": kind, "Market": market, "Status": {"Timeline": timeline}}


def test_cost_is_per_second_per_instance_with_a_minute_minimum():
    emr = _FakeEmr(
        [
            _instance("m5.xlarge", "ON_DEMAND", 600),
            _instance("m5.xlarge", "SPOT", 30),  # billed as 60 s
            _instance("m5a.xlarge", "SPOT", 600, ended=False),  # still running at `now`
        ]
    )
    prices = emr_cluster.parse_prices('{"m5.xlarge": {"on_demand": 0.2, "spot": 0.1, "emr": 0.05}}')
    cost = emr_cluster.cluster_cost(
        emr, "j-1", prices, "eu-west-1", now=T0 + dt.timedelta(seconds=900)
    )
    expected = 600 / 3600 * 0.25 + 60 / 3600 * 0.15 + 900 / 3600 * (0.172 + 0.043)
    assert cost.usd == round(expected, 4)
    assert cost.billed_seconds == 600 + 60 + 900
    assert cost.instances == (
        "m5.xlarge ON_DEMAND 600 s",
        "m5.xlarge SPOT 60 s",
        "m5a.xlarge SPOT 900 s",
    )
    # No spot price configured for m5a.xlarge: priced at on demand, and said so.
    assert cost.notes == ("m5a.xlarge spot priced at on demand (an upper bound)",)
    assert cost.console_url == (
        "https://eu-west-1.console.aws.amazon.com/emr/home?region=eu-west-1#/clusterDetails/j-1"
    )


def test_unknown_types_and_no_instances_are_reported_not_guessed():
    cost = emr_cluster.cluster_cost(
        _FakeEmr([_instance("r7g.large", "ON_DEMAND", 100)]),
        "j-2",
        emr_cluster.DEFAULT_PRICES,
        "us-east-1",
    )
    assert cost.usd == 0 and cost.notes == (
        "no price for r7g.large (GENRE_ASSETS_EMR_PRICES): not counted",
    )
    empty = emr_cluster.cluster_cost(_FakeEmr([]), "j-3", emr_cluster.DEFAULT_PRICES, "us-east-1")
    assert empty.notes == ("EMR reported no instances yet",)


@pytest.mark.parametrize("text", ["not json", '{"m5.xlarge": {"spot": 1}}', '["m5.xlarge"]'])
def test_bad_price_settings_are_configuration_errors(text):
    with pytest.raises(ConfigurationError, match="GENRE_ASSETS_EMR_PRICES must be JSON like"):
        emr_cluster.parse_prices(text)
