"""Topic and sentiment: trainable scikit-learn models plus the admins' rulebook and a lexicon.

Features are TF-IDF over the jieba/regex-segmented text: character 1–3-grams inside words (robust
to segmentation and inflection) and word uni/bigrams, one model for both languages. Models are
stored in the database (TextModel, joblib bytes); the newest one is used and `manage.py
text_train` trains a new one. Without a stored model the bundled corpus is trained once per
process (~2 s) and saved.
"""

import hashlib
import io
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from datahub.text.nlp.matcher import fold
from datahub.text.nlp.training import Sample, training_samples

TOPICS = [
    "traffic",
    "environment",
    "public_safety",
    "utilities",
    "housing",
    "health",
    "education",
    "business",
    "culture",
    "other",
]
SENTIMENTS = ["negative", "neutral", "positive"]
# How much one rulebook weight point counts against a model probability (0..1): a weight-1 keyword
# moves a topic by 0.25, so one decisive (weight 3) keyword overrides an unsure model.
RULE_SCALE = 0.25
LEXICON_SCALE = 0.2

ZH_NEG = [
    "投诉",
    "不满",
    "失望",
    "太差",
    "很差",
    "没人管",
    "没人修",
    "没人接",
    "没人回",
    "受不了",
    "严重",
    "危险",
    "臭",
    "堵",
    "乱",
    "坏了",
    "拖欠",
    "骗",
    "太贵",
    "太慢",
    "难",
    "吵",
    "脏",
    "漏水",
    "停电",
    "停水",
    "烦",
    "气愤",
    "愤怒",
    "无语",
    "糟糕",
    "敷衍",
    "推诿",
    "踢皮球",
    "隐患",
    "事故",
    "怎么回事",
    "一拖再拖",
    "离谱",
    "坑",
    "差劲",
    "恶劣",
    "扰民",
    "迟迟",
]
ZH_POS = [
    "点赞",
    "感谢",
    "满意",
    "方便",
    "及时",
    "干净",
    "漂亮",
    "舒心",
    "开心",
    "赞",
    "好评",
    "表扬",
    "热情",
    "耐心",
    "贴心",
    "顺利",
    "改善",
    "好消息",
    "精彩",
    "安心",
    "给力",
    "高效",
    "暖心",
    "放心",
    "谢谢",
    "辛苦了",
    "越来越好",
    "值得",
]
EN_NEG = [
    "terrible",
    "awful",
    "complaint",
    "complain",
    "broken",
    "nobody",
    "worst",
    "dangerous",
    "angry",
    "fed up",
    "unacceptable",
    "disgusting",
    "filthy",
    "stinks",
    "smell",
    "jammed",
    "never",
    "rude",
    "useless",
    "expensive",
    "delayed",
    "slow",
    "noisy",
    "unsafe",
    "scam",
    "ridiculous",
    "again",
    "still not",
    "no one",
    "outrageous",
    "poor",
    "leak",
    "hazard",
    "fail",
    "worse",
    "sick",
    "impossible",
    "chaotic",
    "frustrat",
    "disappoint",
    "problem",
]
EN_POS = [
    "thanks",
    "thank you",
    "great",
    "good",
    "well done",
    "clean",
    "happy",
    "excellent",
    "quick",
    "quickly",
    "helpful",
    "friendly",
    "wonderful",
    "love",
    "lovely",
    "impressed",
    "smooth",
    "better",
    "improved",
    "appreciate",
    "kudos",
    "fantastic",
    "nice",
    "pleased",
    "glad",
    "brilliant",
    "credit",
    "convenient",
    "safe",
]
_ZH_NEGATORS = ("不", "没", "未", "别", "无")
_EN_NEGATORS = re.compile(r"\b(not|no|never|hardly|isn't|wasn't|aren't|don't|doesn't|didn't)\s+(\w+\s+)?$")


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)),
            ("words", TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True)),  # noqa: S106
        ]
    )


def train_pipelines(samples: list[Sample]) -> tuple:
    """(topic pipeline, sentiment pipeline) sharing one fitted feature step: features are computed
    once per batch for both classifiers (they are ~60% of the classification time)."""
    x = [" ".join(s.tokens) for s in samples]
    features = _features()
    matrix = features.fit_transform(x)
    # Marks the shared vocabulary, so prediction can tell that both models take the same features.
    features.fingerprint_ = hashlib.sha256("\n".join(x).encode()).hexdigest()[:16]
    out = []
    for label in ("topic", "sentiment"):
        clf = LogisticRegression(C=8.0, max_iter=3000)
        clf.fit(matrix, [getattr(s, label) for s in samples])
        out.append(make_pipeline(features, clf))
    return tuple(out)


def featurize(model, segmented: list[str]):
    return model[0].transform(segmented)


def shares_features(a, b) -> bool:
    fa, fb = getattr(a[0], "fingerprint_", None), getattr(b[0], "fingerprint_", None)
    return fa is not None and fa == fb


def dump(pipe) -> bytes:
    buf = io.BytesIO()
    joblib.dump(pipe, buf, compress=3)
    return buf.getvalue()


def _load(blob: bytes):
    # Our own models, written by train_models() (database) or _bundled_models() (var/cache): not untrusted input.
    return joblib.load(io.BytesIO(bytes(blob)))  # noqa: S301


