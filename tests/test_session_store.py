"""The session store: tokens that cannot be guessed or forged, and LRU bounds on count, bytes, age."""
import pytest

from gru_core.errors import DataError
from gru_core.session_store import SessionStore, is_token


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_a_token_opens_its_own_record_and_nothing_else_does():
    store = SessionStore()
    a, b = store.new(), store.new()
    store.get(a).settings["lookback"] = 48
    store.put_upload(a, "mine.csv", b"t,y\n1,2\n")
    assert store.get(a).upload == b"t,y\n1,2\n" and store.get(a).settings == {"lookback": 48}
    assert store.get(b).upload is None and store.get(b).settings == {}
    for forged in (None, "", a[:-1], a + "x" * 50, a.upper() if a.upper() != a else a.lower(),
                   "../" + a, 123, "A" * 22):
        assert store.get(forged) is None or forged == a


def test_tokens_are_long_random_and_url_safe():
    store = SessionStore(max_sessions=2000)
    tokens = {store.new() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) >= 22 and is_token(t) for t in tokens)
    assert not is_token("short") and not is_token("x" * 21 + "!")


def test_least_recently_used_records_go_first_and_on_evict_is_told():
    gone = []
    store = SessionStore(max_sessions=2, on_evict=lambda r: gone.append(r.token))
    a, b = store.new(), store.new()
    store.get(a)                               # a used after b
    c = store.new()
    assert store.get(b) is None and store.get(a) is not None and store.get(c) is not None
    assert gone == [b]


def test_uploads_count_against_the_byte_bound():
    store = SessionStore(max_bytes=10_000)
    a, b = store.new(), store.new()
    store.put_upload(a, "a.csv", b"x" * 6000)
    store.put_upload(b, "b.csv", b"y" * 6000)   # 12,000 bytes > 10,000: a (older) goes
    assert store.get(a) is None and store.get(b).upload_name == "b.csv"
    store.put_upload(b, None, None)
    assert store.get(b).upload is None and store.nbytes < 1000
    with pytest.raises(DataError, match="smaller file"):
        store.put_upload(b, "huge.csv", b"z" * 20_000)


def test_records_expire_after_their_ttl():
    clock = Clock()
    store = SessionStore(ttl_s=100, clock=clock)
    a = store.new()
    clock.t = 60
    assert store.get(a) is not None            # used at 60: lives to 160
    clock.t = 159
    assert store.get(a) is not None
    clock.t = 260
    assert store.get(a) is None
    store.sweep()
    assert len(store) == 0
    with pytest.raises(DataError, match="no longer on the server"):
        store.put_upload(a, "late.csv", b"1")
