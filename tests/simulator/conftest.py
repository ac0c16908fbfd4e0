"""Fixtures of the simulator's tests: one simulator per test module, reset before every test."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import cloud66_sim  # noqa: E402
from sim_client import TIMINGS, control  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    with cloud66_sim.Simulator(**TIMINGS) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def clean(sim):
    control(sim, "POST", "/reset", {})
    yield
