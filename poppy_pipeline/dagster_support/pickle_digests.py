"""A pickle's SHA-256, recorded beside it when written and checked before it is unpickled.

`<name>.pkl.sha256` holds the digest of `<name>.pkl` (`digest_path`); `verified` gives the bytes
back only when they are the ones recorded, else `PickleIntegrityError`, a `dg.Failure` whose
sentence names the file and says to materialize its asset again: a damaged or forged pickle is
refused, never run (the pickle IO manager in `io_managers.py`; the classes it may hold are
`common/safe_pickle.py`'s allow-list).
"""

import hashlib

import dagster as dg
from upath import UPath


class PickleIntegrityError(dg.Failure):
    """A pickle whose bytes are not the ones recorded when it was written: refused, not unpickled."""


def digest_path(path: UPath) -> UPath:
    return path.with_name(path.name + ".sha256")


def verified(payload: bytes, path: UPath) -> bytes:
    """`payload` if its SHA-256 is the one recorded beside `path` when it was written; else refused."""
    record = digest_path(path)
    if not record.exists():
        raise PickleIntegrityError(
            f"{path}: no recorded SHA-256 ({record.name} is missing), so it is not unpickled;"
            " materialize its asset again."
        )
    expected = (record.read_text().split() or [""])[0]
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise PickleIntegrityError(
            f"{path}: its SHA-256 {actual[:16]}… differs from {expected[:16] or 'nothing'}… recorded in"
            f" {record.name} when it was written: the file was changed or damaged since, so it is not"
            " unpickled; materialize its asset again."
        )
    return payload
