"""gru_core.text.corpus: decoding uploads, the vocabulary, the chronological split."""
from __future__ import annotations

import pytest
import torch

from gru_core.errors import DataError
from gru_core.text import (MAX_TEXT_BYTES, MIN_TEXT_CHARS, UNK, CharVocab, TextConfig, clean_text,
                           decode_text, load_time_machine, strip_gutenberg, text_dataset)
from text_fixtures import one_torch_thread  # noqa: F401  (autouse)

PROSE = ("It was the best of times, it was the worst of times; \u201cit was\u201d the age of "
         "wisdom.\n") * 60


def test_time_machine_is_the_book_without_the_licence():
    text = load_time_machine()
    assert text.lstrip().startswith("The Time Machine")
    assert "Project Gutenberg" not in text[:2000] and "PROJECT GUTENBERG" not in text[-3000:]
    assert "Time Traveller" in text and len(text) > 150_000


def test_strip_gutenberg_keeps_text_without_markers():
    assert strip_gutenberg("just a text\n") == "just a text\n"
    wrapped = "licence\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nbody\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nmore"
    assert strip_gutenberg(wrapped) == "body\n"


def test_letters_mode_is_the_textbooks_cleaning():
    assert clean_text("The Time-Traveller's  (sic)\n42 x", "letters") == "the time traveller s sic x"
    assert clean_text("A b\n", "all") == "A b\n"
    with pytest.raises(DataError, match="letters"):
        clean_text("x", "words")


@pytest.mark.parametrize("mode", ["letters", "all"])
def test_vocab_round_trip(mode):
    text = clean_text(PROSE, mode)
    vocab = CharVocab.build(text, mode)
    ids = vocab.encode(text)
    assert ids.dtype == torch.long and ids.shape == (len(text),)
    assert vocab.decode(ids) == text                      # text -> ids -> text
    assert torch.equal(vocab.encode(vocab.decode(ids)), ids)   # ids -> text -> ids
    assert 0 not in ids.tolist()                          # every training character is known
    assert CharVocab.from_dict(vocab.to_dict()).itos == vocab.itos


def test_vocab_order_and_unknown_token():
    vocab = CharVocab.build("bbbaac", "all")
    assert vocab.itos == [UNK, "b", "a", "c"]             # most frequent first, <unk> is id 0
    assert vocab.encode("abz").tolist() == [2, 1, 0]      # z was never seen
    assert vocab.decode([0, 3]) == UNK + "c"


def test_split_is_chronological_and_vocab_from_train_only():
    cfg = TextConfig(vocab="all", val_frac=0.1, seq_len=8, batch_size=4)
    text = "a" * 1900 + "b" * 180 + "Z" * 20             # Z only in the last tenth
    data = text_dataset(text, cfg)
    assert data.train_text + data.val_text == text
    assert len(data.train_text) == int(len(text) * 0.9)
    assert "Z" not in data.vocab.stoi                     # built on training characters only
    assert data.val.tolist()[-20:] == [0] * 20            # unseen in training -> <unk>
    assert data.vocab.decode(data.train) == data.train_text


def test_short_texts_say_the_minimum():
    with pytest.raises(DataError, match=f"{MIN_TEXT_CHARS:,}"):
        text_dataset("too short " * 10)
    cfg = TextConfig(seq_len=64, batch_size=64)
    with pytest.raises(DataError, match="smaller batch"):
        text_dataset("word " * 700, cfg)                  # 3,500 chars < 65*64+1


def test_decode_text_accepts_utf8_and_latin1():
    assert decode_text("caf\u00e9 \u201cq\u201d\r\nx".encode("utf-8")) == ("caf\u00e9 \u201cq\u201d\nx", "UTF-8")
    assert decode_text("\ufeffbom".encode("utf-8"))[0] == "bom"
    text, enc = decode_text("caf\u00e9 na\u00efve".encode("latin-1"))
    assert text == "caf\u00e9 na\u00efve" and enc.startswith("Windows-1252")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"%PDF-1.4\x00\x01\x02binary", "not a text file"),
    ("text".encode("utf-16"), "NUL bytes"),
    (bytes(range(1, 9)) * 50 + b"abc", "control codes"),
    (b"\x81\x8d\x8f\x90\x9d" * 10, "neither UTF-8 nor Latin-1"),
])
def test_decode_text_refuses_what_is_not_text(data, message):
    with pytest.raises(DataError, match=message):
        decode_text(data, "upload.txt")


def test_decode_text_size_limit():
    with pytest.raises(DataError, match="MiB limit"):
        decode_text(b"a" * (MAX_TEXT_BYTES + 1))


def test_config_is_validated():
    with pytest.raises(DataError, match="scratch"):
        TextConfig(cell="lstm", scratch=True).validate()
    with pytest.raises(DataError, match="seq_len"):
        TextConfig(seq_len=0).validate()
    with pytest.raises(DataError, match="sampling"):
        TextConfig(sampling="shuffled").validate()
