"""Published weights by name (vidact.models.hub, ``vidact weights``): the catalogue against the upstream
packages' own metadata, downloads from a local HTTP server on 127.0.0.1 (checked, resumed, refused), offline
mode, ``weights add``, the TensorFlow reader on a real kinetics-i3d index, Caffe2 blobs, and predict by name."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import os
import pickle
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.models.video as tv_video
from typer.testing import CliRunner

from vidact.cli import app
from vidact.data.skeleton import SkeletonPreset
from vidact.errors import CheckpointError, ConfigError
from vidact.models import build_model, hub, model_card
from vidact.models import registry as registry_module
from vidact.models.caffe2 import read_caffe2_blobs
from vidact.models.converters import converter_layouts, get_converter, read_layout
from vidact.models.labels import label_names
from vidact.models.raft import FramePairSpec
from vidact.models.registry import WeightsFile
from vidact.models.tf_checkpoint import read_tf_checkpoint

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
I3D_INDEX = HERE / "data" / "kinetics_i3d" / "rgb_imagenet.model.ckpt.index"


# -- the catalogue ---------------------------------------------------------------------------------------------
def test_every_entry_is_complete_and_loadable_in_principle() -> None:
    entries = hub.list_weights()
    names = {w.name for w in entries}
    assert {
        "r2plus1d_18.kinetics400",
        "r3d_18.kinetics400",
        "mc3_18.kinetics400",
        "slowfast_r50.kinetics400",
        "slowfast_r50.kinetics400_pyslowfast",
        "slowfast_r101.kinetics400",
        "i3d_r50.kinetics400",
        "i3d_inception_v1.kinetics400_imagenet",
        "per_frame_efficientnet_lite0.imagenet",
        "efficientgcn_b0.ntu60",
        "stgcnpp_hand.hagrid",
    } <= names
    for w in entries:
        e = w.entry
        assert e.files and e.license and e.source and e.test_protocol, w.name
        assert e.bundled is not None or all(f.url.startswith("https://") for f in e.files), w.name
        assert len(label_names(e.labels, e.num_classes)) == e.num_classes, w.name
        assert e.layout == "vidact" or e.layout in converter_layouts(w.card.family), w.name
        if w.card.modality == "skeleton":
            assert isinstance(e.preset, SkeletonPreset) and e.preset.layout, w.name
            assert w.card.input_size[0] == e.preset.channels, w.name
        elif w.card.modality == "optical_flow":
            assert isinstance(e.preset, FramePairSpec) and e.num_classes == 0, w.name
        else:
            assert e.preset.crop_size <= min(e.preset.resize or (e.preset.short_side,)), w.name


def test_label_lists_are_the_official_ones() -> None:
    for name in ("kinetics400", "kinetics600", "imagenet1k"):
        official = (SHARED / "label_maps" / f"{name}.txt").read_text().splitlines()
        assert label_names(name) == official, name
    # Something-Something v2: the labels file's names; Hugging Face's SSv2 checkpoints keep the brackets.
    assert (
        label_names("ssv2") == (SHARED / "label_maps" / "something_something_v2.txt").read_text().splitlines()
    )
    # torchvision's own Kinetics-400 categories, in its classifier's order.
    meta = tv_video.R2Plus1D_18_Weights.KINETICS400_V1.meta
    assert label_names("kinetics400") == list(meta["categories"])


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("r3d_18", tv_video.R3D_18_Weights.KINETICS400_V1),
        ("mc3_18", tv_video.MC3_18_Weights.KINETICS400_V1),
        ("r2plus1d_18", tv_video.R2Plus1D_18_Weights.KINETICS400_V1),
    ],
)
def test_torchvision_entries_match_torchvision(name: str, enum) -> None:
    entry = model_card(name).get_weights("kinetics400")
    assert entry.url == enum.url
    assert enum.url.rsplit("/", 1)[1].split("-")[1].startswith(entry.files[0].hash_prefix)
    metrics = enum.meta["_metrics"]["Kinetics-400"]
    assert (entry.top1, entry.top5) == (metrics["acc@1"], metrics["acc@5"])
    transforms = enum.transforms()
    preset = entry.preset
    assert list(transforms.crop_size) == [preset.crop_size] * 2
    assert tuple(transforms.resize_size) == preset.resize
    assert tuple(transforms.mean) == preset.mean and tuple(transforms.std) == preset.std
    # The preset makes the same input as torchvision's own transform on a uint8 clip [T, C, H, W].
    clip = torch.randint(
        0, 256, (4, 3, 150, 200), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    ours = preset.eval_transform()(clip.permute(0, 2, 3, 1))  # [T, H, W, C] -> [C, T, h, w]
    theirs = transforms(clip)
    assert ours.shape == theirs.shape == (3, 4, 112, 112)
    # Both resize uint8 frames and round to uint8, with different kernels (torchvision's preset interpolates in
    # float and rounds; vidact's uint8 path is fixed-point): on noise about a fifth of the pixels land one grey
    # level apart, never more. A wrong size, crop, interpolation or normalisation is off by many levels.
    one_level = 1 / 255 / min(preset.std)
    assert (ours - theirs).abs().max() <= one_level + 1e-6
    assert (ours - theirs).abs().mean() < 0.3 * one_level


def test_pytorchvideo_entries_match_its_hub() -> None:
    import pytorchvideo.models.hub.resnet as pv_resnet
    import pytorchvideo.models.hub.slowfast as pv_slowfast

    assert (
        model_card("slowfast_r50").get_weights("kinetics400").url
        == pv_slowfast.checkpoint_paths["slowfast_r50"]
    )
    assert (
        model_card("slowfast_r101").get_weights("kinetics400").url
        == pv_slowfast.checkpoint_paths["slowfast_r101"]
    )
    assert model_card("i3d_r50").get_weights("kinetics400").url == pv_resnet.checkpoint_paths["i3d_r50"]


def test_unknown_names_are_one_line_config_errors() -> None:
    with pytest.raises(
        ConfigError, match=r"no weights r2plus1d_18\.imagenet; published weights of r2plus1d_18: "
    ):
        hub.get_weights("r2plus1d_18.imagenet")
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        hub.get_weights("nope.kinetics400")
    with pytest.raises(ConfigError, match="needs a name with a tag"):
        build_model("r2plus1d_18", weights=True)


# -- downloads from a local server -----------------------------------------------------------------------------
class _Server(http.server.ThreadingHTTPServer):
    """Serves ``files`` (URL path -> bytes) with Range support; ``cut[path] = n`` sends only n bytes of the next
    response and drops the connection; ``status[path]`` answers that HTTP error. ``requests`` records
    (path, Range header) of every request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.status: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        srv, rng = self.server, self.headers.get("Range")
        srv.requests.append((self.path, rng))
        if self.path in srv.status:
            self.send_error(srv.status[self.path])
            return
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        if start >= len(data) and rng:
            self.send_error(416)
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = srv.cut.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    monkeypatch.delenv("VIDACT_OFFLINE")
    monkeypatch.setenv("VIDACT_WEIGHTS_MIRROR", srv.base)
    yield srv
    srv.shutdown()
    srv.server_close()


