"""Soft word matching: content word pieces from an encoder, the word-by-word match, and its
save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedder import Embedder
from index.soft_match import EMPTY, SOFT_COLUMNS, SentenceTokens, Tokens, encode_with_tokens
from support import FakeEmbedder


def test_an_encoder_with_word_pieces_gives_its_content_pieces_and_a_fake_none(
    embedder: Embedder,
) -> None:
    vectors, (question,) = encode_with_tokens(embedder, ["Who is Steve Witkoff?"])
    assert vectors.shape == (1, embedder.dim)
    pieces = embedder.tokenizer.convert_ids_to_tokens(question.ids.tolist())
    assert "steve" in pieces and not {"who", "is", "?", "[CLS]"} & set(pieces)
    assert np.allclose(np.linalg.norm(question.vectors, axis=1), 1.0, atol=1e-5)
    fake_vectors, fake = encode_with_tokens(FakeEmbedder(), ["Who is Steve Witkoff?"])
    assert fake == [EMPTY] and fake_vectors.shape == (1, FakeEmbedder.dim)


def unit(*rows: list[float]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture
def tokens() -> SentenceTokens:
    # Sentence 0 has pieces 1 and 2; sentence 1 has none; sentence 2 has piece 3.
    return SentenceTokens.from_list(
        [
            Tokens(np.array([1, 2], np.int32), unit([1, 0, 0], [0, 1, 0])),
            Tokens(np.zeros(0, np.int32), np.zeros((0, 3), np.float32)),
            Tokens(np.array([3], np.int32), unit([0, 0, 1])),
        ],
        dim=3,
    )


def test_soft_match_is_the_mean_best_cosine_of_question_pieces(tokens: SentenceTokens) -> None:
    question = Tokens(np.array([1, 3], np.int32), unit([1, 0, 0], [0, 0, 1]))
    out = tokens.soft_match(question, np.array([0, 1, 2]))
    # Unweighted: sentence 0 matches piece 1 fully and piece 3 not at all → 0.5.
    assert out[0, 1] == pytest.approx(0.5)
    assert out[2, 1] == pytest.approx(0.5)
    assert not out[1].any()  # a sentence without content pieces matches nothing
    # IDF-weighted: pieces 1 and 3 each occur in one of three sentences → equal weights.
    assert out[0, 0] == pytest.approx(0.5)


def test_worst_piece_and_strong_share(tokens: SentenceTokens) -> None:
    question = Tokens(np.array([1, 3], np.int32), unit([1, 0, 0], [0.5, 0, 1]))
    out = tokens.soft_match(question, np.array([0, 2]))
    col = {name: i for i, name in enumerate(SOFT_COLUMNS)}
    # Sentence 0: piece 1 matches exactly, piece 3 (cosine 0.447 with piece 1) is the worst.
    assert out[0, col["soft_min"]] == pytest.approx(0.5 / np.sqrt(1.25))
    assert out[0, col["soft_share"]] == pytest.approx(0.5)  # only piece 1 is above STRONG
    # Sentence 2: piece 3 (cosine 0.894 > STRONG) is strong, piece 1 (0) the worst.
    assert out[1, col["soft_min"]] == pytest.approx(0.0)
    assert out[1, col["soft_share"]] == pytest.approx(0.5)


def test_context_match_counts_the_paragraph_neighbours(tokens: SentenceTokens) -> None:
    question = Tokens(np.array([1, 3], np.int32), unit([1, 0, 0], [0, 0, 1]))
    # Sentences 0 and 2 are neighbours (1 has no pieces and sits between them).
    neighbours = np.array([[-1, 2], [0, 2], [0, -1]])
    out = tokens.soft_match(question, np.array([0]), neighbours)
    soft, context = SOFT_COLUMNS.index("soft"), SOFT_COLUMNS.index("soft_context")
    assert out[0, soft] == pytest.approx(0.5)  # alone, sentence 0 covers only piece 1
    assert out[0, context] == pytest.approx(1.0)  # with sentence 2 beside it, both pieces
    alone = tokens.soft_match(question, np.array([0]), np.full((3, 2), -1))
    assert alone[0, context] == pytest.approx(0.5)


def test_soft_match_without_question_tokens_is_zero(tokens: SentenceTokens) -> None:
    assert not tokens.soft_match(EMPTY, np.array([0, 2])).any()


def test_unseen_pieces_weigh_most(tokens: SentenceTokens) -> None:
    idf = tokens.idf(np.array([1, 99]))
    assert idf[1] > idf[0]


def test_save_and_load_round_trip(tokens: SentenceTokens, tmp_path: Path) -> None:
    tokens.save(tmp_path / "tokens.npz")
    loaded = SentenceTokens.load(tmp_path / "tokens.npz")
    assert loaded.n == 3
    question = Tokens(np.array([2], np.int32), unit([0.6, 0.8, 0]))
    cand = np.array([0, 1, 2])
    assert np.allclose(loaded.soft_match(question, cand), tokens.soft_match(question, cand))
    # Stored as float16; an index this small is held as float32 so queries need no conversion.
    assert loaded.vectors.dtype == np.float32
    assert np.array_equal(loaded.vectors, tokens.vectors.astype(np.float16).astype(np.float32))


def test_large_token_files_stay_memory_mapped(
    tokens: SentenceTokens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens.save(tmp_path / "tokens.npz")
    monkeypatch.setattr("index.soft_match.RESIDENT_BYTES", 0)
    loaded = SentenceTokens.load(tmp_path / "tokens.npz")
    assert isinstance(loaded.vectors, np.memmap)
    assert loaded.vectors.dtype == np.float16


def test_a_damaged_token_file_is_a_value_error(tmp_path: Path) -> None:
    (tmp_path / "tokens.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError):
        SentenceTokens.load(tmp_path / "tokens.npz")
