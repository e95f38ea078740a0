"""Clip transforms: shapes on both layouts, crop geometry, flow flips, resize rule, normalisation, determinism,
and the ready-made pipelines on a real Kinetics clip."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as F

from vidact.data.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    MultiScaleCrop,
    Normalize,
    RandomClipTransform,
    RandomCrop,
    RandomHorizontalFlip,
    ShortSideResize,
    ThreeCrop,
    ToFloatCTHW,
    eval_transform,
    train_transform,
)
from vidact.errors import ConfigError
from vidact.io import VideoReader
from vidact.io._pyav import output_size

# ../shared/data from the project root, found from this file so the tests see it from any working directory.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEO = str(DATA / "videos" / "kinetics" / "arm_wrestling.mp4")


def random_clip(frames: int = 4, height: int = 12, width: int = 16, channels: int = 3, seed: int = 0):
    """A uint8 [T, H, W, C] clip of random values."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (frames, height, width, channels), dtype=torch.uint8, generator=g)


def to_tchw(clip: torch.Tensor) -> torch.Tensor:
    return clip.permute(0, 3, 1, 2)


def apply(transform, clip: torch.Tensor, seed: int) -> torch.Tensor:
    """``transform(clip)``, seeded when the transform is random."""
    return transform(clip, generator=seed) if isinstance(transform, RandomClipTransform) else transform(clip)


@pytest.fixture(scope="module")
def real_clip() -> torch.Tensor:
    with VideoReader(VIDEO) as reader:
        return reader.get_frames(range(0, 16, 2))  # [8, 256, 340, 3]


# -- shapes and layouts -------------------------------------------------------------------------------------------
# (transform, channels, output shape of a [4, 12, 16, C] THWC clip)
CASES = [
    (ShortSideResize(6), 3, (4, 6, 8, 3)),
    (ShortSideResize(6, interpolation="nearest"), 3, (4, 6, 8, 3)),
    (RandomCrop(5), 3, (4, 5, 5, 3)),
    (RandomCrop((4, 9)), 3, (4, 4, 9, 3)),
    (CenterCrop((6, 10)), 3, (4, 6, 10, 3)),
    (ThreeCrop(8), 3, (3, 4, 8, 8, 3)),
    (MultiScaleCrop(7), 3, (4, 7, 7, 3)),
    (RandomHorizontalFlip(1.0), 3, (4, 12, 16, 3)),
    (RandomHorizontalFlip(1.0, is_flow=True), 2, (4, 12, 16, 2)),
    (ColorJitter(0.4, 0.4, 0.4, 0.1), 3, (4, 12, 16, 3)),
    (ColorJitter(0.4, 0.4), 1, (4, 12, 16, 1)),
]


@pytest.mark.parametrize(("transform", "channels", "shape"), CASES, ids=lambda c: repr(c)[:40])
def test_both_layouts_give_the_same_clip(transform, channels, shape):
    thwc = random_clip(channels=channels)
    out_thwc, out_tchw = apply(transform, thwc, seed=5), apply(transform, to_tchw(thwc), seed=5)
    assert out_thwc.dtype == out_tchw.dtype == torch.uint8
    assert tuple(out_thwc.shape) == shape
    assert torch.equal(out_tchw, out_thwc.movedim(-1, -3))


def test_layout_is_read_from_the_shape():
    with pytest.raises(ValueError, match="channel axis"):
        CenterCrop(2)(torch.zeros(4, 3, 3, 3, dtype=torch.uint8))  # 3x3 frames: ambiguous
    with pytest.raises(ValueError, match="channel axis"):
        CenterCrop(2)(torch.zeros(4, 8, 8, 8, dtype=torch.uint8))  # no axis of 1-3 channels
    with pytest.raises(ValueError, match="expected a clip"):
        CenterCrop(2)(torch.zeros(8, 8, 3, dtype=torch.uint8))


@pytest.mark.parametrize("transform", [RandomCrop(20), CenterCrop((4, 17)), ThreeCrop(13)])
def test_crop_larger_than_the_frames_is_refused(transform):
    with pytest.raises(ValueError, match="does not fit in 12x16"):
        transform(random_clip())


