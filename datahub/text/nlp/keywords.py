"""Keywords by TF-IDF: jieba's IDF table (~350k words) for Chinese, a corpus-derived table for English."""

import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

import jieba.analyse

from datahub.text.nlp.tokens import content_words


@lru_cache(maxsize=1)
def _zh_idf() -> tuple[dict[str, float], float]:
    path = Path(jieba.analyse.__file__).parent / "idf.txt"
    idf = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, value = line.partition(" ")
        if value:
            idf[word] = float(value)
    median = sorted(idf.values())[len(idf) // 2]
    return idf, median


@lru_cache(maxsize=1)
def _en_idf() -> tuple[dict[str, float], float]:
    """IDF over the bundled training corpus: common city words (road, water) weigh less than rare ones."""
    from datahub.text.nlp.training import training_samples

    docs = [set(content_words(s.tokens, "en")) for s in training_samples() if s.language == "en"]
    df = Counter(w for d in docs for w in d)
    n = max(len(docs), 1)
    return {w: math.log(n / c) + 1 for w, c in df.items()}, math.log(n) + 1


def keywords(tokens: list[str], language: str, k: int = 8) -> list[str]:
    words = content_words(tokens, language)
    if not words:
        return []
    idf, default = _zh_idf() if language == "zh" else _en_idf()
    tf = Counter(words)
    scored = sorted(tf.items(), key=lambda kv: (-kv[1] * idf.get(kv[0], default), kv[0]))
    return [w for w, _ in scored[:k]]