def _torchvision_r2plus1d(tmp_path: Path) -> tuple[torch.nn.Module, bytes]:
    """torchvision's R(2+1)D-18 with random weights, and its state_dict file as torchvision publishes it."""
    torch.manual_seed(0)
    reference = tv_video.r2plus1d_18(num_classes=400).eval()
    with torch.no_grad():  # distinct BN statistics, so a BN loaded into the wrong slot changes the output
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "published.pth"
    torch.save(reference.state_dict(), path)
    return reference, path.read_bytes()


def _publish(monkeypatch: pytest.MonkeyPatch, model: str, data: bytes, **file_checks: object) -> str:
    """Make the catalogue's entry of ``model`` (its first, or ``model.tag``) describe ``data`` (its real hashes
    would refuse a test file): the URL path is kept, the checks are ``file_checks`` (default: the file's
    SHA-256)."""
    model, _, tag = model.partition(".")
    card = model_card(model)
    entry = card.get_weights(tag) if tag else card.weights[0]
    checks = file_checks or {"sha256": hashlib.sha256(data).hexdigest()}
    fields = {"sha256": None, "hash_prefix": None, "size": None, **checks}
    files = (dataclasses.replace(entry.files[0], **fields),)
    weights = tuple(dataclasses.replace(w, files=files) if w is entry else w for w in card.weights)
    monkeypatch.setitem(registry_module._CARDS._entries, model, dataclasses.replace(card, weights=weights))
    return f"{model}.{entry.tag}"