# -- crops --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "transform",
    [
        RandomCrop(7),
        CenterCrop(7),
        ThreeCrop(7),
        MultiScaleCrop(7),
        RandomHorizontalFlip(0.5),
        ColorJitter(0.5, 0.5, 0.5, 0.2),
    ],
    ids=lambda t: type(t).__name__,
)
def test_every_frame_gets_the_same_crop(transform):
    clip = random_clip(frames=1).expand(6, -1, -1, -1)  # six identical frames
    for seed in range(8):
        out = apply(transform, clip, seed)
        frames = out if isinstance(transform, ThreeCrop) else out.unsqueeze(0)  # [views, T, H, W, C]
        assert torch.equal(frames, frames[:, :1].expand_as(frames))


def test_random_crop_cuts_the_window_it_draws():
    clip = random_clip()
    crop = RandomCrop((5, 7))
    tops, lefts = set(), set()
    for seed in range(60):
        top, left = crop.get_params(12, 16, generator=seed)
        assert torch.equal(crop(clip, generator=seed), clip[:, top : top + 5, left : left + 7])
        tops.add(top)
        lefts.add(left)
    assert tops == set(range(8)) and lefts == set(range(10))  # every position can be drawn


def test_three_crop_positions_by_hand():
    # value = 100 * frame + 10 * row + column, so every pixel says where it came from
    t, r, c = torch.meshgrid(torch.arange(2), torch.arange(4), torch.arange(8), indexing="ij")
    landscape = (100 * t + 10 * r + c).to(torch.uint8).unsqueeze(-1)  # [2, 4, 8, 1]
    crops = ThreeCrop(4)(landscape)
    assert crops.shape == (3, 2, 4, 4, 1)
    for k, first_column in enumerate((0, 2, 4)):  # left, centre, right
        assert torch.equal(crops[k], landscape[:, :, first_column : first_column + 4])
    assert crops[2, 1, 3, 3, 0] == 100 + 30 + 7  # bottom-right pixel of the last frame, right crop

    portrait = landscape.transpose(1, 2)  # [2, 8, 4, 1]: value = 100 * frame + 10 * column + row
    crops = ThreeCrop((3, 2))(portrait)
    assert crops.shape == (3, 2, 3, 2, 1)
    assert ThreeCrop((3, 2)).positions(8, 4) == [(0, 1), (2, 1), (5, 1)]  # top, centre, bottom
    assert torch.equal(crops[0, 0, :, :, 0], torch.tensor([[10, 20], [11, 21], [12, 22]], dtype=torch.uint8))
    assert torch.equal(
        crops[2, 1, :, :, 0], torch.tensor([[115, 125], [116, 126], [117, 127]], dtype=torch.uint8)
    )


@pytest.mark.parametrize(("height", "width", "size"), [(12, 16, 7), (12, 16, (5, 8)), (9, 5, 4), (11, 11, 6)])
def test_three_crop_centre_is_the_center_crop(height, width, size):
    clip = to_tchw(random_clip(height=height, width=width))
    expected = F.center_crop(clip, [size, size] if isinstance(size, int) else list(size))
    assert torch.equal(CenterCrop(size)(clip), expected)
    assert torch.equal(ThreeCrop(size)(clip)[1], expected)


def test_multi_scale_crop_windows_and_positions_by_hand():
    crop = MultiScaleCrop(112)
    # short side 128: sides int(128 * s) = 128, 112, 96, 84; height and width at most one scale step apart
    sizes = [
        (128, 128),
        (128, 112),
        (112, 128),
        (112, 112),
        (112, 96),
        (96, 112),
        (96, 96),
        (96, 84),
        (84, 96),
        (84, 84),
    ]
    assert crop.window_sizes(128, 170) == sizes
    assert MultiScaleCrop(112, max_distort=0).window_sizes(128, 170) == [
        (128, 128),
        (112, 112),
        (96, 96),
        (84, 84),
    ]

    drawn = set()
    for seed in range(300):
        top, left, h, w = crop.get_params(128, 170, generator=seed)
        corners_and_centre = {
            (0, 0),
            (0, 170 - w),
            (128 - h, 0),
            (128 - h, 170 - w),
            (round((128 - h) / 2), round((170 - w) / 2)),
        }
        assert (h, w) in sizes and (top, left) in corners_and_centre
        drawn.add((top, left, h, w))
    assert {(h, w) for _, _, h, w in drawn} == set(sizes)
    assert {
        (0, 0, 96, 112),
        (0, 58, 96, 112),
        (32, 0, 96, 112),
        (32, 58, 96, 112),
        (16, 29, 96, 112),
    } <= drawn


