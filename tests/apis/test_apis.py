"""Python API: init_recognizer, inference_recognizer, extract_features and the feature file.

A tiny Swin recognizer with random weights and a real H.264 video (a square moving
right) are enough: the references are mmaction2's own ``inference_recognizer`` (same
config, same pipeline), the recognizer's ``feature_extraction`` mode, and the backbone
run by hand on the pipeline's views.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from videoswin.apis import (extract_features, inference_recognizer, init_recognizer,
                            load_features)
from videoswin.apis.features import FeatureWriter, pool_backbone_features
from videoswin.apis.inference import prepare_batch
from videoswin.utils.video_io import write_video

EMBED_DIM = 12
CLIP_LEN = 8
NUM_CLIPS, NUM_CROPS = 2, 3
NUM_CLASSES = 5
CLASSES = ['left', 'right', 'up', 'down', 'still']

TINY_CONFIG = f"""
default_scope = 'videoswin'
model = dict(
    type='VideoRecognizer',
    backbone=dict(type='SwinTransformer3D', embed_dim={EMBED_DIM}, depths=(1, 1, 1, 1),
                  num_heads=(1, 1, 1, 1), patch_size=(2, 4, 4), window_size=(2, 4, 4),
                  drop_path_rate=0.0, pretrained=None, pretrained2d=False),
    cls_head=dict(type='VideoClsHead', in_channels={EMBED_DIM * 8}, num_classes={NUM_CLASSES},
                  dropout_ratio=0.5, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'),
    test_cfg=dict(max_testing_views=None))
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len={CLIP_LEN}, frame_interval=1, num_clips={NUM_CLIPS},
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 64)),
    dict(type='ThreeCrop', crop_size=64),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_dataloader = dict(batch_size=1, num_workers=0,
                       dataset=dict(type='VideoDataset', ann_file='', pipeline=test_pipeline))
