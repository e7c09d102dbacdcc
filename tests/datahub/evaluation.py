"""Topic and sentiment accuracy of the text pipeline on the hand-written evaluation set."""

from collections import defaultdict
from pathlib import Path

from datahub.text.nlp.classify import classify_sentiments, classify_topics, current_models, load_rules
from datahub.text.nlp.tokens import detect_language, tokenize
from datahub.text.nlp.training import load_jsonl

EVAL_SET = Path(__file__).resolve().parent / "fixtures" / "opinion_eval.jsonl"


def evaluate() -> dict:
    samples = load_jsonl(EVAL_SET)
    topic_model, sentiment_model = current_models()
    texts = [s.text for s in samples]
    langs = [detect_language(t) for t in texts]
    seg = [" ".join(tokenize(t, lang)) for t, lang in zip(texts, langs, strict=True)]
    topics = classify_topics(texts, seg, topic_model, load_rules())
    sentiments = classify_sentiments(texts, seg, langs, sentiment_model)
    hits = defaultdict(lambda: [0, 0, 0])  # language -> [n, topic right, sentiment right]
    for s, (topic, _), (sentiment, _), lang in zip(samples, topics, sentiments, langs, strict=True):
        h = hits[s.language]
        h[0] += 1
        h[1] += topic == s.topic
        h[2] += sentiment == s.sentiment
        assert lang == s.language, s.text
    return {
        lang: {"n": n, "topic_accuracy": round(t / n, 3), "sentiment_accuracy": round(se / n, 3)}
        for lang, (n, t, se) in sorted(hits.items())
    }
