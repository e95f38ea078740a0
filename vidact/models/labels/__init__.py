"""Class names of the datasets published weights were trained on, in their classifiers' index order.

``kinetics400`` and ``kinetics600`` are deepmind/kinetics-i3d's ``label_map.txt`` / ``label_map_600.txt``
(Apache-2.0): the official class names sorted alphabetically, the order torchvision, PyTorchVideo and PySlowFast
use too. ``imagenet1k`` comes from timm's ImageNet metadata (a dependency of vidact). ``hagrid40`` is PYSKL's
``GestureDataset.label_names`` (Apache-2.0), the classes of its HaGRID hand-gesture model.
``ntu60`` and ``ntu120`` are the action names of NTU RGB+D 60 / 120 (A001 "drink water" .. A120), in action
number order as the dataset's documentation lists them (its typos kept: "hush (quite)").
"""

from __future__ import annotations

import importlib.resources

from ...errors import ConfigError

__all__ = ["label_names", "LABEL_LISTS"]

LABEL_LISTS = ("kinetics400", "kinetics600", "imagenet1k", "hagrid40", "ntu60", "ntu120")


def label_names(name: str, num_classes: int | None = None) -> list[str]:
    """The class names of the label list ``name``; checks there are ``num_classes`` of them when given.

    Raises:
        ConfigError: an unknown list, or one of another length.
    """
    if name == "imagenet1k":
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        names = [info.index_to_description(i) for i in range(1000)]
    elif name in LABEL_LISTS:
        text = importlib.resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
        names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        raise ConfigError(f"unknown label list {name!r}; vidact has {', '.join(LABEL_LISTS)}")
    if num_classes is not None and len(names) != num_classes:
        raise ConfigError(f"label list {name!r} has {len(names)} names, the weights {num_classes} classes")
    return names
