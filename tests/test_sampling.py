"""Clip samplers: property-based tests (hypothesis) plus hand-computed cases.

Properties every sampler must keep for any video length (short ones included): indices in range, the right
count, sorted (except the "loop" policy on a short video, which replays it), and determinism under a seed.
Training randomness comes from the rng and reaches every frame it may; sampling by time picks, on a known
variable-frame-rate timeline, exactly the frames on screen at the instants asked for.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidact.data import sampling as S

lengths = st.integers(min_value=1, max_value=2000)
clip_lens = st.integers(min_value=1, max_value=64)
strides = st.integers(min_value=1, max_value=8)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
policies = st.sampled_from(["loop", "repeat_last", "stretch"])
settings.register_profile("vidact", max_examples=150, deadline=None)
settings.load_profile("vidact")


def _in_range(idx: np.ndarray, n: int) -> None:
    assert idx.dtype == np.int64
    assert idx.size == 0 or (idx.min() >= 0 and idx.max() < n)


def _sorted(idx: np.ndarray) -> bool:
    return bool(np.all(np.diff(idx) >= 0))


@given(n=lengths, segments=st.integers(1, 32), per=st.integers(1, 5), seed=seeds)
def test_segments(n, segments, per, seed):
    test = S.segment_indices(n, segments, frames_per_segment=per)
    train = S.segment_indices(n, segments, frames_per_segment=per, rng=np.random.default_rng(seed))
    again = S.segment_indices(n, segments, frames_per_segment=per, rng=np.random.default_rng(seed))
    for idx in (test, train):
        _in_range(idx, n)
        assert idx.shape == (segments * per,)
        snippets = idx.reshape(segments, per)
        assert _sorted(snippets[:, 0])
        if n >= per:
            assert np.all(np.diff(snippets, axis=1) == 1)  # each snippet is consecutive frames
        if n >= segments * per:  # long enough: each snippet inside its own segment, no frame twice, sorted
            assert _sorted(idx) and np.unique(idx).size == segments * per
            seg = np.arange(segments)
            assert np.all(snippets[:, 0] >= seg * n // segments)
            assert np.all(snippets[:, -1] < (seg + 1) * n // segments)
    np.testing.assert_array_equal(train, again)


@given(n=lengths, clip_len=clip_lens, stride=strides, seed=seeds, policy=policies)
def test_random_clip(n, clip_len, stride, seed, policy):
    idx = S.random_clip_indices(n, clip_len, stride, rng=np.random.default_rng(seed), short_policy=policy)
    again = S.random_clip_indices(n, clip_len, stride, rng=np.random.default_rng(seed), short_policy=policy)
    _in_range(idx, n)
    assert idx.shape == (clip_len,)
    np.testing.assert_array_equal(idx, again)
    span = S.clip_span(clip_len, stride)
    if n >= span:
        assert np.all(np.diff(idx) == stride)  # a true clip at the asked stride
    elif policy != "loop":
        assert _sorted(idx)
    if policy == "repeat_last" and n < span:
        assert idx[-1] == n - 1


@given(n=lengths, clip_len=clip_lens, stride=strides, policy=policies)
def test_dense(n, clip_len, stride, policy):
    clips = S.dense_indices(n, clip_len, stride, short_policy=policy)
    span = S.clip_span(clip_len, stride)
    assert clips.ndim == 2 and clips.shape[1] == clip_len
    assert clips.shape[0] == max(1, -(-n // span))
    _in_range(clips, n)
    if n >= span:
        covered = np.zeros(n, bool)
        for c in clips:
            covered[c[0] : c[-1] + 1] = True
        assert covered.all()  # every frame lies inside some clip
        assert _sorted(clips[:, 0])


@given(n=lengths, clip_len=clip_lens, stride=strides, k=st.integers(1, 12), policy=policies)
def test_multi_clip(n, clip_len, stride, k, policy):
    clips = S.multi_clip_indices(n, clip_len, stride, k, short_policy=policy)
    assert clips.shape == (k, clip_len)
    _in_range(clips, n)
    span = S.clip_span(clip_len, stride)
    assert _sorted(clips[:, 0])
    if n >= span and k > 1:
        assert clips[0, 0] == 0 and clips[-1, -1] == n - 1  # first at the start, last ends at the end
    np.testing.assert_array_equal(clips, S.multi_clip_indices(n, clip_len, stride, k, short_policy=policy))


@given(
    n=lengths,
    slow=st.integers(1, 16),
    alpha=st.sampled_from([1, 2, 4, 8]),
    mult=st.integers(1, 4),
    seed=st.one_of(st.none(), seeds),
)
def test_slowfast(n, slow, alpha, mult, seed):
    tau = alpha * mult
    rng = None if seed is None else np.random.default_rng(seed)
    s, f = S.slowfast_indices(n, slow, tau, alpha, rng=rng, short_policy="repeat_last")
    assert s.shape == (slow,) and f.shape == (slow * alpha,)
    _in_range(s, n)
    _in_range(f, n)
    assert _sorted(s) and _sorted(f)
    np.testing.assert_array_equal(s, f[::alpha])  # Slow frames are a subset of Fast frames


@given(
    n=st.integers(2, 600),
    clip_len=clip_lens,
    fps=st.floats(1.0, 60.0),
    seed=seeds,
    policy=policies,
    jitter=st.floats(0.0, 0.4),
)
def test_time_indices_variable_rate(n, clip_len, fps, seed, policy, jitter):
    rng = np.random.default_rng(seed)
    durations = (1 / 30) * (1 + jitter * (rng.random(n) - 0.5))  # a variable frame rate around 30 fps
    times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    idx = S.time_indices(times, clip_len, fps, rng=np.random.default_rng(seed), short_policy=policy)
    _in_range(idx, n)
    assert idx.shape == (clip_len,)
    if policy != "loop":
        assert _sorted(idx)
    np.testing.assert_array_equal(
        idx, S.time_indices(times, clip_len, fps, rng=np.random.default_rng(seed), short_policy=policy)
    )


# -- hand-computed cases -------------------------------------------------------------------------------------


def test_segments_centres_by_hand():
    # 100 frames, 4 segments of 25: centres at 12.5 -> 12, 37.5 -> 37, ...
    assert S.segment_indices(100, 4).tolist() == [12, 37, 62, 87]
    # a 3-frame video asked for 8 segments repeats frames in order instead of raising
    assert S.segment_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    # 10 frames, 2 segments of 5, snippets of 3: centred at 1..3 and 6..8
    assert S.segment_indices(10, 2, frames_per_segment=3).tolist() == [1, 2, 3, 6, 7, 8]


def test_short_policies_by_hand():
    rng = np.random.default_rng(0)
    assert S.random_clip_indices(5, 8, 1, rng=rng, short_policy="loop").tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    repeat_last = S.random_clip_indices(5, 8, 1, rng=rng, short_policy="repeat_last")
    assert repeat_last.tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    stretch = S.random_clip_indices(5, 8, 1, rng=rng, short_policy="stretch")
    assert stretch.tolist() == [0, 0, 1, 1, 2, 2, 3, 4]


def test_multi_clip_by_hand():
    # 100 frames, 3 clips of 8 at stride 2 (span 15): starts 0, 42.5 -> 42, 85
    clips = S.multi_clip_indices(100, 8, 2, 3)
    assert clips[:, 0].tolist() == [0, 42, 85] and clips[2, -1] == 99
    assert S.multi_clip_indices(100, 8, 2, 1)[0, 0] == 42  # a single view is centred


def test_slowfast_paper_setting():
    # SlowFast 8x8 (T=8, tau=8, alpha=4) on a 64-frame video: the window is the whole video
    slow, fast = S.slowfast_indices(64, 8, 8, 4)
    assert slow.tolist() == list(range(0, 64, 8))
    assert fast.tolist() == list(range(0, 64, 2))
    with pytest.raises(ValueError, match="multiple of alpha"):
        S.slowfast_indices(64, 8, 6, 4)


def test_time_indices_resample_30_to_10_fps():
    times = np.arange(90) / 30.0
    idx = S.time_indices(times, 5, 10.0, start=0.0)
    assert idx.tolist() == [0, 3, 6, 9, 12]


def test_invalid_arguments():
    with pytest.raises(ValueError):
        S.segment_indices(0, 4)
    with pytest.raises(ValueError):
        S.random_clip_indices(10, 4, rng=np.random.default_rng(0), short_policy="wrap")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        S.time_indices(np.arange(10) / 30, 4, 0.0)


# -- training randomness: offsets come from the rng, and reach every frame they may ------------------------------
def test_segment_offsets_come_from_the_rng():
    """TSN training offsets are drawn from ``rng``: the same seed gives the same indices, different seeds give
    different ones, and the segments draw their offsets independently of each other."""
    draws = [S.segment_indices(100, 4, rng=np.random.default_rng(seed)) for seed in range(20)]
    np.testing.assert_array_equal(draws[3], S.segment_indices(100, 4, rng=np.random.default_rng(3)))
    assert len({tuple(d) for d in draws}) == 20  # 25**4 possible draws: 20 seeds, 20 different ones
    rng = np.random.default_rng(0)
    offsets = np.stack([S.segment_indices(100, 4, rng=rng) for _ in range(2000)]) - np.arange(4) * 25
    # independent offsets in [0, 25): two segments agree about 1/25 of the time (80 in 2000), not always
    assert 40 < np.sum(offsets[:, 0] == offsets[:, 1]) < 160


@pytest.mark.parametrize(("num_frames", "segments", "per"), [(100, 4, 1), (37, 3, 1), (40, 4, 3)])
def test_segment_offsets_reach_every_frame_of_their_segment(num_frames, segments, per):
    """Over many draws of one generator, every start a snippet can have in its segment comes up, about equally
    often: segment k is frames [k * n // K, (k + 1) * n // K) and a snippet of ``per`` frames must fit in it."""
    rng, draws = np.random.default_rng(0), 4000

    def draw() -> np.ndarray:
        return S.segment_indices(num_frames, segments, rng=rng, frames_per_segment=per)

    starts = np.stack([draw() for _ in range(draws)])[:, ::per]  # [draws, segments]: snippets' first frames
    for k in range(segments):
        lo, hi = k * num_frames // segments, (k + 1) * num_frames // segments
        allowed = np.arange(lo, hi - per + 1)
        values, counts = np.unique(starts[:, k], return_counts=True)
        np.testing.assert_array_equal(values, allowed)  # each of them reached, nothing else
        expected = draws / allowed.size
        assert counts.min() > 0.7 * expected and counts.max() < 1.3 * expected, (k, counts)


def test_random_clip_starts_come_from_the_rng():
    """A random training clip starts anywhere from frame 0 to the last start where it fits, uniformly, as the
    rng draws: different seeds, different clips."""
    span = S.clip_span(8, 2)  # 15 frames: in a 40-frame video the clip starts at 0 ... 25
    rngs = [np.random.default_rng(seed) for seed in range(2600)]
    starts = np.array([S.random_clip_indices(40, 8, 2, rng=rng)[0] for rng in rngs])
    values, counts = np.unique(starts, return_counts=True)
    np.testing.assert_array_equal(values, np.arange(40 - span + 1))
    assert counts.min() > 50 and counts.max() < 150  # 100 expected each


# -- sampling by time on a variable-frame-rate timeline ----------------------------------------------------------
# Frame times in 1/64 s (exact in binary, so instants that fall on a frame's time are exact): bursts and gaps,
# as in a variable-frame-rate phone video. Frame i is on screen from TIMES[i] until the next frame's time; the
# last one for a typical frame duration (the median gap, 3/64 s), so the video ends at 67/64 s.
TICKS = np.array([0, 3, 6, 16, 18, 40, 41, 42, 43, 58, 64])
TIMES = TICKS / 64


def _on_screen(instant: float) -> int:
    """The frame shown at ``instant``, by brute force: the last frame whose time has come."""
    return max(i for i, t in enumerate(TIMES) if t <= instant)


def test_time_indices_pick_the_frame_on_screen_by_hand():
    # 8 fps = one instant every 8/64 s from 0: 0 -> frame 0; 8 -> 2 (shown from 6); 16 -> 3 (exactly its time);
    # 24 -> 4 (from 18); 32 -> 4 still (the next comes at 40); 40 -> 5 (exactly); 48 -> 8 (from 43); 56 -> 8
    assert S.time_indices(TIMES, 8, 8.0, start=0.0).tolist() == [0, 2, 3, 4, 4, 5, 8, 8]
    # centred: the clip lasts 4 / 8 fps = 32/64 s of the 67/64 s video, so it starts at (67 - 32) / 2 = 17.5/64;
    # instants 17.5, 25.5, 33.5, 41.5 -> frames 3, 4, 4, 6
    assert S.time_indices(TIMES, 4, 8.0).tolist() == [3, 4, 4, 6]
    # past the end (67/64): the last frame repeats, or the video replays from 0 (72 - 67 = 5 -> frame 1)
    assert S.time_indices(TIMES, 4, 8.0, start=48 / 64).tolist() == [8, 8, 10, 10]
    assert S.time_indices(TIMES, 4, 8.0, start=48 / 64, short_policy="loop").tolist() == [8, 8, 10, 1]


@pytest.mark.parametrize("fps", [8.0, 16.0, 32.0, 64.0])
def test_time_indices_match_the_frames_on_screen(fps):
    """For every start on a 1/128 s grid, each instant maps to the frame on screen then (brute force)."""
    clip_len = 4
    for start in np.arange(0, 67 * 2) / 128:
        instants = start + np.arange(clip_len) / fps
        expected = [_on_screen(t) for t in instants]
        got = S.time_indices(TIMES, clip_len, fps, start=start, short_policy="repeat_last")
        assert got.tolist() == expected, (start, fps)


def test_time_indices_random_start_comes_from_the_rng():
    """A random start lies anywhere the clip fits (0 to 35/64 s for 4 frames at 8 fps): its first frame is any of
    the frames shown by then, as the rng draws."""
    firsts = {int(S.time_indices(TIMES, 4, 8.0, rng=np.random.default_rng(seed))[0]) for seed in range(200)}
    assert firsts == {0, 1, 2, 3, 4}  # shown from 0, 3, 6, 16 and 18/64 s; the next one only at 40/64 s
    clips = {tuple(S.time_indices(TIMES, 4, 8.0, rng=np.random.default_rng(seed))) for seed in range(20)}
    assert len(clips) > 5


# -- one place ----------------------------------------------------------------------------------------------
def test_every_sampler_is_defined_once_in_vidact_data_sampling():
    """The functions, the dataset's sampler objects, evaluation's TSN views and predict's windows are defined in
    ``vidact.data.sampling``'s modules; ``vidact.data.datasets`` hands out the very same sampler classes."""
    import vidact.data.datasets as datasets

    for name in S.__all__:
        obj = getattr(S, name)
        module = getattr(obj, "__module__", None)
        if callable(obj) and module is not None and module.startswith("vidact"):
            assert module.startswith("vidact.data.sampling."), (name, module)
    for name in ("ClipSampler", "FrameCountSampler", "RandomClip", "CenterClip", "MultiClip", "TimeClip"):
        assert getattr(datasets, name) is getattr(S, name)
