"""C3D (Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks", ICCV 2015).

Eight 3x3x3 convolutions (stride 1, padding 1, with bias, each followed by ReLU), five max pools, and three
fully connected layers. On the published 16-frame 112x112 clip, per sample:

    layer            output [C, T, H, W]
    input            3 x 16 x 112 x 112
    conv1a, pool1    64 x 16 x 56 x 56       pool1 is 1x2x2: it keeps T
    conv2a, pool2    128 x 8 x 28 x 28       pool2..pool5 are 2x2x2
    conv3a, conv3b   256, 256; pool3  256 x 4 x 14 x 14
    conv4a, conv4b   512, 512; pool4  512 x 2 x 7 x 7
    conv5a, conv5b   512, 512; pool5  512 x 1 x 4 x 4   the features: num_features = 512
    fc6, fc7         4096, 4096 (ReLU, dropout 0.5)      the head's hidden layers: head_hidden_size = 4096
    fc8              num_classes                         the classifier

pool5 rounds its output size up (Caffe's pooling, which the original network was defined in, always does),
so its last spatial window is the single column 6 of the 7x7 map. An adaptive average pool to 1x4x4 before
fc6 is the identity at the published input size and lets any other clip size reach the 8192-wide fc6 (as
torchvision's VGG does for its classifier).

Parameters: 78,409,573 with 101 classes (the 78.4M usually quoted for UCF-101), of which the 8 convolutions
hold 27,655,936 and fc6 alone 33,558,528; 79,991,015 with the 487 classes of Sports-1M. 38.55 GMACs per
16x112x112 clip.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from .contract import FeatureLayout, temporal_pool
from .layers import ConvBnAct, LinearClassifier, conv3d, init_weights, linear_classifier
from .registry import ModelCard, register_model

__all__ = ["C3D", "c3d"]


def _conv(in_channels: int, out_channels: int, batch_norm: bool) -> nn.Module:
    if batch_norm:  # bias-free conv, BN, ReLU
        return ConvBnAct(conv3d(in_channels, out_channels, 3), out_channels)
    return conv3d(in_channels, out_channels, 3, bias=True)


class C3D(LinearClassifier, nn.Module):
    """C3D: [B, 3, T, H, W] clips (published input: T = 16, H = W = 112) -> [B, num_classes] logits.

    Layer names are the original Caffe network's (``conv1a`` .. ``conv5b``, ``fc6`` .. ``fc8``). The features
    are pool5's ``num_features`` = 512 channels; fc6 and fc7 are the head's hidden layers, whose
    ``head_hidden_size`` = 4096 outputs are the pre-logits (the "fc6/fc7 features" of the C3D paper); fc8 is
    the classifier.

    Args:
        num_classes: number of logits (487 for Sports-1M, the published training set).
        dropout: dropout probability after fc6 and after fc7.
        batch_norm: a BatchNorm after every convolution (``conv1a.conv``, ``conv1a.bn``, ...), as mmaction2's
            C3D offers (``norm_cfg``); the original network has none.
    """

    classifier_attr = "fc8"
    feature_layout: ClassVar[FeatureLayout] = FeatureLayout.BCTHW

    def __init__(self, num_classes: int = 487, dropout: float = 0.5, batch_norm: bool = False) -> None:
        super().__init__()
        self.conv1a = _conv(3, 64, batch_norm)
        self.pool1 = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))
        self.conv2a = _conv(64, 128, batch_norm)
        self.pool2 = nn.MaxPool3d(2, stride=2)
        self.conv3a = _conv(128, 256, batch_norm)
        self.conv3b = _conv(256, 256, batch_norm)
        self.pool3 = nn.MaxPool3d(2, stride=2)
        self.conv4a = _conv(256, 512, batch_norm)
        self.conv4b = _conv(512, 512, batch_norm)
        self.pool4 = nn.MaxPool3d(2, stride=2)
        self.conv5a = _conv(512, 512, batch_norm)
        self.conv5b = _conv(512, 512, batch_norm)
        self.pool5 = nn.MaxPool3d(2, stride=2, ceil_mode=True)
        self.resize = nn.AdaptiveAvgPool3d((1, 4, 4))
        self.fc6 = nn.Linear(512 * 4 * 4, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.num_features = 512
        self.head_hidden_size = 4096
        self.num_classes = num_classes
        self.fc8 = linear_classifier(self.head_hidden_size, num_classes)
        self.relu = nn.ReLU(inplace=True)
        # After each convolution: its ReLU, which a ConvBnAct unit (batch_norm=True) already applies.
        self.conv_relu = nn.Identity() if batch_norm else nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        # He initialisation for every layer that feeds a ReLU (there is no BatchNorm to rescue a poor scale);
        # fc8 from N(0, 0.01^2).
        init_weights(self)
        for fc in (self.fc6, self.fc7):
            nn.init.kaiming_normal_(fc.weight, nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] clips -> pool5's [B, 512, ceil(T / 16), ceil(H / 32), ceil(W / 32)] maps.

        1 x 4 x 4 at the published 16 x 112 x 112 input.
        """
        x = self.pool1(self.conv_relu(self.conv1a(x)))
        x = self.pool2(self.conv_relu(self.conv2a(x)))
        x = self.pool3(self.conv_relu(self.conv3b(self.conv_relu(self.conv3a(x)))))
        x = self.pool4(self.conv_relu(self.conv4b(self.conv_relu(self.conv4a(x)))))
        return self.pool5(self.conv_relu(self.conv5b(self.conv_relu(self.conv5a(x)))))

    def forward_temporal(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] clips -> pool5's maps averaged over H', W': [B, ceil(T / 16), 512]."""
        return temporal_pool(self.forward_features(x), self.feature_layout)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """pool5 maps [B, 512, T', H', W'] -> [B, num_classes] logits (``pre_logits``, or no classifier: fc7's
        [B, 4096]).

        The maps are brought to 1 x 4 x 4 (the identity at the published input), flattened to 8192, and go
        through fc6 and fc7 (ReLU, dropout) and fc8.
        """
        x = self.dropout(self.relu(self.fc6(self.resize(x).flatten(1))))
        x = self.dropout(self.relu(self.fc7(x)))
        return x if pre_logits else self.fc8(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, H, W] clips -> [B, num_classes] logits (no classifier: fc7's [B, 4096])."""
        return self.forward_head(self.forward_features(x))


@register_model(
    card=ModelCard(
        name="c3d",
        family="c3d",
        input_size=(3, 16, 112, 112),
        frames=16,
        frame_stride=1,
        params=79_991_015,
        gmacs=38.549,
        default_num_classes=487,
        classifier="fc8",
        paper='Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks", ICCV 2015',
        notes=(
            "Clips of 16 consecutive frames resized to 128x171 and cropped to 112x112. The authors' "
            "Sports-1M weights are published only as a Caffe model (github.com/facebook/C3D); vidact has no "
            "converter for them, so no weights are listed. 78,409,573 parameters with 101 classes."
        ),
    )
)
def c3d(*, num_classes: int = 487, **kwargs: Any) -> C3D:
    """C3D for [B, 3, 16, 112, 112] clips. ``kwargs`` go to :class:`C3D` (``dropout``, ``batch_norm``)."""
    return C3D(num_classes=num_classes, **kwargs)
