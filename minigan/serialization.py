"""Checkpoints: ``save(obj, path)`` and ``load(path)`` for nested structures of tensors.

What can be stored
    ``obj`` is a tree of dicts (string keys; ``OrderedDict`` and other dict subclasses load
    back as ``dict``), lists and tuples, whose leaves are minigan ``Tensor`` s (NumPy- or
    CuPy-backed; a ``Parameter`` loads back as a plain ``Tensor``), NumPy arrays, NumPy
    scalars, and Python ``None``, ``bool``, ``int`` (any size), ``float`` and ``str``.
    Everything loads back with its exact type, dtype, shape and bits: tuples stay tuples,
    ``-0.0`` and NaN payloads survive, a 128-bit PCG64 state stays an ``int``. Tensors load
    on the CPU with ``requires_grad=False`` (the flag is not stored: a training script sets
    it by loading into the parameters of a freshly built model), or on ``map_location``.
    Arrays are stored C-contiguous and little-endian (a big-endian array loads back with
    the native dtype), in one of the dtypes bool, int8/16/32/64, uint8/16/32/64,
    float16/32/64 and complex64. An object shared by two keys is stored twice. Anything
    else raises ``TypeError`` naming its key path (``model.layers.0.weight``) and type.

File layout (a plain safetensors file, readable by any safetensors reader)
    ``[8-byte little-endian header length][JSON header][tensor bytes]``. The header lists
    one entry per stored array, named ``t0``, ``t1``, ... in the order the tree is walked,
    with its dtype, shape and byte offsets, plus ``__metadata__`` (string to string)::

        format            "minigan.checkpoint"
        format_version    "1"
        structure         the tree as JSON (below)
        structure_sha256  SHA-256 of the ``structure`` string

    In ``structure``, ``null``, ``true``/``false`` and strings stand for themselves; every
    other node is a one-key object: ``{"dict": {key: node}}``, ``{"intdict": [[hex key,
    node], ...]}`` (a dict whose keys are all ints, as an optimizer's state), ``{"list": [node]}``,
    ``{"tuple": [node]}``, ``{"int": "-0x1f"}`` (hex: exact at any size),
    ``{"float": "0x3ff8000000000000"}`` (the IEEE-754 bits) and, for arrays,
    ``{"tensor" | "ndarray" | "scalar": {"entry": "t0", "dtype": "float32",
    "shape": [2, 3], "sha256": <SHA-256 of the entry's bytes>}}``.
    safetensors itself checks only that the header parses and the offsets tile the data;
    the checksums catch a changed byte anywhere else: in tensor data (the entry's digest),
    in the structure (its digest), or in an entry's dtype/shape (compared with the tree).

Why no pickle
    Unpickling runs arbitrary code named by the file (any callable with any arguments via
    ``__reduce__``), so opening a downloaded or tampered checkpoint could do anything the
    user can. Here a file is parsed, never executed: JSON plus raw array bytes. This module
    imports no pickle-based library, and a pickle (or ``torch.save`` zip) file is refused.

Atomic writes
    The whole file is built in memory first (so an unsupported object raises before any
    file is touched). It is then written to a temporary file created with
    ``tempfile.mkstemp`` in the target's directory (same filesystem, so the rename below is
    atomic), given the permission bits of the file it replaces (else ``0o666`` less the
    umask), flushed, ``os.fsync``-ed and closed, then ``os.replace``-d onto ``path``, and
    finally the directory is ``fsync``-ed (POSIX) so the rename itself survives a crash.
    Readers see either the old checkpoint or the new one, never a mix; on any failure
    (including ``KeyboardInterrupt``) the temporary file is removed and the old checkpoint
    is left untouched.

Errors
    ``save``: ``TypeError`` for unsupported content, ``FileNotFoundError`` when the
    directory does not exist, other ``OSError`` s from the filesystem as they come.
    ``load``: ``CheckpointError`` for every reason a file cannot be loaded: no such file,
    unreadable, not safetensors (truncated, random bytes, pickle), no minigan metadata,
    unknown format version, checksum mismatch, malformed structure. Its message names the
    file and the reason; nothing partially loaded is ever returned. A missing file is a
    ``CheckpointError`` too (reason "no such file", the ``FileNotFoundError`` chained as
    its cause), so ``except CheckpointError`` covers every failed load.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import struct
import tempfile
from typing import Any

import numpy as np

from minigan.backend import Device, to_device
from minigan.backend import device as parse_device
from minigan.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "minigan.checkpoint"
FORMAT_VERSION = 1

_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float16, np.float32, np.float64, np.complex64))
_ARRAY_TAGS = ("tensor", "ndarray", "scalar")


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask can only be read by setting it


class CheckpointError(Exception):
    """A file that ``load`` cannot turn back into the saved object; ``path`` and ``reason``
    are kept as attributes."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot load checkpoint {self.path!r}: {self.reason}"


# ------------------------------------------------------------------------------- save --

