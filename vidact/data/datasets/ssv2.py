"""Something-Something v2 from its JSON annotations.

``labels.json`` maps the 174 class names to indices, ``{"Approaching something with your camera": "0", ...}``
(the text list ``label_maps/something_something_v2.txt`` holds the same names in the same order).
``train.json`` and ``validation.json`` list the videos::

    [{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
      "template": "Holding [something] next to [something]", "placeholders": ["potato", "vicks vaporub bottle"]}]

The class is the template without its brackets (``Holding something next to something``); ``label`` is the
crowd worker's free-text description. Videos are ``root/<id>.webm`` (or a frame folder ``root/<id>/``).

    >>> val = something_something_v2("20bn-something-something-v2", "labels/validation.json",
    ...                               classes="labels/labels.json")
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...errors import DatasetError
from .layouts import DatasetLayout, register_dataset_layout
from .samples import SampleList, class_lookup, is_video_file, read_class_names, sample_list

__all__ = ["something_something_v2", "template_class"]


def template_class(template: str) -> str:
    """The class name of a template: ``"Putting [something] onto [something]"`` -> ``"Putting something onto
    something"``."""
    return template.replace("[", "").replace("]", "")


def something_something_v2(
    root: str | os.PathLike,
    annotations: str | os.PathLike,
    *,
    classes: str | os.PathLike | list[str] | None = None,
) -> SampleList:
    """The videos of a Something-Something v2 annotation file that are on disk in ``root``.

    Args:
        root: the folder of ``<id>.webm`` videos.
        annotations: ``train.json`` or ``validation.json`` (the test list carries no templates, so no labels).
        classes: ``labels.json`` (or any label map, see :func:`read_class_names`); default: the annotations'
            classes sorted, which is the official order only when every class occurs in them.

    Raises:
        DatasetError: the annotations are not a list of ``{"id", "template"}`` objects, or name a class the
            label map lacks.
    """
    root, annotations = Path(root), Path(annotations)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    try:
        entries = json.loads(annotations.read_text(encoding="utf-8"))
    except OSError as e:
        raise DatasetError(f"{annotations}: cannot read the annotations ({e.strerror or e})") from None
    except ValueError as e:
        raise DatasetError(f"{annotations}: not valid JSON ({e})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
        raise DatasetError(f"{annotations}: expected a JSON list of objects with an 'id'")
    unlabelled = next((e for e in entries if "template" not in e), None)
    if unlabelled is not None:
        raise DatasetError(
            f"{annotations}: video {unlabelled['id']} has no 'template' (a test list has no labels)"
        )

    names = (
        read_class_names(classes)
        if classes is not None
        else sorted({template_class(e["template"]) for e in entries})
    )
    lookup = class_lookup(names)
    on_disk = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_dir() or is_video_file(entry.name):
            on_disk.setdefault(os.path.splitext(entry.name)[0] if entry.is_file() else entry.name, entry.path)
    samples, missing = [], []
    for e in entries:
        label = lookup(template_class(e["template"]))
        if label is None:
            raise DatasetError(
                f"{annotations}: video {e['id']}: class {template_class(e['template'])!r} is not in the label map"
            )
        path = on_disk.get(str(e["id"]))
        if path is None:
            missing.append(f"{e['id']}.webm")
        else:
            samples.append((path, label))
    return sample_list(samples, names, missing, root)


# -- this layout, by name (build_dataset, data.kind) -----------------------------------------------------------
def _read(root: str | os.PathLike, split: str | None, *, annotations, classes, fold: int) -> SampleList:
    SSV2.needs(annotations=annotations)
    SSV2.unused(split=split)
    return something_something_v2(root, annotations, classes=classes)


SSV2 = register_dataset_layout(
    DatasetLayout(
        "ssv2", "split: None; annotations: train.json or validation.json; classes: labels.json", _read
    )
)
