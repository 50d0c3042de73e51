"""Tests for minigan/serialization.py: exact round trips, refusal of damaged, foreign and
pickle files, and atomic writes."""
import ast
import errno
import inspect
import io
import os
import pathlib
import stat
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigan as mg
from minigan import serialization
from minigan.nn.parameter import Parameter
from minigan.serialization import CheckpointError, load, save

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64]


def float_bits(value):
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def float_from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def array_bits(array):
    return (array.dtype.newbyteorder("<"), array.shape,
            np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())


def assert_identical(expected, actual, where="<top>"):
    """Same types all the way down (tuple vs list, Tensor vs ndarray vs NumPy scalar, int vs
    float), same dict key order, and the same bits in every number and array."""
    if isinstance(expected, mg.Tensor):
        assert type(actual) is mg.Tensor, where
        assert actual.device == "cpu" and not actual.requires_grad, where
        expected_host = expected.data if isinstance(expected.data, np.ndarray) else (
            expected.data.get())
        assert array_bits(actual.data) == array_bits(expected_host), where
        return
    if isinstance(expected, dict):
        assert type(actual) is dict, where
        assert list(actual) == list(expected), where
        for key in expected:
            assert_identical(expected[key], actual[key], f"{where}.{key}")
        return
    assert type(actual) is type(expected), (where, type(expected), type(actual))
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_identical(e, a, f"{where}.{i}")
    elif isinstance(expected, np.ndarray):
        assert array_bits(actual) == array_bits(expected), where
        assert actual.flags.c_contiguous and actual.flags.writeable, where
    elif isinstance(expected, np.generic):
        assert array_bits(np.asarray(actual)) == array_bits(np.asarray(expected)), where
    elif isinstance(expected, float):
        assert float_bits(actual) == float_bits(expected), where
    else:
        assert actual == expected, where


def round_trip(obj, path):
    save(obj, path)
    return load(path)


# ------------------------------------------------------------------------ round trips --

def test_every_leaf_kind_round_trips_with_its_exact_type(tmp_path):
    obj = {
        "tensor": mg.tensor([[1.5, -2.0], [0.25, 3.0]]),
        "parameter": Parameter(mg.tensor([1.0, 2.0], dtype=mg.float64)),
        "ndarray": np.arange(6, dtype=np.int32).reshape(2, 3),
        "scalars": [np.float32(0.1), np.int64(-7), np.bool_(True), np.uint8(255),
                    np.float16(-0.0), np.complex64(1 - 2j)],
        "python": [None, True, False, 0, -1, 2 ** 70, 0.1, -0.0, "", "ünï\U0001f600"],
        "tuple": (1, (2.5, [3]), ()),
        "list": [[], {}, [()]],
        "dict keys": {"": 1, "a.b": 2, "0": 3},
    }
    loaded = round_trip(obj, tmp_path / "all.ckpt")
    obj["parameter"] = mg.Tensor(obj["parameter"].data)   # a Parameter loads as a Tensor
    assert_identical(obj, loaded)


def test_tuples_and_lists_stay_distinct_and_dict_order_is_kept(tmp_path):
    obj = OrderedDict([("z", (1, [2, (3,)])), ("a", [(), []]), ("m", ([],))])
    loaded = round_trip(obj, tmp_path / "c.ckpt")
    assert type(loaded) is dict and list(loaded) == ["z", "a", "m"]
    assert loaded == {"z": (1, [2, (3,)]), "a": [(), []], "m": ([],)}
    assert type(loaded["z"]) is tuple and type(loaded["z"][1]) is list
    assert type(loaded["z"][1][1]) is tuple and type(loaded["m"][0]) is list


@pytest.mark.parametrize("bits", [
    0x0000000000000000, 0x8000000000000000,                          # +0.0, -0.0
    0x7FF0000000000000, 0xFFF0000000000000,                          # +inf, -inf
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,      # NaNs: quiet, negative,
    0x7FFFFFFFFFFFFFFF,                                              # signalling, all ones
    0x0000000000000001, 0x7FEFFFFFFFFFFFFF, 0x3FB999999999999A,      # min subnormal, max, 0.1
])
def test_python_floats_keep_their_exact_bits(tmp_path, bits):
    loaded = round_trip([float_from_bits(bits)], tmp_path / "f.ckpt")
    assert type(loaded[0]) is float and float_bits(loaded[0]) == bits


