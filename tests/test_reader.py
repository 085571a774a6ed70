"""The trained reader: the shipped weights, how the bot uses them, and a tiny training run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.engine import Engine
from index.quality.finetune import read_pairs
from index.quality.reader_export import torch_logits
from index.quality.reader_fit import TOPS
from index.quality.training_data import TRAIN_FILES
from index.reader import SEPARATOR, Reader, pair_text, reader_text, reread
from index.search import search
from support import DATA

PROBE_TEXT = pair_text(
    "His envoy, Steve Witkoff, will visit Moscow.", "London talks", "Rubio cancelled."
)
LAMMY = (
    "A spokesperson for U.K. Prime Minister Keir Starmer said that Foreign Secretary David Lammy "
    'held a "productive call" with Rubio the day prior.'
)
DELEGATION = (
    "The Ukrainian delegation, including Presidential Office head Andriy Yermak, Foreign Minister "
    "Andrii Sybiha, and Defense Minister Rustem Umerov, is now instead meeting European national "
    "security advisors, as well as U.S. officials."
)
WITKOFF = (
    "His envoy, Steve Witkoff, is expected to visit Russia for a high-level meeting this week, "
    "even though he skipped the talks with European and Ukrainian officials."
)


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def test_the_shipped_reader_loads_with_its_fitted_parameters(reader: Reader) -> None:
    # The repository's limits: at most 120 MB of weights in all, no file over 60 MB.
    sizes = [f.stat().st_size for f in reader.folder.iterdir()]
    assert sum(sizes) <= 120_000_000 and max(sizes) <= 60_000_000
    assert {"model", "top", "retriever", "right", "threshold", "dev", "trained"} <= set(
        reader.params
    )
    assert reader.params["top"] in TOPS


def test_the_reader_scores_answering_sentences_above_others(reader: Reader) -> None:
    # Each question against its answer and against the other questions' answers, all read with
    # their context as in the bot: an untrained or broken model is at chance here.
    cases = {
        "Who is David Lammy?": LAMMY,
        "When is Witkoff visiting Russia?": WITKOFF,
        "Who is Ukraine's defense minister?": DELEGATION,
    }
    texts = [pair_text(s, "London talks", "") for s in cases.values()]
    for row, question in enumerate(cases):
        logits = reader.logits(question, texts)
        assert logits.shape == (3,)
        assert int(np.argmax(logits)) == row, (question, logits)


def test_reader_text_puts_the_sentence_first_then_title_and_previous(seed_engine: Engine) -> None:
    store = seed_engine.store
    second = next(i for i in range(1, len(store.sentences)) if store.neighbours[i, 0] >= 0)
    text = reader_text(store, second)
    sentence, context = text.split(SEPARATOR)
    assert sentence == store.sentences[second].text
    title = store.articles[store.sentences[second].article].title
    assert context == f"{title}. {store.sentences[second - 1].text}"


def test_reread_orders_by_the_reader_and_decides_from_its_best_hit(
    seed_engine: Engine, reader: Reader
) -> None:
    store = seed_engine.store
    for question in ("Who is the US envoy?", "How old is Rubio?", "What is the weather on Mars?"):
        before = search(store, seed_engine.encoder, question)
        after = reread(store, before, reader)
        top = int(reader.params["top"])
        scores = [h.score for h in after.hits[:top]]
        assert scores == sorted(scores, reverse=True)
        assert {h.index for h in after.hits} == {h.index for h in before.hits}
        assert 0.0 <= after.confidence <= before.topic
        expected = before.related and after.confidence >= reader.params["threshold"]
        assert after.answered == expected


def tiny_training_args(tmp_path: Path) -> list[str]:
    """`storybot train` on the sample's two articles: one to train on, one (with unanswerable
    questions) as dev; two steps of four."""
    sample = json.loads((DATA / "squad_sample.json").read_text(encoding="utf-8"))
    zelda, super_bowl = sample["data"]
    qa = tmp_path / "qa"
    qa.mkdir()
    (qa / TRAIN_FILES[0]).write_text(json.dumps({**sample, "data": [super_bowl]}), "utf-8")
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps({**sample, "data": [zelda]}), encoding="utf-8")
    args = ["train", "--qa-train", str(qa), "--dev", str(dev)]
    args += ["--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work")]
    return [*args, "--output", str(tmp_path / "reader"), "--max-steps", "2", "--batch-size", "4"]


def test_a_tiny_run_of_the_shipped_recipe_fine_tunes_minilm_on_the_labels(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, tiny_training_args(tmp_path))
    assert result.exit_code == 0, result.output
    assert "4/4" in result.output and "dev: P@1" in result.output
    assert "teacher" not in result.output  # the shipped reader has none
    reader = Reader(tmp_path / "reader")
    trained = reader.params["trained"]
    assert "teacher" not in trained and trained["reader"]["config"]["loss"] == "bce"
    assert trained["reader"]["pairs"] == len(read_pairs(tmp_path / "work" / "pairs-2-1.jsonl"))
    texts = [PROBE_TEXT, pair_text(LAMMY, "London talks", "")]
    exported = reader.logits("Who is the envoy?", texts)
    exact = torch_logits(tmp_path / "work" / "reader" / "torch", "Who is the envoy?", texts)
    assert np.abs(exported - exact).max() < 0.5


def test_a_tiny_distillation_run_makes_a_reader_the_bot_can_load(tmp_path: Path) -> None:
    args = [*tiny_training_args(tmp_path), "--teacher", "minilm"]
    out = tmp_path / "reader"
    (out / "stale.bin").parent.mkdir()
    (out / "stale.bin").write_bytes(b"an earlier reader's file")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "6/6" in result.output and "dev: P@1" in result.output
    assert not (out / "stale.bin").exists()  # one reader in the tree: a retrain replaces files

    # The pairs each stage learned from (kept in the work folder for a rerun): gold and wrong
    # sentences; the student's with the teacher's logits, which it was taught.
    work = tmp_path / "work"
    labelled = read_pairs(work / "pairs-2-1.jsonl")
    assert {p.label for p in labelled} == {0.0, 1.0}
    assert all(SEPARATOR in p.text for p in labelled)
    scores = (work / "teacher-scores-3-1.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(scores) == len(read_pairs(work / "pairs-3-1.jsonl"))
    reader = Reader(out)
    assert reader.params["top"] in TOPS
    trained = reader.params["trained"]
    assert (
        trained["teacher"]["config"]["max_steps"] == trained["student"]["config"]["max_steps"] == 2
    )
    assert trained["teacher"]["pairs"] == len(labelled)
    texts = [p.text for p in labelled[:3]]
    exported = reader.logits(labelled[0].question, texts)
    exact = torch_logits(work / "student" / "torch", labelled[0].question, texts)
    assert np.all(np.isfinite(exported))
    assert np.abs(exported - exact).max() < 0.5


def test_train_refuses_to_fit_on_test_json(tmp_path: Path) -> None:
    test = tmp_path / "test.json"
    shutil.copy(DATA / "squad_sample.json", test)
    result = CliRunner().invoke(cli, ["train", "--dev", str(test), "--work", str(tmp_path)])
    assert result.exit_code != 0
    assert "test.json" in result.output
    assert not any(tmp_path.glob("work*"))


def test_a_question_longer_than_the_reader_reads_is_still_scored(reader: Reader) -> None:
    question = "Why did Rubio cancel " + "and what happened next " * 80 + "?"
    logits = reader.logits(question, [pair_text(WITKOFF, "London talks", LAMMY)])
    assert logits.shape == (1,) and np.isfinite(logits).all()


def test_the_extra_training_data_reads_back_to_plain_text_with_exact_answer_offsets(
    tmp_path: Path,
) -> None:
    from index.quality.training_data import detokenize, load_tokenized, qnli_pairs

    text, starts = detokenize('the team \'s coach ( John Smith ) said , " We won . "'.split())
    assert text == 'the team\'s coach (John Smith) said, "We won."'
    assert text[starts[5] : starts[5] + 4] == "John"
    tail = tmp_path / "squad11-train-tail"
    tail.mkdir()
    (tail / "val.context").write_text("The coach , John Smith , said they won .\n" * 2)
    (tail / "val.question").write_text("Who is the coach ?\nWhat did Smith say ?\n")
    (tail / "val.span").write_text("3 4\n7 8\n")
    (tail / "val.answer").write_text("John Smith\nthey won\n")
    tokenized = load_tokenized(tail)
    assert [q.question for q in tokenized.questions] == ["Who is the coach?", "What did Smith say?"]
    body = tokenized.articles[0].body
    assert len(tokenized.articles) == 1 and body == "The coach, John Smith, said they won."
    ((_story, offset),) = tokenized.questions[0].gold
    assert body[offset : offset + 10] == "John Smith"
    (tmp_path / "qnli.tsv").write_text(
        "index\tquestion\tsentence\tlabel\n"
        "0\tWho won?\tThe Reds won.\tentailment\n"
        "1\tWho won?\tIt rained.\tnot_entailment\n"
        "2\tbroken line\n"
    )
    pairs = qnli_pairs(tmp_path / "qnli.tsv")
    assert [(p.question, p.label) for p in pairs] == [("Who won?", 1.0), ("Who won?", 0.0)]
    assert pairs[0].text.startswith("The Reds won.")
