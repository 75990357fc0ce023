"""Evals: reaching models through OpenAI-compatible endpoints, and (next) the benchmark battery."""
