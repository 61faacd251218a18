# SOLOv2 for the shapes dataset (circle, square, triangle; 192x192): the solo plugin's own small config.
# A ResNet-18 layout at half width, a 64-channel FPN and a light SOLOv2 head, so the checkpoint stays a few MB
# and trains on 2 CPU cores (deploybridge_solo.train). Grids and scale ranges are set for 192-pixel images.
model = dict(
    type="SOLOv2",
    data_preprocessor=dict(type="DetDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_mask=True, pad_size_divisor=32),
    backbone=dict(type="ResNet", depth=18, base_channels=32, num_stages=4, out_indices=(0, 1, 2, 3), frozen_stages=-1,
                  norm_cfg=dict(type="BN", requires_grad=True), norm_eval=False, style="pytorch", init_cfg=None),
    neck=dict(type="FPN", in_channels=[32, 64, 128, 256], out_channels=64, start_level=0, num_outs=5),
    mask_head=dict(
        type="SOLOV2Head",
        num_classes=3,
        in_channels=64,
        feat_channels=96,
        stacked_convs=2,
        strides=[8, 8, 16, 32, 32],
        scale_ranges=((1, 32), (16, 64), (32, 128), (64, 256), (128, 1024)),
        pos_scale=0.2,
        num_grids=[24, 18, 12, 8, 6],
        cls_down_index=0,
        mask_feature_head=dict(feat_channels=64, start_level=0, end_level=3, out_channels=64, mask_stride=4,
                               norm_cfg=dict(type="GN", num_groups=16, requires_grad=True)),
        loss_mask=dict(type="DiceLoss", use_sigmoid=True, loss_weight=3.0),
        loss_cls=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
    ),
    test_cfg=dict(nms_pre=500, score_thr=0.1, mask_thr=0.5, filter_thr=0.05, kernel="gaussian", sigma=2.0,
                  max_per_img=100),
)
test_pipeline = [dict(type="LoadImageFromFile"), dict(type="Resize", scale=(192, 192), keep_ratio=True)]
