"""Files on disk: malformed files give a ValueError naming the file, a file that does not fit
changes no weight, saved files get the umask's permissions, and a small file cannot make the
loader allocate gigabytes (each array's .npy header is checked before its data is read).
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import Input, Sequential, layers, load_model

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(minirnn.__file__)))


def small_model(seed=1):
    minirnn.set_random_seed(seed)
    return Sequential([Input((3,)), layers.Dense(2, name="dense")])


def members_of(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def assert_weights_equal(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "weights.npz"
    small_model(seed=1).save_weights(path)
    return path


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.npz"
    small_model(seed=1).save(path)
    return path


def rewrite(path, edit):
    members = members_of(path)
    edit(members)
    np.savez(path, **members)


# -- malformed files: a ValueError that names the file ---------------------------------------------

def test_a_npy_file_is_refused_by_name(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros((3, 2), "float32"))
    target = small_model(seed=2)
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"weights\.npy.*single \.npy array"):
        target.load_weights(path)
    with pytest.raises(ValueError, match=r"weights\.npy.*single \.npy array"):
        load_model(path)
    assert_weights_equal(target.get_weights(), before)


def test_a_plain_text_file_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not weights")
    with pytest.raises(ValueError, match=r"notes\.npz.*not a readable \.npz"):
        small_model().load_weights(path)


def test_an_npz_without_minirnn_metadata_is_refused_by_name(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, kernel=np.zeros((3, 2), "float32"), bias=np.zeros(2, "float32"))
    with pytest.raises(ValueError, match=r"foreign\.npz.*unexpected members"):
        small_model().load_weights(path)
    np.savez(path, weight_000=np.zeros((3, 2), "float32"), weight_001=np.zeros(2, "float32"))
    with pytest.raises(ValueError, match=r"foreign\.npz.*'__format__'"):
        small_model().load_weights(path)


def test_missing_names_or_wrong_format_is_refused_by_name(weights_file):
    rewrite(weights_file, lambda m: m.pop("__names__"))
    with pytest.raises(ValueError, match=r"weights\.npz.*'__names__'"):
        small_model().load_weights(weights_file)
    rewrite(weights_file, lambda m: m.update(__format__=np.array("minirnn-99"),
                                             __names__=np.array(["a", "b"])))
    with pytest.raises(ValueError, match=r"weights\.npz.*'minirnn-99'"):
        small_model().load_weights(weights_file)


def test_gaps_in_weight_numbering_are_refused_by_name(weights_file):
    rewrite(weights_file, lambda m: m.update(weight_002=m.pop("weight_001")))
    target = small_model(seed=2)
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"weights\.npz.*no gaps.*missing \[1\]"):
        target.load_weights(weights_file)
    assert_weights_equal(target.get_weights(), before)


@pytest.mark.parametrize("config, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ("{}", r"without \['class_name', 'config'\]"),
    ('{"class_name": "Sequential"}', r"without \['config'\]"),
    ('{"class_name": "os.system", "config": {}}', "'os.system'"),
    ('{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}}',
     "a layer entry must be"),
    ('{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {}}]}}',
     "Dense could not be built"),
    ('{"class_name": "Sequential", "config": {}}', "cannot be built"),
    ('{"class_name": "Functional", "config": {"layers": [], "inputs": []}}', "cannot be built"),
], ids=["invalid", "list", "empty", "no-config", "class", "layer-no-config", "layer-no-units",
        "no-layers", "functional-incomplete"])
def test_invalid_or_incomplete_config_is_refused_by_name(model_file, config, message):
    rewrite(model_file, lambda m: m.update(__config__=np.array(config)))
    with pytest.raises(ValueError, match=message) as info:
        load_model(model_file)
    assert "model.npz" in str(info.value)


def test_a_corrupt_member_is_refused_by_name_and_changes_nothing(weights_file):
    raw = bytearray(weights_file.read_bytes())
    with zipfile.ZipFile(weights_file) as archive:
        info = archive.getinfo("weight_001.npy")
    # np.savez stores members uncompressed: the bias's last byte sits just before the next header
    data_end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size
    raw[data_end - 1] ^= 0xFF
    weights_file.write_bytes(bytes(raw))
    target = small_model(seed=2)
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"weights\.npz.*weight_001.*CRC"):
        target.load_weights(weights_file)
    assert_weights_equal(target.get_weights(), before)


def test_member_size_that_does_not_match_its_header_is_refused(weights_file):
    members = members_of(weights_file)
    with zipfile.ZipFile(weights_file, "w") as archive:
        for key, value in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value, allow_pickle=False)
            extra = b"\0" * 64 if key == "weight_000" else b""
            archive.writestr(f"{key}.npy", buffer.getvalue() + extra)
    with pytest.raises(ValueError, match=r"weights\.npz.*weight_000.*declares"):
        small_model().load_weights(weights_file)


def test_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        small_model().load_weights(tmp_path / "nowhere.npz")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nowhere.npz")


def test_weights_only_file_given_to_load_model(weights_file):
    with pytest.raises(ValueError, match=r"weights\.npz.*weights only"):
        load_model(weights_file)


# -- validate before mutate ------------------------------------------------------------------------

def test_string_array_last_leaves_every_weight_unchanged(weights_file, model_file):
    def last_is_text(members):
        members["weight_001"] = np.array(["a", "b"])  # the bias's shape, but text
    rewrite(weights_file, last_is_text)
    target = small_model(seed=2)
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"weights\.npz.*weight 1 .*dtype <U1"):
        target.load_weights(weights_file)
    assert_weights_equal(target.get_weights(), before)
    rewrite(model_file, last_is_text)
    with pytest.raises(ValueError, match=r"model\.npz.*dtype <U1"):
        load_model(model_file)


def test_complex_weights_are_refused(weights_file):
    rewrite(weights_file, lambda m: m.update(weight_000=m["weight_000"].astype(np.complex64)))
    target = small_model(seed=2)
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"weights\.npz.*complex64"):
        target.load_weights(weights_file)
    assert_weights_equal(target.get_weights(), before)


class _OpensAFile:
    """Unpickling this creates a file: the marker that pickle ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_object_arrays_are_refused_without_unpickling(weights_file, tmp_path):
    marker = tmp_path / "unpickled"
    members = members_of(weights_file)
    payload = np.empty(2, dtype=object)
    payload[0] = payload[1] = _OpensAFile(str(marker))
    members["weight_001"] = payload
    np.savez(weights_file, allow_pickle=True, **members)
    with pytest.raises(ValueError, match=r"weights\.npz.*Python objects"):
        small_model().load_weights(weights_file)
    with pytest.raises(ValueError, match=r"weights\.npz.*Python objects"):
        minirnn.saving.read_weights(weights_file)
    assert not marker.exists()


