"""Training and evaluation: the engine, metrics and multi-view testing."""
