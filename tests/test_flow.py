"""Optical flow (vidact.flow, vidact.models.raft): every method on known shifts and its options, the uint8 code and
its images (round trip, JPEG's error on real flow, flow folders and their bad sets), the colour code, the flow video,
our TV-L1 against kinetics-i3d's real TV-L1 flow GIF, and RAFT: torchvision's input, padding, cards, and published
weights by name from a server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import optical_flow as tv_flow
from typer.testing import CliRunner

from vidact.cli import app
from vidact.errors import ConfigError, VideoError
from vidact.flow import (
    COLOR_WHEEL,
    DEFAULT_METHOD,
    color_wheel,
    dequantize,
    flow_to_color,
    get_flow_method,
    list_flow_frames,
    list_flow_methods,
    quantize,
    read_flow_folder,
    read_flow_pair,
    register_flow_method,
    video_flow,
    write_flow_images,
    write_flow_video,
)
from vidact.flow import methods as methods_module
from vidact.io import VideoReader
from vidact.io.writer import write_video
from vidact.models import build_model, hub, model_card
from vidact.models import registry as registry_module
from vidact.models.profile import count_macs, count_params
from vidact.models.raft import FramePairSpec

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CRICKET = SHARED / "videos" / "ucf101" / "v_CricketShot_g04_c01"
OPENCV_METHODS = ["tvl1", "farneback", "dis_ultrafast", "dis_fast", "dis_medium", "dis_fine", "dis"]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _texture(height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture, uint8 [H, W, 3]: every patch has gradients for flow to follow."""
    noise = np.random.default_rng(seed).normal(size=(height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def _shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by (dx, dy) pixels (wrapping at the border): next(p + (dx, dy)) = prev(p)."""
    return np.roll(image, (dy, dx), axis=(0, 1))


# -- methods -------------------------------------------------------------------------------------------------------
def test_the_methods_of_the_issue_are_registered_and_dis_fine_is_the_default() -> None:
    assert set(OPENCV_METHODS) | {"raft_small", "raft_large"} == set(list_flow_methods())
    assert DEFAULT_METHOD == "dis_fine"
    with pytest.raises(ConfigError, match="unknown flow method 'tvl'; did you mean tvl1"):
        get_flow_method("tvl")
    with pytest.raises(ConfigError, match="flow method 'dis_fine' does not take wrap \\(it takes preset,"):
        get_flow_method("dis_fine", wrap=1)
    with pytest.raises(ConfigError, match="does not take name"):
        get_flow_method("tvl1", name="x")
    with pytest.raises(ConfigError, match="unknown DIS preset 'slow'"):
        get_flow_method("dis", preset="slow")
    with pytest.raises(ConfigError, match="tau must be positive"):
        get_flow_method("tvl1", tau=0)


@pytest.mark.parametrize("name", OPENCV_METHODS)
def test_opencv_methods_find_a_known_shift_x_then_y(name: str) -> None:
    """prev(p) = next(p + (3, -2)): the flow is (3, -2) away from the wrapped border, channel 0 is x."""
    prev = _texture()
    flow = get_flow_method(name)(prev, _shifted(prev, 3, -2))
    assert flow.shape == (64, 64, 2) and flow.dtype == np.float32
    inner = flow[12:-12, 12:-12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [3.0, -2.0], atol=0.3, err_msg=name)


def test_methods_give_opencvs_own_result_and_report_what_determines_it() -> None:
    prev, next = _texture(seed=1), _shifted(_texture(seed=1), 1, 1)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (prev, next)]
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create().calc(*gray, None)
    np.testing.assert_array_equal(get_flow_method("tvl1")(prev, next), tvl1)  # OpenCV's defaults
    farneback = cv2.calcOpticalFlowFarneback(*gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    np.testing.assert_array_equal(get_flow_method("farneback")(prev, next), farneback)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    for setter, value in [
        ("setFinestScale", 0),
        ("setPatchSize", 8),
        ("setPatchStride", 3),
        ("setGradientDescentIterations", 25),
        ("setVariationalRefinementIterations", 5),
    ]:
        getattr(dis, setter)(value)
    np.testing.assert_array_equal(get_flow_method("dis_fine")(prev, next), dis.calc(*gray, None))

    fine = get_flow_method("dis_fine").params()
    assert fine == {
        "preset": "medium",
        "finest_scale": 0,
        "patch_size": 8,
        "patch_stride": 3,
        "gradient_descent_iterations": 25,
        "variational_refinement_iterations": 5,
        "opencv": cv2.__version__,
    }
    # the presets are data: the generic dis with dis_fine's numbers is dis_fine; a preset reports OpenCV's numbers
    assert get_flow_method("dis", **methods_module.DIS_PRESETS["dis_fine"]).params() == fine
    assert get_flow_method("dis_medium").params()["finest_scale"] == 1
    assert get_flow_method("dis_ultrafast").params()["variational_refinement_iterations"] == 0
    assert get_flow_method("dis_fine", patch_size=12).params()["patch_size"] == 12
    assert get_flow_method("tvl1").params()["lambda_"] == 0.15


def test_methods_pickle_cheaply_before_and_after_use_and_check_their_frames() -> None:
    prev, next = _texture(), _shifted(_texture(), 2, 0)
    for name in OPENCV_METHODS:
        method = get_flow_method(name)
        first = method(prev, next)  # makes the solver
        copy = pickle.loads(pickle.dumps(method))
        assert len(pickle.dumps(method)) < 1000, name
        np.testing.assert_array_equal(copy(prev, next), first, err_msg=name)
    method = get_flow_method("dis_fast")
    with pytest.raises(ValueError, match="two frames of one size"):
        method(prev, prev[:32])
    with pytest.raises(ValueError, match="uint8 RGB frames"):
        method(prev.astype(np.float32), next)


def test_a_method_registered_from_outside_is_found_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(methods_module._METHODS, "_entries", dict(methods_module._METHODS._entries))

    @dataclasses.dataclass(frozen=True)
    class Zero:
        scale: float = 1.0
        name: str = "zero"

        def params(self) -> dict:
            return {"scale": self.scale}

        def __call__(self, prev: np.ndarray, next: np.ndarray) -> np.ndarray:
            return np.zeros((*prev.shape[:2], 2), np.float32)

    register_flow_method("zero")(Zero)
    assert "zero" in list_flow_methods() and get_flow_method("zero", scale=2.0).params() == {"scale": 2.0}


# -- RAFT ----------------------------------------------------------------------------------------------------------
def test_raft_takes_torchvisions_input_and_pads_to_a_multiple_of_8() -> None:
    method = get_flow_method("raft_small", weights=None, num_flow_updates=3)
    prev, next = _texture(128, 136, seed=2), _shifted(_texture(128, 136, seed=2), 2, 1)
    flow = method(prev, next)
    module, spec = method.network()
    assert isinstance(spec, FramePairSpec) and not module.training
    # what torchvision's own weights transforms make of the frames, straight into the network
    transforms = tv_flow.Raft_Small_Weights.C_T_V2.transforms()
    inputs = transforms(*(torch.from_numpy(f).permute(2, 0, 1)[None] for f in (prev, next)))
    with torch.no_grad():
        expected = module(*inputs, num_flow_updates=3)[-1][0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(
        flow, expected, rtol=1e-4, atol=1e-4
    )  # x / 255 * 2 - 1 vs (x / 255 - 0.5) / 0.5
    # odd sizes, under 128: padded (by replicating the border) and cropped back
    small = method(prev[:61, :77], next[:61, :77])
    assert small.shape == (61, 77, 2) and small.dtype == np.float32 and np.isfinite(small).all()
    # random weights are seeded: another process (a copy) gets the same network
    copy = pickle.loads(pickle.dumps(method))
    assert copy._net is None and len(pickle.dumps(method)) < 1000
    np.testing.assert_allclose(copy(prev, next), flow, rtol=1e-6, atol=1e-6)


def test_raft_methods_default_to_published_weights_never_random(tmp_path: Path) -> None:
    assert get_flow_method("raft_small").weights == "raft_small.c_t_v2"
    assert get_flow_method("raft_large").weights == "raft_large.c_t_skht_v2"
    assert get_flow_method("raft_small", weights=None).params()["weights"] is None
    with pytest.raises(ConfigError, match="raft_small: weights raft_large.c_t_v2 are raft_large's"):
        get_flow_method("raft_small", weights="raft_large.c_t_v2")
    with pytest.raises(ConfigError, match="no weights raft_small.things"):
        get_flow_method("raft_small", weights="raft_small.things")
    with pytest.raises(
        ConfigError, match="neither published weights \\(raft_small.c_t_v2, raft_small.c_t_v1\\)"
    ):
        get_flow_method("raft_small", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(ConfigError, match="num_flow_updates must be an integer >= 1"):
        get_flow_method("raft_large", weights=None, num_flow_updates=0)


def test_raft_cards_are_torchvisions_networks_and_weights() -> None:
    for name, enum in (
        ("raft_small", tv_flow.Raft_Small_Weights),
        ("raft_large", tv_flow.Raft_Large_Weights),
    ):
        card = model_card(name)
        assert card.modality == "optical_flow" and card.family == "raft" and card.default_num_classes == 0
        with torch.device("meta"):
            assert count_params(build_model(name)) == card.params == enum.DEFAULT.meta["num_params"]
        published = {w.tag: w for w in card.weights}
        assert set(published) == {w.name.lower() for w in enum}
        assert card.weights[0].tag == enum.DEFAULT.name.lower()  # torchvision's default first
        for upstream in enum:
            entry = published[upstream.name.lower()]
            assert entry.url == upstream.url and entry.url.endswith(f"-{entry.files[0].hash_prefix}.pth")
            assert (
                entry.license.startswith("BSD-3-Clause")
                and entry.num_classes == 0
                and entry.layout == "vidact"
            )
            assert isinstance(entry.preset, FramePairSpec)
            for metrics in upstream.meta["_metrics"].values():  # the EPE figures torchvision publishes
                assert all(f"{value:g}" in entry.test_protocol for value in metrics.values()), entry.tag
        with pytest.raises(ConfigError, match="num_classes must be 0"):
            build_model(name, num_classes=10)
    model = build_model("raft_small").eval()
    frame = torch.zeros(1, 3, *model_card("raft_small").input_size[2:])
    assert count_macs(model, [frame, frame]) / 1e9 == pytest.approx(model_card("raft_small").gmacs, abs=0.01)
    spec = FramePairSpec()
    assert FramePairSpec.from_dict(spec.to_dict()) == spec and spec.to_dict()["modality"] == "optical_flow"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def weights_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder served on 127.0.0.1 as the catalogue's mirror (URL paths kept): what it holds is downloadable."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("VIDACT_OFFLINE")
    monkeypatch.setenv("VIDACT_WEIGHTS_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    yield root
    server.shutdown()
    server.server_close()


def test_published_raft_weights_load_by_name_through_the_catalogue(
    weights_server: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A RAFT state dict made here, served as raft_small.c_t_v2's file (the entry's hash set to it): downloaded,
    checked, cached, loaded by name, and used by the raft_small flow method's default weights."""
    torch.manual_seed(3)
    reference = tv_flow.raft_small().eval()
    path = tmp_path / "raft.pth"
    torch.save(reference.state_dict(), path)
    data = path.read_bytes()
    card = model_card("raft_small")
    entry = card.weights[0]
    file = dataclasses.replace(entry.files[0], hash_prefix=None, sha256=hashlib.sha256(data).hexdigest())
    patched = dataclasses.replace(
        card, weights=(dataclasses.replace(entry, files=(file,)), *card.weights[1:])
    )
    monkeypatch.setitem(registry_module._CARDS._entries, "raft_small", patched)
    served = weights_server / file.url.split("/", 3)[3]
    served.parent.mkdir(parents=True)
    served.write_bytes(data)

    loaded = hub.load_published("raft_small.c_t_v2", progress=False)
    assert loaded.classes == [] and loaded.spec == FramePairSpec() and loaded.modality == "optical_flow"
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[key], value, msg=key)
    assert hub.is_cached(hub.get_weights("raft_small.c_t_v2"))

    method = get_flow_method("raft_small", num_flow_updates=2)  # the default weights: the ones served
    assert method.params()["weights"] == "raft_small.c_t_v2"
    prev, next = _texture(128, 128, seed=4), _shifted(_texture(128, 128, seed=4), 1, 0)
    inputs = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 127.5 - 1 for f in (prev, next)]
    with torch.no_grad():
        expected = reference(*inputs, num_flow_updates=2)[-1][0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(method(prev, next), expected, rtol=1e-4, atol=1e-4)
    # a file of RAFT weights works too, keyed by its content
    by_file = get_flow_method("raft_small", weights=str(path), num_flow_updates=2)
    assert by_file.params()["weights_sha256"] == hashlib.sha256(data).hexdigest()
    np.testing.assert_allclose(by_file(prev, next), expected, rtol=1e-4, atol=1e-4)

    listed = CliRunner().invoke(app, ["weights", "list", "raft*"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    for name in ("raft_small.c_t_v2", "raft_small.c_t_v1", "raft_large.c_t_skht_v2", "raft_large.c_t_v1"):
        assert name in listed.output


# -- the uint8 code and its images -----------------------------------------------------------------------------------
def test_the_code_round_trips_within_a_step_and_clips_beyond_the_bound() -> None:
    bound = 20.0
    flow = np.random.default_rng(0).uniform(-bound, bound, size=(2, 40, 50)).astype(np.float32)
    code = quantize(flow, bound)
    assert code.dtype == np.uint8 and code.shape == flow.shape
    error = np.abs(dequantize(code, bound) - flow)
    assert error.max() <= bound / 255 + 1e-5  # half of a step of 2 * bound / 255
    assert quantize(np.array([0.0, bound, -bound, 3 * bound, -3 * bound]), bound).tolist() == [
        128,
        255,
        0,
        255,
        0,
    ]
    # the transforms' convention: 255 - q encodes -d (a flipped clip negates x), up to ties in the rounding
    assert np.abs((255 - code).astype(int) - quantize(-flow, bound)).max() <= 1
    # torch and numpy give the same codes; the layout does not matter
    torch_code = quantize(torch.from_numpy(flow), bound)
    assert torch_code.dtype == torch.uint8 and np.array_equal(torch_code.numpy(), code)
    np.testing.assert_allclose(dequantize(torch_code, bound).numpy(), dequantize(code, bound))
    assert np.array_equal(quantize(flow.transpose(1, 2, 0), bound), code.transpose(1, 2, 0))
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="bound must be a positive number"):
            quantize(flow, bad)


def test_png_keeps_the_code_exactly_and_jpeg_error_on_real_flow_is_bounded(tmp_path: Path) -> None:
    prev, next = (
        np.asarray(Image.open(SHARED / "images" / f"rubberwhale{i}.png").convert("RGB")) for i in (1, 2)
    )
    flow = get_flow_method("dis_fast")(prev, next)  # real flow, up to ~4 px
    bound = 20.0
    code = quantize(flow.transpose(2, 0, 1), bound)
    write_flow_images(flow, tmp_path / "flow_x_00001.png", tmp_path / "flow_y_00001.png", bound=bound)
    assert np.array_equal(read_flow_pair(tmp_path / "flow_x_00001.png", tmp_path / "flow_y_00001.png"), code)
    with Image.open(tmp_path / "flow_x_00001.png") as image:
        assert image.mode == "L" and image.size == (prev.shape[1], prev.shape[0])

    x, y = tmp_path / "flow_x_00001.jpg", tmp_path / "flow_y_00001.jpg"
    write_flow_images(flow, x, y, bound=bound, quality=95)
    levels = np.abs(read_flow_pair(x, y).astype(int) - code)
    # measured at quality 95: mean 0.05 levels, 99 % of pixels within one level, at most 5 at motion edges
    assert levels.mean() < 0.1 and np.percentile(levels, 99) <= 1 and levels.max() <= 8
    pixels = np.abs(read_flow_pair(x, y, bound) - flow.transpose(2, 0, 1))
    assert pixels.mean() < bound / 255  # the code's own error and JPEG's together, on average under a step
    write_flow_images(flow, x, y, bound=bound, quality=50)
    assert np.abs(read_flow_pair(x, y).astype(int) - code).mean() > levels.mean()  # quality is applied


def _flow_folder(
    folder: Path, pairs: int, *, skip: str | None = None, size: tuple[int, int] = (6, 8)
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, pairs + 1):
        flow = np.full((*size, 2), (i, -i), np.float32)
        x, y = folder / f"flow_x_{i:05d}.png", folder / f"flow_y_{i:05d}.png"
        write_flow_images(flow, x, y, bound=20)
    if skip is not None:
        (folder / skip).unlink()
    return folder


def test_a_flow_folder_reads_back_in_order_and_a_bad_set_names_the_first_missing_index(
    tmp_path: Path,
) -> None:
    good = _flow_folder(tmp_path / "good", 12)
    pairs = list_flow_frames(good)
    assert [(Path(x).name, Path(y).name) for x, y in pairs[:2]] == [
        ("flow_x_00001.png", "flow_y_00001.png"),
        ("flow_x_00002.png", "flow_y_00002.png"),
    ]
    assert Path(pairs[-1][0]).name == "flow_x_00012.png"  # natural order: 12 after 2
    flow = read_flow_folder(good, bound=20)
    assert flow.shape == (12, 2, 6, 8) and flow.dtype == np.float32
    np.testing.assert_allclose(flow[:, 0, 0, 0], np.arange(1, 13), atol=20 / 255)
    np.testing.assert_allclose(flow[:, 1, 0, 0], -np.arange(1, 13), atol=20 / 255)
    assert read_flow_folder(good).dtype == np.uint8

    gap = _flow_folder(tmp_path / "gap", 5, skip="flow_x_00003.png")
    with pytest.raises(VideoError, match=r"gap: flow_x_00003 is missing") as info:
        list_flow_frames(gap)
    assert str(info.value).startswith(str(gap)) and "\n" not in str(info.value)
    fewer = _flow_folder(tmp_path / "fewer", 5, skip="flow_y_00005.png")
    with pytest.raises(VideoError, match=r"fewer: flow_y_00005 is missing \(5 flow_x_ images, 4 flow_y_"):
        read_flow_folder(fewer, bound=20)
    with pytest.raises(VideoError, match="no flow images"):
        list_flow_frames(_empty(tmp_path))
    with pytest.raises(VideoError, match="no such flow folder"):
        list_flow_frames(tmp_path / "nowhere")
    mixed = _flow_folder(tmp_path / "mixed", 2)
    write_flow_images(
        np.zeros((3, 3, 2), np.float32), mixed / "flow_x_00003.png", mixed / "flow_y_00003.png", bound=1
    )
    with pytest.raises(VideoError, match=r"mixed: flow_x_00003.png is \[3, 3\], the first \[6, 8\]"):
        read_flow_folder(mixed, bound=20)


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


# -- seeing flow ---------------------------------------------------------------------------------------------------
def test_the_colour_code_is_middleburys() -> None:
    assert COLOR_WHEEL.shape == (55, 3)
    flow = np.array([[[0, 0], [4, 0], [-4, 0], [0, 4], [0, -4], [2, 0], [8, 0]]], np.float32)
    color = flow_to_color(flow, max_magnitude=4)
    assert color[0, 0].tolist() == [255, 255, 255]  # still: white
    assert color[0, 1].tolist() == [255, 0, 0]  # right: red, the wheel's first colour at full saturation
    assert color[0, 2].argmax() == 2 and color[0, 2, 1] > 150 and color[0, 2, 0] == 0  # left: cyan-blue
    assert color[0, 3, 0] == 255 and color[0, 3, 1] > 200 and color[0, 3, 2] == 0  # down (y down): yellow
    assert color[0, 4, 2] == 255 and color[0, 4, 1] == 0  # up: blue-violet
    assert color[0, 5].tolist() == [255, 127, 127]  # half the magnitude: half the saturation
    assert color[0, 6].tolist() == [191, 0, 0]  # beyond the bound: darkened
    assert flow_to_color(flow)[0, 6].tolist() == [255, 0, 0]  # default: the field's largest is the bound
    assert flow_to_color(np.zeros((2, 2, 2))).min() == 255

    wheel = color_wheel(101)
    assert wheel.shape == (101, 101, 3) and wheel.dtype == np.uint8
    assert wheel[50, 50].tolist() == [255, 255, 255] and wheel[50, 100].tolist() == [255, 0, 0]
    np.testing.assert_array_equal(
        wheel[50, 75], flow_to_color(np.array([[[0.5, 0.0]]]), max_magnitude=1)[0, 0]
    )
    assert wheel[100, 50].tolist() == color[0, 3].tolist()  # the key's bottom is the colour of motion down


def _moving_square(path: Path, frames: int = 6, step: int = 2, size: int = 48, reverse: bool = False) -> Path:
    """A textured square moving ``step`` px to the right per frame over a still textured background."""
    background, patch = _texture(size, size, seed=5), _texture(16, 16, seed=6)
    images = []
    for t in range(frames):
        image = background.copy()
        left = 8 + step * t
        image[16:32, left : left + 16] = patch
        images.append(image)
    return Path(write_video(path, images[::-1] if reverse else images, fps=10, crf=12))


def test_write_flow_video_puts_each_frame_beside_its_flow(tmp_path: Path) -> None:
    video = _moving_square(tmp_path / "square.mp4")
    out = write_flow_video(video, tmp_path / "square.flow.mp4", method="dis_fast", max_magnitude=2.5)
    with VideoReader(out) as reader:
        assert (len(reader), reader.width, reader.height) == (5, 96, 48)  # N - 1 frames, frame | flow
        assert reader.metadata.fps == pytest.approx(10)
        shown = reader.get_frames([1]).numpy()[0].astype(int)
    with VideoReader(video) as reader:
        frame = reader.get_frames([1]).numpy()[0].astype(int)
    assert np.abs(shown[:, :48] - frame).mean() < 6  # the frame, through H.264 twice
    square = shown[20:28, 48 + 14 : 48 + 22].mean(
        axis=(0, 1)
    )  # the square moves 2 px right: red, 80 % saturated
    assert square[0] > 200 and square[1] < 120 and square[2] < 120, square
    still = shown[40:46, 48 + 4 : 48 + 44].mean(axis=(0, 1))  # the background does not move: white
    assert still.min() > 220, still
    with pytest.raises(VideoError, match="1 frame taken of 6; optical flow needs at least 2"):
        write_flow_video(video, tmp_path / "one.mp4", method="dis_fast", max_frames=1)
    assert not (tmp_path / "one.mp4").exists()


def test_video_flow_streams_pairs_and_refuses_frames_of_different_sizes(tmp_path: Path) -> None:
    video = _moving_square(tmp_path / "square.mp4", frames=5)
    pairs = list(video_flow(video, get_flow_method("dis_fast"), short_side=24))
    assert len(pairs) == 4 and pairs[0][2].shape == (24, 24, 2)
    np.testing.assert_array_equal(pairs[0][1], pairs[1][0])  # next of one pair is prev of the next
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, side in enumerate([32, 32, 40], start=1):
        Image.fromarray(_texture(side, side)).save(folder / f"img_{i:05d}.jpg")
    with pytest.raises(
        VideoError, match="frames of different sizes: img_00003.jpg is 40x40, img_00001.jpg 32x32"
    ):
        next(video_flow(folder, get_flow_method("dis_fast")))
    # mmaction2's rawframes: the img_ frames, not the flow images beside them
    raw = tmp_path / "rawframes"
    raw.mkdir()
    for i in range(1, 4):
        Image.fromarray(_texture(32, 32, seed=i)).save(raw / f"img_{i:05d}.jpg")
    write_flow_images(
        np.zeros((8, 8, 2), np.float32), raw / "flow_x_00001.jpg", raw / "flow_y_00001.jpg", bound=1
    )
    assert [flow.shape for _, _, flow in video_flow(raw, get_flow_method("dis_fast"))] == [(32, 32, 2)] * 2


# -- real TV-L1 flow: kinetics-i3d's CricketShot sample ------------------------------------------------------------
def test_tvl1_agrees_with_kinetics_i3ds_flow_gif() -> None:
    """What the flow GIF encodes (measured on its 79 frames): frame i is the TV-L1 flow from RGB frame i to i + 1,
    red = x, green = y, blue a constant 127, in the uint8 code with a bound of 10 px at 224 x 224
    (127.5 + 12.75 px per pixel: the release's flow truncated to +-20 px and scaled to [-1, 1], drawn as
    (v + 0.5) * 255). Our TV-L1 on the RGB GIF's frames correlates with it (measured: x 0.95, y 0.79 on these
    pairs) at the same scale; with x and y swapped (0.23, 0.25) or the frames reversed (-0.92, -0.70) it does not."""
    pairs = (30, 60)
    with VideoReader(f"{CRICKET}_rgb.gif") as reader:
        rgb = reader.get_frames([i + d for i in pairs for d in (0, 1)]).numpy()
    with Image.open(f"{CRICKET}_flow.gif") as gif:
        assert gif.n_frames == 79 == len(VideoReader(f"{CRICKET}_rgb.gif"))
        codes = []
        for i in pairs:
            gif.seek(i)
            codes.append(np.asarray(gif.convert("RGB")))
    codes = np.stack(codes)
    assert (codes[..., 2] == 127).all()
    theirs = dequantize(codes[..., :2], 10.0)  # [P, H, W, 2] pixels
    tvl1 = get_flow_method("tvl1")
    ours = np.stack([tvl1(rgb[2 * k], rgb[2 * k + 1]) for k in range(len(pairs))])
    inner = (slice(None), slice(8, -8), slice(8, -8))  # TV-L1's border is unreliable

    def agreement(flow: np.ndarray) -> list[float]:
        return [
            float(np.corrcoef(flow[inner][..., c].ravel(), theirs[inner][..., c].ravel())[0, 1])
            for c in (0, 1)
        ]

    x, y = agreement(ours)
    assert x > 0.85 and y > 0.6, (x, y)
    scale = [theirs[inner][..., c].std() / ours[inner][..., c].std() for c in (0, 1)]
    assert all(0.8 < s < 1.25 for s in scale), scale  # pixels at the same scale, bound 10
    assert max(agreement(ours[..., ::-1])) < 0.5  # x and y swapped
    reversed_flow = np.stack([tvl1(rgb[2 * k + 1], rgb[2 * k]) for k in range(len(pairs))])
    assert max(agreement(reversed_flow)) < 0  # frames reversed
