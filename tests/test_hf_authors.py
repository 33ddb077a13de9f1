"""The Transformers recipes against the authors' scripts (issue 14): data, batch, clipping, windows, scaling.

The Hub is simulated offline: ``datasets.load_dataset`` is replaced by a fake that serves
``google/xtreme``'s layout (configuration names, split contents, id prefixes, ClassLabel tags).
"""

import json
import os
import random
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Before transformers and datasets are imported (a broken torchaudio: see hf/_torchaudio.py).
from fairseq_intradistill.hf._torchaudio import hide_broken_torchaudio  # noqa: E402

hide_broken_torchaudio()

import datasets  # noqa: E402
import torch  # noqa: E402
from conftest import REPO, run  # noqa: E402

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
WORDS = "the a cat dog sat ran on mat good bad movie is was red blue".split()
TYDIQA_LANGUAGES = "english arabic bengali finnish indonesian korean russian swahili telugu".split()


def squad_row(rng, i, prefix):
    context = " ".join(rng.choice(WORDS) for _ in range(12)) + " . the red cat sat ."
    return {
        "id": f"{prefix}-{1000 + i}-0",
        "title": f"t{i}",
        "context": context,
        "question": "what sat",
        "answers": {"text": ["red cat"], "answer_start": [context.index("red cat")]},
    }


@pytest.fixture
def hub_tydiqa(monkeypatch):
    """google/xtreme's ``tydiqa`` configuration: train and validation both mix the nine languages."""
    rng = random.Random(0)
    splits = {
        split: datasets.Dataset.from_list([squad_row(rng, i, prefix) for prefix in TYDIQA_LANGUAGES for i in range(n)])
        for split, n in (("train", 3), ("validation", 2))
    }
    calls = []

    def load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        if (path, name) != ("google/xtreme", "tydiqa"):
            raise ValueError(f"BuilderConfig {name!r} not found")
        return datasets.DatasetDict(splits)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


# -- 1: TyDiQA from the Hub is zero-shot ------------------------------------------------------
def test_tydiqa_from_the_hub_trains_on_english_only(hub_tydiqa):
    from fairseq_intradistill.hf.tydiqa import load_split

    train = load_split(None, None)
    assert hub_tydiqa == [("google/xtreme", "tydiqa")]
    assert len(train) == 3 and all(row["id"].startswith("english-") for row in train)
    swahili = load_split(None, "sw")
    assert len(swahili) == 2 and all(row["id"].startswith("swahili-") for row in swahili)
