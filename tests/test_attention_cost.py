"""The analytic attention costs (``vidact.models.vit.cost``, ``vidact attention-cost``) against the issue's numbers
and against ``count_flops`` of the built models under the math SDPA kernel (torch's counter counts nothing for
the fused CPU kernel, so attention would drop out silently)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from vidact.errors import ConfigError
from vidact.models.profile import count_flops
from vidact.models.vit.cost import PATTERNS, attention_cost, attention_costs, growth, plot_growth
from vidact.models.vivit import ViViT

TINY = {"frames": 8, "size": 32, "tubelet": 2, "patch": 8, "dim": 32, "layers": 2, "heads": 4}
VIVIT_PATTERNS = {
    1: "joint",
    2: "factorised_encoder",
    3: "factorised_self_attention",
    4: "factorised_dot_product",
}


def test_joint_attention_at_16x224_is_the_issue_s_2_46_million_pairs() -> None:
    costs = {
        c.pattern: c for c in attention_costs(frames=16, size=224, tubelet=2, patch=16, dim=768, layers=12)
    }
    assert list(costs) == list(PATTERNS)
    joint = costs["joint"]
    assert joint.tokens == 8 * 14 * 14 == 1568 and joint.grid == (8, 14, 14)
    assert joint.pairs_per_layer == 1569**2 and round(joint.pairs_per_layer / 1e6, 2) == 2.46  # with the CLS
    assert costs["space_only"].pairs_per_layer == 8 * 197**2
    assert costs["divided"].pairs_per_layer == 196 * 8**2 + 8 * 197**2
    assert costs["factorised_self_attention"].pairs_per_layer == 8 * 196**2 + 196 * 8**2
    assert costs["factorised_dot_product"].pairs_per_layer == (8 * 196**2 + 196 * 8**2) // 2
    assert joint.attention_map_bytes == 12 * 12 * 1569**2 * 4
    # Joint attention grows with the square of the tokens, the factorised patterns nearly linearly in frames.
    longer = attention_cost("joint", frames=32, size=224)
    assert longer.pairs_per_layer == 3137**2
    assert attention_cost("factorised_self_attention", frames=32).pairs_per_layer < 2.2 * 319872


def _vivit(variant: int, num_classes: int) -> ViViT:
    sizes = {"img_size": 32, "num_frames": 8, "tubelet": (2, 8, 8), "dim": 32, "depth": 2, "num_heads": 4}
    return ViViT(num_classes, variant=variant, temporal_depth=3, **sizes)


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_analytic_flops_equal_count_flops_of_the_vivit_models(variant: int) -> None:
    model = _vivit(variant, num_classes=5)
    x = torch.randn(1, 3, 8, 32, 32)
    with sdpa_kernel(SDPBackend.MATH):
        counted = count_flops(model, x)
    cost = attention_cost(VIVIT_PATTERNS[variant], **TINY, temporal_layers=3, num_classes=5)
    assert cost.flops == counted, (cost.to_dict(), counted)
    # Only the MLPs and the linear layers around attention: what the fused kernel leaves counted.
    assert cost.score_flops > 0 and cost.flops - cost.score_flops < counted


@pytest.mark.skipif(importlib.util.find_spec("vidact.models.timesformer") is None, reason="no TimeSformer")
@pytest.mark.parametrize(
    ("attention_type", "pattern"),
    [("divided_space_time", "divided"), ("joint_space_time", "joint"), ("space_only", "space_only")],
)
def test_analytic_flops_equal_count_flops_of_the_timesformer_models(
    attention_type: str, pattern: str
) -> None:
    from vidact.models.timesformer import TimeSformer

    model = TimeSformer(
        5,
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=2,
        num_heads=4,
        attention_type=attention_type,
    )
    with sdpa_kernel(SDPBackend.MATH):
        counted = count_flops(model, torch.randn(1, 3, 4, 32, 32))
    cost = attention_cost(pattern, **{**TINY, "frames": 4, "tubelet": 1}, num_classes=5)
    assert cost.flops == counted, (cost.to_dict(), counted)


def test_bad_sizes_and_patterns_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown attention pattern 'diagonal'"):
        attention_cost("diagonal")
    with pytest.raises(ConfigError, match="smaller than one"):
        attention_cost("joint", frames=1, tubelet=2)
    with pytest.raises(ConfigError, match="dim must be positive"):
        attention_cost("joint", dim=0)
    with pytest.raises(ConfigError, match="'frames' or 'size'"):
        growth("depth", [1, 2])


def test_growth_plot_and_the_command(tmp_path) -> None:
    curves = growth("frames", [8, 16, 32], size=224)
    assert [c.tokens for c in curves["joint"]] == [784, 1568, 3136]
    plot = tmp_path / "cost.png"
    plot_growth(plot, [8, 16, 32], [112, 224], size=224, frames=16)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from typer.testing import CliRunner

    from vidact.cli import app

    out = tmp_path / "cost.json"
    args = [
        "attention-cost",
        "--frames",
        "16",
        "--size",
        "224",
        "--tubelet",
        "2",
        "--patch",
        "16",
        "--dim",
        "768",
    ]
    result = CliRunner().invoke(
        app, [*args, "--layers", "12", "--json", str(out), "--plot", str(tmp_path / "p.png")]
    )
    assert result.exit_code == 0, result.output
    assert "joint" in result.output and "2.46 M" in result.output
    rows = json.loads(out.read_text())
    assert [r["pattern"] for r in rows["patterns"]] == list(PATTERNS)
    assert rows["patterns"][0]["pairs_per_layer"] == 1569**2 and (tmp_path / "p.png").exists()
