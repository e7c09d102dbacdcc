"""Choosing a category from the text, in Chinese and English.

Two voters: a scikit-learn pipeline (TF-IDF over character 1–3-grams within words, which needs no
word segmentation for Chinese, plus English word 1–2-grams, + logistic regression) trained on the
bundled bilingual seed set (governance/data/case_seed.tsv), past cases and officers' corrections;
and the rulebook admins edit (keywords -> category; Latin-script keywords match whole words only,
so "bus" is not found in "business" nor "road" in "Broadway"). The result keeps both and a
confidence; below settings.GOVERNANCE_TRIAGE_CONFIDENCE the case goes to the hotline's triage
queue (uncategorised, undispatched) with the guess kept as a suggestion.
"""

import io
import logging
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import joblib
from django.conf import settings
from django.db import transaction

from governance.models import Case, Category, CategoryCorrection, ClassifierModel, ClassifierRule

log = logging.getLogger(__name__)
# Below this many labelled cases (or fewer than 2 categories) a model is not worth training.
MIN_TRAINING_CASES = 20
# A rule hit counts as this confidence per unit of weight, capped at 0.95: rules are precise but blunt.
RULE_CONFIDENCE = 0.6
SEED_CORPUS = Path(__file__).resolve().parent.parent / "data" / "case_seed.tsv"
# Below this confidence a case is not given a category (or a department) by the classifier: it
# waits in the hotline's triage queue. Override with settings.GOVERNANCE_TRIAGE_CONFIDENCE.
# 0.25 on the held-out set: ~10 % of cases to triage, and 92 % (zh) / 96 % (en) of the rest right.
TRIAGE_CONFIDENCE = 0.25


@dataclass
class Classification:
    category_id: int | None
    confidence: float
    source: str  # "model", "rules", "model+rules", "none"
    candidates: list[dict] = field(default_factory=list)
    # Too unsure to route: the best guess is only a suggestion (category_id is then None).
    triage: bool = False
    suggested_category_id: int | None = None

    def as_dict(self) -> dict:
        out = {
            "category_id": self.category_id,
            "confidence": round(self.confidence, 3),
            "source": self.source,
            "candidates": self.candidates,
        }
        if self.triage:
            out.update(triage=True, suggested_category_id=self.suggested_category_id)
        return out


def triage_confidence() -> float:
    return float(getattr(settings, "GOVERNANCE_TRIAGE_CONFIDENCE", TRIAGE_CONFIDENCE))


_LATIN = re.compile(r"^[\x00-\u024f\s]+$")


@lru_cache(maxsize=4096)
def keyword_pattern(keyword: str) -> re.Pattern | None:
    """Latin-script keywords match whole words (with an optional plural s/es): "bus" finds "bus"
    and "buses", not "business"; "road" not "Broadway". None for CJK keywords, which match as
    substrings (Chinese has no spaces between words)."""
    kw = keyword.strip().lower()
    if not kw or not _LATIN.match(kw):
        return None
    body = r"\s+".join(re.escape(part) for part in kw.split())
    return re.compile(rf"(?<![a-z0-9]){body}(?:e?s)?(?![a-z0-9])")


def keyword_in(keyword: str, low_text: str) -> bool:
    pattern = keyword_pattern(keyword)
    return pattern.search(low_text) is not None if pattern is not None else keyword in low_text


# The active model and the rulebook are re-read at most every CACHE_TTL_S seconds per process (and
# at once after a retrain or a rule edit in this process): two queries per case would halve throughput.
CACHE_TTL_S = 30
_cache: dict = {"checked": -1e9, "model_id": None, "pipeline": None, "labels": None, "rules": None}


def classifier_cache_reset() -> None:
    _cache["checked"] = -1e9


def _refresh() -> None:
    now = time.monotonic()
    if now - _cache["checked"] <= CACHE_TTL_S:
        return
    latest = ClassifierModel.objects.filter(is_active=True).order_by("-created_at").values("id").first()
    if latest is None:
        _cache.update(model_id=None, pipeline=None, labels=None)
    elif _cache["model_id"] != latest["id"]:
        obj = ClassifierModel.objects.get(pk=latest["id"])
        # Trusted input: blobs are written only by classifier_train below, never uploaded.
        _cache.update(pipeline=joblib.load(io.BytesIO(bytes(obj.blob))), labels=obj.labels, model_id=obj.id)
    _cache["rules"] = [
        (r.category_id, r.keyword_list(), r.weight) for r in ClassifierRule.objects.filter(is_active=True)
    ]
    _cache["checked"] = now


def _active_model():
    _refresh()
    return _cache["pipeline"], _cache["labels"]


def _rules() -> list[tuple[int, list[str], float]]:
    _refresh()
    return _cache["rules"]


def rules_score(text: str, rules: list | None = None) -> dict[int, float]:
    low = text.lower()
    scores: dict[int, float] = {}
    for category_id, keywords, weight in rules if rules is not None else _rules():
        hits = sum(1 for k in keywords if keyword_in(k, low))
        if hits:
            scores[category_id] = scores.get(category_id, 0.0) + hits * weight
    return scores