def test_multi_scale_crop_resizes_the_window_it_draws():
    clip = to_tchw(random_clip(height=40, width=52))
    crop = MultiScaleCrop((20, 24))
    for seed in range(5):
        top, left, h, w = crop.get_params(40, 52, generator=seed)
        expected = F.resized_crop(clip, top, left, h, w, [20, 24], antialias=True)
        assert torch.equal(crop(clip, generator=seed), expected)


# -- flips --------------------------------------------------------------------------------------------------------
def test_flip_mirrors_rgb_and_keeps_it_when_not_drawn():
    clip = random_clip()
    assert torch.equal(RandomHorizontalFlip(1.0)(clip), clip.flip(2))
    assert RandomHorizontalFlip(0.0)(clip) is clip
    flipped = [not torch.equal(RandomHorizontalFlip(0.5)(clip, generator=s), clip) for s in range(40)]
    assert 5 < sum(flipped) < 35


@pytest.mark.parametrize("channels_last", [True, False])
def test_flip_negates_uint8_flow_x(channels_last):
    flow = random_clip(channels=2)  # [T, H, W, (x, y)]
    out = RandomHorizontalFlip(1.0, is_flow=True)(flow if channels_last else to_tchw(flow))
    out = out if channels_last else out.permute(0, 2, 3, 1)
    mirrored = flow.flip(2)
    assert torch.equal(out[..., 0], 255 - mirrored[..., 0])
    assert torch.equal(out[..., 1], mirrored[..., 1])
    # decoded with q = (d / bound + 1) * 127.5, the flipped x displacement is exactly minus the mirrored one
    bound = 20.0
    decode = lambda q: (q.double() / 127.5 - 1.0) * bound  # noqa: E731
    torch.testing.assert_close(decode(out[..., 0]), -decode(mirrored[..., 0]), rtol=0, atol=1e-12)
    assert torch.equal(RandomHorizontalFlip(1.0, is_flow=True)(out), flow)  # flipping twice restores the flow


def test_flip_negates_float_flow_x():
    flow = torch.randn(3, 2, 6, 9, generator=torch.Generator().manual_seed(0))  # [T, (x, y), H, W]
    out = RandomHorizontalFlip(1.0, is_flow=True)(flow)
    assert torch.equal(out[:, 0], -flow[:, 0].flip(-1))
    assert torch.equal(out[:, 1], flow[:, 1].flip(-1))
    assert torch.equal(
        flow, torch.randn(3, 2, 6, 9, generator=torch.Generator().manual_seed(0))
    )  # input kept


def test_flow_flip_needs_two_channels():
    with pytest.raises(ValueError, match="2 channels"):
        RandomHorizontalFlip(1.0, is_flow=True)(random_clip(channels=3))


# -- colour -------------------------------------------------------------------------------------------------------
def test_color_jitter_applies_one_draw_to_every_frame():
    clip = to_tchw(random_clip(frames=5))
    jitter = ColorJitter(0.4, 0.4, 0.4, 0.1)
    for seed in range(4):
        adjustments = jitter.get_params(generator=seed)
        assert len(adjustments) == 4
        expected = []
        for frame in clip:  # the reference: torchvision's ops frame by frame, with the same factors
            for op, factor in adjustments:
                frame = op(frame, factor)
            expected.append(frame)
        assert torch.equal(jitter(clip, generator=seed), torch.stack(expected))


def test_color_jitter_factor_ranges_and_probability():
    jitter = ColorJitter(brightness=0.2, hue=0.05)
    for seed in range(20):
        factors = {op.__name__: factor for op, factor in jitter.get_params(generator=seed)}
        assert factors.keys() == {"adjust_brightness", "adjust_hue"}
        assert 0.8 <= factors["adjust_brightness"] <= 1.2 and -0.05 <= factors["adjust_hue"] <= 0.05
    clip = random_clip()
    assert ColorJitter(0.5, p=0.0)(clip, generator=0) is clip
    with pytest.raises(ValueError, match="RGB or grayscale"):
        ColorJitter(0.5)(random_clip(channels=2))


