"""Training pairs: (question, candidate sentence, answers or not) from the shared QA data.

Only `../shared/qa-train/` is read (never the eval articles, which it does not contain). The
pairs are what the reader will see in the bot: for each training question, the retriever's own
top candidates (index/search.py, with the shipped ranking parameters) from an index of the
question's file, each with its context (`reader.pair_text`). Gold sentences — those containing
an annotator's answer — are positives, every other top candidate a negative. A SQuAD 2.0
unanswerable question contributes only negatives, and since the bot's candidates for an
answerable question whose answer is missing are exactly its non-gold top candidates, these hard
negatives are also the "answering paragraph removed" case. `readerlike` then rewrites a share
of the questions as readers type them (index/quality/casual.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from index.articles import parse_article
from index.embedder import Encoder
from index.errors import BadEvalSet
from index.quality.casual import casual
from index.quality.evalsets import EvalQuestion, EvalSet, is_gold, load_squad, ranked
from index.quality.finetune import Pair, read_pairs, write_pairs
from index.quality.train_config import SEED, TrainConfig
from index.reader import pair_text, reader_text

TRAIN_FILES = ("squad2-train-10-articles.json", "squad11-train-head.json", "xquad-en.json")
TOKENIZED_DIR = "squad11-train-tail"  # SQuAD 1.1 questions as tokenized lines, no titles
QNLI_FILE = "qnli-dev.tsv"  # labelled question-sentence pairs, no context
TAIL_CONTEXTS_PER_STORY = 20
_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "%", "'s", "'", "n't", "''"}
_NO_SPACE_BEFORE |= {"'re", "'ve", "'m", "'ll", "'d"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "``"}


def training_sets(qa_dir: Path, extra: bool = False) -> list[EvalSet]:
    """The SQuAD-format training files found in `qa_dir`, each article once (the SQuAD 1.1 head
    repeats most of the SQuAD 2.0 subset's articles; the later copy is dropped)."""
    files = [Path(qa_dir) / name for name in TRAIN_FILES if (Path(qa_dir) / name).exists()]
    if not files:
        raise BadEvalSet(f"no training data in {qa_dir}: expected any of {', '.join(TRAIN_FILES)}")
    seen: set[str] = set()
    sets = []
    for path in files:
        full = load_squad(path)
        keep = tuple(a for a in full.articles if a.id not in seen)
        seen.update(a.id for a in keep)
        ids = {a.id for a in keep}
        questions = tuple(q for q in full.questions if q.story in ids)
        sets.append(EvalSet(f"train-{full.name}", keep, questions))
    tail = Path(qa_dir) / TOKENIZED_DIR
    if extra and (tail / "val.context").exists():
        sets.append(load_tokenized(tail))
    return sets


def detokenize(tokens: list[str]) -> tuple[str, list[int]]:
    """Space-separated tokens as ordinary text, and each token's character offset in it.

    The reader only ever sees published text, so "the team 's ( C. ii ) , " becomes
    "the team's (C. ii),"; straight double quotes alternate opening and closing.
    """
    out: list[str] = []
    starts: list[int] = []
    length, quotes, glue = 0, 0, True
    for token in tokens:
        closing = token == '"' and quotes % 2 == 1
        if not glue and token not in _NO_SPACE_BEFORE and not closing:
            out.append(" ")
            length += 1
        starts.append(length)
        out.append(token)
        length += len(token)
        glue = token in _NO_SPACE_AFTER or (token == '"' and not closing)
        quotes += token == '"'
    return "".join(out), starts


def load_tokenized(folder: Path) -> EvalSet:
    """The tokenized SQuAD 1.1 lines (`val.context`, `val.question`, `val.span`) as an EvalSet.

    They carry no titles, so every TAIL_CONTEXTS_PER_STORY distinct paragraphs make one untitled
    story: the retriever's negatives then come from the question's own paragraph (the hardest)
    and from unrelated ones (easy), as in the other sets.
    """
    lines = {
        name: (folder / f"val.{name}").read_text(encoding="utf-8").splitlines()
        for name in ("context", "question", "span")
    }
    texts: dict[str, tuple[str, list[int]]] = {}
    for context in lines["context"]:
        if context not in texts:
            texts[context] = detokenize(context.split())
    order = list(texts)
    place: dict[str, tuple[str, int]] = {}
    articles = []
    for first in range(0, len(order), TAIL_CONTEXTS_PER_STORY):
        article_id = f"squad-tail/{first // TAIL_CONTEXTS_PER_STORY:03d}.txt"
        offset, parts = 0, []
        for context in order[first : first + TAIL_CONTEXTS_PER_STORY]:
            place[context] = (article_id, offset)
            parts.append(texts[context][0])
            offset += len(texts[context][0]) + 2
        body = "\n\n".join(parts)
        article = parse_article(article_id, body.encode("utf-8"))
        articles.append(replace(article, title=""))
    questions = []
    for context, question, span in zip(*lines.values(), strict=True):
        article_id, offset = place[context]
        start = int(span.split()[0])
        anchor = offset + texts[context][1][start]
        text = detokenize(question.split())[0]
        questions.append(EvalQuestion(text, ((article_id, anchor),), "answerable", article_id))
    return EvalSet(f"train-{folder.name}", tuple(articles), tuple(questions))


def qnli_pairs(path: Path) -> list[Pair]:
    """GLUE QNLI's labelled pairs (`entailment`: the sentence answers), read without context."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 4 and fields[3] in ("entailment", "not_entailment"):
            label = 1.0 if fields[3] == "entailment" else 0.0
            pairs.append(Pair(fields[1].strip(), pair_text(fields[2].strip(), "", ""), label))
    return pairs


def candidate_pairs(
    evalset: EvalSet,
    cache_dir: Path,
    encoder: Encoder,
    negatives: int,
    easy: int = 1,
    say: Callable[[str], None] = print,
) -> list[Pair]:
    """Reader pairs for every question of a set: gold sentences against the retriever's own top
    candidates (`negatives` hard ones) and `easy` random sentences of other paragraphs.

    The easy ones are there to start learning: with hard negatives alone, which the retriever
    already ranks by word overlap, a 120-step probe learned next to nothing (held-out AUROC
    0.54 against 0.74 with random negatives; docs/evaluation.md).
    """
    rng = random.Random(f"{SEED}-{evalset.name}")
    say(f"{evalset.name}: {len(evalset.articles)} articles, {len(evalset.questions)} questions")
    pairs: list[Pair] = []
    for store, question, result in ranked(evalset, cache_dir, encoder, negatives + 4):
        gold = [i for i, s in enumerate(store.sentences) if is_gold(s, question)]
        for i in gold:
            pairs.append(Pair(question.question, reader_text(store, i), 1.0))
        wrong = [h.index for h in result.hits if h.index not in gold][:negatives]
        paragraphs = {(store.sentences[i].article, store.sentences[i].paragraph) for i in gold}
        others = [
            i
            for i in rng.sample(range(len(store.sentences)), min(len(store.sentences), 8))
            if i not in wrong
            and (store.sentences[i].article, store.sentences[i].paragraph) not in paragraphs
        ]
        for i in wrong + others[:easy]:
            pairs.append(Pair(question.question, reader_text(store, i), 0.0))
    return pairs


def readerlike(pairs: list[Pair], share: float, seed: int) -> list[Pair]:
    """`pairs` with `share` of their questions rewritten as readers type them (every pair of a
    question gets the same rewrite; seeded by the question, so independent of order)."""
    if share <= 0:
        return pairs
    rewrites: dict[str, str] = {}
    for pair in pairs:
        if pair.question not in rewrites:
            rng = random.Random(f"{seed}-{pair.question}")
            rewrites[pair.question] = (
                casual(pair.question, rng) if rng.random() < share else pair.question
            )
    return [replace(p, question=rewrites[p.question]) for p in pairs]


def make_pairs(
    qa_dir: Path,
    cache_dir: Path,
    encoder: Encoder,
    config: TrainConfig,
    out: Path,
    say: Callable[[str], None] = print,
) -> list[Pair]:
    """All labelled pairs (before any rewriting), cached in `out` (JSON lines) so a rerun of
    training skips this."""
    if out.exists():
        return read_pairs(out)
    pairs: list[Pair] = []
    for evalset in training_sets(qa_dir, config.extra_data):
        pairs += candidate_pairs(evalset, cache_dir, encoder, config.negatives, config.easy, say)
    if config.extra_data and (Path(qa_dir) / QNLI_FILE).exists():
        qnli = qnli_pairs(Path(qa_dir) / QNLI_FILE)
        say(f"{QNLI_FILE}: {len(qnli)} labelled pairs")
        pairs += qnli
    write_pairs(pairs, out)
    return pairs
