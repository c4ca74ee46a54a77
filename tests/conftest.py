"""Shared fixtures: bundled-data analyses are fitted once per test session."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import lossbridge
from lossbridge.data.datasets import BUNDLED


@pytest.fixture(scope="session")
def map_analyses() -> dict[str, lossbridge.Analysis]:
    """All four models, MAP only, on every bundled dataset with the default likelihoods."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", lossbridge.CertificateWarning)
        return {name: lossbridge.fit(name, sample=False) for name, d in BUNDLED.items()
                if d.likelihoods is None}


@pytest.fixture
def simple_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=40)
    g = np.array(list("abcd") * 10)
    y = 1.0 + 2.0 * x + (g == "b") * 0.5 + rng.laplace(size=40)
    return pd.DataFrame({"y": y, "x": x, "g": g, "my col": rng.uniform(1, 2, size=40)})


def write_csv(path, text: str, encoding: str = "utf-8") -> str:
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.fixture(scope="session")
def sampled_engel() -> lossbridge.Analysis:
    """The default four-model analysis of Engel, sampled once per session."""
    return lossbridge.fit("engel", seed=20261201, progress=False)


@pytest.fixture
def interrupted_rename(monkeypatch):
    """Make the final rename of every atomic write raise KeyboardInterrupt (Ctrl-C)."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lossbridge.core.outputs.os.replace", interrupted)