def _url_path(name: str) -> str:
    return "/" + hub.get_weights(name).entry.files[0].url.split("/", 3)[3]


def test_first_use_downloads_checks_caches_and_loads_by_name(server, monkeypatch, tmp_path) -> None:
    reference, data = _torchvision_r2plus1d(tmp_path)
    name = _publish(monkeypatch, "r2plus1d_18", data)
    server.files[_url_path(name)] = data

    loaded = hub.load_published(name)  # the network with its classes and input spec
    model = loaded.module
    assert not model.training and loaded.classes[0] == "abseiling" and loaded.spec.resize == (128, 171)
    assert not hasattr(model, "classes") and not hasattr(model, "preset")  # nothing stuck on the module
    clip = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(clip), reference(clip), rtol=1e-5, atol=1e-5
        )  # torchvision's network
    cached = hub.cache_dir(hub.get_weights(name)) / "r2plus1d_18-91a641e6.pth"
    assert cached.read_bytes() == data and not list(cached.parent.glob("*.part"))
    assert hub.is_cached(hub.get_weights(name))

    build_model(name, weights=True)  # the cache: no second request
    assert len(server.requests) == 1


def test_an_interrupted_download_resumes_where_it_stopped(server, monkeypatch, tmp_path) -> None:
    _, data = _torchvision_r2plus1d(tmp_path)
    name = _publish(monkeypatch, "r2plus1d_18", data)
    path = _url_path(name)
    server.files[path] = data
    server.cut[path] = len(data) // 2
    with pytest.raises(
        CheckpointError, match=r"cannot download .*connection closed after \d+ bytes.*weights add"
    ):
        hub.fetch(name, progress=False)
    part = hub.cache_dir(hub.get_weights(name)) / "r2plus1d_18-91a641e6.pth.part"
    have = part.stat().st_size
    assert 0 < have <= len(data) // 2 and data.startswith(part.read_bytes())

    (cached,) = hub.fetch(name, progress=False)
    assert server.requests[-1] == (path, f"bytes={have}-")  # it asked for the rest only
    assert cached.read_bytes() == data and not part.exists()


def test_a_file_that_fails_its_hash_never_enters_the_cache(server, monkeypatch, tmp_path) -> None:
    # The real entry: torchvision's name carries the first hex digits of the file's SHA-256, which a file we
    # built does not have.
    _, data = _torchvision_r2plus1d(tmp_path)
    name = "r2plus1d_18.kinetics400"
    server.files[_url_path(name)] = data
    with pytest.raises(
        CheckpointError, match=r"does not start with 91a641e6, the hash in the file's published name"
    ):
        hub.fetch(name, progress=False)
    assert not any(hub.cache_dir(hub.get_weights(name)).iterdir())  # no file, no .part to resume from


def test_a_file_of_the_right_size_with_other_bytes_fails_its_sha256(server, monkeypatch, tmp_path) -> None:
    """Size and full SHA-256 published: a served file of the right size with one byte changed passes the size
    check and fails the hash, naming the file and both hashes; nothing stays in the cache to resume from."""
    _, data = _torchvision_r2plus1d(tmp_path)
    want = hashlib.sha256(data).hexdigest()
    name = _publish(monkeypatch, "r2plus1d_18", data, sha256=want, size=len(data))
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    got = hashlib.sha256(corrupt).hexdigest()
    server.files[_url_path(name)] = bytes(corrupt)
    with pytest.raises(
        CheckpointError,
        match=rf"^r2plus1d_18\.kinetics400: \S*r2plus1d_18-91a641e6\.pth\S*: sha256 {got[:12]}\.\.\. "
        rf"differs from the catalogue's {want[:12]}\.\.\.$",
    ):
        hub.fetch(name, progress=False)
    assert not any(hub.cache_dir(hub.get_weights(name)).iterdir())
    assert not hub.is_cached(hub.get_weights(name))


