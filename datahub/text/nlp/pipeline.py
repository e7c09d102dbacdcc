"""The whole analysis of a batch of texts, in one pass of segmentation."""

from dataclasses import dataclass, field

from datahub.text.nlp import entities as entity_linker
from datahub.text.nlp import places as place_tagger
from datahub.text.nlp.classify import (
    classify_sentiments,
    classify_topics,
    current_models,
    featurize,
    load_rules,
    shares_features,
)
from datahub.text.nlp.keywords import keywords
from datahub.text.nlp.simhash import simhash
from datahub.text.nlp.tokens import detect_language, tokenize


@dataclass
class Analysis:
    language: str
    segmented: str
    keywords: list[str]
    topic: str
    topic_confidence: float
    sentiment: str
    sentiment_score: float
    simhash: int
    area_hits: list = field(default_factory=list)
    entity_hits: list = field(default_factory=list)
    area_id: int | None = None
    district_id: int | None = None


def analyse_batch(texts: list[str]) -> list[Analysis]:
    topic_model, sentiment_model = current_models()
    rules = load_rules()
    g = place_tagger.gazetteer()
    em = entity_linker.matcher()
    langs = [detect_language(t) for t in texts]
    toks = [tokenize(t, lang) for t, lang in zip(texts, langs, strict=True)]
    segmented = [" ".join(t) for t in toks]
    x = featurize(topic_model, segmented) if texts else None
    topics = classify_topics(texts, segmented, topic_model, rules, features=x)
    sx = x if shares_features(topic_model, sentiment_model) else None
    sentiments = classify_sentiments(texts, segmented, langs, sentiment_model, features=sx)
    out = []
    for i, text in enumerate(texts):
        hits = place_tagger.tag_places(text, g)
        area_id = place_tagger.most_specific(hits, g)
        out.append(
            Analysis(
                language=langs[i],
                segmented=segmented[i],
                keywords=keywords(toks[i], langs[i]),
                topic=topics[i][0],
                topic_confidence=topics[i][1],
                sentiment=sentiments[i][0],
                sentiment_score=sentiments[i][1],
                simhash=simhash(text),
                area_hits=hits,
                entity_hits=entity_linker.link_entities(text, em),
                area_id=area_id,
                district_id=g.district_of(area_id) if area_id else None,
            )
        )
    return out