def test_set_weights_checks_every_dtype_before_assigning():
    layer = layers.Dense(2, name="probe")
    layer.build((None, 3))
    before = layer.get_weights()
    for bad in (np.array(["a", "b"]), np.array([1 + 1j, 2j]), np.array([None, None], dtype=object)):
        with pytest.raises(TypeError, match=r"probe.*weight 1 \('probe/bias'\).*bool, integer or "
                                            r"real floating point.*" + str(bad.dtype)):
            layer.set_weights([np.ones((3, 2)), bad])
        assert_weights_equal(layer.get_weights(), before)
    layer.set_weights([np.ones((3, 2), dtype=np.int64), np.array([True, False])])  # cast, as before
    assert_weights_equal(layer.get_weights(),
                         [np.ones((3, 2), "float32"), np.array([1.0, 0.0], "float32")])


_DENSE_SHAPES = st.tuples(st.integers(1, 4), st.integers(1, 4))  # (input features, units)


@given(source=_DENSE_SHAPES, target=_DENSE_SHAPES, seed=st.integers(0, 2 ** 16))
def test_load_weights_takes_exactly_the_matching_shapes(source, target, seed):
    rng = np.random.default_rng(seed)
    saved = [rng.normal(size=source).astype("float32"), rng.normal(size=source[1:]).astype("float32")]
    writer = Sequential([Input((source[0],)), layers.Dense(source[1])])
    writer.set_weights(saved)
    reader = Sequential([Input((target[0],)), layers.Dense(target[1])])
    before = reader.get_weights()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "w.npz")
        writer.save_weights(path)
        if source == target:
            reader.load_weights(path)
            assert_weights_equal(reader.get_weights(), saved)
        else:
            with pytest.raises(ValueError, match=r"w\.npz.*does not match"):
                reader.load_weights(path)
            assert_weights_equal(reader.get_weights(), before)


# -- permissions -----------------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX permissions")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_get_the_permissions_the_umask_gives(tmp_path, umask, mode):
    model = small_model()
    previous = os.umask(umask)
    try:
        model.save_weights(tmp_path / "w.npz")
        model.save(tmp_path / "m.npz")
    finally:
        os.umask(previous)
    for name in ("w.npz", "m.npz"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == mode
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "w.npz"]  # no temporary file left


# -- zip bombs -------------------------------------------------------------------------------------

_BOMB_BYTES = 2 * 2 ** 30  # 2 GiB of zeros behind a ~2 MB file
_CHUNK = 64 * 2 ** 20


