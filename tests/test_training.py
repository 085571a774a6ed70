"""The reader's training stages: reader-style rewrites, resumable fine-tuning and teacher
scoring, the teacher's verified download, and the fit of P(right) and its threshold."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.quality import finetune as finetune_module
from index.quality.casual import casual, pronoun, typo
from index.quality.distill import teacher_scores
from index.quality.finetune import Pair, finetune
from index.quality.mpnet import WEIGHTS_SIZE, verified
from index.quality.reader_fit import Scored, recall_at_cut, risk_threshold, without_answer
from index.quality.train_config import DIRECT, SHIPPED_TEACHER, STUDENT, TEACHER, TrainConfig
from index.quality.training_data import readerlike
from index.reader import pair_text
from index.settings import packaged_model_path

PAIRS = [
    Pair("Who won the match?", pair_text("The Reds won the match 2-1.", "Cup final", ""), 1.0),
    Pair("Who won the match?", pair_text("It rained all day.", "Cup final", ""), 0.0),
    Pair("When did it start?", pair_text("The match started at 3 pm.", "Cup final", ""), 1.0),
    Pair("When did it start?", pair_text("Fans sang loudly.", "Cup final", ""), 0.0),
    Pair("How many fans came?", pair_text("About 40,000 fans came.", "Cup final", ""), 1.0),
    Pair("How many fans came?", pair_text("The coach was pleased.", "Cup final", ""), 0.0),
    Pair("Who scored first?", pair_text("Smith scored first.", "Cup final", ""), 1.0),
    Pair("Who scored first?", pair_text("The pitch was wet.", "Cup final", ""), 0.0),
]


def test_casual_rewrites_read_like_a_chat_and_are_seeded() -> None:
    question = "When did Marie Curie move to Paris?"
    first = casual(question, random.Random(3))
    assert first == casual(question, random.Random(3))
    assert first == first.lower() and not first.endswith(".")
    rewrites = {casual(question, random.Random(seed)) for seed in range(40)}
    assert len(rewrites) > 5
    assert any("they move" in r or "she move" in r or "he move" in r for r in rewrites)


def test_a_pronoun_replaces_only_a_subject_name() -> None:
    rng = random.Random(0)
    assert pronoun("When did Marie Curie move to Paris?", rng) == "When did they move to Paris?"
    assert pronoun("What did a Peking professor say?", rng) == "What did a Peking professor say?"
    assert pronoun("How large is Notre Dame in acres?", rng) == "How large is it in acres?"
    possessive = pronoun("What did Chopin's father do?", random.Random(2))
    assert possessive.split()[2] in ("his", "her", "its", "their")


def test_a_typo_keeps_short_words_and_changes_long_ones_by_one_slip() -> None:
    rng = random.Random(5)
    assert typo("the", rng) == "the"
    changed = typo("parliament", rng)
    assert changed != "parliament" and abs(len(changed) - len("parliament")) <= 1


def test_readerlike_rewrites_a_share_of_questions_the_same_for_each_of_their_pairs() -> None:
    rewritten = readerlike(PAIRS * 10, 0.5, 13)
    by_question: dict[str, set[str]] = {}
    for before, after in zip(PAIRS * 10, rewritten, strict=True):
        by_question.setdefault(before.question, set()).add(after.question)
        assert after.text == before.text and after.label == before.label
    assert all(len(forms) == 1 for forms in by_question.values())
    assert readerlike(PAIRS, 0.0, 13) == PAIRS


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_a_stopped_fine_tuning_resumes_from_its_checkpoint_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig(batch_size=2, max_steps=4, checkpoint_every=2)
    whole = finetune(PAIRS, packaged_model_path(), tmp_path / "whole", config, say=lambda _: None)

    import torch

    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def stop_at_third(self: torch.optim.AdamW, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        finetune(PAIRS, packaged_model_path(), tmp_path / "stopped", config, say=lambda _: None)
    assert (tmp_path / "stopped" / "checkpoint" / "state.pt").exists()
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    said: list[str] = []
    resumed = finetune(PAIRS, packaged_model_path(), tmp_path / "stopped", config, said.append)
    assert any("resuming at step 3 of 4" in line for line in said)
    assert not (tmp_path / "stopped" / "checkpoint").exists()  # done: the checkpoint goes
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys()
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    # A checkpoint of another configuration is not resumed from.
    assert finetune_module._run(config, 1) != finetune_module._run(replace(config, seed=14), 1)


def test_teacher_scores_resume_after_a_stop(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    teacher = tmp_path / "teacher"
    model = AutoModelForSequenceClassification.from_pretrained(packaged_model_path(), num_labels=1)
    model.save_pretrained(teacher)
    (teacher / "tokenizer.json").write_bytes(
        (Path(packaged_model_path()) / "tokenizer.json").read_bytes()
    )
    scores = tmp_path / "scores.jsonl"
    full = teacher_scores(PAIRS, teacher, scores, batch_size=3, say=lambda _: None)
    assert all(p.target is not None for p in full)
    lines = scores.read_text().splitlines()
    scores.write_text("\n".join(lines[:3]) + "\n")  # stopped after three
    said: list[str] = []
    again = teacher_scores(PAIRS, teacher, scores, batch_size=3, say=said.append)
    assert any("3 of 8 pairs already scored" in line for line in said)
    assert [p.target for p in again] == pytest.approx([p.target for p in full], abs=0.05)
    assert len(scores.read_text().splitlines()) == 8


def test_the_teacher_is_refused_unless_its_weights_match_the_recorded_sha256(
    tmp_path: Path,
) -> None:
    assert not verified(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 1024)
    assert not verified(tmp_path)
    assert WEIGHTS_SIZE == 437_971_872


def test_the_stages_are_configured_as_documented() -> None:
    assert TEACHER.base == "mpnet" and TEACHER.loss == "bce" and TEACHER.max_steps == 640
    assert STUDENT.base == "minilm" and STUDENT.loss == "mse" and STUDENT.negatives == 3
    # The shipped reader: no teacher, the labels, one epoch, questions as SQuAD has them.
    assert SHIPPED_TEACHER == "none"
    assert (DIRECT.base, DIRECT.loss, DIRECT.epochs, DIRECT.casual) == ("minilm", "bce", 1.0, 0)


def _scored(answerable: bool, gold: list[bool], paragraph: list[bool]) -> Scored:
    n = len(gold)
    return Scored(
        question="q",
        sentences=tuple(f"s{i}" for i in range(n)),
        answerable=answerable,
        topic=1.0,
        retriever_answerable=0.5,
        retrieved=np.linspace(1, 0, n),
        logits=np.zeros(n),
        gold=np.array(gold),
        gold_paragraph=np.array(paragraph),
    )


def test_without_answer_drops_the_answering_paragraph_and_is_unanswerable() -> None:
    item = _scored(True, [False, True, False, False], [True, True, False, False])
    removed = without_answer(item)
    assert removed is not None and not removed.answerable and removed.synthetic
    assert removed.sentences == ("s2", "s3") and not removed.gold.any()
    assert without_answer(_scored(False, [False] * 4, [False] * 4)) is None
    assert without_answer(_scored(True, [True, False], [True, True])) is None


def test_the_threshold_is_the_lowest_that_keeps_answers_within_the_risk() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    right = np.array([True, True, True, False, True, False])
    # At 0.7 every answer is right; at 0.5, 1 of 5 is wrong (20%).
    assert risk_threshold(confidence, right, 0.10) == pytest.approx(0.7)
    assert risk_threshold(confidence, right, 0.20) == pytest.approx(0.5)
    assert risk_threshold(confidence, np.zeros(6, dtype=bool), 0.10) > 0.9


def test_recall_at_a_cut_counts_answerable_questions_with_gold_among_the_hits_read() -> None:
    scored = [
        _scored(True, [False, True, False, False], [False] * 4),
        _scored(True, [False, False, False, True], [False] * 4),
        _scored(False, [False] * 4, [False] * 4),  # unanswerable: not counted
    ]
    assert [recall_at_cut(scored, t) for t in (1, 2, 4)] == [0.0, 0.5, 1.0]