def test_float_array_nan_payloads_and_signed_zeros_keep_their_bits(tmp_path):
    bits = np.array([0x7FC00001, 0xFFC00000, 0x7F800001, 0x80000000, 0x7F800000, 1],
                    dtype=np.uint32)
    obj = {"f32": bits.view(np.float32), "f16": np.array([0x7E01, 0x8000], np.uint16)
           .view(np.float16)}
    loaded = round_trip(obj, tmp_path / "nan.ckpt")
    assert loaded["f32"].view(np.uint32).tolist() == bits.tolist()
    assert loaded["f16"].view(np.uint16).tolist() == [0x7E01, 0x8000]


@pytest.mark.parametrize("value", [2 ** 63, -(2 ** 64) - 1, 2 ** 128 - 1, -(2 ** 1000),
                                   10 ** 5000],   # beyond int <-> decimal str's 4300 digits
                         ids=["2**63", "-2**64-1", "2**128-1", "-2**1000", "10**5000"])
def test_ints_of_any_size_stay_exact_ints(tmp_path, value):
    loaded = round_trip({"n": value}, tmp_path / "i.ckpt")
    assert type(loaded["n"]) is int and loaded["n"] == value


def test_rng_states_continue_the_stream_exactly_after_a_round_trip(tmp_path):
    gen = mg.Generator(2024)
    gen.normal((5,))
    gen.uniform((1,), np.float64)
    numpy_rng = np.random.Generator(np.random.PCG64(7))
    numpy_rng.random(3)
    state = {"minigan": gen.get_state(), "numpy": numpy_rng.bit_generator.state}
    assert state["numpy"]["state"]["state"] >= 2 ** 64       # a genuine 128-bit integer
    loaded = round_trip(state, tmp_path / "rng.ckpt")
    assert loaded == state
    restored, restored_numpy = mg.Generator(0), np.random.Generator(np.random.PCG64(0))
    restored.set_state(loaded["minigan"])
    restored_numpy.bit_generator.state = loaded["numpy"]
    assert np.array_equal(restored.normal((6,)), gen.normal((6,)))
    assert np.array_equal(restored_numpy.random(4), numpy_rng.random(4))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (3, 4)], ids=str)
def test_arrays_and_tensors_of_every_dtype_and_shape_round_trip(tmp_path, dtype, shape):
    values = np.random.default_rng(0).normal(size=shape) * 50
    array = (values + 1j * values if np.dtype(dtype).kind == "c" else values).astype(dtype)
    obj = {"array": array, "tensor": mg.Tensor(array.copy())}
    assert_identical(obj, round_trip(obj, tmp_path / "a.ckpt"))


def test_non_contiguous_and_big_endian_arrays_are_stored_by_value(tmp_path):
    base = np.arange(48, dtype=np.float64).reshape(6, 8)
    strided = base[::2, ::-3].T
    big_endian = np.arange(5, dtype=">i4")
    loaded = round_trip({"s": strided, "t": mg.Tensor(base.T), "b": big_endian},
                        tmp_path / "nc.ckpt")
    assert np.array_equal(loaded["s"], strided) and loaded["s"].flags.c_contiguous
    assert np.array_equal(loaded["t"].data, base.T) and loaded["t"].data.flags.c_contiguous
    assert loaded["b"].dtype == np.dtype("<i4") and loaded["b"].tolist() == [0, 1, 2, 3, 4]


def test_loaded_tensors_do_not_require_grad_and_are_writable(tmp_path):
    loaded = round_trip({"w": mg.randn(2, 2, requires_grad=True)}, tmp_path / "g.ckpt")
    assert type(loaded["w"]) is mg.Tensor and not loaded["w"].requires_grad
    loaded["w"].data[0, 0] = 5.0
    assert loaded["w"].is_leaf and loaded["w"].grad is None


def test_map_location_cpu_and_bad_devices(tmp_path):
    path = tmp_path / "m.ckpt"
    save({"w": mg.ones(2)}, path)
    assert load(path, map_location="cpu")["w"].device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        load(path, map_location="tpu")


def numpy_arrays():
    """Arrays of any supported dtype and shape (0-d and empty included), as drawn, transposed
    or every other element of the last axis backwards (non-contiguous)."""
    dtypes = st.sampled_from(DTYPES).map(np.dtype)
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    layouts = st.sampled_from([lambda a: a, lambda a: a.T,
                               lambda a: a[..., ::-2] if a.ndim else a])
    return st.builds(lambda a, layout: layout(a), hnp.arrays(dtypes, shapes), layouts)


LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2 ** 200), 2 ** 200),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    numpy_arrays(), numpy_arrays().map(mg.Tensor),
    hnp.arrays(st.sampled_from(DTYPES).map(np.dtype), ()).map(lambda a: a[()]),
)
STRUCTURES = st.recursive(
    LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.lists(children, max_size=4).map(tuple),
                               st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12)


