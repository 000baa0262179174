"""Bounded reading of a model bundle's file: size, zip records, restricted unpickling.

The first half of :func:`gru_core.bundle.load_bundle`; it knows nothing about models. Each step
caps what the next may cost:

1. the file's size (``budget`` bytes of weights and config plus zip headers),
2. the archive's records: their count, each one's declared size and compression method, then each
   record inflated in chunks and never past its declared size or the budget (a zip bomb stops here),
   re-packed uncompressed so ``torch.load`` reads exactly the bytes checked here,
3. ``torch.load(weights_only=True, map_location="cpu")``: PyTorch's restricted unpickler (no code
   runs, no class is imported).

Every failure is a :class:`~gru_core.errors.BundleError` saying what is wrong and how to fix it.
"""
from __future__ import annotations

import io
import pickle
import zipfile
import zlib

import torch

from gru_core.errors import BundleError

_ZIP_MAGIC = b"PK\x03\x04"
REFUSED = ("refused to load: the file contains Python objects other than tensors; "
           "only upload bundles saved by GRU Lab")
_HOW = "Upload a .pt bundle saved by GRU Lab (Save model), or save the model again."
MAX_PICKLE_BYTES = 128 * 1024       # data.pkl: config + tensor references (500 columns need ~40 KB)
MAX_RECORDS = 300                   # archive records (a 16-layer bidirectional model needs ~140)
_SMALL_RECORD_BYTES = 4096          # version, byteorder, serialization id ...
_SLACK_BYTES = 2**20                # zip headers and alignment padding
_CHUNK = 2**16                      # bytes inflated at a time
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def read_archive(data, budget: int):
    """Read a bundle's bytes (bytes or file-like) into the unpickled payload, with bounded work.

    Parameters
    ----------
    data : bytes or file-like
    budget : int
        Most bytes of record content the archive may hold (weights plus the config's pickle).
    """
    budget += _SLACK_BYTES
    return _unpickle(_read_bytes(data, budget), budget)


def _read_bytes(data, budget: int) -> bytes:
    """The file's bytes; a file over ``budget`` is refused before it is read whole."""
    too_big = ("The file is {size} MB, more than a bundle of the largest model this server allows "
               f"({budget / 2**20:.1f} MB). Upload a bundle saved by GRU Lab, or ask the admin to "
               "raise GRU_LAB_MAX_PARAMS.")
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif hasattr(data, "read") or hasattr(data, "getvalue"):
        size = getattr(data, "size", None)
        if isinstance(size, int) and size > budget:
            raise BundleError(too_big.format(size=f"{size / 2**20:.1f}"))
        if hasattr(data, "seek"):
            data.seek(0)
        raw = bytes(data.read(budget + 1)) if hasattr(data, "read") else bytes(data.getvalue())
    else:
        raise BundleError(f"Expected the bundle's bytes, got {type(data).__name__}. {_HOW}")
    if len(raw) > budget:
        raise BundleError(too_big.format(size=f"{len(raw) / 2**20:.1f}" if len(raw) > budget + 1
                                         else f"over {budget / 2**20:.1f}"))
    return raw


def _record_cap(name: str) -> int:
    leaf = name.rsplit("/", 1)[-1]
    if leaf == "data.pkl":
        return MAX_PICKLE_BYTES
    if "/data/" in name and leaf.isdigit():
        return -1                                  # a tensor's storage: capped by the total budget
    return _SMALL_RECORD_BYTES                     # version, byteorder, serialization id ...


def _unzip(raw: bytes, budget: int) -> bytes:
    """Check the archive's records, inflate each with a cap, and re-pack them uncompressed.

    torch.load then reads exactly the bytes checked here (never the original archive), so a
    record's declared size, its compression and the central directory cannot disagree with what
    is loaded.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise BundleError(f"The bundle is damaged or not a GRU Lab bundle: the PyTorch archive "
                          f"could not be read (truncated or corrupted download?). {_HOW}") from None
    if len(infos) > MAX_RECORDS:
        raise BundleError(f"The archive holds {len(infos):,} records; a GRU Lab bundle has at most "
                          f"{MAX_RECORDS}. {_HOW}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise BundleError(f"The archive holds two records with the same name: it was edited. {_HOW}")
    declared = 0
    for info in infos:                             # 1. declared sizes, before reading anything
        cap = _record_cap(info.filename)
        if info.compress_type not in _METHODS:
            raise BundleError(f"The archive record {info.filename[:80]!r} uses compression method "
                              f"{info.compress_type}; GRU Lab bundles are stored uncompressed. {_HOW}")
        if cap >= 0 and info.file_size > cap:
            raise BundleError(f"The archive record {info.filename[:80]!r} declares "
                              f"{info.file_size:,} bytes; GRU Lab writes at most {cap:,} there, so "
                              f"this is not a GRU Lab bundle. {_HOW}")
        declared += info.file_size
    if declared > budget:
        raise BundleError(f"The archive's records declare {declared / 2**20:.1f} MB in all, more "
                          f"than a bundle of the largest model this server allows "
                          f"({budget / 2**20:.1f} MB): it is not a GRU Lab bundle (a zip bomb?). "
                          f"{_HOW}")
    out = io.BytesIO()
    total = 0
    try:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
            for info in infos:                     # 2. stream each record; never past its size
                parts, n = [], 0
                with zf.open(info) as src:
                    while chunk := src.read(_CHUNK):
                        n += len(chunk)
                        total += len(chunk)
                        if n > info.file_size or total > budget:
                            raise BundleError(f"The archive record {info.filename[:80]!r} "
                                              f"inflates past its declared size: it is not a "
                                              f"GRU Lab bundle (a zip bomb?). {_HOW}")
                        parts.append(chunk)
                dst.writestr(info.filename, b"".join(parts))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise BundleError(f"The bundle is damaged: an archive record fails its checksum (CRC) or is "
                          f"truncated (a corrupted download?). {_HOW}") from None
    return out.getvalue()


def _unpickle(raw: bytes, budget: int):
    """torch.load with the restricted unpickler; zip archives only (GRU Lab never writes others)."""
    if not raw:
        raise BundleError(f"The file is empty. {_HOW}")
    if not raw.startswith(_ZIP_MAGIC):
        if raw[:1] == b"\x80":  # PROTO opcode: a raw pickle, which can carry arbitrary objects
            raise BundleError(f"{REFUSED} (this is a raw Python pickle, not a GRU Lab bundle).")
        raise BundleError(f"This is not a GRU Lab model bundle (not a PyTorch zip archive). {_HOW}")
    repacked = _unzip(raw, budget)
    try:
        return torch.load(io.BytesIO(repacked), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        if "global" in str(e).lower():
            raise BundleError(f"{REFUSED}.") from None
        raise BundleError(f"The bundle is damaged: its contents could not be read. {_HOW}") from None
    except Exception:
        raise BundleError(f"The bundle is damaged or not a GRU Lab bundle: the PyTorch archive "
                          f"could not be read (truncated or corrupted download?). {_HOW}") from None


