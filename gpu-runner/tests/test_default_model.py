"""Where the runner finds its default model when `--model` is not given: $HOUSE_MODELS (the image sets
/models) or the checkout's models/; the tiny model is built into the model cache when the models folder
cannot be written (an installed package, as in the image, where it used to fail with PermissionError)."""

import json
import os
from types import SimpleNamespace

from runner.__main__ import default_adapters, default_model


def test_house_models_names_the_folder_of_the_default_model_and_its_adapters(tmp_path, monkeypatch):
    house = tmp_path / "house"
    (house / "adapters").mkdir(parents=True)
    (house / "config.json").write_text(json.dumps({"model_type": "llama"}))
    monkeypatch.setenv("HOUSE_MODELS", str(tmp_path))
    assert default_model() == str(house)
    assert default_adapters(SimpleNamespace(model=None)) == str(house / "adapters")
    assert default_adapters(SimpleNamespace(model="/elsewhere")) is None


def test_without_a_writable_models_folder_the_tiny_model_is_built_in_the_cache(tmp_path, monkeypatch):
    missing = tmp_path / "site-packages" / "models"  # its parent does not exist: not writable
    monkeypatch.setenv("HOUSE_MODELS", str(missing))
    monkeypatch.setenv("HOUSE_MODEL_CACHE", str(tmp_path / "cache"))
    tiny = default_model()
    assert tiny == str(tmp_path / "cache" / "tiny")
    assert os.path.isfile(os.path.join(tiny, "config.json"))
    assert not missing.exists()
    assert default_model() == tiny  # built once, found again
