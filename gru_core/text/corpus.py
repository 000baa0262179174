"""Text in: decode a corpus, build a character vocabulary, split it chronologically into ids.

    text = load_time_machine()                     # the bundled H. G. Wells novel (Gutenberg)
    data = text_dataset(text, TextConfig())        # -> TextData: vocab, train ids, val ids

Vocabulary (:class:`CharVocab`), two modes:

* ``"letters"`` -- the textbook's (d2l, "Text Preprocessing"): every run of characters that are
  not ``A-Z a-z`` becomes one space, then lower-case. About 27 symbols plus the unknown token.
* ``"all"`` -- every character as it is (case, punctuation, quotes, line ends ``\\n``).

The vocabulary is built from the **training part only**; a character that first appears in the
validation part (or a prefix typed later) maps to the unknown token ``<unk>`` (id 0, shown as
U+FFFD when decoded). Ids 1.. are the training characters, most frequent first (ties by code
point), so the same text always gives the same ids.

Split rule: the cleaned text is cut once, chronologically: the first ``1 - val_frac`` of its
characters are the training text, the rest the validation text. No shuffling across the cut, so
no validation sentence is ever seen in training.

Bytes in (:func:`decode_text`): UTF-8 (a BOM is dropped), else Windows-1252 / Latin-1; NUL bytes
or many control characters mean "not a text file". A Project Gutenberg licence header and footer
(``*** START OF`` / ``*** END OF`` lines) are removed so the model learns the book, not the licence.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from gru_core.errors import DataError
from gru_core.text.config import TextConfig

__all__ = ["MAX_TEXT_BYTES", "MIN_TEXT_CHARS", "TIME_MACHINE", "UNK", "CharVocab", "TextData", "min_train_chars",
           "clean_text", "decode_text", "load_time_machine", "strip_gutenberg", "text_dataset"]

MAX_TEXT_BYTES = 2 * 1024 * 1024   # largest text upload (2 MiB): the page's limit, shown there
MIN_TEXT_CHARS = 2_000             # shortest usable text after cleaning (characters)
TIME_MACHINE = Path(__file__).resolve().parents[2] / "sample_data" / "timemachine.txt"
UNK = "\ufffd"                     # how the unknown token <unk> (id 0) is written when decoded

_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_NON_LETTERS = re.compile(r"[^A-Za-z]+")
_CONTROL_OK = {"\n", "\r", "\t", "\f"}


# ------------------------------------------------------------------------------------ bytes in
def decode_text(data: bytes, name: str = "the file", max_bytes: int = MAX_TEXT_BYTES) -> tuple[str, str]:
    """Decode an uploaded text file.

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        File name for messages.
    max_bytes : int
        Refuse larger files.

    Returns
    -------
    (str, str)
        The text with Windows / old-Mac line ends turned into ``\\n``, and the encoding used
        (``"UTF-8"`` or ``"Windows-1252 / Latin-1"``).

    Raises
    ------
    DataError
        Empty, too large, binary (NUL bytes or over 2 % control characters), or neither UTF-8 nor
        Latin-1.
    """
    if not data:
        raise DataError(f"{name} is empty: upload a plain-text file of at least "
                        f"{MIN_TEXT_CHARS:,} characters.")
    if len(data) > max_bytes:
        raise DataError(f"{name} is {len(data) / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB "
                        "limit for texts: upload a shorter excerpt (a novel is about 0.2-1 MiB).")
    if b"\x00" in data[:65536]:
        raise DataError(f"{name} is not a text file (it contains NUL bytes, as binary files, "
                        "PDFs, Word documents and UTF-16 text do): save it as plain text (.txt, "
                        "UTF-8) and upload that.")
    try:
        text, encoding = data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "Windows-1252 / Latin-1"
        except UnicodeDecodeError:
            raise DataError(f"{name} is neither UTF-8 nor Latin-1 (Windows-1252) text: open it in "
                            "a text editor and save it as UTF-8, then upload it again.") from None
    control = sum(1 for c in text if ord(c) < 32 and c not in _CONTROL_OK)
    if control > 0.02 * len(text):
        raise DataError(f"{name} does not look like text: {control:,} of its {len(text):,} "
                        "characters are control codes. Upload a plain-text (.txt) file.")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def strip_gutenberg(text: str) -> str:
    """The text between Project Gutenberg's ``*** START OF`` and ``*** END OF`` lines (as is if
    there are no such lines)."""
    start, end = _START.search(text), _END.search(text)
    lo = start.end() if start else 0
    hi = end.start() if end and end.start() > lo else len(text)
    return text[lo:hi].strip("\n") + "\n"


def load_time_machine() -> str:
    """H. G. Wells, *The Time Machine* (sample_data/timemachine.txt), licence header stripped."""
    text, _ = decode_text(TIME_MACHINE.read_bytes(), "timemachine.txt")
    return strip_gutenberg(text)


def clean_text(text: str, mode: str) -> str:
    """The text as the vocabulary mode sees it: ``"letters"`` keeps a-z and single spaces
    (lower-cased), ``"all"`` keeps everything."""
    if mode == "letters":
        return _NON_LETTERS.sub(" ", text).lower()
    if mode == "all":
        return text
    raise DataError(f"Unknown vocabulary mode {mode!r}: choose 'letters' (lower-case a-z and "
                    "space, as in the textbook) or 'all' (every character).")


# ------------------------------------------------------------------------------------ vocabulary
class CharVocab:
    """Characters <-> ids, built from a training text; id 0 is the unknown token.

    Parameters
    ----------
    chars : sequence of str
        The known characters in id order (ids 1..V-1). Use :meth:`build` to make one from text.
    mode : str
        ``"letters"`` or ``"all"``: how :meth:`encode` cleans text first (see :func:`clean_text`).
    """

    def __init__(self, chars, mode: str = "all"):
        chars = list(chars)
        if len(set(chars)) != len(chars) or any(len(c) != 1 or c == UNK for c in chars):
            raise DataError("CharVocab needs distinct single characters (not U+FFFD, which stands "
                            "for the unknown token).")
        clean_text("", mode)  # validates the mode
        self.mode = mode
        self.itos: list[str] = [UNK] + chars            # id -> character
        self.stoi = {c: i for i, c in enumerate(self.itos) if i > 0}

    @classmethod
    def build(cls, text: str, mode: str = "letters") -> "CharVocab":
        """The vocabulary of ``text`` (cleaned per ``mode``): most frequent character first."""
        counts = Counter(clean_text(text, mode))
        counts.pop(UNK, None)
        return cls(sorted(counts, key=lambda c: (-counts[c], ord(c))), mode)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} tokens, mode={self.mode!r})"

    def encode(self, text: str, clean: bool = True) -> torch.Tensor:
        """Ids of ``text`` (cleaned first unless ``clean=False``), unknown characters -> 0.

        Returns
        -------
        torch.Tensor
            (N,) int64.
        """
        if clean:
            text = clean_text(text, self.mode)
        return torch.tensor([self.stoi.get(c, 0) for c in text], dtype=torch.long)  # (N,)

    def decode(self, ids) -> str:
        """The characters of ``ids`` (any iterable of ints or a tensor); 0 becomes U+FFFD."""
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        return "".join(self.itos[i] for i in ids)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "chars": "".join(self.itos[1:])}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocab":
        return cls(list(d["chars"]), d["mode"])


# ------------------------------------------------------------------------------------ the data set
@dataclass
class TextData:
    """A corpus ready for training: the vocabulary and the chronological split as ids.

    Attributes
    ----------
    vocab : CharVocab
        Built from ``train_text`` only.
    train, val : torch.Tensor
        (N_train,), (N_val,) int64 ids of the training and validation text.
    train_text, val_text : str
        The cleaned text of each part (what the ids encode, unknown characters included).
    """

    vocab: CharVocab
    train: torch.Tensor
    val: torch.Tensor
    train_text: str
    val_text: str

    def __repr__(self) -> str:
        return (f"TextData({self.vocab!r}, {self.train.numel():,} train / "
                f"{self.val.numel():,} validation characters)")


def min_train_chars(cfg: TextConfig) -> int:
    """Training characters one batch needs: B sequences of T inputs, T targets and a start offset."""
    return (cfg.batch_size + 1) * cfg.seq_len + 1


def text_dataset(text: str | None = None, cfg: TextConfig | None = None) -> TextData:
    """Clean ``text``, split it chronologically, build the vocabulary on the training part.

    Parameters
    ----------
    text : str, optional
        The corpus; the bundled *Time Machine* (:func:`load_time_machine`) when None.
    cfg : TextConfig, optional
        ``vocab`` (mode), ``val_frac``, and ``seq_len`` / ``batch_size`` for the size checks.

    Raises
    ------
    DataError
        Shorter than :data:`MIN_TEXT_CHARS` after cleaning, or a training part too short for
        one batch, or a validation part shorter than one sequence.
    """
    cfg = (cfg or TextConfig()).validate()
    if text is None:
        text = load_time_machine()
    if not isinstance(text, str):
        raise DataError(f"text must be a str; got {type(text).__name__} (decode bytes with "
                        "gru_core.text.decode_text first).")
    clean = clean_text(text, cfg.vocab)
    if len(clean.strip()) < MIN_TEXT_CHARS:
        raise DataError(f"The text has {len(clean.strip()):,} usable characters"
                        f"{' (letters and spaces)' if cfg.vocab == 'letters' else ''}; at least "
                        f"{MIN_TEXT_CHARS:,} are needed (a few pages). Use a longer text.")
    cut = int(len(clean) * (1.0 - cfg.val_frac))
    train_text, val_text = clean[:cut], clean[cut:]
    need = min_train_chars(cfg)
    if len(train_text) < need:
        raise DataError(f"The training part has {len(train_text):,} characters but one batch of "
                        f"{cfg.batch_size} sequences x {cfg.seq_len} characters needs at least "
                        f"{need:,}: use a longer text, a smaller batch or shorter sequences.")
    if len(val_text) < cfg.seq_len + 1:
        raise DataError(f"The validation part has {len(val_text):,} characters, fewer than one "
                        f"sequence ({cfg.seq_len + 1}): raise the validation share (now "
                        f"{cfg.val_frac:g}) or use a longer text.")
    vocab = CharVocab.build(train_text, cfg.vocab)
    return TextData(vocab=vocab, train=vocab.encode(train_text, clean=False),
                    val=vocab.encode(val_text, clean=False),
                    train_text=train_text, val_text=val_text)
