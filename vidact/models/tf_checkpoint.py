"""Read a TensorFlow (V2, "tensor bundle") checkpoint without TensorFlow.

A checkpoint ``model.ckpt`` is two files:

* ``model.ckpt.index``: a LevelDB-format sorted table (TensorFlow writes it uncompressed) mapping each tensor
  name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size); the empty key holds a
  ``BundleHeaderProto`` (number of shards, endianness).
* ``model.ckpt.data-00000-of-00001``: the tensors' raw bytes, C order, at the offsets the index gives.

The table: blocks of prefix-compressed entries (``shared``, ``unshared``, ``value length`` varints, the key's new
bytes, the value), each block followed by an array of fixed32 restart offsets, their count, and a 5-byte trailer
(compression type, masked CRC32C); a 48-byte footer at the end of the file holds the handles (varint offset and
size) of the metaindex and index blocks and the magic number 0xdb4775248b80fb57. The index block maps a
separator key to each data block's handle. Only what vidact's published TF weights need is supported: one
shard, little-endian, uncompressed blocks, numeric dtypes, unpartitioned tensors; anything else is a
one-line :class:`~vidact.errors.CheckpointError`. The block checksums are verified.

    >>> variables = read_tf_checkpoint("rgb_imagenet/model.ckpt.index")   # {name: torch.Tensor}
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from .converters import register_reader

__all__ = ["read_tf_checkpoint", "crc32c", "masked_crc32c"]

_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
#: TensorFlow DataType enum -> numpy dtype (the numeric types a checkpoint of weights holds).
_DTYPES = {
    1: np.float32,
    2: np.float64,
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    10: np.bool_,
    14: np.uint16,  # bfloat16, returned as its raw bits
    19: np.float16,
}


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` (pure Python: for the small index blocks)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """LevelDB's masked CRC-32C, as stored in block trailers: ``rotr15(crc) + 0xa282ead8``."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message (varint, 64-bit, bytes and 32-bit wire types)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _block(buf: bytes, handle: tuple[int, int], what: str) -> bytes:
    offset, size = handle
    if offset + size + 5 > len(buf):
        raise ValueError(f"{what} block beyond the end of the file")
    data = buf[offset : offset + size]
    kind = buf[offset + size]
    (stored,) = struct.unpack_from("<I", buf, offset + size + 1)
    if kind != 0:
        raise ValueError(f"{what} block is compressed (type {kind}); only uncompressed tables are supported")
    if masked_crc32c(data + bytes([kind])) != stored:
        raise ValueError(f"{what} block fails its checksum (corrupt file)")
    return data


def _entries(block: bytes) -> list[tuple[bytes, bytes]]:
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise ValueError("malformed block")
    out: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        out.append((key, block[pos : pos + length]))
        pos += length
    return out


def _handle(value: bytes) -> tuple[int, int]:
    offset, pos = _varint(value, 0)
    size, _ = _varint(value, pos)
    return offset, size


def _index_entries(buf: bytes) -> list[tuple[bytes, bytes]]:
    if len(buf) < _FOOTER:
        raise ValueError("too short for a TensorFlow checkpoint index")
    footer = buf[-_FOOTER:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER - 8)
    if magic != _MAGIC:
        raise ValueError("not a TensorFlow checkpoint index (bad magic number)")
    pos = 0
    _, pos = _varint(footer, pos)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in _entries(_block(buf, (index_offset, index_size), "index")):
        entries += _entries(_block(buf, _handle(handle), "data"))
    return entries


def read_tf_checkpoint(
    index: str | os.PathLike, data: str | os.PathLike | None = None
) -> dict[str, torch.Tensor]:
    """Every tensor of a one-shard TensorFlow V2 checkpoint: ``{name: tensor}`` (TF's shapes, e.g. a Conv3D
    kernel [kT, kH, kW, C_in, C_out]).

    Args:
        index: the ``<prefix>.index`` file.
        data: its ``<prefix>.data-00000-of-00001`` shard; default: beside the index.

    Raises:
        CheckpointError: a missing file, or one that is not such a checkpoint, is corrupt or truncated, or uses
            what this reader does not support (several shards, big-endian, compressed blocks, strings).
    """
    index = Path(index)
    data = Path(data) if data is not None else index.with_name(f"{index.stem}.data-00000-of-00001")
    for path in (index, data):
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file")
    try:
        entries = _index_entries(index.read_bytes())
    except (ValueError, struct.error) as e:
        raise CheckpointError(f"{index}: {e}") from None
    tensors: dict[str, torch.Tensor] = {}
    size = data.stat().st_size
    with open(data, "rb") as f:
        for key, value in entries:
            fields = _fields(value)
            if key == b"":  # BundleHeaderProto: num_shards (1), endianness (2)
                header = dict(fields)
                if header.get(1, 1) != 1 or header.get(2, 0) != 0:
                    raise CheckpointError(f"{index}: only one-shard little-endian checkpoints are supported")
                continue
            name = key.decode()
            entry = {number: v for number, v in fields if number != 2}
            dims = [
                dict(_fields(dim)).get(1, 0)
                for number, shape in fields
                if number == 2
                for n, dim in _fields(shape)  # type: ignore[arg-type]
                if n == 2
            ]
            if 7 in entry:
                raise CheckpointError(f"{index}: {name} is partitioned into slices, which is not supported")
            dtype = _DTYPES.get(int(entry.get(1, 0)))
            if dtype is None:
                raise CheckpointError(
                    f"{index}: {name} has TensorFlow dtype {entry.get(1)}, not a number type"
                )
            if int(entry.get(3, 0)) != 0:
                raise CheckpointError(f"{index}: {name} lies in another shard; only one shard is supported")
            offset, nbytes = int(entry.get(4, 0)), int(entry.get(5, 0))
            expected = int(np.prod(dims, dtype=np.int64)) * np.dtype(dtype).itemsize
            if nbytes != expected:
                raise CheckpointError(
                    f"{index}: {name} is {nbytes} bytes for shape {dims} ({expected} expected)"
                )
            if offset + nbytes > size:
                raise CheckpointError(
                    f"{data}: truncated ({size} bytes; {name} ends at byte {offset + nbytes})"
                )
            f.seek(offset)
            array = np.frombuffer(f.read(nbytes), dtype=np.dtype(dtype).newbyteorder("<")).reshape(dims)
            tensors[name] = torch.from_numpy(array.astype(dtype, copy=True))
    return tensors


# the layout this reader reads (see vidact.models.converters): its .index and .data, in that order
register_reader("kinetics-i3d-tf", lambda paths: read_tf_checkpoint(*paths[:2]))
