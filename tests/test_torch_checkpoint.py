"""core.saving.torch_checkpoint: PyTorch checkpoints read with NumPy only, through a restricted unpickler.

Fixtures (tests/fixtures/readers/torch_*.pt) were written by torch 2.13 with
tests/fixtures/make_reader_fixtures.py; hostile and broken files are made here by hand.
"""
import collections
import io
import json
import os
import pickle
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.saving import (CheckpointFormatError, UnsafeCheckpointError, WeightFileError, load_torch_checkpoint,
                         state_dict_from_checkpoint)
from core.saving import torch_checkpoint as tc
from tests.shared_data import require

FIX = Path(__file__).resolve().parent / "fixtures" / "readers"
EXPECTED = np.load(FIX / "torch_expected.npz")
META = json.loads((FIX / "torch_expected.json").read_text())
FORMATS = ["torch_zip.pt", "torch_legacy.pt"]
NP_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": np.float32,
             "int64": np.int64, "int32": np.int32, "int8": np.int8, "uint8": np.uint8, "uint16": np.uint16,
             "bool": np.bool_}


def _get(ck, name):
    if name.startswith("model_state_dict/"):
        return ck["model_state_dict"][name.split("/", 1)[1]]
    obj = ck
    for part in name.split("/"):
        obj = obj[part]
    return obj


@pytest.fixture(scope="module", params=FORMATS)
def loaded(request):
    return request.param, load_torch_checkpoint(FIX / request.param)


# ----------------------------------------------------------------------------------- real torch files

def test_every_tensor_matches_torch(loaded):
    fname, ck = loaded
    checked = 0
    for name, info in META["tensors"].items():
        if fname == "torch_legacy.pt" and name in META["zip_only"]:
            assert "u16" not in ck["tensors"]
            continue
        arr = _get(ck, name)
        assert isinstance(arr, np.ndarray), name
        assert arr.dtype == NP_DTYPES[info["dtype"]], (name, arr.dtype, info["dtype"])
        assert arr.shape == tuple(info["shape"]), name
        if arr.size:
            assert arr.strides == tuple(s * arr.itemsize for s in info["stride"]), (name, arr.strides, info)
        np.testing.assert_array_equal(arr, EXPECTED[name], err_msg=name)
        checked += 1
    assert checked == len(META["tensors"]) - (fname == "torch_legacy.pt") * len(META["zip_only"])


def test_views_keep_storage_offset_strides_and_sharing(loaded):
    _, ck = loaded
    t = ck["tensors"]
    base, tr, win = t["base"], t["transposed"], t["window"]
    assert not tr.flags.c_contiguous and tr.strides == (4, 24)          # base.t() of a (4, 6) float32
    assert win.shape == (2, 3) and win.strides == (24, 4)
    for group in META["shared_storage_groups"]:
        arrays = [_get(ck, n) for n in group]
        assert all(np.shares_memory(arrays[0], a) for a in arrays[1:]), group
    assert not np.shares_memory(base, t["f32"])
    # the window starts at storage offset 1*6+2 of base's storage: writing through base shows in both views
    assert META["tensors"]["tensors/window"]["storage_offset"] == 8
    base[1, 2] = 123.0
    assert win[0, 0] == 123.0 and tr[2, 1] == 123.0
    assert t["expanded"].strides[1] == 0


def test_dtype_conversions(loaded):
    _, ck = loaded
    t = ck["tensors"]
    assert t["bf16"].dtype == np.float32                      # bfloat16 widened exactly
    np.testing.assert_array_equal(t["bf16"].view(np.uint32) & 0xFFFF, 0)
    assert t["i32"].tolist() == [[-(2 ** 31), 7], [2 ** 31 - 1, 0]]
    assert t["i8"].tolist() == [-128, -1, 0, 127] and t["u8"].tolist() == [0, 1, 128, 255]
    assert t["bool"].dtype == np.bool_ and t["bool"].tolist() == [True, False, True]
    assert t["scalar"].shape == () and float(t["scalar"]) == 3.5
    assert t["empty"].shape == (0, 3)
    assert ck["model_state_dict"]["module.1.num_batches_tracked"].dtype == np.int64


