"""state_dict / save / load: exact round trips, and every bad file raises ValueError leaving the module unchanged."""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from nn import serialization


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
    "100k nested lists": (lambda: _replace_value("[" * 100_000 + "]" * 100_000),
                          "nested more than 100 levels deep"),
    "100k nested objects": (lambda: _replace_value('{"a": ' * 100_000 + "1" + "}" * 100_000),
                            "nested more than 100 levels deep"),
    "integer of 5,000 digits": (lambda: _replace_value("7" * 5000), "an integer of 5000 digits is too long"),
    "architecture integer of 10,000 digits": (
        lambda: json.dumps(_good_doc()).replace('"nin": 2', '"nin": ' + "1" * 10_000),
        "an integer of 10000 digits is too long"),
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


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    doc = _good_doc()
    doc["architecture"]["activation"] = "[" * 500 + '\\"{' * 200
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="file is for architecture"):
        nn.MLP(2, [2, 1], seed=5).load(str(path))


def test_an_integer_of_4300_digits_is_still_parsed(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(_replace_value("9" * 4300), encoding="utf-8")
    with pytest.raises(ValueError, match=r"parameter 'layers.1.b.0' must be finite"):
        nn.MLP(2, [2, 1], seed=5).load(str(path))


def test_a_file_far_larger_than_the_architecture_needs_is_rejected_unread(tmp_path, monkeypatch):
    mlp = nn.MLP(2, [2, 1], seed=5)
    limit = serialization.size_limit(mlp)
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(4 << 30)  # 4 GiB of NUL bytes, sparse: reading it would take seconds and gigabytes
    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: _spy(real_open(*a, **k), reads))
    before = bits(mlp.state_dict())
    with pytest.raises(ValueError, match=rf"huge.json: file is 4294967296 bytes, more than the {limit} bytes"):
        mlp.load(str(path))
    assert reads == [] and bits(mlp.state_dict()) == before


class _spy:
    def __init__(self, f, reads):
        self.f, self.reads = f, reads

    def __enter__(self):
        self.f.__enter__()
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def read(self, n=-1):
        self.reads.append(n)
        return self.f.read(n)


def test_a_file_that_grows_past_the_limit_is_read_only_up_to_it(tmp_path, monkeypatch):
    mlp = nn.MLP(2, [2, 1], seed=5)
    limit = serialization.size_limit(mlp)
    path = tmp_path / "growing.json"
    path.write_bytes(b" " * (limit + 1000))
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((0,) * 6 + (0,) + tuple(real_fstat(fd))[7:]))
    with pytest.raises(ValueError, match=rf"file is {limit + 1} bytes, more than the {limit} bytes"):
        mlp.load(str(path))


def test_the_size_limit_leaves_room_for_generous_formatting(tmp_path):
    for mlp in (nn.MLP(2, [2, 1], seed=0), nn.MLP(10, [50, 50, 5], seed=0)):
        canonical = serialization.to_json(mlp)
        assert 16 * len(canonical) < serialization.size_limit(mlp) < 24 * len(canonical) + 2 * (1 << 20)
        doc = json.loads(canonical)
        path = tmp_path / "wide.json"
        path.write_text(json.dumps(doc, indent=12), encoding="utf-8")  # a hand-edited file, wider than ours
        fresh = nn.MLP(mlp.nin, list(mlp.sizes), seed=1)
        fresh.load(str(path))
        assert bits(fresh.state_dict()) == bits(mlp.state_dict())


# Saving: atomic, never a corrupt file, permission bits kept, symlinks followed, no litter on failure.

SAVER = """
import sys
import nn
model = nn.MLP(2, [16, 16, 1], seed=int(sys.argv[2]))
for _ in range(int(sys.argv[3])):
    model.save(sys.argv[1])
"""


def test_two_processes_saving_one_path_never_publish_a_corrupt_file(tmp_path):
    path = tmp_path / "model.json"
    expected = {seed: bits(nn.MLP(2, [16, 16, 1], seed=seed).state_dict()) for seed in (1, 2)}
    nn.MLP(2, [16, 16, 1], seed=1).save(str(path))
    root = Path(__file__).resolve().parent.parent
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(seed), "150"], cwd=root,
                               stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    reader = nn.MLP(2, [16, 16, 1], seed=0)
    seen = {1: 0, 2: 0}
    try:
        while any(s.poll() is None for s in savers):
            reader.load(str(path))  # raises on a corrupt or half-written file
            state = bits(reader.state_dict())
            seed = next(s for s, e in expected.items() if e == state)
            seen[seed] += 1
    finally:
        errors = [s.communicate(timeout=60)[1] for s in savers]
    assert [s.returncode for s in savers] == [0, 0], errors
    assert seen[1] + seen[2] > 20
    assert os.listdir(tmp_path) == ["model.json"]  # no temporary file left behind


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and symlinks")


@posix_only
def test_saving_over_a_file_keeps_its_permission_bits(tmp_path):
    path = tmp_path / "model.json"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o640)
    nn.MLP(2, [1], seed=0).save(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    os.chmod(path, 0o604)
    nn.MLP(2, [1], seed=0).save(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604


@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_new_file_gets_the_bits_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        nn.MLP(2, [1], seed=0).save(str(tmp_path / "model.json"))
        with open(tmp_path / "plain.txt", "w"):
            pass
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "model.json").st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)


@posix_only
def test_saving_through_a_symlink_updates_its_target(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    target = models / "v1.json"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o600)
    link = tmp_path / "current.json"
    link.symlink_to(target)
    src = nn.MLP(2, [2, 1], seed=3)
    src.save(str(link))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text(encoding="utf-8"))["parameters"] == src.state_dict()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(models)) == ["v1.json"] and sorted(os.listdir(tmp_path)) == ["current.json", "models"]


@posix_only
def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "current.json"
    link.symlink_to(tmp_path / "new.json")
    nn.MLP(2, [1], seed=0).save(str(link))
    assert link.is_symlink() and (tmp_path / "new.json").is_file()


def _raise(exc):
    def fail(*args, **kwargs):
        raise exc
    return fail


@pytest.mark.parametrize("where, exc", [
    ("replace", OSError("disk on fire")),
    ("replace", KeyboardInterrupt()),
    ("fsync", OSError("no space left")),
    ("fsync", KeyboardInterrupt()),
    ("chmod", KeyboardInterrupt()),
])
def test_a_failed_save_removes_its_temporary_file_and_leaves_the_old_file(tmp_path, monkeypatch, where, exc):
    path = tmp_path / "model.json"
    nn.MLP(2, [2, 1], seed=0).save(str(path))
    old = path.read_bytes()
    monkeypatch.setattr(os, where, _raise(exc))
    with pytest.raises(type(exc)):
        nn.MLP(2, [2, 1], seed=1).save(str(path))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.json"] and path.read_bytes() == old


def test_a_save_that_cannot_encode_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(json, "dumps", _raise(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        nn.MLP(2, [1], seed=0).save(str(tmp_path / "model.json"))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_saving_into_a_missing_folder_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.MLP(2, [1], seed=0).save(str(tmp_path / "absent" / "model.json"))
    assert os.listdir(tmp_path) == []
