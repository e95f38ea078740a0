"""Models: one self-contained file per family, all built by name through one registry.

    >>> from vidact.models import build_model, list_models
    >>> model = build_model("r2plus1d_18", num_classes=101)   # [B, 3, T, H, W] -> [B, 101]
"""

from .registry import ModelCard, Weights, build_model, get_builder, list_models, model_card, register_model

__all__ = ["build_model", "list_models", "model_card", "register_model", "get_builder", "ModelCard", "Weights"]