@given(obj=STRUCTURES)
def test_drawn_nested_structures_round_trip_exactly(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("drawn") / "x.ckpt"
    assert_identical(obj, round_trip(obj, path))


# --------------------------------------------------------------- what save refuses --

class Opaque:
    pass


@pytest.mark.parametrize("leaf, type_name", [
    (Opaque(), "Opaque"),
    ({1, 2}, "builtins.set"),
    (b"bytes", "builtins.bytes"),
    (np.zeros(2, np.complex128), "complex128"),
    (np.array(["a"]), "<U1"),
    (np.ma.masked_array([1.0]), "MaskedArray"),
    (mg.Tensor(np.zeros(2, np.complex128)), "complex128"),
])
def test_unsupported_leaves_raise_type_error_naming_key_path_and_type(tmp_path, leaf,
                                                                      type_name):
    path = tmp_path / "bad.ckpt"
    save({"old": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError) as info:
        save({"model": {"layers": [{"weight": leaf}]}}, path)
    assert "'model.layers.0.weight'" in str(info.value) and type_name in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["bad.ckpt"]


def test_int_keyed_dicts_round_trip_with_their_int_keys(tmp_path):
    path = tmp_path / "opt.ckpt"
    state = {"state": {0: {"step": 3, "exp_avg": mg.ones(2)}, 7: {"step": 1}},
             "param_groups": [{"params": [0, 7], "lr": 0.1}]}
    save(state, path)
    back = load(path)
    assert list(back["state"]) == [0, 7] and all(type(k) is int for k in back["state"])
    assert back["state"][0]["step"] == 3 and back["state"][0]["exp_avg"].tolist() == [1, 1]
    assert back["param_groups"] == state["param_groups"]


def test_mixed_keys_and_reference_cycles_raise_before_any_file_exists(tmp_path):
    path = tmp_path / "new.ckpt"
    with pytest.raises(TypeError, match=r"keys must be all str or all int, got int key 3 "
                                        r"at key 'opt.state'"):
        save({"opt": {"state": {"a": 1, 3: mg.zeros(1)}}}, path)
    cycle = [1]
    cycle.append(cycle)
    with pytest.raises(TypeError, match=r"key 'a.1' holds a container that contains itself"):
        save({"a": cycle}, path)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------- what load refuses --

def small_checkpoint(path):
    save({"model": {"layers": [{"weight": mg.Tensor(np.arange(6, dtype=np.float32)
                                                       .reshape(2, 3))}]},
          "step": 3, "lr": 1e-3, "m": np.arange(4, dtype=np.float16)}, path)
    raw = path.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    return raw, header_end


def assert_refused(path, *fragments):
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert info.value.path == str(path) and repr(str(path)) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)
    return info.value


def test_truncation_at_any_offset_is_refused_naming_the_file(tmp_path):
    raw, header_end = small_checkpoint(tmp_path / "full.ckpt")
    rng = np.random.default_rng(1234)
    offsets = {0, 1, 7, 8, 9, header_end - 1, header_end, len(raw) - 1}
    offsets |= set(rng.choice(len(raw), size=50, replace=False).tolist())
    path = tmp_path / "cut.ckpt"
    for offset in sorted(offsets):
        path.write_bytes(raw[:offset])
        assert_refused(path, "not a safetensors file")


def test_any_changed_header_byte_is_refused(tmp_path):
    raw, header_end = small_checkpoint(tmp_path / "full.ckpt")
    path = tmp_path / "flipped.ckpt"
    bits = np.random.default_rng(5).integers(0, 8, size=header_end)
    for i in range(header_end):
        for mask in (0xFF, 1 << int(bits[i])):
            damaged = bytearray(raw)
            damaged[i] ^= mask
            path.write_bytes(damaged)
            assert_refused(path)


def test_any_changed_tensor_byte_is_refused_by_its_checksum(tmp_path):
    raw, header_end = small_checkpoint(tmp_path / "full.ckpt")
    path = tmp_path / "flipped.ckpt"
    first = bytearray(raw)
    first[-1] ^= 0x01
    path.write_bytes(first)
    assert_refused(path, "checksum mismatch", "key 'm'")
    for i in range(header_end, len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0x01
        path.write_bytes(damaged)
        assert_refused(path, "checksum mismatch in the data of entry")


def rewrite(path, edit_arrays=lambda arrays: arrays, edit_metadata=lambda meta: meta):
    """Rewrite a checkpoint as a well-formed safetensors file with edited contents."""
    with safetensors.safe_open(path, framework="np") as file:
        arrays = {name: file.get_tensor(name) for name in file.keys()}
        metadata = file.metadata()
    safetensors.numpy.save_file(edit_arrays(arrays), path, metadata=edit_metadata(metadata))


def test_an_edited_but_well_formed_structure_is_refused(tmp_path):
    path = tmp_path / "edited.ckpt"
    small_checkpoint(path)
    rewrite(path, edit_metadata=lambda meta: {
        **meta, "structure": meta["structure"].replace('{"int":"0x3"}', '{"int":"0x4"}')})
    assert_refused(path, "checksum mismatch in the structure")


def test_an_entry_with_an_edited_dtype_or_extra_entries_is_refused(tmp_path):
    path = tmp_path / "edited.ckpt"
    small_checkpoint(path)
    rewrite(path, edit_arrays=lambda arrays: {**arrays, "t0": arrays["t0"].view(np.int32)})
    assert_refused(path, "int32 [2, 3] in the file, but the structure records float32")
    small_checkpoint(path)
    rewrite(path, edit_arrays=lambda arrays: {**arrays, "extra": np.zeros(1)})
    assert_refused(path, "entries ['extra'] are not referenced")


@pytest.mark.parametrize("metadata, reason", [
    (None, "the safetensors metadata has no 'format' key"),
    ({"format": "pt"}, "not a minigan checkpoint: format 'pt'"),
    ({"format": "minigan.checkpoint", "format_version": "2"},
     "unsupported format_version '2'"),
])
def test_foreign_safetensors_files_are_refused(tmp_path, metadata, reason):
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({"weight": np.ones((2, 2), np.float32)}, path,
                                metadata=metadata)
    assert_refused(path, reason)


def torch_style_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return buffer.getvalue()


@pytest.mark.parametrize("content, hint", [
    (b"", ""),
    (np.random.default_rng(3).bytes(300), ""),
    (b'{"weights": [1, 2, 3]}\n', ""),
    (torch_style_zip(), "it looks like a zip archive"),
], ids=["empty", "random bytes", "text", "zip"])
def test_files_that_are_not_safetensors_are_refused(tmp_path, content, hint):
    path = tmp_path / "not_safetensors"
    path.write_bytes(content)
    assert_refused(path, "not a safetensors file", hint)


class TouchOnUnpickle:
    """Unpickling an instance calls ``pathlib.Path(marker).touch()``: a stand-in for any
    code an attacker could run through ``__reduce__``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_a_malicious_pickle_is_refused_and_never_run(tmp_path):
    import pickle  # only to craft the malicious file; minigan.serialization never imports it

    proof, marker = tmp_path / "proof_the_payload_runs", tmp_path / "marker"
    pickle.loads(pickle.dumps(TouchOnUnpickle(proof)))
    assert proof.exists()
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"evil{protocol}.ckpt"
        path.write_bytes(pickle.dumps({"model": TouchOnUnpickle(marker)}, protocol=protocol))
        assert_refused(path, "not a safetensors file", "it looks like a pickle")
        assert not marker.exists()


def test_module_imports_no_pickle_based_library():
    unsafe = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "marshal",
              "shelve", "torch"}
    tree = ast.parse(inspect.getsource(serialization))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported and not imported & unsafe
    module_globals = {getattr(value, "__name__", "").split(".")[0]
                      for value in vars(serialization).values() if inspect.ismodule(value)}
    assert not module_globals & unsafe


def test_missing_file_and_directory_paths_are_refused(tmp_path):
    error = assert_refused(tmp_path / "absent.ckpt", "no such file")
    assert isinstance(error.__cause__, FileNotFoundError)
    assert_refused(tmp_path, "is a directory")


# ---------------------------------------------------------------------- atomic writes --

def test_saving_into_a_missing_directory_says_which_directory(tmp_path):
    missing = tmp_path / "runs" / "exp1"
    with pytest.raises(FileNotFoundError, match=f"directory '{missing}' does not exist"):
        save({"w": mg.ones(1)}, missing / "ckpt.safetensors")
    assert os.listdir(tmp_path) == []


class DiskFullHalfway(io.FileIO):
    """A file whose write stores half of the bytes, then fails as a full disk does."""

    def write(self, data):
        super().write(bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")


def fail_with(error):
    def failing(*args, **kwargs):
        raise error
    return failing


FAILURES = {
    "disk full midway through the write": ("fdopen", lambda fd, mode: DiskFullHalfway(fd, "wb"),
                                           OSError),
    "fsync fails": ("fsync", fail_with(OSError(errno.EIO, "I/O error")), OSError),
    "rename fails": ("replace", fail_with(OSError(errno.EXDEV, "cross-device")), OSError),
    "interrupted before the rename": ("replace", fail_with(KeyboardInterrupt()),
                                      KeyboardInterrupt),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temp_file(
        tmp_path, monkeypatch, failure):
    path = tmp_path / "model.ckpt"
    save({"step": 1, "w": mg.zeros(100)}, path)
    before = path.read_bytes()
    name, replacement, error = FAILURES[failure]
    with monkeypatch.context() as patch:
        patch.setattr(os, name, replacement)
        with pytest.raises(error):
            save({"step": 2, "w": mg.ones(100)}, path)
        with pytest.raises(error):
            save({"step": 2}, tmp_path / "fresh.ckpt")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.ckpt"]
    assert load(path)["step"] == 1


def test_write_is_fsynced_then_renamed_then_the_directory_is_fsynced(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync directory" if stat.S_ISDIR(os.fstat(fd).st_mode)
                      else f"fsync file of {os.fstat(fd).st_size} bytes")
        real_fsync(fd)

    def replace(source, target):
        events.append(f"replace {os.path.dirname(source) == str(tmp_path)}")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "model.ckpt"
    save({"w": mg.zeros(10)}, path)
    assert events == [f"fsync file of {path.stat().st_size} bytes", "replace True",
                      "fsync directory"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_follow_the_replaced_file_else_the_umask(tmp_path):
    path = tmp_path / "model.ckpt"
    save({"a": 1}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~serialization._UMASK
    path.chmod(0o640)
    save({"a": 2}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# ------------------------------------------------------------------- exact resume --

# Run both here and, for the resume, in a fresh interpreter: one source for both sides.
TRAINING = """
import minigan as mg
from minigan import nn, optim
from minigan.serialization import load, save


def build(seed):
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(0.25), nn.Linear(8, 1))
    return model, optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.9))


