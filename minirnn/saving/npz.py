"""Weights and whole models to and from .npz files: no pickle, written atomically, read warily.

A weights file holds arrays `weight_000`, `weight_001`, ... in the model's `weights` order,
`__names__` (their names, for error messages) and `__format__`. A model file adds `__config__`:
the architecture and compile settings as JSON text.

Writing: atomically, by `files.write_atomically` (an interrupted save leaves the previous file).

Reading: the zip is opened by `zipfile` and each member's .npy header (shape, dtype) is read
before its data. Headers are checked against the model, and each member's declared size against
what its header promises, before any array is decompressed: a small file cannot make the loader
allocate more than the model's own weights (a "zip bomb" is refused), and a file that does not
match changes nothing.
"""
import os
import re
import zipfile

import numpy as np

from ..checks import check_array
from .files import open_zip, write_atomically

__all__ = ["save_weights", "load_weights", "save_archive", "load_archive", "read_weights",
           "WeightsFile"]

_FORMAT = "minirnn-1"
_MAX_METADATA_BYTES = 64 * 2 ** 20  # __config__ and __names__: text, far below this in practice
_WEIGHT_MEMBER = re.compile(r"weight_(\d+)\.npy")
_METADATA_MEMBERS = ("__format__.npy", "__names__.npy", "__config__.npy")
_NPY_MAGIC = b"\x93NUMPY"
_READ_PIECE = 16 * 2 ** 20


# -- writing ---------------------------------------------------------------------------------------

def _write_atomically(filepath, arrays):
    write_atomically(filepath, lambda handle: np.savez(handle, **arrays), suffix=".npz")


def _weight_arrays(weights, names):
    arrays = {f"weight_{i:03d}": np.asarray(w) for i, w in enumerate(weights)}
    arrays["__names__"] = np.array(names if names else [""] * len(weights), dtype=str)
    arrays["__format__"] = np.array(_FORMAT)
    return arrays


def save_weights(model, filepath):
    """Write model.weights to `filepath` (.npz)."""
    names = [w.name or "" for w in model.weights]
    _write_atomically(filepath, _weight_arrays(model.get_weights(), names))


def save_archive(filepath, config_json, weights):
    """Write a model: its JSON config and its weights."""
    arrays = _weight_arrays(weights, None)
    arrays["__config__"] = np.array(config_json)
    _write_atomically(filepath, arrays)


# -- reading ---------------------------------------------------------------------------------------

class _Member:
    """One .npy member of the zip, known by its header alone until `read()`."""

    def __init__(self, info, shape, fortran_order, dtype, data_offset):
        self.info, self.shape, self.fortran_order, self.dtype = info, shape, fortran_order, dtype
        self.data_offset = data_offset
        self.nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