# -- resizing -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("height", "width"),
    [(256, 340), (240, 320), (1080, 1920), (341, 256), (100, 333), (333, 100), (150, 150), (97, 131)],
)
@pytest.mark.parametrize("size", [112, 128, 224])
def test_resize_size_rule_matches_torchvision_and_decoder(height, width, size):
    clip = torch.zeros(1, height, width, 3, dtype=torch.uint8)
    out = ShortSideResize(size)(clip)
    reference = T.Resize(size)(to_tchw(clip))
    assert out.shape[1:3] == reference.shape[-2:]
    assert (out.shape[2], out.shape[1]) == output_size(width, height, size)
    assert min(out.shape[1:3]) == size


def test_resize_values_match_torchvision():
    clip = random_clip(frames=3, height=48, width=64)
    for interpolation in (T.InterpolationMode.BILINEAR, T.InterpolationMode.BICUBIC):
        out = ShortSideResize(20, interpolation=interpolation)(clip)
        expected = T.Resize(20, interpolation=interpolation, antialias=True)(to_tchw(clip))
        assert torch.equal(to_tchw(out), expected)


def test_resize_agrees_with_resize_on_decode():
    with VideoReader(VIDEO) as native, VideoReader(VIDEO, short_side=128) as decoded_small:
        frames = [0, 40, 80]
        resized = ShortSideResize(128)(native.get_frames(frames))
        on_decode = decoded_small.get_frames(frames)
    assert resized.shape == on_decode.shape == (3, 128, 170, 3)
    # different resamplers (swscale vs torch): close, not equal; a one-pixel shift would give ~8
    assert (resized.float() - on_decode.float()).abs().mean() < 3.0


# -- to float and normalisation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("channels_last", [True, False])
def test_to_float_cthw(channels_last):
    clip = random_clip(frames=3, height=5, width=7)
    out = ToFloatCTHW()(clip if channels_last else to_tchw(clip))
    assert out.shape == (3, 3, 5, 7) and out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out, clip.permute(3, 0, 1, 2).double().div(255).float(), rtol=0, atol=1e-7)


def test_normalization_presets_by_hand():
    clip = (
        torch.tensor([0, 51, 204, 255], dtype=torch.uint8).view(1, 1, 4, 1).expand(1, 4, 4, 3)
    )  # [T, H, W, C]
    x = ToFloatCTHW()(clip)  # [3, 1, 4, 4]; a row holds 0.0, 0.2, 0.8, 1.0
    row = lambda y, c: y[c, 0, 0].tolist()  # noqa: E731

    imagenet = Normalize.preset("imagenet")(x)
    assert row(imagenet, 0) == pytest.approx(
        [-0.485 / 0.229, (0.2 - 0.485) / 0.229, (0.8 - 0.485) / 0.229, 0.515 / 0.229]
    )
    assert row(imagenet, 2) == pytest.approx(
        [-0.406 / 0.225, (0.2 - 0.406) / 0.225, (0.8 - 0.406) / 0.225, 0.594 / 0.225]
    )
    assert row(Normalize.preset("minus_one_one")(x), 1) == pytest.approx([-1.0, -0.6, 0.6, 1.0])
    assert row(Normalize.preset("kinetics")(x), 1) == pytest.approx([-2.0, -1.1111111, 1.5555556, 2.4444444])
    assert torch.equal(x, ToFloatCTHW()(clip))  # normalising does not change its input


def test_normalize_checks_channels_and_names():
    flow = ToFloatCTHW()(random_clip(channels=2))
    assert Normalize.preset("minus_one_one")(flow).shape == flow.shape  # one value for all channels
    with pytest.raises(ValueError, match="3 normalization values for a clip with 2 channels"):
        Normalize.preset("imagenet")(flow)
    with pytest.raises(ValueError, match="float clip"):
        Normalize.preset("imagenet")(random_clip())
    with pytest.raises(ConfigError, match="unknown normalization 'cifar'"):
        Normalize.preset("cifar")


# -- randomness and pickling --------------------------------------------------------------------------------------
def test_seed_makes_the_augmentation_deterministic():
    clip = random_clip(frames=4, height=40, width=60)
    pipeline = train_transform(24, 32, crop="multi_scale", color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1))
    first = pipeline(clip, generator=7)
    assert torch.equal(first, pipeline(clip, generator=7))
    assert torch.equal(first, pipeline(clip, generator=torch.Generator().manual_seed(7)))
    assert len({pipeline(clip, generator=seed).sum().item() for seed in range(5)}) == 5

    torch.manual_seed(3)
    from_global = pipeline(clip)
    torch.manual_seed(3)
    assert torch.equal(from_global, pipeline(clip))