def _npy_header(shape, descr="<f4"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _deflated(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return [compressor.compress(data) + compressor.flush()]


def _deflated_zeros_after(header):
    """Raw deflate chunks of `header` then _BOMB_BYTES zeros, and the CRC of all of it. After a
    full flush the compressor starts afresh, so every 64 MiB block of zeros compresses to the
    same bytes: compress one, repeat it (seconds instead of a minute)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(_CHUNK)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()
    crc = zlib.crc32(header)
    for _ in range(_BOMB_BYTES // _CHUNK):
        crc = zlib.crc32(zeros, crc)
    return [head] + [block] * (_BOMB_BYTES // _CHUNK) + [tail], crc


def _write_zip(path, members):
    """A zip of deflated members: (name, raw deflate chunks, crc, uncompressed size) each."""
    with open(path, "wb") as handle:
        directory = []
        for name, chunks, crc, size in members:
            name = name.encode()
            offset, compressed = handle.tell(), sum(len(c) for c in chunks)
            handle.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc,
                                     compressed, size, len(name), 0) + name)
            for chunk in chunks:
                handle.write(chunk)
            directory.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21,
                                         crc, compressed, size, len(name), 0, 0, 0, 0, 0, offset)
                             + name)
        start = handle.tell()
        listing = b"".join(directory)
        handle.write(listing)
        handle.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                                 len(listing), start, 0))


def _small_member(name, array):
    data = _npy(array)
    return (name, _deflated(data), zlib.crc32(data), len(data))


def _bomb_file(path, header_shape, declared_size=None, config=None):
    """A weights (or, with config, model) file for small_model whose weight_000 inflates to
    2 GiB of zeros; declared_size overrides the size the zip's directory gives for it."""
    header = _npy_header(header_shape)
    chunks, crc = _deflated_zeros_after(header)
    members = [("weight_000.npy", chunks, crc, declared_size or len(header) + _BOMB_BYTES),
               _small_member("weight_001.npy", np.zeros(2, "float32")),
               _small_member("__names__.npy", np.array(["dense/kernel", "dense/bias"])),
               _small_member("__format__.npy", np.array("minirnn-1"))]
    if config is not None:
        members.append(_small_member("__config__.npy", np.array(config)))
    _write_zip(path, members)
    return path


_LOAD_AND_MEASURE = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import minirnn
    from minirnn import Input, Sequential, layers

    minirnn.set_random_seed(1)
    model = Sequential([Input((3,)), layers.Dense(2, name="dense")])
    before = model.get_weights()
    model.load_weights(sys.argv[1])  # a legitimate file first: every code path warmed up
    legit = model.get_weights()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = []
    for kind, path in zip(sys.argv[2::2], sys.argv[3::2]):
        try:
            model.load_weights(path) if kind == "weights" else minirnn.load_model(path)
            outcomes.append("loaded")
        except Exception as error:
            outcomes.append(f"{type(error).__name__}: {error}")
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline
    unchanged = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), legit))
    print(json.dumps({"growth_kib": growth_kib, "outcomes": outcomes, "unchanged": unchanged}))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_zip_bombs_are_refused_before_their_data_is_inflated(tmp_path):
    legit = tmp_path / "legit.npz"
    small_model(seed=7).save_weights(legit)
    small_model().save(tmp_path / "m.npz")
    config = str(members_of(tmp_path / "m.npz")["__config__"])
    honest = _bomb_file(tmp_path / "honest.npz", (_BOMB_BYTES // 4,))
    lying_header = _bomb_file(tmp_path / "lying-header.npz", (3, 2))
    lying_directory = _bomb_file(tmp_path / "lying-directory.npz", (3, 2),
                                 declared_size=len(_npy_header((3, 2))) + 24)
    as_model = _bomb_file(tmp_path / "model.npz", (_BOMB_BYTES // 4,), config=config)
    for path in (honest, lying_header, lying_directory, as_model):
        assert path.stat().st_size < 3 * 2 ** 20
    with zipfile.ZipFile(honest) as archive:  # the file really promises 2 GiB
        assert archive.getinfo("weight_000.npy").file_size > _BOMB_BYTES
    run = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_MEASURE, str(legit), "weights", str(honest),
         "weights", str(lying_header), "weights", str(lying_directory), "model", str(as_model)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": REPO_ROOT})
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    honest_out, header_out, directory_out, model_out = report["outcomes"]
    assert honest_out.startswith("ValueError") and "does not match" in honest_out
    assert header_out.startswith("ValueError") and "declares" in header_out
    # the directory's size is believed; the data then fails the zip's CRC, read 24 bytes in
    assert directory_out.startswith("ValueError") and "CRC" in directory_out
    assert model_out.startswith("ValueError") and "does not match" in model_out
    assert report["unchanged"]
    assert report["growth_kib"] < 200 * 1024, report
