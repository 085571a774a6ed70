"""In-process answer latency: `Engine.ask` per question, after a warm-up, as the bot calls it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.stats import pct
from bot.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.json"


def seed_questions() -> list[str]:
    """The seed story's evaluation questions, answerable and not."""
    data = json.loads(SEED_QUESTIONS.read_text(encoding="utf-8"))
    return [q["question"] for key in ("answerable", "unanswerable") for q in data.get(key, [])]


def answer_latency(engine: Engine, questions: list[str], rounds: int = 3) -> dict[str, float]:
    """p50/p95 milliseconds of `engine.ask` over `rounds` passes of `questions`, and the
    process CPU milliseconds per answer (every thread's, for sizing workers)."""
    for question in questions[:5]:
        engine.ask(question)
    times: list[float] = []
    cpu_started = time.process_time()
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            engine.ask(question)
            times.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / max(len(times), 1)
    return {
        "p50_ms": pct(times, 50),
        "p95_ms": pct(times, 95),
        "cpu_ms": cpu_ms,
        "questions": len(times),
    }


def encode_share(engine: Engine, questions: list[str]) -> float:
    """Median milliseconds of encoding one question alone (the part batching can share)."""
    times = []
    for question in questions:
        started = time.perf_counter()
        engine.encoder.encode([question])
        times.append((time.perf_counter() - started) * 1000)
    return pct(times, 50)
