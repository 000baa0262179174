"""Server-side session states behind unguessable tokens, so a reload (F5) restores a session.

The app puts ``?s=<token>`` in the address bar; the token (``secrets.token_urlsafe``, 128 random
bits) is the only key to a :class:`SessionRecord`: the settings, the uploaded file's bytes, the
job handle and whatever else a page keeps. Knowing another session's settings or job id gives no
way in; a missing, malformed or forgotten token just starts a fresh session::

    store = SessionStore()                     # one per server process
    token = store.new()                        # -> "kV3...", 22 URL-safe characters
    rec = store.get(token)                     # None if unknown, malformed or evicted
    rec.settings["lookback"] = 24; store.put_upload(token, "my.csv", data)

Bounded (LRU, least recently used out first): at most ``max_sessions`` records, ``max_bytes`` of
uploads and settings in all, and each record is forgotten ``ttl_s`` after its last use.
``on_evict(record)`` is called (outside the lock) for each forgotten record.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from gru_core.errors import DataError

TOKEN_BYTES = 16                                   # 128 bits -> 22 URL-safe characters
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")


def is_token(text) -> bool:
    """True if ``text`` has a token's form (it may still be unknown to the store)."""
    return isinstance(text, str) and TOKEN_RE.fullmatch(text) is not None


@dataclass
class SessionRecord:
    """One session's state as the server holds it between page loads."""

    token: str
    created: float                                  # store clock
    used_at: float                                  # last get / put
    settings: dict = field(default_factory=dict)    # setting name -> value
    upload_name: str | None = None                  # the uploaded file's name ...
    upload: bytes | None = None                     # ... and its content
    job: Any = None                                 # the session's latest job handle
    extra: dict = field(default_factory=dict)       # anything else a page keeps (small)

    @property
    def nbytes(self) -> int:
        """Bytes counted against the store's bound: the upload plus a rough size of the settings."""
        return len(self.upload or b"") + 64 * (len(self.settings) + len(self.extra)) + 256


class SessionStore:
    """Token -> :class:`SessionRecord`, bounded (see the module docstring).

    Parameters
    ----------
    max_sessions : int
    max_bytes : int
        Total of every record's :attr:`SessionRecord.nbytes` (uploads dominate).
    ttl_s : float
        Seconds since last use after which a record is forgotten.
    clock : callable
        Seconds (``time.monotonic``); tests pass a fake one.
    on_evict : callable, optional
        Called with each forgotten record.
    """

    def __init__(self, max_sessions: int = 256, max_bytes: int = 512 * 2**20,
                 ttl_s: float = 6 * 3600.0, clock: Callable[[], float] = time.monotonic,
                 on_evict: Callable[[SessionRecord], None] | None = None):
        self.max_sessions, self.max_bytes, self.ttl_s = max_sessions, max_bytes, ttl_s
        self.clock, self.on_evict = clock, on_evict
        self._lock = threading.Lock()
        self._records: OrderedDict[str, SessionRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(r.nbytes for r in self._records.values())

    def new(self) -> str:
        """A fresh record under a new random token; returns the token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        with self._lock:
            self._records[token] = SessionRecord(token=token, created=now, used_at=now)
        self._evict()
        return token

    def get(self, token) -> SessionRecord | None:
        """The record of ``token`` (marked used), or None if the token is unknown or malformed."""
        if not is_token(token):
            return None
        with self._lock:
            rec = self._records.get(token)
            if rec is None or self.clock() - rec.used_at > self.ttl_s:
                return None
            rec.used_at = self.clock()
            self._records.move_to_end(token)
            return rec

    def put_upload(self, token: str, name: str | None, data: bytes | None) -> None:
        """Keep (or with ``data=None`` forget) the session's uploaded file.

        Raises
        ------
        DataError
            The token is unknown, or the file alone is larger than the store's bound.
        """
        if data is not None and len(data) > self.max_bytes:
            raise DataError(f"The file has {len(data) / 2**20:.1f} MiB, more than this server keeps "
                            f"for all sessions together ({self.max_bytes / 2**20:.0f} MiB). Upload "
                            "a smaller file (fewer rows or columns).")
        rec = self.get(token)
        if rec is None:
            raise DataError("This session is no longer on the server; reload the page to start a "
                            "new one, then upload the file again.")
        with self._lock:
            rec.upload_name, rec.upload = (name, bytes(data)) if data is not None else (None, None)
        self._evict()

    def drop(self, token: str) -> None:
        """Forget a record now (``on_evict`` is called)."""
        with self._lock:
            rec = self._records.pop(token, None)
        if rec is not None and self.on_evict is not None:
            self.on_evict(rec)

    def _evict(self) -> None:
        gone = []
        with self._lock:
            now, total = self.clock(), sum(r.nbytes for r in self._records.values())
            while self._records:
                oldest = next(iter(self._records.values()))
                if (len(self._records) <= self.max_sessions and total <= self.max_bytes
                        and now - oldest.used_at <= self.ttl_s):
                    break
                del self._records[oldest.token]
                total -= oldest.nbytes
                gone.append(oldest)
        if self.on_evict is not None:
            for rec in gone:
                self.on_evict(rec)

    def sweep(self) -> None:
        """Forget expired records now (also happens on every :meth:`new` and upload)."""
        self._evict()