@lru_cache(maxsize=1)
def _bundled_models(corpus_hash: str) -> tuple:
    """The bundled corpus trained once per machine: a fresh database, a test run or a new worker
    loads the file (~0.3 s) instead of training (~3 s, far more on a busy machine)."""
    import sklearn
    from django.conf import settings

    path = Path(settings.BASE_DIR) / "var" / "cache" / f"text_models_{corpus_hash}_sklearn{sklearn.__version__}.joblib"
    if path.exists():
        try:
            return _load(path.read_bytes())
        except Exception:  # noqa: BLE001 - a truncated or incompatible cache file is just retrained
            path.unlink(missing_ok=True)
    models = train_pipelines(list(training_samples()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(dump(models))
    os.replace(tmp, path)  # atomic: concurrent workers never read half a file
    return models


def _corpus_hash() -> str:
    h = hashlib.sha256()
    for s in training_samples():
        h.update(f"{s.text}|{s.topic}|{s.sentiment}\n".encode())
    return h.hexdigest()[:16]


def train_models(*, samples: list[Sample] | None = None) -> dict[str, int]:
    """Train topic and sentiment models and store them (they become the newest). Returns ids."""
    from datahub.text.models import TextModel

    if samples is None:
        topic, sentiment = _bundled_models(_corpus_hash())
        samples = list(training_samples())
    else:
        topic, sentiment = train_pipelines(samples)
    ids = {}
    for kind, pipe in (("topic", topic), ("sentiment", sentiment)):
        m = TextModel.objects.create(
            kind=kind, blob=dump(pipe), n_samples=len(samples), metrics={"classes": list(pipe.classes_)}
        )
        ids[kind] = m.id
    return ids


_loaded: dict[int, object] = {}


def current_models() -> tuple:
    """(topic pipeline, sentiment pipeline): the newest stored ones, trained and stored if none."""
    from datahub.text.models import TextModel

    ids = {}
    for kind in ("topic", "sentiment"):
        ids[kind] = (
            TextModel.objects.filter(kind=kind).order_by("-trained_at", "-id").values_list("id", flat=True).first()
        )
    if ids["topic"] is None or ids["sentiment"] is None:
        ids = train_models()
    out = []
    for kind in ("topic", "sentiment"):
        mid = ids[kind]
        if mid not in _loaded:
            _loaded[mid] = _load(TextModel.objects.get(id=mid).blob)
        out.append(_loaded[mid])
    return tuple(out)


@dataclass(frozen=True)
class Rule:
    topic: str
    keyword: str
    weight: float


def load_rules() -> list[Rule]:
    from datahub.text.models import TopicRule

    return [
        Rule(t, fold(k), w)
        for t, k, w in TopicRule.objects.filter(is_active=True).values_list("topic", "keyword", "weight")
        if k.strip()
    ]


def _aligned(proba: np.ndarray, classes, order: list[str]) -> np.ndarray:
    out = np.zeros((proba.shape[0], len(order)))
    for j, c in enumerate(classes):
        if c in order:
            out[:, order.index(c)] = proba[:, j]
    return out


def classify_topics(
    texts: list[str], segmented: list[str], model, rules: list[Rule], features=None
) -> list[tuple[str, float]]:
    """(topic, confidence 0..1) per text: model probabilities plus RULE_SCALE × matched rule weights."""
    if not texts:
        return []
    x = featurize(model, segmented) if features is None else features
    scores = _aligned(model[-1].predict_proba(x), model.classes_, TOPICS)
    if rules:
        col = {t: i for i, t in enumerate(TOPICS)}
        for i, text in enumerate(texts):
            folded = fold(text)
            for r in rules:
                if r.keyword in folded:
                    scores[i, col[r.topic]] += RULE_SCALE * r.weight
    scores = np.clip(scores, 0, None)
    totals = scores.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1
    scores = scores / totals
    best = scores.argmax(axis=1)
    return [(TOPICS[b], round(float(scores[i, b]), 3)) for i, b in enumerate(best)]


def lexicon_polarity(text: str, language: str) -> tuple[int, int]:
    """(negative hits, positive hits); a negated positive ("不满意", "not good") counts as negative."""
    folded = fold(text)
    neg = pos = 0
    neg_words, pos_words = (ZH_NEG, ZH_POS) if language == "zh" else (EN_NEG, EN_POS)
    for w in neg_words:
        neg += folded.count(w)
    for w in pos_words:
        start = folded.find(w)
        while start != -1:
            before = folded[max(0, start - 2) : start] if language == "zh" else folded[max(0, start - 20) : start]
            negated = any(n in before for n in _ZH_NEGATORS) if language == "zh" else bool(_EN_NEGATORS.search(before))
            if negated:
                neg += 1
            else:
                pos += 1
            start = folded.find(w, start + len(w))
    return neg, pos


def classify_sentiments(
    texts: list[str], segmented: list[str], languages: list[str], model, features=None
) -> list[tuple[str, float]]:
    """(label, score −1..+1): classifier probabilities nudged by the lexicon (LEXICON_SCALE per net hit, ≤ 3)."""
    if not texts:
        return []
    x = featurize(model, segmented) if features is None else features
    p = _aligned(model[-1].predict_proba(x), model.classes_, SENTIMENTS)
    for i, (text, lang) in enumerate(zip(texts, languages, strict=True)):
        neg, pos = lexicon_polarity(text, lang)
        net = max(-3, min(3, pos - neg))
        if net > 0:
            p[i, 2] += LEXICON_SCALE * net
        elif net < 0:
            p[i, 0] += LEXICON_SCALE * -net
    p = p / p.sum(axis=1, keepdims=True)
    best = p.argmax(axis=1)
    return [(SENTIMENTS[b], round(float(p[i, 2] - p[i, 0]), 3)) for i, b in enumerate(best)]
