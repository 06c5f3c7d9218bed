"""What the learner sees while the libraries work: their chatter hidden, progress bars kept.

Introduced in lesson 00; every lesson calls :func:`quiet_library_output` in its set-up cell.
"""

from __future__ import annotations

import functools
import sys


def quiet_library_output() -> None:
    """Hide library chatter that tells a learner nothing; keep training progress and real warnings.

    Info logs and load bars of transformers (its GGUF loader's too), dataset ``map`` bars, the bitsandbytes
    notice about an optional CPU kernel package, and two known deprecation messages raised inside transformers/torch
    are silenced. Called explicitly at the top of each lesson, never on import.

    The Trainer's progress bars stay on. ``TrainingArguments`` (and so ``SFTConfig``) defaults
    ``disable_tqdm`` to "the ``transformers.training_args`` logger is quieter than WARNING"; with the
    whole library at ERROR that is true, and the Trainer then swaps its bar (in Jupyter, a progress bar
    with a table of losses, stored as HTML) for ``PrinterCallback``, which prints every log as a dict.
    So that one logger stays at WARNING: its own warnings are real ones, and the bars come back for
    ``trainer.train()`` and ``trainer.evaluate()``. An explicit ``disable_tqdm=`` still wins.
    """
    import logging
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.get_logger("transformers.training_args").setLevel(logging.WARNING)
    hf_logging.disable_progress_bar()
    import transformers.modeling_gguf_pytorch_utils as gguf_loading

    if hasattr(gguf_loading, "tqdm"):  # its GGUF de-quantizing bar is tqdm.auto's widget and ignores the switch above
        gguf_loading.tqdm = functools.partial(gguf_loading.tqdm, disable=True)
    datasets.disable_progress_bars()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*", category=UserWarning)


def progress_bar(iterable=None, **kwargs):
    """A text progress bar (``tqdm``) on stdout, for the helpers' long loops (generation, measurements).

    It redraws in place in Jupyter, Colab and a terminal, and a saved notebook keeps its last frame as
    plain text that GitHub shows. (``tqdm.auto`` would draw a widget in Jupyter, stored as a reference to
    widget state plus the text of its *first* frame, ``0%|``.) Takes tqdm's arguments. Lesson 04.
    """
    from tqdm.std import tqdm

    kwargs.setdefault("file", sys.stdout)
    return tqdm(iterable, **kwargs)
