"""Temporal action detection: from a sequence of features of an untrimmed video to (start, end, label, score).

The layer between :mod:`vidact.engine` and :mod:`vidact.models` (as :mod:`vidact.flow`): what a detector needs
around its network, in pure PyTorch and numpy.

======================  ==========================================================================================
``annotations``          ground truth and predictions in the field's formats (ActivityNet, THUMOS14, BSN, EPIC)
``evaluation``           average precision at temporal IoU thresholds, as the official ActivityNet kit; AR@AN
``features``             feature folders (vidact's own and others') and their time grid (step <-> seconds)
``dataset``              per-video feature sequences with their segments, cropping and padding with masks
``targets``              points of the feature pyramid and their classification / regression targets
``losses``               sigmoid focal loss and the DIoU regression loss of ActionFormer
``postprocess``          decoding, score thresholding, NMS and Soft-NMS
======================  ==========================================================================================
"""