def test_plain_containers_and_python_values(loaded):
    _, ck = loaded
    s = META["scalars"]
    assert type(ck) is dict and type(ck["tensors"]) is collections.OrderedDict
    assert ck["epoch"] == s["epoch"] and ck["best_acc"] == s["best_acc"] and ck["name"] == s["name"]
    assert ck["misc"] == [1, 2.5, "x", (3, 4), None, True]
    assert ck["ids"] == set(s["ids"]) and ck["blob"] == bytes.fromhex(s["blob_hex"])
    assert list(ck["tensors"])[:3] == ["f32", "f64", "f16"]                     # order kept
    assert sorted(ck["model_state_dict"]._metadata) == META["model_state_dict_metadata_keys"]


def test_state_dict_from_checkpoint(loaded):
    _, ck = loaded
    sd = state_dict_from_checkpoint(ck)
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked", "3.weight", "3.bias"]
    assert sd["0.weight"].shape == (4, 3, 3, 3) and sd["3.weight"].shape == (2, 4)
    assert state_dict_from_checkpoint(ck["tensors"])["f32"] is ck["tensors"]["f32"]       # the dict itself
    assert list(state_dict_from_checkpoint({"state_dict": {"module.a": np.zeros(1)}})) == ["a"]
    assert list(state_dict_from_checkpoint({"model": {"module.a": np.zeros(1)}}, strip_prefix="")) == ["module.a"]
    with pytest.raises(ValueError, match=r"no state dict found.*'epoch'"):
        state_dict_from_checkpoint({"epoch": 3, "opt": {"lr": 0.1}})
    with pytest.raises(ValueError, match="appears twice"):
        state_dict_from_checkpoint({"module.a": np.zeros(1), "a": np.zeros(1)})


# ------------------------------------------------------------------------- the real akamaster files

AKAMASTER = "weights/akamaster_resnet_cifar10/"


def test_akamaster_resnet20_legacy_checkpoint():
    path = require(AKAMASTER + "resnet20-12fca82f.th")
    ck = load_torch_checkpoint(path)
    assert sorted(ck) == ["best_prec1", "state_dict"]
    assert ck["best_prec1"] == pytest.approx(91.78, abs=1e-4)
    assert all(k.startswith("module.") for k in ck["state_dict"])
    sd = state_dict_from_checkpoint(ck)
    assert len(sd) == 97
    assert list(sd)[:5] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
    assert sd["conv1.weight"].shape == (16, 3, 3, 3) and sd["linear.weight"].shape == (10, 64)
    assert sd["layer3.2.conv2.weight"].shape == (64, 64, 3, 3) and sd["linear.bias"].shape == (10,)
    assert all(v.dtype == np.float32 for v in sd.values())
    assert not any(k.endswith("num_batches_tracked") for k in sd)
    # Reference values: computed once with torch 2.13 in /work/refenv, torch.load(path, weights_only=True),
    # sums in float64 (`t.double().sum()`); printed by tests/fixtures/make_reader_fixtures.py (akamaster).
    ref = {  # name: (sum, abs-sum, first element)
        "conv1.weight": (1.3100982000, 114.6098364614, -0.13818146288394928),
        "bn1.running_var": (76.4796084099, 76.4796084099, 2.2049126625061035),
        "layer3.2.conv2.weight": (1.5099748167, 1338.0153222213, 0.023041605949401855),
        "linear.weight": (-0.0456273886, 278.2912905118, -1.0598125457763672),
        "linear.bias": (0.0000344422, 1.9129252043, 0.19355906546115875),
    }
    for name, (total, abs_total, first) in ref.items():
        v = sd[name].astype(np.float64)
        assert v.sum() == pytest.approx(total, abs=2e-9), name
        assert np.abs(v).sum() == pytest.approx(abs_total, abs=2e-9), name
        assert v.flat[0] == first, name