def case_classify_text(*, text: str, rules: list | None = None) -> Classification:
    """The best category for `text`, with confidence and the top candidates of both voters."""
    pipeline, labels = _active_model()
    candidates: list[dict] = []
    best = Classification(None, 0.0, "none")
    if pipeline is not None and text.strip():
        proba = pipeline.predict_proba([text])[0]
        ranked = sorted(zip(labels, proba, strict=True), key=lambda p: -p[1])[:3]
        candidates += [{"category_id": int(c), "score": round(float(p), 3), "by": "model"} for c, p in ranked]
        best = Classification(int(ranked[0][0]), float(ranked[0][1]), "model")
    scores = rules_score(text, rules)
    if scores:
        cat, score = max(scores.items(), key=lambda kv: kv[1])
        conf = min(0.95, RULE_CONFIDENCE * score)
        candidates.append({"category_id": cat, "score": round(conf, 3), "by": "rules"})
        # Rules win when the model is unsure or absent; when both agree, confidence adds up.
        if best.category_id == cat:
            best = Classification(cat, min(0.99, best.confidence + (1 - best.confidence) * conf), "model+rules")
        elif conf > best.confidence:
            best = Classification(cat, conf, "rules")
    best.candidates = candidates
    if best.category_id is not None and best.confidence < triage_confidence():
        best.triage, best.suggested_category_id, best.category_id = True, best.category_id, None
    return best


def seed_corpus() -> list[tuple[str, str, str]]:
    """The bundled bilingual training seed: [(category code, language, text)]."""
    rows = []
    for line in SEED_CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, lang, text = line.split("\t", 2)
            rows.append((code.strip(), lang.strip(), text.strip()))
    return rows


def build_pipeline():
    """TF-IDF over character 1–3-grams inside word boundaries (Chinese, and English morphology)
    plus English word 1–2-grams, then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=1, sublinear_tf=True, max_features=200_000),
            TfidfVectorizer(
                analyzer="word",
                ngram_range=(1, 2),
                lowercase=True,
                token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b",  # noqa: S106 - a regex, not a password
                sublinear_tf=True,
                stop_words="english",
            ),
        ),
        # C=100 (weak regularisation): ~7 seed examples per category and language; measured on the
        # held-out set, C=10 loses 6 points in each language.
        LogisticRegression(max_iter=2000, C=100.0),
    )


def _training_data() -> tuple[list[str], list[int]]:
    texts, labels = [], []
    corrected = set()
    for c in CategoryCorrection.objects.order_by("case_id", "-created_at").values("case_id", "text", "corrected_id"):
        if c["case_id"] in corrected:
            continue  # only the latest correction of a case counts
        corrected.add(c["case_id"])
        texts.append(c["text"])
        labels.append(c["corrected_id"])
    qs = (
        Case.objects.filter(category__isnull=False)
        .exclude(id__in=corrected)
        .exclude(status="merged")
        .values_list("title", "description", "category_id")
        .order_by("-created_at")[:50_000]
    )
    for title, description, category_id in qs:
        texts.append(f"{title} {description}")
        labels.append(category_id)
    by_code = dict(Category.objects.filter(is_active=True).values_list("code", "id"))
    for code, _lang, text in seed_corpus():
        if code in by_code:
            texts.append(text)
            labels.append(by_code[code])
    return texts, labels


def classifier_train() -> int | None:
    """Train on past cases (latest 50,000) + corrections; store and activate the model. Returns its id."""
    from sklearn.model_selection import train_test_split

    texts, labels = _training_data()
    if len(texts) < MIN_TRAINING_CASES or len(set(labels)) < 2:
        log.info("classifier: %s cases, %s categories: not enough to train", len(texts), len(set(labels)))
        return None

    build = build_pipeline

    accuracy = None
    counts: dict[int, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    if len(texts) >= 50 and min(counts.values()) >= 2:
        xa, xb, ya, yb = train_test_split(texts, labels, test_size=0.2, random_state=0, stratify=labels)
        accuracy = float(build().fit(xa, ya).score(xb, yb))
    pipeline = build().fit(texts, labels)
    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    with transaction.atomic():
        ClassifierModel.objects.filter(is_active=True).update(is_active=False)
        obj = ClassifierModel.objects.create(
            trained_on=len(texts),
            accuracy=accuracy,
            labels=[int(c) for c in pipeline.classes_],
            blob=buf.getvalue(),
            is_active=True,
        )
    classifier_cache_reset()
    transaction.on_commit(classifier_cache_reset)
    return obj.id


def category_correct(*, case_id: int, category_id: int, actor) -> Case:
    """An officer sets the right category: kept for retraining, the case is updated."""
    from governance.services.cases import case_record_event

    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        category = Category.objects.get(pk=category_id)
        if case.category_id == category.id:
            return case
        CategoryCorrection.objects.create(
            case=case,
            previous_id=case.category_id,
            corrected=category,
            text=f"{case.title} {case.description}",
            actor=actor if actor and actor.is_authenticated else None,
        )
        case.classification = {**case.classification, "corrected_from": case.category_id, "source": "officer"}
        case.category = category
        case.save(update_fields=["category", "classification", "updated_at"])
        case_record_event(case=case, action="recategorised", actor=actor)
    return case