def test_compose_shares_one_generator_and_calls_plain_functions():
    clip = to_tchw(random_clip(height=20, width=20))
    pipeline = Compose([RandomCrop(10), Compose([RandomCrop(5)]), F.vertical_flip])
    g = torch.Generator().manual_seed(1)
    expected = F.vertical_flip(RandomCrop(5)(RandomCrop(10)(clip, generator=g), generator=g))
    assert torch.equal(pipeline(clip, generator=1), expected)


def test_pipelines_survive_pickling():
    clip = random_clip(frames=2, height=40, width=60)
    for pipeline in (
        train_transform(24, 32, color_jitter=ColorJitter(0.3, 0.3)),
        eval_transform(24, 32, crop="three"),
    ):
        clone = pickle.loads(pickle.dumps(pipeline))
        assert repr(clone) == repr(pipeline)
        assert torch.equal(clone(clip, generator=2), pipeline(clip, generator=2))


# -- ready-made pipelines -----------------------------------------------------------------------------------------
def test_train_pipeline_on_a_real_clip(real_clip):
    assert real_clip.shape == (8, 256, 340, 3)
    for crop in ("random", "multi_scale"):
        x = train_transform(crop=crop, color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1))(real_clip, generator=0)
        assert x.shape == (3, 8, 112, 112) and x.dtype == torch.float32 and x.is_contiguous()
        assert torch.isfinite(x).all() and -2.2 < x.min() < x.max() < 2.7  # inside ImageNet-normalised range
        same = train_transform(crop=crop, color_jitter=ColorJitter(0.4, 0.4, 0.4, 0.1))(
            to_tchw(real_clip), generator=0
        )
        assert torch.equal(x, same)


def test_eval_pipeline_matches_torchvision_on_a_real_clip(real_clip):
    x = eval_transform(crop="center")(real_clip)
    reference = T.Compose(
        [
            T.Resize(128, antialias=True),
            T.CenterCrop(112),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )(to_tchw(real_clip))  # [T, C, H, W]
    assert x.shape == (3, 8, 112, 112) and x.is_contiguous()
    torch.testing.assert_close(x, reference.transpose(0, 1), rtol=0, atol=1e-5)

    views = eval_transform(crop="three", normalize="minus_one_one")(real_clip)
    assert views.shape == (3, 3, 8, 112, 112) and views.dtype == torch.float32
    assert views.min() >= -1.0 and views.max() <= 1.0
    torch.testing.assert_close(views[1], eval_transform(normalize="minus_one_one")(real_clip))
    assert not torch.equal(views[0], views[2])  # left and right views differ on a real frame


def test_flow_train_pipeline_flips_x():
    flow = random_clip(frames=4, height=40, width=60, channels=2)
    pipeline = train_transform(32, 32, flip_p=1.0, is_flow=True, normalize="minus_one_one")
    x = pipeline(flow, generator=0)  # [2, T, 32, 32]; the same seed draws the same crop with or without flip
    unflipped = train_transform(32, 32, flip_p=0.0, is_flow=True, normalize="minus_one_one")(
        flow, generator=0
    )
    assert x.shape == (2, 4, 32, 32)
    torch.testing.assert_close(x[0], -unflipped[0].flip(-1), rtol=0, atol=1e-6)
    torch.testing.assert_close(x[1], unflipped[1].flip(-1), rtol=0, atol=1e-6)


def test_pipeline_config_errors():
    with pytest.raises(ConfigError, match="crop size 160 is larger than short_side 128"):
        eval_transform(160, 128)
    with pytest.raises(ConfigError, match="unknown crop 'five'"):
        eval_transform(crop="five")
    with pytest.raises(ConfigError, match="unknown crop 'center'"):
        train_transform(crop="center")
    with pytest.raises(ConfigError, match="optical flow"):
        train_transform(is_flow=True, color_jitter=ColorJitter(0.4))
    multi_scale = train_transform(160, 128, crop="multi_scale")  # crops inside the short side, then upsamples
    assert multi_scale(random_clip(height=130, width=140), generator=0).shape == (3, 4, 160, 160)
