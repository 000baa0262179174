"""Character-level language modelling: the textbook GRU on *The Time Machine*, in GRU Lab's engine.

    import gru_core as gc
    cfg = gc.TextConfig()                                  # letters vocabulary, T=32, B=32, U=256
    data = gc.text_dataset(None, cfg)                      # bundled Time Machine, 90 / 10 split
    task = gc.LMTask(data, cfg, seed=0)
    run = gc.TrainingRun.for_task(task, gc.TrainConfig(lr=1e-2, epochs=5))
    run.run()
    print(gc.perplexity(task.model, data.val))             # exp(mean cross-entropy per character)
    print(gc.generate(task.model, data.vocab, "time traveller", 100, temperature=0.7, seed=0))
    g = gc.char_gates(task.model, data.vocab, data.val_text[:500])   # r, z, n, h per character

Modules: ``config`` (:class:`TextConfig`), ``corpus`` (decoding, vocabulary, split), ``batches``
(random / sequential minibatches), ``lm`` (:class:`CharLM`, :class:`ScratchGRU`), ``infer``
(perplexity, generation), ``char_gates`` (per-character gates, unit ranking), ``task`` (the
trainer task, live samples, the speed comparison).
"""
from gru_core.text.batches import batches_per_epoch, random_batches, sequential_batches, text_batches
from gru_core.text.char_gates import (CHAR_CLASSES, MAX_PASSAGE, QUANTITIES, CharGates, UnitScore,
                                      char_classes, char_gates, rank_units)
from gru_core.text.config import SAMPLING_MODES, VOCAB_MODES, TextConfig
from gru_core.text.corpus import (MAX_TEXT_BYTES, MIN_TEXT_CHARS, UNK, CharVocab, TextData,
                                  clean_text, decode_text, load_time_machine, min_train_chars,
                                  strip_gutenberg, text_dataset)
from gru_core.text.infer import MAX_GENERATE, generate, mean_ce, perplexity
from gru_core.text.lm import CharLM, ScratchGRU, detach_state, init_charlm
from gru_core.text.task import LiveSampler, LMTask, SampleSettings, compare_speed

__all__ = [
    "batches_per_epoch", "random_batches", "sequential_batches", "text_batches",
    "CHAR_CLASSES", "MAX_PASSAGE", "QUANTITIES", "CharGates", "UnitScore", "char_classes",
    "char_gates", "rank_units",
    "SAMPLING_MODES", "VOCAB_MODES", "TextConfig",
    "MAX_TEXT_BYTES", "MIN_TEXT_CHARS", "UNK", "CharVocab", "TextData", "clean_text", "decode_text",
    "load_time_machine", "min_train_chars", "strip_gutenberg", "text_dataset",
    "MAX_GENERATE", "generate", "mean_ce", "perplexity",
    "CharLM", "ScratchGRU", "detach_state", "init_charlm",
    "LiveSampler", "LMTask", "SampleSettings", "compare_speed",
]
