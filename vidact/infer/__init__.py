"""Inference: predict a label (and a timeline) for a video, detect actions, export models."""