def test_truncated_server_error_and_offline(server, monkeypatch, tmp_path) -> None:
    _, data = _torchvision_r2plus1d(tmp_path)
    name = _publish(monkeypatch, "r2plus1d_18", data, size=len(data) + 10)
    path = _url_path(name)
    server.files[path] = data
    with pytest.raises(CheckpointError, match=rf"{len(data)} bytes, expected {len(data) + 10}"):
        hub.fetch(name, progress=False)

    server.status[path] = 500
    with pytest.raises(
        CheckpointError,
        match=r"r2plus1d_18.kinetics400: cannot download http://127.0.0.1:\d+/models/"
        r"r2plus1d_18-91a641e6.pth \(HTTP 500 .*\); download it yourself and run: vidact weights add",
    ):
        hub.fetch(name, progress=False)

    monkeypatch.setenv("VIDACT_OFFLINE", "1")
    before = len(server.requests)
    with pytest.raises(CheckpointError, match=r"\(VIDACT_OFFLINE is set\)"):
        hub.fetch(name, progress=False)
    assert len(server.requests) == before  # not even one connection


def test_weights_published_on_a_page_say_how_to_add_them_by_hand(monkeypatch) -> None:
    monkeypatch.delenv("VIDACT_OFFLINE")  # the refusal comes first, whatever the network
    with pytest.raises(CheckpointError, match="cannot be downloaded automatically") as caught:
        hub.fetch("efficientgcn_b0.ntu60", progress=False)
    assert "vidact weights add efficientgcn_b0.ntu60 FILE" in str(caught.value) and "drive.google" in str(
        caught.value
    )


def test_weights_add_checks_the_file_and_its_layout(monkeypatch, tmp_path) -> None:
    reference, data = _torchvision_r2plus1d(tmp_path)
    name = _publish(monkeypatch, "r2plus1d_18", data)
    runner = CliRunner()
    wrong = tmp_path / "other.pth"
    wrong.write_bytes(data + b"x")
    got, want = hashlib.sha256(data + b"x").hexdigest(), hashlib.sha256(data).hexdigest()
    mismatch = (
        rf"^{re.escape(name)}: {re.escape(str(wrong))}: sha256 {got[:12]}\.\.\. differs from the catalogue's "
        rf"{want[:12]}\.\.\.$"
    )
    with pytest.raises(CheckpointError, match=mismatch):
        hub.add(name, [wrong])
    result = runner.invoke(app, ["weights", "add", name, str(wrong)])  # the command says the same
    said = str(result.exception) if isinstance(result.exception, CheckpointError) else result.output
    assert result.exit_code != 0 and re.search(mismatch[1:-1], said), said
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(tmp_path / 'nowhere.pth'))}: no such file$"):
        hub.add(name, [tmp_path / "nowhere.pth"])
    with pytest.raises(ConfigError, match=rf"^{re.escape(name)}: takes 1 file\(s\) \(\S+\.pth\), got 2$"):
        hub.add(name, [wrong, wrong])
    assert not hub.is_cached(hub.get_weights(name))

    # A file without a known hash is still checked by loading it in the catalogue's layout.
    name = _publish(monkeypatch, "r2plus1d_18", data, filename="r2plus1d_18-91a641e6.pth")
    pytorchvideo_layout = tmp_path / "pv.pth"
    torch.save({f"blocks.{k}": v for k, v in reference.state_dict().items()}, pytorchvideo_layout)
    with pytest.raises(CheckpointError, match="the catalogue expects the torchvision layout"):
        hub.add(name, [pytorchvideo_layout])
    assert not hub.is_cached(hub.get_weights(name))

    good = tmp_path / "good.pth"
    good.write_bytes(data)
    (cached,) = hub.add(name, [good])
    assert cached.read_bytes() == data and hub.is_cached(hub.get_weights(name))
    listing = runner.invoke(app, ["weights", "list", "r2plus1d*"])
    assert listing.exit_code == 0
    row = next(line for line in listing.stdout.splitlines() if "r2plus1d_18.kinetics400" in line)
    assert row.rstrip(" │").endswith("yes") and "67.463" in row and "BSD-3-Clause" in row


