"""``vidact attention-cost``: what each attention pattern of a video transformer costs on a clip size (tokens,
pairs per layer, FLOPs, attention-map memory), and a plot of its growth with frames and frame size. The counts
are :mod:`vidact.models.vit.cost`'s; this module only parses and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._output import console, fmt_int, print_whole


def attention_cost(
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 16,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels.")] = 224,
    tubelet: Annotated[int, typer.Option(help="Frames per tubelet (t).")] = 2,
    patch: Annotated[int, typer.Option(help="Tubelet height and width in pixels (p).")] = 16,
    dim: Annotated[int, typer.Option(help="Token width D.")] = 768,
    layers: Annotated[
        int, typer.Option(help="Transformer layers (ViViT model 2: its spatial encoder's).")
    ] = 12,
    heads: Annotated[int, typer.Option(help="Attention heads.")] = 12,
    temporal_layers: Annotated[int, typer.Option(help="ViViT model 2's temporal encoder layers.")] = 4,
    mlp_ratio: Annotated[float, typer.Option(help="MLP width over D.")] = 4.0,
    bytes_per_element: Annotated[
        int, typer.Option(help="Bytes per attention-map value (4: fp32, 2: bf16).")
    ] = 4,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write a PNG of each pattern's growth with frames and with frame size."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the table as JSON.")] = None,
) -> None:
    """The cost of each attention pattern: tokens, pairs, FLOPs.

    Tokens, attention pairs per layer, FLOPs per clip and attention-map memory of joint (ViViT model 1),
    divided (TimeSformer), factorised encoder, self-attention and dot-product (ViViT models 2-4) and
    space-only, counted analytically (2 FLOPs per multiply-add, as torch's counter counts them).
    """
    from .._atomic import write_json
    from ..models.vit.cost import PATTERNS, attention_costs, plot_growth

    sizes = {
        "frames": frames,
        "size": size,
        "tubelet": tubelet,
        "patch": patch,
        "dim": dim,
        "layers": layers,
        "heads": heads,
        "temporal_layers": temporal_layers,
        "mlp_ratio": mlp_ratio,
        "bytes_per_element": bytes_per_element,
    }
    costs = attention_costs(**sizes)
    grid = "x".join(map(str, costs[0].grid))
    table = Table(
        title=f"attention cost per clip: {frames}x{size}x{size}, tubelet {tubelet}x{patch}x{patch} "
        f"({grid} = {costs[0].tokens:,} tokens), D {dim}, {layers} layers, {heads} heads",
        title_justify="left",
    )
    for column in ("pattern", "layers", "pairs / layer", "attention GFLOPs", "of it QK+AV", "MLP GFLOPs",
                   "total GFLOPs", "attention maps"):  # fmt: skip
        table.add_column(column, justify="left" if column == "pattern" else "right")
    for c in costs:
        table.add_row(
            c.pattern,
            str(c.layers),
            f"{c.pairs_per_layer / 1e6:.2f} M" if c.pairs_per_layer >= 1e6 else fmt_int(c.pairs_per_layer),
            f"{c.attention_flops / 1e9:.1f}",
            f"{c.score_flops / 1e9:.1f}",
            f"{c.mlp_flops / 1e9:.1f}",
            f"{c.flops / 1e9:.1f}",
            f"{c.attention_map_bytes / 2**20:,.0f} MiB",
        )
    print_whole(table)
    for name, what in PATTERNS.items():
        console.print(f"  {name}: {what}", highlight=False, soft_wrap=True)
    if json_out is not None:
        write_json({"sizes": sizes, "patterns": [c.to_dict() for c in costs]}, json_out)
        console.print(f"wrote {json_out}")
    if plot is not None:
        frame_counts = sorted(
            {max(tubelet, frames // 4), max(tubelet, frames // 2), frames, 2 * frames, 4 * frames}
        )
        frame_sizes = sorted({max(patch, size // 2), size, 2 * size} | {max(patch, 3 * size // 4)})
        plot_growth(plot, frame_counts, frame_sizes, **sizes)
        console.print(f"wrote {plot}")