def train(model, opt, steps):
    # The batches and the dropout masks come from the default generator: resuming exactly
    # needs its state as much as the weights and Adam's moments.
    losses = []
    for _ in range(steps):
        x = mg.randn(16, 3)
        loss = ((model(x) - (x * x).sum(dim=1, keepdim=True)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def snapshot(model, opt, losses, step):
    opt_state = opt.state_dict()
    opt_state["state"] = {str(k): v for k, v in opt_state["state"].items()}  # str keys
    return {"model": model.state_dict(), "optimizer": opt_state, "rng": mg.get_rng_state(),
            "step": step, "losses": losses}
"""

RESUME = """
import sys

model, opt = build(seed=12345)                 # other weights: the checkpoint must win
checkpoint = load(sys.argv[1])
model.load_state_dict(checkpoint["model"])
opt.load_state_dict(checkpoint["optimizer"])
mg.set_rng_state(checkpoint["rng"])
losses = checkpoint["losses"] + train(model, opt, 6 - checkpoint["step"])
save(snapshot(model, opt, losses, 6), sys.argv[2])
"""


def test_training_resumed_in_a_fresh_process_matches_an_uninterrupted_run_bit_for_bit(
        tmp_path):
    namespace = {}
    exec(TRAINING, namespace)
    build, train, snapshot = namespace["build"], namespace["train"], namespace["snapshot"]
    rng_state = mg.get_rng_state()
    try:
        model, opt = build(seed=0)
        straight = snapshot(model, opt, train(model, opt, 6), 6)
        model, opt = build(seed=0)
        save(snapshot(model, opt, train(model, opt, 3), 3), tmp_path / "step3.ckpt")
    finally:
        mg.set_rng_state(rng_state)
    subprocess.run([sys.executable, "-c", TRAINING + RESUME, str(tmp_path / "step3.ckpt"),
                    str(tmp_path / "step6.ckpt")], check=True, timeout=120)
    resumed = load(tmp_path / "step6.ckpt")
    assert len(resumed["losses"]) == 6 and resumed["optimizer"]["state"]["0"]["step"] == 6
    assert_identical(straight, resumed)


# --------------------------------------------------------------------------------- GPU --

@pytest.mark.gpu
def test_cuda_tensors_save_from_the_device_and_load_onto_map_location(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "gpu.ckpt"
    save({"w": mg.Tensor(values).cuda(), "a": values}, path)
    on_cpu = load(path)
    assert on_cpu["w"].device == "cpu" and np.array_equal(on_cpu["w"].data, values)
    on_gpu = load(path, map_location="cuda")
    assert on_gpu["w"].device == "cuda" and np.array_equal(on_gpu["w"].data.get(), values)
    assert type(on_gpu["a"]) is np.ndarray
