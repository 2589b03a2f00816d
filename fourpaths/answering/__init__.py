"""Answering a question: the pipeline, the engine, the paths, the loaded workspace and admission."""