class WeightsFile:
    """An open minirnn .npz file. Opening reads the metadata and every member's header, no
    weight data; `check_against(weights)` compares the headers with a model's weights and
    `read_weights()` then decompresses them.

        with WeightsFile(path) as file:
            file.check_against(model.weights, f"model '{model.name}'")
            arrays = file.read_weights()
    """

    def __init__(self, filepath):
        self.filepath = filepath
        self.name = repr(os.fspath(filepath))
        self._zip = self._open()
        try:
            self._read_directory()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._zip.close()

    def error(self, message):
        return ValueError(f"{self.name}: {message}")

    # -- opening ---------------------------------------------------------------------------
    def _open(self):
        path = os.fspath(self.filepath)
        with open(path, "rb") as handle:  # FileNotFoundError and PermissionError pass through
            start = handle.read(len(_NPY_MAGIC))
        if start == _NPY_MAGIC:
            raise self.error("is a single .npy array, not a minirnn .npz file (save it with "
                             "model.save_weights() or model.save())")
        return open_zip(path, lambda error: self.error(
            f"is not a readable .npz (zip) file: truncated, corrupt or not written by minirnn "
            f"({error})"))

    def _read_directory(self):
        names = self._zip.namelist()
        duplicated = sorted({n for n in names if names.count(n) > 1})
        unexpected = [n for n in names if n not in _METADATA_MEMBERS and not _WEIGHT_MEMBER.fullmatch(n)]
        if duplicated or unexpected:
            raise self.error(f"is not a minirnn file: unexpected members "
                             f"{duplicated + unexpected} (a minirnn file holds only "
                             f"weight_NNN.npy and {list(_METADATA_MEMBERS)})")
        if "__format__.npy" not in names:
            raise self.error(f"has no '__format__' entry: not a minirnn weights or model file")
        fmt = self._read_text("__format__")
        if fmt != _FORMAT:
            raise self.error(f"has format {fmt!r}; this minirnn reads {_FORMAT!r}")
        indices = sorted(int(_WEIGHT_MEMBER.fullmatch(n).group(1)) for n in names
                         if _WEIGHT_MEMBER.fullmatch(n))
        if indices != list(range(len(indices))) or any(
                f"weight_{i:03d}.npy" not in names for i in indices):
            missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
            raise self.error(f"has weights numbered {indices}: expected weight_000 to "
                             f"weight_{len(indices) - 1:03d} with no gaps"
                             + (f" (missing {missing})" if missing else ""))
        self.weights = [self._header(f"weight_{i:03d}.npy") for i in indices]
        if "__names__.npy" not in names:
            raise self.error("has no '__names__' entry: not a minirnn weights or model file")
        self.names = [str(n) for n in self._read_metadata("__names__", ndim=1)]
        if len(self.names) != len(self.weights):
            raise self.error(f"lists {len(self.names)} weight names for {len(self.weights)} weights")
        self.config_json = self._read_text("__config__") if "__config__.npy" in names else None

    # -- members ---------------------------------------------------------------------------
    def _header(self, member):
        info = self._zip.getinfo(member)
        try:
            with self._zip.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise ValueError(f".npy format version {version} is not supported")
                offset = stream.tell()
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError,
                NotImplementedError, SyntaxError) as error:
            raise self.error(f"member {member!r} has no readable .npy header (truncated or "
                             f"corrupt file?): {error}") from None
        if dtype.hasobject:
            raise self.error(f"member {member!r} holds Python objects (dtype {dtype}); minirnn "
                             f"files hold numbers only and are read without pickle")
        found = _Member(info, tuple(shape), fortran_order, dtype, offset)
        # the directory's size must be what the header promises: otherwise the data is not this
        # array (and a lying size is how a tiny file inflates to gigabytes)
        if info.file_size != offset + found.nbytes:
            raise self.error(f"member {member!r} declares {info.file_size} bytes but its header "
                             f"(shape {found.shape}, dtype {dtype}) promises "
                             f"{offset + found.nbytes}: corrupt or not written by minirnn")
        return found

    def _read(self, member):
        """The member's data, as its header describes; the zip's CRC is checked too."""
        buffer = bytearray(member.nbytes)
        try:
            with self._zip.open(member.info) as stream:
                stream.read(member.data_offset)
                view, filled = memoryview(buffer), 0
                while filled < member.nbytes:
                    # in pieces: zipfile's readinto copies through a bytes object of the size asked
                    count = stream.readinto(view[filled:filled + _READ_PIECE])
                    if not count:
                        raise EOFError(f"data ends after {filled} of {member.nbytes} bytes")
                    filled += count
                if stream.read(1):  # also makes zipfile check the CRC at the member's end
                    raise ValueError("data continues past the array its header describes")
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError,
                NotImplementedError) as error:
            raise self.error(f"member {member.info.filename!r} could not be read (truncated or "
                             f"corrupt file?): {error}") from None
        count = int(np.prod(member.shape, dtype=np.int64))
        flat = np.frombuffer(buffer, dtype=member.dtype, count=count) if count else \
            np.empty(0, dtype=member.dtype)
        return flat.reshape(member.shape, order="F" if member.fortran_order else "C")

    def _read_metadata(self, key, ndim):
        member = self._header(f"{key}.npy")
        if member.dtype.kind != "U" or len(member.shape) != ndim:
            raise self.error(f"'{key}' should be {'text' if ndim == 0 else 'a list of text'}; got an "
                             f"array of dtype {member.dtype} and shape {member.shape}")
        if member.nbytes > _MAX_METADATA_BYTES:
            raise self.error(f"'{key}' declares {member.nbytes} bytes, more than the "
                             f"{_MAX_METADATA_BYTES} a minirnn file's metadata may hold")
        return self._read(member)

    def _read_text(self, key):
        return str(self._read_metadata(key, ndim=0))

    # -- weights ---------------------------------------------------------------------------
    def check_against(self, weights, owner):
        """Raise ValueError naming the file unless it holds exactly one array per weight, of the
        weight's shape and of a bool, integer or real float dtype. Reads no weight data."""
        expected = [tuple(w.shape) for w in weights]
        got = [m.shape for m in self.weights]
        if expected != got:
            raise self.error(f"does not match {owner}: expected {len(expected)} weights of shapes "
                             f"{expected}, got {len(got)} weights of shapes {got}")
        self.check_dtypes([f"weight {i} ('{getattr(w, 'name', None) or self.names[i]}') of {owner}"
                           for i, w in enumerate(weights)])

    def check_dtypes(self, labels):
        """Raise ValueError naming the file (and the weight, by its label) unless every weight
        member is of a bool, integer or real float dtype; reads no weight data."""
        for label, member in zip(labels, self.weights):
            try:
                check_array(member, label)  # a member's header carries the dtype check_array reads
            except TypeError as error:
                raise self.error(str(error)) from None

    def read_weights(self):
        """Every weight array (after check_against, at most the model's own size in memory)."""
        return [self._read(member) for member in self.weights]


def _checked_arrays(file):
    file.check_dtypes([f"weight {i} ('{name}')" for i, name in enumerate(file.names)])
    return file.read_weights()


def read_weights(filepath):
    """(weights list, names list) of a weights or model file, each array's dtype checked."""
    with WeightsFile(filepath) as file:
        return _checked_arrays(file), list(file.names)


def load_weights(model, filepath):
    """Set model's weights from a file; raise (changing nothing) if the file does not match."""
    with WeightsFile(filepath) as file:
        file.check_against(model.weights, f"model '{model.name}'")
        weights = file.read_weights()
    model.set_weights(weights)


def load_archive(filepath):
    """(config JSON text, weights list) of a model file written by save_archive."""
    with WeightsFile(filepath) as file:
        if file.config_json is None:
            raise file.error("holds weights only; use model.load_weights() for it")
        return file.config_json, _checked_arrays(file)
