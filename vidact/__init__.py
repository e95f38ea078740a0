"""vidact: watch a video and say what is happening in it.

The package follows the data's journey: :mod:`vidact.io` decodes, :mod:`vidact.data` samples clips, transforms
and loads datasets, :mod:`vidact.models` holds the networks, :mod:`vidact.engine` trains and evaluates, and
:mod:`vidact.infer` predicts. ``vidact.cli`` is a thin command line on top.
"""

from .errors import CheckpointError, ConfigError, DatasetError, VidactError, VideoError

__version__ = "0.1.0"

__all__ = ["VidactError", "VideoError", "ConfigError", "CheckpointError", "DatasetError", "__version__"]
