"""Finding passages: the corpus and its chunks, the embedder and FAISS index, BM25, rank fusion."""