@pytest.mark.parametrize("fname,count,prec", [("resnet32-d509ac18.th", 157, 92.78),
                                              ("resnet44-014dd654.th", 217, 93.14),
                                              ("resnet56-4bfd9763.th", 277, 93.62)])
def test_akamaster_deeper_checkpoints(fname, count, prec):
    ck = load_torch_checkpoint(require(AKAMASTER + fname))
    assert len(ck["state_dict"]) == count and ck["best_prec1"] == pytest.approx(prec, abs=1e-4)


# ------------------------------------------------------------------------------- malicious checkpoints

def _legacy_bytes(main_pickle: bytes, keys=()) -> bytes:
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return (pickle.dumps(tc.LEGACY_MAGIC_NUMBER, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps(sys_info, protocol=2) + main_pickle + pickle.dumps(list(keys), protocol=2))


def _zip_bytes(data_pkl: bytes, records=(), byteorder=b"little") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        if byteorder is not None:
            z.writestr("archive/byteorder", byteorder)
        for key, data in records:
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return os.system, (self.cmd,)


class _Eval:
    def __reduce__(self):
        return eval, ("__import__('os').getcwd()",)


class _Popen:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return subprocess.Popen, (["touch", self.marker],)


@pytest.mark.parametrize("layout", ["legacy", "zip"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_os_system_payload_is_refused_and_never_runs(tmp_path, layout, protocol):
    marker = tmp_path / "pwned.txt"
    evil = {"state_dict": collections.OrderedDict(w=_System(f"echo pwned > '{marker}'"))}
    payload = pickle.dumps(evil, protocol=protocol)
    path = tmp_path / "evil.pt"
    path.write_bytes(_legacy_bytes(payload) if layout == "legacy" else _zip_bytes(payload))
    with pytest.raises(UnsafeCheckpointError, match=r"refused to load global '(posix|os)\.system'") as info:
        load_torch_checkpoint(path)
    assert info.value.global_name in ("posix.system", "os.system")
    assert str(path) in str(info.value)
    assert not marker.exists()
    # control: the same payload is live under the ordinary unpickler
    pickle.loads(payload)
    assert marker.read_text().strip() == "pwned"


@pytest.mark.parametrize("make,refused", [(lambda m: _Eval(), "builtins.eval"),
                                          (lambda m: _Popen(m), "subprocess.Popen"),
                                          (lambda m: pickle.loads, "_pickle.loads")])
def test_other_code_globals_are_refused(tmp_path, make, refused):
    marker = str(tmp_path / "marker")
    payload = pickle.dumps({"x": [1, {"y": make(marker)}]}, protocol=4)   # (protocol 2 says __builtin__)
    path = tmp_path / "evil.pth"
    path.write_bytes(_zip_bytes(payload))
    with pytest.raises(UnsafeCheckpointError) as info:
        load_torch_checkpoint(path)
    assert info.value.global_name == refused and refused in str(info.value)
    assert not os.path.exists(marker)


def _op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _op_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _op_int(i):
    return b"J" + struct.pack("<i", i)


def _op_tuple(items):
    return b"(" + b"".join(items) + b"t"


def test_python2_builtin_names_and_module_persistent_ids_are_refused(tmp_path):
    path = tmp_path / "py2.pt"
    path.write_bytes(_zip_bytes(b"\x80\x02" + _op_global("__builtin__", "eval") + _op_tuple([_op_str("1")]) + b"R."))
    with pytest.raises(UnsafeCheckpointError, match="__builtin__.eval"):
        load_torch_checkpoint(path)
    # a whole pickled nn.Module references its class: refused by name before anything is built
    mod = b"\x80\x02" + _op_tuple([_op_str("module"), _op_global("mypkg.net", "Net"), _op_str("net.py"),
                                   _op_str("src")]) + b"Q."
    path.write_bytes(_legacy_bytes(mod))
    with pytest.raises(UnsafeCheckpointError, match="mypkg.net.Net"):
        load_torch_checkpoint(path)


def test_build_and_reduce_on_allowed_globals_cannot_patch_them(tmp_path):
    before = tc._rebuild_tensor_v2.__defaults__
    # BUILD with slot state on the rebuild function: would setattr(func, '__defaults__', ...) in plain pickle
    payload = (b"\x80\x02" + _op_global("torch._utils", "_rebuild_tensor_v2") + b"N}" + _op_str("__defaults__")
               + _op_int(1) + b"s\x86b.")
    path = tmp_path / "patch.pt"
    path.write_bytes(_zip_bytes(payload))
    with pytest.raises(CheckpointFormatError, match="BUILD"):
        load_torch_checkpoint(path)
    assert tc._rebuild_tensor_v2.__defaults__ == before
    # REDUCE may only call the rebuild stand-ins, not e.g. a storage-type marker
    path.write_bytes(_zip_bytes(b"\x80\x02" + _op_global("torch", "FloatStorage") + b")R."))
    with pytest.raises(CheckpointFormatError, match="REDUCE"):
        load_torch_checkpoint(path)


# ----------------------------------------------------------------- hand-made torch zip files (no torch)

def _tensor_pickle(key, numel, offset, size, stride, storage="FloatStorage", func="_rebuild_tensor_v2"):
    pid = _op_tuple([_op_str("storage"), _op_global("torch", storage), _op_str(key), _op_str("cpu"), _op_int(numel)])
    args = [pid + b"Q", _op_int(offset), _op_tuple([_op_int(s) for s in size]),
            _op_tuple([_op_int(s) for s in stride])]
    if func == "_rebuild_tensor_v2":
        args += [b"\x89", _op_global("collections", "OrderedDict") + b")R"]
    return b"\x80\x02}" + _op_str("w") + _op_global("torch._utils", func) + _op_tuple(args) + b"Rs."


def test_hand_made_zip_checkpoint_and_big_endian(tmp_path):
    data = np.arange(6, dtype="<f4")
    path = tmp_path / "ok.pt"
    path.write_bytes(_zip_bytes(_tensor_pickle("0", 6, 1, (2, 2), (1, 2)), [("0", data.tobytes())]))
    w = load_torch_checkpoint(path)["w"]
    np.testing.assert_array_equal(w, [[1, 3], [2, 4]])
    path.write_bytes(_zip_bytes(_tensor_pickle("0", 6, 0, (6,), (1,), storage="DoubleStorage"),
                                [("0", np.arange(6, dtype=">f8").tobytes())], byteorder=b"big"))
    w = load_torch_checkpoint(path)["w"]
    assert w.dtype == np.float64 and w.dtype.byteorder in "=<" and w.tolist() == list(range(6))
    path.write_bytes(_zip_bytes(_tensor_pickle("0", 2, 0, (2,), (1,), storage="BFloat16Storage"),
                                [("0", np.array([0x3F80, 0xC040], "<u2").tobytes())]))
    assert load_torch_checkpoint(path)["w"].tolist() == [1.0, -3.0]


@pytest.mark.parametrize("pkl,records,message", [
    (_tensor_pickle("0", 6, 3, (2, 2), (1, 2)), [("0", bytes(24))], r"reaches element 6 .* holds 6 elements"),
    (_tensor_pickle("0", 6, 0, (2,), (1,)), [("0", bytes(20))], r"holds 20 bytes, expected 24"),
    (_tensor_pickle("0", 6, 0, (2,), (1,)), [], r"'archive/data/0' is missing"),
    (_tensor_pickle("0", 6, 0, (2, 2), (1,)), [("0", bytes(24))], r"differ in length"),
    (_tensor_pickle("0", 6, 0, (2,), (-1,)), [("0", bytes(24))], r"negative size or stride"),
    (_tensor_pickle("0", 6, 0, (2,), (1,), storage="TypedStorage"), [("0", bytes(24))], r"unknown storage type"),
    (_tensor_pickle("0", 6, 0, (2,), (1,))[:-5], [("0", bytes(24))], r"truncated pickle stream"),
    (b"\x80\x02}X\x01\x00\x00\x00w" + _op_tuple([_op_str("storage")]) + b"Qs.", [], r"storage persistent id has 1"),
])
def test_inconsistent_zip_checkpoints_raise_clear_errors(tmp_path, pkl, records, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(_zip_bytes(pkl, records))
    with pytest.raises(CheckpointFormatError, match=message) as info:
        load_torch_checkpoint(path)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------- truncated / corrupted files

@pytest.mark.parametrize("fname", FORMATS)
def test_truncated_files_raise_checkpoint_format_error(tmp_path, fname):
    data = (FIX / fname).read_bytes()
    path = tmp_path / fname
    for cut in sorted({1, 16, 40, 60, 100, len(data) // 3, len(data) // 2, len(data) - 300, len(data) - 1}):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointFormatError) as info:
            load_torch_checkpoint(path)
        assert str(path) in str(info.value), cut


def test_legacy_truncations_name_what_is_missing(tmp_path):
    data = (FIX / "torch_legacy.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:-10])                      # inside the last storage's data
    with pytest.raises(CheckpointFormatError, match=r"truncated: the data of storage '\d+' needs \d+ bytes"):
        load_torch_checkpoint(path)
    path.write_bytes(data[:25])                       # inside the sys_info pickle
    with pytest.raises(CheckpointFormatError, match=r"truncated pickle stream in the (protocol-version|sys_info)"):
        load_torch_checkpoint(path)


@pytest.mark.parametrize("fname", FORMATS)
def test_random_corruption_never_escapes_as_a_raw_exception(tmp_path, fname):
    data = bytearray((FIX / fname).read_bytes())
    rng = np.random.default_rng(0)
    path = tmp_path / fname
    outcomes = collections.Counter()
    for _ in range(120):
        bad = bytearray(data)
        for pos in rng.integers(0, len(bad), size=3):
            bad[pos] = rng.integers(0, 256)
        path.write_bytes(bytes(bad))
        try:
            load_torch_checkpoint(path)
            outcomes["ok"] += 1                       # flips inside tensor bytes change values only
        except WeightFileError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointFormatError, match="empty file"):
        load_torch_checkpoint(path)
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(CheckpointFormatError, match="without the torch.save magic number"):
        load_torch_checkpoint(path)
    path.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(CheckpointFormatError, match="not a PyTorch checkpoint"):
        load_torch_checkpoint(path)
    with pytest.raises(CheckpointFormatError, match="cannot open"):
        load_torch_checkpoint(tmp_path / "missing.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("m/code/__torch__/m.py", "")
        z.writestr("m/data.pkl", b"\x80\x02}.")
        z.writestr("m/constants.pkl", b"\x80\x02).")
    path.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointFormatError, match="TorchScript"):
        load_torch_checkpoint(path)
    # the magic bytes are near the start (so it sniffs as legacy) but the first pickle is not the magic number
    path.write_bytes(pickle.dumps([tc.LEGACY_MAGIC_NUMBER, 1], protocol=2) + pickle.dumps(1001, protocol=2))
    with pytest.raises(CheckpointFormatError, match="invalid magic number"):
        load_torch_checkpoint(path)


# ------------------------------------------------------------------ sizes checked before allocation

@pytest.mark.slow
def test_stride0_expansion_past_the_file_size_is_refused_with_bounded_memory(tmp_path):
    from tests.hostile_helpers import run_measured

    path = tmp_path / "expand.pt"
    # one float expanded to 20000 x 20000 (1.6 GB once copied), and a 16 GiB variant
    path.write_bytes(_zip_bytes(_tensor_pickle("0", 1, 0, (20000, 20000), (0, 0)), [("0", bytes(4))]))
    big = tmp_path / "expand16g.pt"
    big.write_bytes(_zip_bytes(_tensor_pickle("0", 1, 0, (65536, 65536), (0, 0)), [("0", bytes(4))]))
    for p in (path, big):
        with pytest.raises(CheckpointFormatError, match="expanded views claim more than"):
            load_torch_checkpoint(p)
    result, growth, _ = run_measured("from core.saving import load_torch_checkpoint, WeightFileError\n", f"""
        try:
            load_torch_checkpoint({str(path)!r})
            result = "loaded"
        except WeightFileError as e:
            result = str(e)
        """)
    assert "refused" in result
    assert growth < 100, growth


def test_small_expanded_view_loads_read_only(tmp_path):
    path = tmp_path / "ok.pt"
    path.write_bytes(_zip_bytes(_tensor_pickle("0", 3, 0, (4, 3), (0, 1)), [("0", np.arange(3, dtype="<f4").tobytes())]))
    w = load_torch_checkpoint(path)["w"]
    np.testing.assert_array_equal(w, np.tile(np.arange(3, dtype=np.float32), (4, 1)))
    assert not w.flags.writeable


def _zip_with(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in entries:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


@pytest.mark.parametrize("which", ["storage", "data.pkl", "byteorder"])
def test_compressed_zip_records_are_refused(tmp_path, which):
    numel = 16 * 2**20 if which == "storage" else 4     # 64 MiB of zeros deflates to ~64 KB
    pkl = _tensor_pickle("0", numel, 0, (numel,), (1,))
    methods = {k: zipfile.ZIP_DEFLATED if k == which else zipfile.ZIP_STORED for k in ("storage", "data.pkl", "byteorder")}
    data = _zip_with([("archive/data.pkl", pkl, methods["data.pkl"]),
                      ("archive/byteorder", b"little", methods["byteorder"]),
                      ("archive/data/0", bytes(numel * 4), methods["storage"])])
    path = tmp_path / "deflated.pt"
    path.write_bytes(data)
    assert path.stat().st_size < 2**20
    with pytest.raises(CheckpointFormatError, match="is compressed"):
        load_torch_checkpoint(path)


def test_storage_larger_than_its_record_is_refused(tmp_path):
    path = tmp_path / "lying.pt"
    path.write_bytes(_zip_bytes(_tensor_pickle("0", 2**30, 0, (4,), (1,)), [("0", bytes(16))]))
    with pytest.raises(CheckpointFormatError, match="holds 16 bytes, expected 4294967296"):
        load_torch_checkpoint(path)


@pytest.mark.slow
def test_mapping_refuses_a_huge_tensor_before_copying_it():
    from core import layers as L
    from core.models import Sequential
    from core.saving.torch_mapping import StateDictMappingError, load_torch_state_dict
    from tests.hostile_helpers import run_measured

    m = Sequential([L.Input((4,)), L.Dense(3, name="fc")])
    sd = {"fc.weight": np.broadcast_to(np.float32(1), (20000, 20000)), "fc.bias": np.zeros(3, np.float32)}
    with pytest.raises(StateDictMappingError, match="far more than the weights"):
        load_torch_state_dict(m, sd, {"fc": "fc"})
    result, growth, _ = run_measured("""
import numpy as np
from core import layers as L
from core.models import Sequential
from core.saving.torch_mapping import StateDictMappingError, load_torch_state_dict
m = Sequential([L.Input((4,)), L.Dense(3, name="fc")])
sd = {"fc.weight": np.broadcast_to(np.float32(1), (20000, 20000)), "fc.bias": np.zeros(3, np.float32)}
""", """
try:
    load_torch_state_dict(m, sd, {"fc": "fc"})
    result = "loaded"
except StateDictMappingError as e:
    result = str(e)
""")
    assert "far more" in result and growth < 100, (result, growth)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_deeply_nested_containers_raise_checkpoint_format_error(tmp_path, layout):
    n = 200_000
    main_pickle = b"\x80\x02}" + _op_str("w") + b"]" * n + b"a" * (n - 1) + b"s."
    path = tmp_path / "deep.pt"
    path.write_bytes(_legacy_bytes(main_pickle) if layout == "legacy" else _zip_bytes(main_pickle))
    with pytest.raises(CheckpointFormatError, match="nested too deeply|RecursionError"):
        load_torch_checkpoint(path)
