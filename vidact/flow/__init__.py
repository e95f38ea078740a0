"""Optical flow (``vidact.flow``): computing it between video frames, storing it as 8-bit images, seeing it.

    >>> from vidact.flow import get_flow_method, video_flow, quantize, read_flow_folder, flow_to_color
    >>> method = get_flow_method("dis_fine")                 # or tvl1, farneback, dis_*, raft_small, raft_large
    >>> flow = method(prev, next)                            # uint8 [H, W, 3] x 2 -> float32 [H, W, 2] pixels
    >>> for prev, next, flow in video_flow("clip.mp4", method, short_side=256): ...
    >>> code = quantize(flow, bound=20)                      # uint8: +-20 px onto 0 .. 255
    >>> read_flow_folder("flow/v1", bound=20)                # [N, 2, H, W] float32 from flow_x_/flow_y_ images
    >>> flow_to_color(flow)                                  # uint8 [H, W, 3]: the Middlebury colour code

Flow is x then y, in pixels, from the earlier frame to the later: ``prev[p] ≈ next[p + flow[p]]``.

Where things are:

* :mod:`~vidact.flow.methods`: the :class:`FlowMethod` protocol and the registry of methods
  (:func:`register_flow_method`, :func:`get_flow_method`, :func:`list_flow_methods`): OpenCV's TV-L1, Farnebäck and
  DIS (presets as data, ``dis_fine`` the default, :data:`DEFAULT_METHOD`), torchvision's RAFT with weights from
  vidact's catalogue (:mod:`vidact.models.raft`); the measured costs and errors; threading.
* :mod:`~vidact.flow.stream`: :func:`video_flow`, the flow of a video pair after pair from one forward decode
  (at a short side, an fps, a frame limit), and :func:`video_frames`; bad videos are one-line
  :class:`~vidact.errors.VideoError`.
* :mod:`~vidact.flow.encode`: the uint8 code (:func:`quantize`, :func:`dequantize`), a pair as two grayscale JPEG or
  PNG images (:func:`write_flow_images`), mmaction2's flow folders read back (:func:`list_flow_frames`,
  :func:`read_flow_pair`, :func:`read_flow_folder`).
* :mod:`~vidact.flow.visualize`: :func:`flow_to_color`, :func:`color_wheel`, :func:`write_flow_video` (each frame
  beside its flow, an mp4 written as it is computed).

``vidact extract flow`` (:mod:`vidact.extract.flow`) maps :func:`video_flow` over corpora; the temporal stream's
input specs (:mod:`vidact.data.flow`) name a method from here. A layer between :mod:`vidact.engine` and
:mod:`vidact.models` (it reads videos, uses RAFT from the model catalogue, and is used by extraction).
"""

from .encode import (
    FLOW_X,
    FLOW_Y,
    RGB_PREFIX,
    dequantize,
    encode_image,
    flow_file_names,
    list_flow_frames,
    quantize,
    read_flow_folder,
    read_flow_pair,
    write_flow_images,
)
from .methods import (
    DEFAULT_METHOD,
    DIS_PRESETS,
    RAFT_DEFAULT_WEIGHTS,
    DISFlow,
    FarnebackFlow,
    FlowMethod,
    RAFTFlow,
    TVL1Flow,
    check_frame_pair,
    get_flow_method,
    list_flow_methods,
    register_flow_method,
)
from .stream import video_flow, video_frames
from .visualize import COLOR_WHEEL, color_wheel, flow_to_color, write_flow_video

__all__ = [
    # methods
    "FlowMethod",
    "DEFAULT_METHOD",
    "register_flow_method",
    "get_flow_method",
    "list_flow_methods",
    "check_frame_pair",
    "TVL1Flow",
    "FarnebackFlow",
    "DISFlow",
    "DIS_PRESETS",
    "RAFTFlow",
    "RAFT_DEFAULT_WEIGHTS",
    # a video's flow
    "video_flow",
    "video_frames",
    # storage
    "FLOW_X",
    "FLOW_Y",
    "RGB_PREFIX",
    "quantize",
    "dequantize",
    "flow_file_names",
    "encode_image",
    "write_flow_images",
    "list_flow_frames",
    "read_flow_pair",
    "read_flow_folder",
    # visualisation
    "COLOR_WHEEL",
    "flow_to_color",
    "color_wheel",
    "write_flow_video",
]
