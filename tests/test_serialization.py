"""state_dict / save / load: exact round trips, and every bad file raises ValueError leaving the module unchanged."""

from __future__ import annotations

import json
import math
import struct

import pytest

import nn


def bits(state: dict[str, float]) -> dict[str, bytes]:
    return {k: struct.pack("<d", v) for k, v in state.items()}


def awkward_mlp(seed: int = 0) -> nn.MLP:
    """An MLP whose parameters include values that print with many digits, tiny, huge and negative zero."""
    mlp = nn.MLP(3, [4, 2], activation="relu", output_activation="sigmoid", seed=seed)
    special = [0.1, 1 / 3, -2 / 7, 5e-324, 1.7976931348623157e308, -0.0, math.pi, 1e-300, -123456.789]
    for p, x in zip(mlp.parameters(), special):
        p.data = x
    return mlp


def test_state_dict_is_plain_floats_keyed_by_named_parameters():
    mlp = nn.MLP(2, [3, 1], seed=0)
    state = mlp.state_dict()
    assert list(state) == [name for name, _ in mlp.named_parameters()]
    assert all(type(v) is float for v in state.values())
    assert state["layers.0.W.2.1"] == mlp.layers[0].W[2][1].data


def test_save_load_round_trip_is_bit_exact(tmp_path):
    src, dst = awkward_mlp(0), awkward_mlp(1)
    for p in dst.parameters():
        p.data = 0.5
    path = tmp_path / "model.json"
    src.save(str(path))
    dst.load(str(path))
    assert bits(dst.state_dict()) == bits(src.state_dict())
    assert dst([0.1, 0.2, 0.3])[0].data == src([0.1, 0.2, 0.3])[0].data


