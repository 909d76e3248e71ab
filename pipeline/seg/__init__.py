"""The segmentation half: U-Net training, self-training, pseudo-labels, evaluation, prediction."""