"""


def moving_square(num_frames: int = 24, height: int = 64, width: int = 80, dx: int = 2,
                  dy: int = 0) -> np.ndarray:
    frames = np.full((num_frames, height, width, 3), 30, np.uint8)
    for t in range(num_frames):
        x, y = 10 + dx * t, 20 + dy * t
        frames[t, y:y + 16, x:x + 16] = (230, 200, 40)
    return frames


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('apis')
    config = root / 'tiny_swin.py'
    config.write_text(TINY_CONFIG)
    video = write_video(root / 'right.mp4', moving_square(), fps=12, codec='h264')
    torch.manual_seed(0)
    model = init_recognizer(config)
    checkpoint = root / 'tiny.pth'
    torch.save({'meta': {'dataset_meta': {'classes': CLASSES}},
                'state_dict': model.state_dict()}, checkpoint)
    return dict(root=root, config=config, video=video, checkpoint=checkpoint)


@pytest.fixture(scope='module')
def model(workspace):
    return init_recognizer(workspace['config'], workspace['checkpoint'])


def test_init_recognizer_loads_checkpoint_weights_and_class_names(workspace, model):
    saved = torch.load(workspace['checkpoint'], weights_only=True)['state_dict']
    state = model.state_dict()
    assert set(saved) == set(state)
    for key, value in saved.items():
        assert torch.equal(state[key], value), key
    assert not model.training
    assert model.dataset_meta['classes'] == CLASSES
    assert model.cfg.model.backbone.embed_dim == EMBED_DIM


def test_init_recognizer_reads_mmaction2_layout_checkpoints(workspace, model, tmp_path):
    # mmaction2 1.x names the backbone's last norm ``norm3``; the loader maps it back.
    state = {key.replace('backbone.norm.', 'backbone.norm3.'): value
             for key, value in model.state_dict().items()}
    assert any(key.startswith('backbone.norm3.') for key in state)
    torch.save({'meta': {}, 'state_dict': state}, tmp_path / 'mmaction2.pth')
    converted = init_recognizer(workspace['config'], tmp_path / 'mmaction2.pth')
    expected = inference_recognizer(model, workspace['video'], topk=None)
    got = inference_recognizer(converted, workspace['video'], topk=None)
    assert [(e.index, e.score) for e in got] == [(e.index, e.score) for e in expected]
    assert [e.name for e in got] == [str(e.index) for e in got]  # no class names in this file


def test_init_recognizer_leaves_the_given_config_unchanged(workspace):
    cfg = Config.fromfile(workspace['config'])
    cfg.model.backbone.pretrained = 'never_read.pth'
    init_recognizer(cfg, workspace['checkpoint'])
    assert cfg.model.backbone.pretrained == 'never_read.pth'


def test_inference_matches_mmaction2_inference_recognizer(workspace, model):
    from mmaction.apis import inference_recognizer as mmaction_inference

    reference = mmaction_inference(model, str(workspace['video'])).pred_scores.item.numpy()
    ranked = inference_recognizer(model, workspace['video'], topk=None)
    assert [entry.index for entry in ranked] == list(np.argsort(-reference, kind='stable'))
    np.testing.assert_allclose([entry.score for entry in ranked], np.sort(reference)[::-1],
                               rtol=0, atol=1e-6)
    assert sum(entry.score for entry in ranked) == pytest.approx(1.0, abs=1e-5)  # 'prob' fusion


def test_inference_on_frames_in_memory_equals_inference_on_the_file(workspace, model):
    import decord

    reader = decord.VideoReader(str(workspace['video']))
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    from_file = inference_recognizer(model, workspace['video'], topk=None)
    from_frames = inference_recognizer(model, frames, topk=None)
    assert [e.index for e in from_frames] == [e.index for e in from_file]
    np.testing.assert_allclose([e.score for e in from_frames], [e.score for e in from_file],
                               rtol=0, atol=1e-6)


def test_topk_uses_the_label_map_or_the_checkpoint_class_names(workspace, model, tmp_path):
    label_map = tmp_path / 'labels.txt'
    label_map.write_text('\n'.join(name.upper() for name in CLASSES) + '\n')
    everything = inference_recognizer(model, workspace['video'], topk=None)
    top2 = inference_recognizer(model, workspace['video'], topk=2, label_names=label_map)
    assert [e.index for e in top2] == [e.index for e in everything[:2]]
    assert [e.name for e in top2] == [CLASSES[e.index].upper() for e in top2]
    assert [e.name for e in everything] == [CLASSES[e.index] for e in everything]
    assert all(a.score >= b.score for a, b in zip(everything, everything[1:]))

    label_map.write_text('a\nb\n')
    with pytest.raises(ValueError, match='labels.txt: 2 class names for a model with 5 classes'):
        inference_recognizer(model, workspace['video'], label_names=label_map)


def test_inference_rejects_a_missing_video_and_bad_frames(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.mp4: no such video file'):
        inference_recognizer(model, tmp_path / 'nothing.mp4')
    with pytest.raises(ValueError, match=r'\(T, H, W, 3\) uint8'):
        inference_recognizer(model, np.zeros((8, 64, 64), np.uint8))


def test_features_have_the_documented_shapes_and_equal_the_pooled_backbone(workspace, model):
    pooled = extract_features(model, workspace['video'])
    temporal = extract_features(model, workspace['video'], temporal=True)
    assert pooled.shape == (8 * EMBED_DIM, ) and pooled.dtype == np.float32
    assert temporal.shape == (8 * EMBED_DIM, CLIP_LEN // 2)
    np.testing.assert_allclose(temporal.mean(axis=1), pooled, rtol=0, atol=1e-6)

    # By hand: the pipeline's 6 views through the backbone, mean over T, H, W, then views.
    with torch.no_grad():
        inputs = model.data_preprocessor(prepare_batch(model, workspace['video']), False)['inputs']
        assert inputs.shape[:2] == (1, NUM_CLIPS * NUM_CROPS)
        maps = model.backbone(inputs[0])
    np.testing.assert_allclose(pooled, maps.mean(dim=(2, 3, 4)).mean(dim=0).numpy(),
                               rtol=0, atol=1e-6)

    # The recognizer's own feature mode (test_cfg.feature_extraction=True) agrees.
    cfg = Config.fromfile(workspace['config'])
    cfg.model.test_cfg = dict(feature_extraction=True, max_testing_views=4)
    feature_model = init_recognizer(cfg, workspace['checkpoint'])
    with torch.no_grad():
        [sample] = feature_model.test_step(prepare_batch(feature_model, workspace['video']))
    np.testing.assert_allclose(pooled, sample.pred_features.numpy(), rtol=0, atol=1e-5)
    # Chunked views (max_testing_views=4 of 6) give the same features through our API.
    np.testing.assert_allclose(extract_features(feature_model, workspace['video']), pooled,
                               rtol=0, atol=1e-5)


def test_pool_backbone_features_averages_space_time_then_views():
    maps = torch.arange(2 * 3 * 4 * 2 * 2, dtype=torch.float32).reshape(2, 3, 4, 2, 2)
    expected_temporal = (maps[0].mean(dim=(2, 3)) + maps[1].mean(dim=(2, 3))) / 2
    torch.testing.assert_close(pool_backbone_features(maps, temporal=True), expected_temporal)
    torch.testing.assert_close(pool_backbone_features(maps), expected_temporal.mean(dim=1))


# ------------------------------------------------------------------------ the feature file
def write_all(path: Path, records: dict, header: dict) -> FeatureWriter:
    writer = FeatureWriter(path, header)
    for name, feature in records.items():
        writer.append(name, feature)
    return writer


def test_feature_file_round_trips_names_features_and_settings(tmp_path, rng):
    records = {f'class_{i}/video_{i}.mp4': rng.normal(size=(16, 4)).astype(np.float32)
               for i in range(5)}
    write_all(tmp_path / 'f.feats', records, dict(temporal=True))
    contents = load_features(tmp_path / 'f.feats')
    assert contents.names == list(records)
    np.testing.assert_array_equal(contents.features, np.stack(list(records.values())))
    assert contents.header['temporal'] is True

    # The format is plain .npy records: numpy alone reads it.
    with open(tmp_path / 'f.feats', 'rb') as file:
        header = json.loads(str(np.load(file)))
        first_name, first_feature = str(np.load(file)), np.load(file)
    assert header['format'] == 'videoswin-features'
    assert first_name == 'class_0/video_0.mp4'
    np.testing.assert_array_equal(first_feature, records[first_name])


@pytest.mark.parametrize('cut', [1, 40, 130, 200])
def test_feature_writer_resumes_after_a_record_cut_off_mid_write(tmp_path, rng, cut):
    records = {f'v{i}.mp4': rng.normal(size=8).astype(np.float32) for i in range(4)}
    complete = tmp_path / 'complete.feats'
    write_all(complete, records, dict(temporal=False))

    interrupted = tmp_path / 'interrupted.feats'
    write_all(interrupted, dict(list(records.items())[:3]), dict(temporal=False))
    size = interrupted.stat().st_size
    with open(interrupted, 'r+b') as file:  # the process died while writing video 3
        file.truncate(size - cut)
    survivors = load_features(interrupted).names
    assert survivors == list(records)[:2]

    writer = FeatureWriter(interrupted, dict(temporal=False))
    assert writer.done == set(survivors)
    for name in records:
        if name not in writer.done:
            writer.append(name, records[name])
    assert interrupted.read_bytes() == complete.read_bytes()


def test_feature_writer_refuses_to_mix_settings(tmp_path, rng):
    write_all(tmp_path / 'f.feats', {'a.mp4': np.ones(4, np.float32)}, dict(temporal=False))
    with pytest.raises(ValueError, match=r"f\.feats was written with other settings.*temporal"):
        FeatureWriter(tmp_path / 'f.feats', dict(temporal=True))
    (tmp_path / 'other.feats').write_bytes(b'not features')
    with pytest.raises(ValueError, match='other.feats: not a videoswin feature file'):
        load_features(tmp_path / 'other.feats')


@pytest.mark.parametrize('config', [['configs/demo/swin-micro_synthetic.py'], {'model': None}, 3])
def test_init_recognizer_refuses_what_is_not_a_config(config):
    with pytest.raises(TypeError, match=r'config must be a config file path or a Config, got'):
        init_recognizer(config)
