"""Accuracy on a dataset: COCO AP, the AP delta between PyTorch and an artifact, F1 thresholds, datasets the project
makes itself."""