def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (see the module docstring for what it may hold) to ``path`` atomically.

    Raises ``TypeError`` naming the key path of an unsupported object before any file is
    created, and ``FileNotFoundError`` when the directory of ``path`` does not exist.
    """
    import safetensors.numpy

    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    structure = json.dumps(_encode(obj, "", arrays, set()), separators=(",", ":"))
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "structure": structure,
        "structure_sha256": hashlib.sha256(structure.encode()).hexdigest(),
    }
    _write_atomically(path, safetensors.numpy.save(arrays, metadata=metadata))


def _join(key_path: str, key: str | int) -> str:
    return f"{key_path}.{key}" if key_path else str(key)


def _encode(obj: Any, key_path: str, arrays: dict[str, np.ndarray], open_ids: set[int]
            ) -> Any:
    """The JSON node of ``obj``; arrays are appended to ``arrays``. ``open_ids`` holds the
    containers being encoded on the way down, to report a reference cycle."""
    kind = type(obj)
    if obj is None or kind is bool or kind is str:
        return obj
    if kind is int:
        return {"int": hex(obj)}
    if kind is float:
        return {"float": f"0x{struct.unpack('<Q', struct.pack('<d', obj))[0]:016x}"}
    if isinstance(obj, Tensor):
        data = obj.data
        if not isinstance(data, (np.ndarray, np.generic)):
            data = data.get()  # a CuPy array, copied to the host
        return {"tensor": _add_entry(np.asarray(data), key_path, arrays)}
    if kind is np.ndarray:
        return {"ndarray": _add_entry(obj, key_path, arrays)}
    if isinstance(obj, np.generic):
        return {"scalar": _add_entry(np.asarray(obj), key_path, arrays)}
    if isinstance(obj, dict) or kind is list or kind is tuple:
        if id(obj) in open_ids:
            raise TypeError(f"save: {_where(key_path)} holds a container that contains "
                            "itself (a reference cycle cannot be stored)")
        open_ids.add(id(obj))
        if isinstance(obj, dict) and obj and all(type(key) is int for key in obj):
            node = {"intdict": [[hex(key), _encode(value, _join(key_path, key), arrays,
                                                   open_ids)] for key, value in obj.items()]}
        elif isinstance(obj, dict):
            for key in obj:
                if type(key) is not str:
                    raise TypeError(f"save: dict keys must be all str or all int, got "
                                    f"{type(key).__name__} key {key!r} at {_where(key_path)}")
            node = {"dict": {key: _encode(value, _join(key_path, key), arrays, open_ids)
                             for key, value in obj.items()}}
        else:
            node = {kind.__name__: [_encode(item, _join(key_path, i), arrays, open_ids)
                                    for i, item in enumerate(obj)]}
        open_ids.discard(id(obj))
        return node
    raise TypeError(f"save: cannot store an object of type {kind.__module__}."
                    f"{kind.__qualname__} at {_where(key_path)}; supported: dict, list, "
                    "tuple, Tensor, numpy.ndarray, numpy scalars, None, bool, int, float, str")


def _where(key_path: str) -> str:
    return f"key {key_path!r}" if key_path else "the top level"


def _add_entry(array: np.ndarray, key_path: str, arrays: dict[str, np.ndarray]
               ) -> dict[str, Any]:
    """Store ``array`` C-contiguous and little-endian as the next entry; its record."""
    stored = array.dtype.newbyteorder("<")
    if stored not in _DTYPES:
        raise TypeError(f"save: cannot store an array of dtype {array.dtype} at "
                        f"{_where(key_path)}; supported dtypes: "
                        f"{', '.join(sorted(d.name for d in _DTYPES))}")
    array = array.astype(stored, order="C", copy=False)
    name = f"t{len(arrays)}"
    arrays[name] = array
    return {"entry": name, "dtype": stored.name, "shape": list(array.shape),
            "sha256": hashlib.sha256(array).hexdigest()}


def _write_atomically(path: str, payload: bytes) -> None:
    """temp file in the same directory -> write, flush, fsync, close -> os.replace -> fsync
    of the directory; the temp file is removed on any failure."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: cannot write checkpoint {path!r}: directory "
                                f"{directory!r} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    fd, temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                     dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), mode)
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):  # gone if interrupted after the rename
            os.unlink(temp_path)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP):  # no directory fsync on this fs
            raise
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------- load --

def load(path: str | os.PathLike[str], map_location: str | Device | None = None) -> Any:
    """Read a checkpoint written by ``save``; tensors go to ``map_location`` (default CPU).

    Every check passes before anything is returned; any failure is a ``CheckpointError``
    naming the file and the reason.
    """
    import safetensors

    target = None if map_location is None else parse_device(map_location)
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(path, "is a directory")
    try:
        with safetensors.safe_open(path, framework="np") as file:
            return _Reader(path, file, target).read()
    except FileNotFoundError as err:
        raise CheckpointError(path, "no such file") from err
    except safetensors.SafetensorError as err:
        raise CheckpointError(path, f"not a safetensors file ({err}){_sniff(path)}") from err
    except OSError as err:
        raise CheckpointError(path, f"cannot read it ({err})") from err