def test_cli_errors_are_one_line_with_exit_2(tmp_path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "VIDACT_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "vidact.cli", "weights", "fetch", "i3d_r50.kinetics400"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith(
        "error: i3d_r50.kinetics400: cannot download"
    )


# -- other formats ---------------------------------------------------------------------------------------------
def _tf_data_file(index: Path, out: Path) -> dict[str, np.ndarray]:
    """A data shard for ``index``, filled with random float32s where the index says each tensor lies."""
    from vidact.models.tf_checkpoint import _fields, _index_entries

    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray] = {}
    chunks: dict[int, bytes] = {}
    for key, value in _index_entries(index.read_bytes()):
        if key == b"":
            continue
        fields = dict((n, v) for n, v in _fields(value) if n != 2)
        shape = [
            dict(_fields(d)).get(1, 0) for n, s in _fields(value) if n == 2 for m, d in _fields(s) if m == 2
        ]
        array = rng.standard_normal(shape).astype("<f4") * 0.1
        tensors[key.decode()] = array
        chunks[int(fields.get(4, 0))] = array.tobytes()
    with open(out, "wb") as f:
        for offset in sorted(chunks):
            assert f.tell() == offset
            f.write(chunks[offset])
    return tensors


def test_tf_reader_on_the_released_kinetics_i3d_index(tmp_path) -> None:
    data = tmp_path / "model.ckpt.data-00000-of-00001"
    written = _tf_data_file(I3D_INDEX, data)
    assert data.stat().st_size == 50_818_176  # the size the catalogue derives for rgb_imagenet
    variables = read_tf_checkpoint(I3D_INDEX, data)
    assert len(variables) == 230 and variables.keys() == written.keys()
    for key, value in variables.items():
        np.testing.assert_array_equal(value.numpy(), written[key])
    assert tuple(variables["RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w"].shape) == (7, 7, 7, 3, 64)
    # The release's variables load, strictly, into vidact's I3D through the catalogue's layout.
    model = build_model("i3d_inception_v1", num_classes=400)
    state = read_layout("kinetics-i3d-tf", [I3D_INDEX, data])
    from vidact.models.weights import load_weights

    load_weights(model, dict(state), converter=get_converter("i3d", "kinetics-i3d-tf"))
    torch.testing.assert_close(
        model.conv_1a.conv.weight,
        torch.from_numpy(written["RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w"]).permute(4, 3, 0, 1, 2),
    )

    corrupt = bytearray(I3D_INDEX.read_bytes())
    corrupt[100] ^= 0xFF
    (tmp_path / "bad.index").write_bytes(bytes(corrupt))
    with pytest.raises(CheckpointError, match="fails its checksum"):
        read_tf_checkpoint(tmp_path / "bad.index", data)
    with open(data, "r+b") as f:
        f.truncate(1000)
    with pytest.raises(CheckpointError, match="truncated"):
        read_tf_checkpoint(I3D_INDEX, data)


def test_released_index_passes_the_catalogue_checks() -> None:
    entry = model_card("i3d_inception_v1").get_weights("kinetics400_imagenet")
    index = entry.files[0]
    from vidact.models.hub import _check

    _check(I3D_INDEX, index, "i3d")  # size, sha256 and git object id of the release
    with pytest.raises(CheckpointError, match="git object id"):
        _check(I3D_INDEX, WeightsFile(index.url, git_blob="0" * 40), "i3d")


def _caffe2_name(key: str) -> str | None:
    """PySlowFast's Caffe2 blob name of a vidact SlowFast key (written from PySlowFast's naming, for the test)."""
    import re

    bn = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}
    if key.endswith("num_batches_tracked"):
        return None
    if m := re.fullmatch(r"(slow|fast)_stem\.(conv|bn)\.(\w+)", key):
        p = "t_" if m[1] == "fast" else ""
        return f"{p}conv1_w" if m[2] == "conv" else f"{p}res_conv1_bn_{bn[m[3]]}"
    if m := re.fullmatch(r"laterals\.(\d)\.(conv|bn)\.(\w+)", key):
        i = int(m[1])
        stem = "t_pool1_subsample" if i == 0 else f"t_res{i + 1}_X_branch2c_bn_subsample"
        return f"{stem}_w" if m[2] == "conv" else f"{stem}_bn_{bn[m[3]]}"
    if m := re.fullmatch(
        r"(slow|fast)_layers\.(\d)\.(\d+)\.(conv[123]|bn[123]|downsample\.[01])\.(\w+)", key
    ):
        p = "t_" if m[1] == "fast" else ""
        stage, block, part = int(m[2]) + 2, m[3], m[4]
        branch = {
            "conv1": "branch2a",
            "conv2": "branch2b",
            "conv3": "branch2c",
            "bn1": "branch2a_bn",
            "bn2": "branch2b_bn",
            "bn3": "branch2c_bn",
            "downsample.0": "branch1",
            "downsample.1": "branch1_bn",
        }
        suffix = "w" if "bn" not in branch[part] else bn[m[5]]
        return f"{p}res{stage}_{block}_{branch[part]}_{suffix}"
    return {"fc.weight": "pred_w", "fc.bias": "pred_b"}.get(key)


