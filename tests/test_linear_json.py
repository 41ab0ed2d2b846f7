"""The JSON-stored logistic regression both offline judges use: the shipped files read and write back byte for byte,
and a broken model file is one ConfigError naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from twofaced.errors import ConfigError
from twofaced.judges._af_offline import OfflineAFClassifier
from twofaced.judges._linear_json import LinearJsonClassifier
from twofaced.judges._tone_offline import OfflineToneClassifier

CLASSIFIERS = [OfflineAFClassifier, OfflineToneClassifier]


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.judge)
def test_a_shipped_model_file_reads_and_writes_back_byte_for_byte(cls: type[LinearJsonClassifier],
                                                                   tmp_path: Path) -> None:
    clf = cls.load_default()
    assert type(clf) is cls and clf.metadata["metrics"]["heldout"]["n"] > 0
    clf.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == cls.model_path.read_bytes()
    assert list(json.loads(cls.model_path.read_text()))[:3] == ["format", "judge", "version"]


def test_the_probability_is_the_logistic_of_the_standardised_score() -> None:
    clf = OfflineToneClassifier(np.array([1.0, -1.0]), np.array([2.0, 0.5]), np.array([0.5, 1.0]), intercept=-0.25)
    x = np.array([[3.0, -0.5], [1.0, -1.0]])
    z = np.array([0.5 * 1.0 + 1.0 * 1.0 - 0.25, -0.25])
    assert np.allclose(clf.predict_proba_features(x), 1 / (1 + np.exp(-z)))
    assert clf.predict_proba([]).shape == (0,)  # nothing to read: nothing is embedded


def test_an_unfitted_classifier_says_so() -> None:
    with pytest.raises(ConfigError, match="the offline alignment-faking classifier is not fitted"):
        OfflineAFClassifier().predict_proba_features(np.zeros((1, 768)))
    with pytest.raises(ConfigError, match="the offline tone classifier is not fitted"):
        OfflineToneClassifier().to_dict()


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", r"cannot read af-offline model .*bad\.json"),
    ('{"format": "twofaced-tone-offline/1"}', r"bad\.json is not an af-offline model file"),
    ('{"format": "twofaced-af-offline/1", "mean": [0.0]}', r"bad\.json: an af-offline model file needs numeric "
                                                            r"mean, scale, coef and intercept"),
    ('{"format": "twofaced-af-offline/1", "mean": [0.0], "scale": ["x"], "coef": [1.0], "intercept": 0}',
     "needs numeric"),
    ('{"format": "twofaced-af-offline/1", "mean": [0.0], "scale": [1.0, 2.0], "coef": [1.0], "intercept": 0}',
     "mean, scale and coef differ in length"),
])
def test_a_broken_model_file_is_one_config_error_naming_it(content: str, message: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        OfflineAFClassifier.load(bad)
    assert "\n" not in str(caught.value)


def test_a_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read tone-offline model .*absent\.json"):
        OfflineToneClassifier.load(tmp_path / "absent.json")
