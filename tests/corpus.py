"""A generated stories folder for tests of size-dependent behaviour (IVF, rebuilds): seeded,
self-contained (no `../shared`, no `bench/`), news-like sentences that are nearly all distinct."""

from __future__ import annotations

import random
from pathlib import Path

_WHO = [
    "The minister",
    "A spokesperson",
    "The envoy",
    "Officials",
    "The mayor",
    "Analysts",
    "The delegation",
    "Negotiators",
    "The council",
    "Lawmakers",
    "The ambassador",
    "Critics",
]
_DID = ["said", "warned", "confirmed", "denied", "announced", "suggested", "argued", "insisted"]
_WHAT = [
    "grain exports",
    "the ceasefire",
    "energy prices",
    "the budget",
    "troop movements",
    "sanctions",
    "border crossings",
    "the harbour",
    "rail freight",
    "water supplies",
    "the election",
    "tax reform",
    "fishing rights",
    "the airport",
    "steel tariffs",
]
_HOW = [
    "would rise",
    "had stalled",
    "were under review",
    "could resume",
    "must be delayed",
    "were expanding",
    "had collapsed",
    "would be debated",
]
_WHERE = [
    "Lisbon",
    "Gdansk",
    "Tallinn",
    "Porto",
    "Riga",
    "Vilnius",
    "Malmo",
    "Bergen",
    "Turku",
    "Split",
    "Varna",
    "Constanta",
    "Odesa",
    "Izmir",
    "Bari",
    "Cork",
]
_WHEN = [
    "on Monday",
    "on Tuesday",
    "late on Wednesday",
    "this week",
    "last month",
    "before dawn",
    "after talks",
    "in a statement",
]


def sentence(rng: random.Random) -> str:
    """One news-like sentence; a number keeps nearly every one distinct."""
    return (
        f"{rng.choice(_WHO)} in {rng.choice(_WHERE)} {rng.choice(_DID)} {rng.choice(_WHEN)} "
        f"that {rng.choice(_WHAT)} {rng.choice(_HOW)} by {rng.randint(2, 98)} percent."
    )


def generate(n_sentences: int, folder: Path, seed: int = 7) -> Path:
    """Write about `n_sentences` sentences as 10–30-sentence articles under folder/stories."""
    rng = random.Random(seed)
    stories = folder / "stories"
    stories.mkdir(parents=True, exist_ok=True)
    written, number = 0, 0
    while written < n_sentences:
        count = min(rng.randint(10, 30), n_sentences - written)
        lines = [sentence(rng) for _ in range(count)]
        paragraphs = [" ".join(lines[i : i + 4]) for i in range(0, count, 4)]
        (stories / f"2025-05-{1 + number % 28:02d}-report-{number:03d}.txt").write_text(
            "\n\n".join(paragraphs) + "\n", encoding="utf-8"
        )
        written += count
        number += 1
    return stories