def test_file_is_json_with_format_version_architecture_parameters(tmp_path):
    mlp = nn.MLP(2, [3, 1], activation="tanh", output_activation="linear", seed=0)
    path = tmp_path / "m.json"
    mlp.save(str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "chainrule" and doc["version"] == 1
    assert doc["architecture"] == {"type": "MLP", "nin": 2, "sizes": [3, 1], "activation": "tanh",
                                   "output_activation": "linear"}
    assert doc["parameters"] == mlp.state_dict()


@pytest.mark.parametrize("make", [lambda: nn.Neuron(3, seed=2), lambda: nn.Layer(2, 3, activation="relu", seed=2)])
def test_neuron_and_layer_round_trip(tmp_path, make):
    src, dst = make(), make()
    for p in dst.parameters():
        p.data = 0.0
    src.save(str(tmp_path / "x.json"))
    dst.load(str(tmp_path / "x.json"))
    assert bits(dst.state_dict()) == bits(src.state_dict())


def test_load_state_dict_round_trip_and_check():
    src, dst = nn.MLP(2, [2, 1], seed=0), nn.MLP(2, [2, 1], seed=1)
    dst.load_state_dict(src.state_dict())
    assert bits(dst.state_dict()) == bits(src.state_dict())
    before = bits(dst.state_dict())
    bad = dict(src.state_dict(), **{"layers.1.b.0": float("nan")})
    with pytest.raises(ValueError, match=r"parameter 'layers.1.b.0' must be finite"):
        dst.load_state_dict(bad)
    assert bits(dst.state_dict()) == before


def test_saving_a_nan_parameter_raises(tmp_path):
    mlp = nn.MLP(2, [1], seed=0)
    mlp.parameters()[0].data = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        mlp.save(str(tmp_path / "nan.json"))
    assert not (tmp_path / "nan.json").exists()


def _good_doc() -> dict:
    mlp = nn.MLP(2, [2, 1], seed=0)
    return json.loads(json.dumps({"format": "chainrule", "version": 1, "architecture": mlp.architecture(),
                                  "parameters": mlp.state_dict()}))


def _edit(change):
    def make() -> str:
        doc = _good_doc()
        change(doc)
        return json.dumps(doc)
    return make


def _text(text: str):
    return lambda: text


BAD_FILES = {
    "not json": (_text("this is not json"), "not valid JSON"),
    "truncated": (lambda: json.dumps(_good_doc())[:-20], "not valid JSON"),
    "empty": (_text(""), "not valid JSON"),
    "top-level list": (_text("[1, 2, 3]"), "expected a JSON object at the top level, got list"),
    "no format": (_edit(lambda d: d.pop("format")), "missing key 'format'"),
    "no parameters": (_edit(lambda d: d.pop("parameters")), "missing key 'parameters'"),
    "other format": (_edit(lambda d: d.update(format="pytorch")), "format is 'pytorch', expected 'chainrule'"),
    "other version": (_edit(lambda d: d.update(version=2)), "unsupported version 2"),
    "other sizes": (_edit(lambda d: d["architecture"].update(sizes=[3, 1])), "file is for architecture"),
    "other activation": (_edit(lambda d: d["architecture"].update(activation="relu")), "file is for architecture"),
    "other type": (_edit(lambda d: d["architecture"].update(type="Layer")), "file is for architecture"),
    "missing parameter": (_edit(lambda d: d["parameters"].pop("layers.0.W.1.0")),
                          r"missing 'layers.0.W.1.0'"),
    "extra parameter": (_edit(lambda d: d["parameters"].update({"layers.2.W.0.0": 1.0})),
                        r"unexpected 'layers.2.W.0.0'"),
    "parameters not an object": (_edit(lambda d: d.update(parameters=[1.0, 2.0])), "state must be a dict"),
    "string value": (_edit(lambda d: d["parameters"].update({"layers.0.b.0": "0.5"})),
                     r"parameter 'layers.0.b.0' must be a number, got str"),
    "bool value": (_edit(lambda d: d["parameters"].update({"layers.0.b.0": True})),
                   r"parameter 'layers.0.b.0' must be a number, got bool"),
    "null value": (_edit(lambda d: d["parameters"].update({"layers.0.b.0": None})),
                   r"parameter 'layers.0.b.0' must be a number, got NoneType"),
    "NaN token": (lambda: _replace_value("NaN"), "non-finite number NaN"),
    "Infinity token": (lambda: _replace_value("Infinity"), "non-finite number Infinity"),
    "-Infinity token": (lambda: _replace_value("-Infinity"), "non-finite number -Infinity"),
    "overflowing number": (lambda: _replace_value("1e999"), r"parameter 'layers.1.b.0' must be finite"),
    "huge integer": (lambda: _replace_value("1" + "0" * 400), r"parameter 'layers.1.b.0' must be finite"),
    "duplicate key": (lambda: json.dumps(_good_doc())[:-1] + ', "format": "chainrule"}', "duplicate key 'format'"),
}


def _replace_value(token: str) -> str:
    doc = _good_doc()
    doc["parameters"]["layers.1.b.0"] = 12345.5
    return json.dumps(doc).replace("12345.5", token)


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_naming_the_problem_and_changes_nothing(tmp_path, case):
    make, match = BAD_FILES[case]
    path = tmp_path / "bad.json"
    path.write_text(make(), encoding="utf-8")
    mlp = nn.MLP(2, [2, 1], seed=5)
    before = bits(mlp.state_dict())
    with pytest.raises(ValueError, match=match) as info:
        mlp.load(str(path))
    assert str(path) in str(info.value)
    assert bits(mlp.state_dict()) == before


def test_the_good_document_itself_loads(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(json.dumps(_good_doc()), encoding="utf-8")
    mlp = nn.MLP(2, [2, 1], seed=5)
    mlp.load(str(path))
    assert mlp.state_dict() == nn.MLP(2, [2, 1], seed=0).state_dict()


def test_non_utf8_file_raises_value_error(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\x80\x81\xff" * 10)
    mlp = nn.MLP(2, [1], seed=0)
    before = bits(mlp.state_dict())
    with pytest.raises(ValueError, match="not UTF-8 text"):
        mlp.load(str(path))
    assert bits(mlp.state_dict()) == before


def test_file_of_another_module_type_raises(tmp_path):
    layer = nn.Layer(2, 1, seed=0)
    layer.save(str(tmp_path / "layer.json"))
    mlp = nn.MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match="file is for architecture"):
        mlp.load(str(tmp_path / "layer.json"))


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.MLP(2, [1]).load(str(tmp_path / "absent.json"))
