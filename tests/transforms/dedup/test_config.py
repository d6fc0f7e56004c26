"""MinHash settings: the string form that names the store and the run report, flag round trip."""

from __future__ import annotations

import argparse

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.core.run import RunIdentity
from transforms.dedup import stage as dedup
from transforms.dedup.config import MinHashConfig, add_arguments

RUN = RunIdentity(run_id="r1", run_key="20261124T000000Z", dated=True)


def minhash_of(flags: list[str]) -> MinHashConfig:
    """The MinHash config the job builds from these flags (``dedup.config_from_options``)."""
    return dedup.config_from_options(PipelineOptions(flags), RUN, None).minhash


def test_config_string_names_every_knob_and_rejects_impossible_banding() -> None:
    text = str(MinHashConfig())
    for part in ("k3", "p128", "b42x3", "s1", "j0.5", "c0.8", "cap200"):
        assert part in text
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashConfig(bands=50, rows=3)
    assert MinHashConfig().candidate_probability(0.5) > 0.99
    assert MinHashConfig().candidate_probability(0.1) < 0.1


def test_flags_round_trip_into_the_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = ["--dedup_bands", "20", "--dedup_max_bucket_size", "50"]
    assert parser.parse_args(flags).dedup_bands == 20
    config = minhash_of(flags)
    assert (config.bands, config.rows, config.max_bucket_size) == (20, 3, 50)
    assert minhash_of([]) == MinHashConfig()
    with pytest.raises(ValueError, match="max_bucket_size"):
        minhash_of(["--dedup_max_bucket_size=1"])
