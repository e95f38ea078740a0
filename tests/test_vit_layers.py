"""The video-transformer building blocks (``vidact.models.vit.layers``) against computations written out here:
tubelet tokens and their (t, h, w) order, the sinusoid table, positional-embedding resampling, and every
attention pattern (joint, space, time, factorised dot-product, ViViT model 3's block, TimeSformer's divided
block) against an explicit softmax over the tokens each token may see, on tiny grids."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vidact.errors import ConfigError
from vidact.models.vit.layers import (
    Attention,
    Block,
    DividedBlock,
    DropPath,
    FactorisedDotProductAttention,
    FactorisedSelfAttentionBlock,
    SpaceAttention,
    TimeAttention,
    TubeletEmbed,
    from_frames,
    from_tubes,
    make_activation,
    resample_pos_embed,
    separable_pos_embed,
    sinusoid_table,
    to_frames,
    to_tubes,
)

GRID = (3, 2, 4)  # T', H', W': every axis a different length, so a swapped axis shows
DIM, HEADS = 16, 4


def _index(t: int, h: int, w: int, grid=GRID) -> int:
    return (t * grid[1] + h) * grid[2] + w


# --- tubelets ------------------------------------------------------------------------------------------


def test_tubelet_tokens_count_and_come_in_t_h_w_order() -> None:
    embed = TubeletEmbed(1, 1, (2, 3, 2), bias=False)
    nn.init.constant_(embed.proj.weight, 1.0 / 12)  # each token: the mean of its tubelet
    frames, height, width = 7, 6, 8  # frame 7 is past the last whole tubelet: dropped
    t, h, w = torch.meshgrid(torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij")
    x = (100 * (t // 2) + 10 * (h // 3) + (w // 2)).float()[None, None]  # each cell holds its (t, h, w)
    assert embed.grid(frames, height, width) == (3, 2, 4)
    with torch.no_grad():
        tokens = embed(x)
    assert tokens.shape == (1, 3 * 2 * 4, 1)
    expected = [100 * i + 10 * j + k for i in range(3) for j in range(2) for k in range(4)]
    torch.testing.assert_close(tokens[0, :, 0], torch.tensor(expected, dtype=torch.float32))


def test_tubelet_smaller_clips_and_bad_tubelets_are_refused() -> None:
    embed = TubeletEmbed(3, 8, (2, 8, 8))
    with pytest.raises(ConfigError, match="smaller than one tubelet"):
        embed(torch.zeros(1, 3, 1, 16, 16))
    with pytest.raises(ConfigError, match="three positive integers"):
        TubeletEmbed(3, 8, (2, 8))


# --- positional embeddings -----------------------------------------------------------------------------


def test_sinusoid_table_is_videomae_s() -> None:
    n, d = 10, 6
    table = sinusoid_table(n, d)
    assert table.shape == (1, n, d) and table.dtype == torch.float32
    for pos in range(n):
        for j in range(d):
            angle = pos / 10000 ** (2 * (j // 2) / d)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert table[0, pos, j].item() == pytest.approx(expected, abs=1e-6)
    hf = pytest.importorskip("transformers.models.videomae.modeling_videomae")
    torch.testing.assert_close(sinusoid_table(49, 24), hf.get_sinusoid_encoding_table(49, 24))


def _field(grid: tuple[int, int, int], prefix: int = 0) -> torch.Tensor:
    """[1, prefix + T H W, 3]: channel c of cell (t, h, w) is a linear function of the cell's centre in [0, 1]^3,
    a different one per channel (so the axes cannot be confused)."""
    centres = [(torch.arange(n) + 0.5) / n for n in grid]
    u_t, u_h, u_w = torch.meshgrid(*centres, indexing="ij")
    cells = torch.stack([u_t + 2 * u_h + 3 * u_w, 5 * u_t - u_h, u_w - 4 * u_t], dim=-1).reshape(1, -1, 3)
    return torch.cat([torch.full((1, prefix, 3), 7.0), cells], dim=1)


def test_resampling_is_the_identity_on_the_same_grid() -> None:
    pos = torch.randn(1, 1 + math.prod(GRID), DIM)
    assert resample_pos_embed(pos, GRID, GRID, num_prefix_tokens=1) is pos
    with pytest.raises(ValueError, match="prefix"):
        resample_pos_embed(pos, GRID, (3, 2, 2), num_prefix_tokens=0)


def test_resampling_a_learned_embedding_to_another_grid_reproduces_a_smooth_field() -> None:
    source = (4, 6, 8)
    pos = nn.Parameter(_field(source, prefix=1))
    # Halving every axis: each new cell centre lies midway between two old ones on each axis: exact.
    down = resample_pos_embed(pos, source, (2, 3, 4), num_prefix_tokens=1)
    assert down.shape == (1, 1 + 2 * 3 * 4, 3)
    torch.testing.assert_close(down, _field((2, 3, 4), prefix=1))
    # Doubling: exact inside (outer half-cells are clamped to the border value, as image ViTs resample).
    new = (8, 12, 16)
    up = resample_pos_embed(pos, source, new, num_prefix_tokens=1)
    assert up.shape == (1, 1 + math.prod(new), 3)
    assert torch.equal(up[:, :1], pos[:, :1])
    inner = [
        _index(t, h, w, new)
        for t in range(1, new[0] - 1)
        for h in range(1, new[1] - 1)
        for w in range(1, new[2] - 1)
    ]
    torch.testing.assert_close(up[0, 1:][inner], _field(new)[0][inner], atol=1e-5, rtol=0)
    assert (up[0, 1:] - _field(new)[0]).abs().max() < 0.5  # the border cells: a quarter cell off at most
    # Time only: a 2x6x8 grid from a 4x6x8 one keeps every frame's spatial field.
    torch.testing.assert_close(resample_pos_embed(pos, source, (2, 6, 8), 1), _field((2, 6, 8), prefix=1))
    # Gradients reach the learned embedding.
    up.sum().backward()
    assert pos.grad is not None and pos.grad.abs().sum() > 0


def test_separable_embedding_adds_time_and_space_per_cell() -> None:
    t, h, w = GRID
    space, time = torch.randn(1, h * w, DIM), torch.randn(1, t, DIM)
    joint = separable_pos_embed(space, time)
    assert joint.shape == (1, t * h * w, DIM)
    for i in range(t):
        for j in range(h):
            for k in range(w):
                torch.testing.assert_close(joint[0, _index(i, j, k)], time[0, i] + space[0, j * w + k])


def test_frame_and_tube_views_group_the_right_tokens_and_invert() -> None:
    t, h, w = GRID
    x = torch.arange(2 * t * h * w, dtype=torch.float32).reshape(2, t * h * w, 1)
    frames, tubes = to_frames(x, GRID), to_tubes(x, GRID)
    assert frames.shape == (2 * t, h * w, 1) and tubes.shape == (2 * h * w, t, 1)
    base = t * h * w
    assert frames[1 * t + 2, 5, 0] == base + _index(2, 1, 1)  # clip 1, frame 2, cell (1, 1)
    assert tubes[1 * h * w + 5, 2, 0] == base + _index(2, 1, 1)
    assert torch.equal(from_frames(frames, GRID), x) and torch.equal(from_tubes(tubes, GRID), x)
    # at batch 1 too, the time sequences are contiguous: a strided view makes bf16 autocast's next Linear copy its
    # weight and run one matmul per spatial cell (TimeSformer-B's fast path at batch 1 went 3.7x slower)
    assert to_tubes(x[:1], GRID).is_contiguous()


# --- attention patterns against an explicit softmax ---------------------------------------------------------


def _frames_groups(prefix: int) -> list[list[int]]:
    t, h, w = GRID
    return [
        list(range(prefix)) + [prefix + _index(f, i, j) for i in range(h) for j in range(w)] for f in range(t)
    ]


def _tube_groups(prefix: int) -> list[list[int]]:
    t, h, w = GRID
    return [[prefix + _index(f, i, j) for f in range(t)] for i in range(h) for j in range(w)]


def _reference(attn: Attention, x: torch.Tensor, groups_per_head: list[list[list[int]]]) -> torch.Tensor:
    """Attention written out in float64: head ``e`` of token ``i`` in group ``g`` is the softmax-weighted sum
    of the values of the tokens of ``g``; a token in several groups (a prefix token copied per frame) gets the
    mean of its outputs, a token in none gets zero. Then the heads are concatenated and projected."""
    x = x.double()
    b, n, d = x.shape
    hd = d // attn.num_heads
    qkv = x @ attn.qkv.weight.double().T + attn.qkv.bias.double()
    q, k, v = qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]
    heads = torch.zeros(b, n, d, dtype=torch.float64)
    for e, groups in enumerate(groups_per_head):
        cols = slice(e * hd, (e + 1) * hd)
        total = torch.zeros(b, n, hd, dtype=torch.float64)
        count = torch.zeros(n, dtype=torch.float64)
        for group in groups:
            for i in group:
                scores = torch.stack(
                    [(q[:, i, cols] * k[:, j, cols]).sum(-1) for j in group], dim=1
                ) / math.sqrt(hd)
                weights = scores.softmax(dim=1)
                total[:, i] += sum(weights[:, m : m + 1] * v[:, j, cols] for m, j in enumerate(group))
                count[i] += 1
        heads[:, :, cols] = total / count.clamp(min=1)[None, :, None]
    out = heads @ attn.proj.weight.double().T + attn.proj.bias.double()
    untouched = [i for i in range(n) if not any(i in g for groups in groups_per_head for g in groups)]
    out[:, untouched] = 0.0
    return out.float()


def _tokens(prefix: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, prefix + math.prod(GRID), DIM, generator=torch.Generator().manual_seed(seed))


def _randomised(module: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return module.eval()


@pytest.mark.parametrize("prefix", [0, 1])
def test_joint_attention_is_full_softmax_attention(prefix: int) -> None:
    attn = _randomised(Attention(DIM, HEADS))
    x = _tokens(prefix)
    everything = [list(range(x.shape[1]))]
    with torch.no_grad():
        torch.testing.assert_close(attn(x, GRID, prefix), _reference(attn, x, [everything] * HEADS))


@pytest.mark.parametrize("prefix", [0, 1])
def test_space_attention_attends_within_each_frame(prefix: int) -> None:
    attn = _randomised(SpaceAttention(DIM, HEADS))
    x = _tokens(prefix)
    with torch.no_grad():
        torch.testing.assert_close(
            attn(x, GRID, prefix), _reference(attn, x, [_frames_groups(prefix)] * HEADS)
        )


@pytest.mark.parametrize("prefix", [0, 1])
def test_time_attention_attends_within_each_spatial_cell(prefix: int) -> None:
    attn = _randomised(TimeAttention(DIM, HEADS))
    x = _tokens(prefix)
    with torch.no_grad():
        out = attn(x, GRID, prefix)
    torch.testing.assert_close(out, _reference(attn, x, [_tube_groups(prefix)] * HEADS))
    assert torch.all(out[:, :prefix] == 0)


def test_factorised_dot_product_splits_the_heads_space_first_then_time() -> None:
    attn = _randomised(FactorisedDotProductAttention(DIM, HEADS))
    x = _tokens(0)
    half = HEADS // 2
    with torch.no_grad():
        out = attn(x, GRID)
    torch.testing.assert_close(
        out, _reference(attn, x, [_frames_groups(0)] * half + [_tube_groups(0)] * half)
    )
    swapped = _reference(attn, x, [_tube_groups(0)] * half + [_frames_groups(0)] * half)
    assert (out - swapped).abs().max() > 1e-2  # the split is not symmetric: the order is tested
    with pytest.raises(ConfigError, match="splits the heads"):
        FactorisedDotProductAttention(18, 3)
    with pytest.raises(ValueError, match="no prefix"):
        attn(_tokens(1), GRID, 1)


def test_blocks_compose_their_attention_pre_norm_and_mlp() -> None:
    block = _randomised(Block(DIM, HEADS, pattern="time", norm_eps=1e-5, act="gelu_new"))
    x = _tokens(1)
    with torch.no_grad():
        y = x + _reference(block.attn, block.norm1(x), [_tube_groups(1)] * HEADS)
        expected = y + block.mlp.fc2(nn.functional.gelu(block.mlp.fc1(block.norm2(y)), approximate="tanh"))
        torch.testing.assert_close(block(x, GRID, 1), expected)
    with pytest.raises(ConfigError, match="attention pattern"):
        Block(DIM, HEADS, pattern="diagonal")


def test_factorised_self_attention_block_is_space_then_time() -> None:
    block = _randomised(FactorisedSelfAttentionBlock(DIM, HEADS))
    x = _tokens(0)
    with torch.no_grad():
        y = x + _reference(block.attn, block.norm1(x), [_frames_groups(0)] * HEADS)
        y = y + _reference(block.attn_time, block.norm_time(y), [_tube_groups(0)] * HEADS)
        expected = y + block.mlp(block.norm2(y))
        torch.testing.assert_close(block(x, GRID), expected)


def test_divided_block_is_timesformer_s() -> None:
    block = _randomised(DividedBlock(DIM, HEADS))
    x = _tokens(1)
    with torch.no_grad():
        cells = x[:, 1:]
        time = _reference(block.attn_time, block.norm_time(cells), [_tube_groups(0)] * HEADS)
        y = torch.cat([x[:, :1], cells + block.time_fc(time)], dim=1)
        y = y + _reference(block.attn, block.norm1(y), [_frames_groups(1)] * HEADS)
        expected = y + block.mlp(block.norm2(y))
        torch.testing.assert_close(block(x, GRID, 1), expected)
    fresh = DividedBlock(DIM, HEADS)  # time_fc starts at zero: a new block is a space-only block
    assert torch.all(fresh.time_fc.weight == 0) and torch.all(fresh.time_fc.bias == 0)


def test_activation_names_and_drop_path() -> None:
    x = torch.linspace(-3, 3, 11)
    for name in ("gelu_new", "gelu_fast", "gelu_pytorch_tanh"):
        tanh = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        torch.testing.assert_close(make_activation(name)(x), tanh)
    with pytest.raises(ConfigError, match="unknown activation 'gleu'"):
        make_activation("gleu")
    drop = DropPath(0.5).train()
    out = drop(torch.ones(64, 3))
    assert set(out[:, 0].tolist()) <= {0.0, 2.0} and torch.all(out == out[:, :1])  # per sample, rescaled
    assert torch.equal(drop.eval()(torch.ones(4, 3)), torch.ones(4, 3))
