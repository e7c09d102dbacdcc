"""Text understanding for internet documents: language, words, keywords, topic, sentiment, places,
entities and near-duplicates. `pipeline.analyse_batch` runs them all on a batch of texts."""