def test_caffe2_blobs_load_into_slowfast_and_a_malicious_pickle_is_refused(tmp_path) -> None:
    torch.manual_seed(0)
    source = build_model("slowfast_r50", num_classes=400).eval()
    blobs = {}
    for key, value in source.state_dict().items():
        name = _caffe2_name(key)
        if name is not None:
            blobs[name.replace("_X_", "_0_")] = (
                value.numpy()
            )  # the last block of the stage names it in PySlowFast
    blobs["model_iter"] = np.array([1000])
    blobs["res2_0_branch2a_w_momentum"] = np.zeros(1)
    path = tmp_path / "SLOWFAST_8x8_R50.pkl"
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs}, f, protocol=2)
    state = read_caffe2_blobs(path)
    assert "model_iter" not in state and not any("momentum" in k for k in state)
    model = build_model("slowfast_r50", num_classes=400).eval()
    from vidact.models.weights import load_weights

    load_weights(model, state, converter=get_converter("slowfast", "pyslowfast-caffe2"))
    clip = torch.randn(1, 3, 16, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), source(clip))

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"blobs": {"pred_w": Evil()}}))
    with pytest.raises(CheckpointError, match=r"evil.pkl: not a safe pickle \(it needs (posix|os)\.system"):
        read_caffe2_blobs(evil)


# -- using weights by name -------------------------------------------------------------------------------------
def test_predict_by_name_offline_with_the_packaged_imagenet_weights(tmp_path) -> None:
    clip = sorted((SHARED / "videos" / "kinetics").glob("*.mp4"))[0]
    out = tmp_path / "p.json"
    args = [
        "predict",
        str(clip),
        "--model",
        "per_frame_efficientnet_lite0.imagenet",
        "--window",
        "10",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    import json

    payload = json.loads(out.read_text())
    assert payload["model"] == "per_frame_efficientnet_lite0.imagenet"
    imagenet = set(label_names("imagenet1k"))
    labels = [t["label"] for t in payload["top"]] + [
        t["label"] for w in payload["timeline"] for t in w["top"]
    ]
    assert len(labels) >= 10 and all(label in imagenet for label in labels)


def test_eval_by_name_uses_the_weights_preset_classes_and_views(tmp_path) -> None:
    from vidact.engine.evaluate import evaluate

    root = tmp_path / "data"
    clips = sorted((SHARED / "videos" / "kinetics").glob("*.mp4"))[:4]
    for i, clip in enumerate(clips):  # any videos, filed under two ImageNet class names
        folder = root / ("tench, Tinca tinca" if i % 2 else "goldfish, Carassius auratus")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / clip.name).symlink_to(clip)
    result = evaluate("per_frame_efficientnet_lite0.imagenet", root, split="", progress=False)
    assert len(result.classes) == 1000 and len(result.paths) == 4
    entry = model_card("per_frame_efficientnet_lite0").get_weights("imagenet")
    assert (result.num_clips, result.num_crops) == (entry.preset.num_clips, entry.preset.num_crops)
    assert result.scores.shape == (4, 1000)
    np.testing.assert_allclose(result.scores.sum(axis=1), 1.0, rtol=1e-5)


