"""Shared parts of the video transformers (ViViT, TimeSformer, VideoMAE): tubelet embedding, positional
embeddings, attention patterns over a token grid and transformer blocks (:mod:`vidact.models.vit.layers`), and
the analytic cost of each attention pattern (:mod:`vidact.models.vit.cost`). The families live in their own
files (``vidact/models/vivit.py``, ``timesformer.py``, ``videomae.py``)."""