def _sniff(path: str) -> str:
    """A hint when a file that safetensors refused looks like a pickle or a zip archive."""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return ""
    if head[:1] == b"\x80":
        return "; it looks like a pickle, which minigan never loads (unpickling runs code)"
    if head == b"PK\x03\x04":
        return ("; it looks like a zip archive such as a torch.save file, which holds a "
                "pickle and is never loaded")
    return ""


class _Reader:
    """Checks the metadata of an open safetensors file and rebuilds the saved tree."""

    def __init__(self, path: str, file: Any, target: Device | None) -> None:
        self.path = path
        self.file = file
        self.target = target
        self.unused = set(file.keys())

    def fail(self, reason: str) -> CheckpointError:
        return CheckpointError(self.path, reason)

    def read(self) -> Any:
        metadata = self.file.metadata()
        if not metadata or "format" not in metadata:
            raise self.fail("not a minigan checkpoint: the safetensors metadata has no "
                            "'format' key (a file written by another program?)")
        if metadata["format"] != FORMAT_NAME:
            raise self.fail(f"not a minigan checkpoint: format {metadata['format']!r}, "
                            f"expected {FORMAT_NAME!r}")
        if metadata.get("format_version") != str(FORMAT_VERSION):
            raise self.fail(f"unsupported format_version {metadata.get('format_version')!r}"
                            f" (this minigan reads version {FORMAT_VERSION})")
        structure = metadata.get("structure", "")
        digest = hashlib.sha256(structure.encode()).hexdigest()
        if metadata.get("structure_sha256") != digest:
            raise self.fail("checksum mismatch in the structure metadata (the header was "
                            "modified or corrupted)")
        try:
            tree = json.loads(structure)
        except ValueError as err:
            raise self.fail(f"malformed structure JSON ({err})") from err
        obj = self.decode(tree, "")
        if self.unused:
            raise self.fail(f"entries {sorted(self.unused)} are not referenced by the "
                            "structure")
        return obj

    def decode(self, node: Any, key_path: str) -> Any:
        if node is None or isinstance(node, (bool, str)):
            return node
        if not (isinstance(node, dict) and len(node) == 1):
            raise self.fail(f"malformed structure node at {_where(key_path)}: {node!r:.80}")
        ((tag, payload),) = node.items()
        if tag == "dict" and isinstance(payload, dict):
            return {key: self.decode(value, _join(key_path, key))
                    for key, value in payload.items()}
        if tag == "intdict" and isinstance(payload, list):
            out = {}
            for pair in payload:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise self.fail(f"malformed int-keyed dict at {_where(key_path)}")
                key = self.parse_hex(pair[0], key_path)
                out[key] = self.decode(pair[1], _join(key_path, key))
            return out
        if tag in ("list", "tuple") and isinstance(payload, list):
            items = [self.decode(item, _join(key_path, i)) for i, item in enumerate(payload)]
            return items if tag == "list" else tuple(items)
        if tag == "int" and isinstance(payload, str):
            return self.parse_hex(payload, key_path)
        if tag == "float" and isinstance(payload, str):
            bits = self.parse_hex(payload, key_path)
            if not 0 <= bits < 2 ** 64:
                raise self.fail(f"float bits out of range at {_where(key_path)}")
            return struct.unpack("<d", struct.pack("<Q", bits))[0]
        if tag in _ARRAY_TAGS and isinstance(payload, dict):
            array = self.entry(payload, key_path)
            if tag == "ndarray":
                return array
            if tag == "scalar":
                return array[()]
            if self.target is not None:
                array = to_device(array, self.target)
            return Tensor._make(array)
        raise self.fail(f"malformed structure node at {_where(key_path)}: {node!r:.80}")

    def parse_hex(self, text: str, key_path: str) -> int:
        try:
            return int(text, 16)
        except ValueError as err:
            raise self.fail(f"malformed number {text!r:.40} at {_where(key_path)}") from err

    def entry(self, record: dict[str, Any], key_path: str) -> np.ndarray:
        """The array of one entry record, after checking its dtype, shape and digest."""
        name = record.get("entry")
        if name not in self.unused:
            raise self.fail(f"entry {name!r} at {_where(key_path)} is missing from the file "
                            "or referenced twice")
        self.unused.discard(name)
        array = self.file.get_tensor(name)
        if array.dtype.name != record.get("dtype") or list(array.shape) != record.get("shape"):
            raise self.fail(f"entry {name!r} at {_where(key_path)} is {array.dtype} "
                            f"{list(array.shape)} in the file, but the structure records "
                            f"{record.get('dtype')} {record.get('shape')}")
        if hashlib.sha256(array).hexdigest() != record.get("sha256"):
            raise self.fail(f"checksum mismatch in the data of entry {name!r} at "
                            f"{_where(key_path)} (the tensor bytes were modified or "
                            "corrupted)")
        return array