def test_fine_tuning_starts_from_published_weights_by_name(server, monkeypatch, tmp_path) -> None:
    from vidact.engine.config import ModelConfig
    from vidact.engine.tasks.base import build_network

    reference, data = _torchvision_r2plus1d(tmp_path)
    name = _publish(monkeypatch, "r2plus1d_18", data)
    server.files[_url_path(name)] = data
    with pytest.warns(
        UserWarning, match=r"r2plus1d_18.kinetics400: 400 classes in the weights and 5 in the model"
    ):
        network = build_network(ModelConfig(name="r2plus1d_18", pretrained=name), 5)
    expected = build_model(name, weights=True).state_dict()  # torchvision's weights, converted
    for key, value in network.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(value, expected[key]), key
    assert network.fc.out_features == 5
    with pytest.raises(ConfigError, match="are weights of r2plus1d_18, not of r3d_18"):
        build_network(ModelConfig(name="r3d_18", pretrained=name), 5)


# -- Hugging Face's video transformers by name -------------------------------------------------------------------
def _hf_full_size(family: str, num_labels: int, suffix: str) -> tuple[torch.nn.Module, bytes]:
    """Hugging Face's classifier of ``family`` at its default (published) size with random weights, and its
    weights file as Hugging Face publishes it: ``model.safetensors`` (``.safetensors``) or ``pytorch_model.bin``
    (``.bin``, torch.save of the state_dict)."""
    import io

    import transformers
    from safetensors.torch import save

    config, model = {
        "videomae": (transformers.VideoMAEConfig, transformers.VideoMAEForVideoClassification),
        "timesformer": (transformers.TimesformerConfig, transformers.TimesformerForVideoClassification),
        "vivit": (transformers.VivitConfig, transformers.VivitForVideoClassification),
    }[family]
    torch.manual_seed(0)
    reference = model(config(num_labels=num_labels)).eval()
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    if suffix == ".safetensors":
        return reference, save(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return reference, buffer.getvalue()


_HF_ENTRIES = [
    ("videomae_b.kinetics400", "videomae"),
    ("timesformer_b.kinetics400", "timesformer"),
    ("vivit_b.kinetics400", "vivit"),
    ("videomae_b.ssv2", "videomae"),  # a pytorch_model.bin
]


def _load_hf_entry(name: str, family: str, server, monkeypatch) -> tuple[torch.nn.Module, object]:
    """Serve a full-size Hugging Face file at ``name``'s URL path: the real entry refuses it (its published size
    or sha256), an entry describing it downloads and loads it. Hugging Face's model and vidact's loaded one."""
    entry = hub.get_weights(name).entry
    assert entry.layout == "hf" and entry.files[0].url.startswith("https://huggingface.co/")
    assert entry.files[0].sha256 and len(entry.files[0].sha256) == 64
    reference, data = _hf_full_size(family, entry.num_classes, Path(entry.files[0].name).suffix)
    server.files[_url_path(name)] = data
    with pytest.raises(CheckpointError, match=r"bytes, expected \d+|sha256"):
        hub.fetch(name, progress=False)
    loaded = hub.load_published(_publish(monkeypatch, name, data))
    assert loaded.classes == label_names(entry.labels) and loaded.spec == entry.preset
    return reference, loaded


@pytest.mark.parametrize(("name", "family"), _HF_ENTRIES)
def test_transformer_entries_download_check_and_load_hugging_faces_files(
    name: str, family: str, server, monkeypatch
) -> None:
    """The catalogue's Hugging Face entries: a file in Hugging Face's published layout (its class's own
    state_dict at the published size) at the entry's URL path downloads, passes its checks and loads strictly
    into the registered model, with the entry's classes and preset; the real entry's checks refuse it."""
    _load_hf_entry(name, family, server, monkeypatch)


@pytest.mark.slow  # two ViT-B forward passes at 224^2 per model
@pytest.mark.parametrize(("name", "family"), _HF_ENTRIES[:2])
def test_transformer_entries_give_hugging_faces_logits(name: str, family: str, server, monkeypatch) -> None:
    reference, loaded = _load_hf_entry(name, family, server, monkeypatch)
    p = loaded.spec
    clip = torch.randn(1, 3, p.frames, p.crop_size, p.crop_size)
    with torch.no_grad():
        ours, theirs = loaded.module(clip), reference(pixel_values=clip.transpose(1, 2)).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
