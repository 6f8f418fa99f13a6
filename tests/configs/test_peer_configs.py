"""Every TimeSformer / ViViT / DualFormer recipe builds a recognizer that accepts the clips
its own test pipeline produces and scores the dataset's classes.

The position tables of ViViT, the pooling kernels of DualFormer and the time embedding of
TimeSformer are sized by the backbone config, and the clips by the data config; a recipe
whose two halves disagree fails here. Models are built and run on the meta device (shapes
only), so the 300M-parameter ViViT-L costs nothing.
"""
import glob

import pytest
import torch
from mmengine import Config

from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

register_all_modules()

PEER_RECIPES = sorted(glob.glob('configs/recognition/timesformer/*.py')
                      + glob.glob('configs/recognition/vivit/*.py')
                      + glob.glob('configs/recognition/dualformer/*.py'))
CLASSES = {'kinetics400': 400, 'sthv2': 174}
SAMPLERS = ('SampleFrames', 'UniformSample', 'UniformSegmentSample')


def clip_shape(pipeline):
    """(frames, crop) of the clips a test pipeline produces."""
    frames = next(t['clip_len'] for t in pipeline
                  if t['type'] in SAMPLERS)
    crop = next(t['crop_size'] for t in pipeline if t['type'] in ('ThreeCrop', 'CenterCrop'))
    return frames, crop


def test_every_peer_and_dataset_has_recipes():
    names = ' '.join(PEER_RECIPES)
    for peer in ('timesformer', 'vivit', 'dualformer'):
        for dataset in CLASSES:
            assert f'{peer}-' in names and any(
                peer in p and p.endswith(f'_{dataset}-rgb.py') for p in PEER_RECIPES), (peer,
                                                                                       dataset)


@pytest.mark.parametrize('path', PEER_RECIPES, ids=lambda p: p.split('/')[-1][:-3])
def test_recipe_model_fits_its_clips_and_classes(path):
    cfg = Config.fromfile(path)
    classes = next(n for key, n in CLASSES.items() if path.endswith(f'_{key}-rgb.py'))
    frames, crop = clip_shape(cfg.test_dataloader.dataset.pipeline)
    assert clip_shape(cfg.val_dataloader.dataset.pipeline) == (frames, crop)
    train_frames = next(t['clip_len'] for t in cfg.train_dataloader.dataset.pipeline
                        if t['type'] in SAMPLERS)
    assert train_frames == frames
    # the mixup blending of the preprocessor is irrelevant to shapes (and not meta-safe)
    model_cfg = dict(cfg.model, data_preprocessor=None)
    with torch.device('meta'):
        model = MODELS.build(model_cfg)
        logits = model.cls_head(model.backbone(torch.empty(2, 3, frames, crop, crop)))
    assert logits.shape == (2, classes)
    assert cfg.model.cls_head.num_classes == classes
    batch = cfg.train_dataloader.batch_size * 8 * cfg.optim_wrapper.get('accumulative_counts', 1)
    assert batch == cfg.auto_scale_lr.base_batch_size
