"""Data: clip sampling (plain functions returning frame indices), transforms on uint8 clips, datasets."""
