"""The user tools end to end, on a demo model trained here by ``tools/train.py``.

One session-wide training (shared by pytest-xdist workers through a file lock): the demo
config's Swin on 8 synthetic videos (C's generator: the class is the vertical direction of
motion), without augmentation and at a constant learning rate, until it has memorised
them. That is enough to check that a trained checkpoint flows through the demo,
``tools/test.py --dump``, the analysis tools and feature extraction with the right answers;
it is not a generalisation test.
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from filelock import FileLock

from helpers import REPO_ROOT, load_tool

# every test here uses the trained demo model, about a minute to build
pytestmark = pytest.mark.slow

DEMO_CONFIG = REPO_ROOT / 'configs' / 'demo' / 'swin-micro_synthetic.py'
EPOCHS = 8
TRAIN_BATCH = 2
VIEWS = 2 * 3  # the demo test pipeline: 2 clips x ThreeCrop
CLIP_LEN = 8

TRAIN_CONFIG = """
_base_ = [{base!r}]
root = {root!r}
videos = dict(type='VideoDataset', ann_file=root + '/train_list.txt',
              data_prefix=dict(video=root + '/train'))
train_dataloader = dict(batch_size={batch}, num_workers=0, persistent_workers=False,
                        dataset=dict(videos, pipeline={{{{_base_.val_pipeline}}}}))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=videos)
test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=videos)
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end={epochs})]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval={epochs}))
log_processor = dict(window_size=1)
"""


def feature_dim() -> int:
    """8C: the channels after the demo backbone's fourth stage."""
    from mmengine.config import Config

    return 8 * Config.fromfile(str(DEMO_CONFIG)).model.backbone.embed_dim


def run_tool(*args: str, cwd: Path) -> str:
    """Run ``tools/...`` as users do, from ``cwd``; return its stdout (fail with its output)."""
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    result = subprocess.run([sys.executable, str(REPO_ROOT / args[0]), *args[1:]], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (f'{args[0]} failed:\n{result.stdout[-3000:]}\n'
                                    f'{result.stderr[-3000:]}')
    return result.stdout


@pytest.fixture(scope='session')
def trained_demo(tmp_path_factory) -> SimpleNamespace:
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base) / 'trained_demo'
    with FileLock(str(shared) + '.lock'):
        data = shared / 'synthetic'
        config = shared / 'demo_memorise.py'
        work_dir = shared / 'work_dir'
        checkpoint = work_dir / f'epoch_{EPOCHS}.pth'
        if not checkpoint.exists():
            from videoswin.datasets.synthetic import make_synthetic_dataset

            make_synthetic_dataset(data, seed=3, num_train=4, num_val=1, ssv2_style=False)
            config.write_text(TRAIN_CONFIG.format(base=str(DEMO_CONFIG), root=str(data),
                                                  epochs=EPOCHS, batch=TRAIN_BATCH))
            run_tool('tools/train.py', str(config), '--work-dir', str(work_dir), cwd=REPO_ROOT)
    videos = [line.split() for line in (data / 'train_list.txt').read_text().splitlines()]
    return SimpleNamespace(
        config=config, checkpoint=checkpoint, work_dir=work_dir, root=shared,
        classes=data / 'classes.txt', list_file=data / 'train_list.txt', video_root=data / 'train',
        videos=[(data / 'train' / name, int(label)) for name, label in videos],
        class_names=(data / 'classes.txt').read_text().split())


def decode(path: Path) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(path))
    return reader.get_batch(list(range(len(reader)))).asnumpy().astype(np.float64)


# ------------------------------------------------------------------------------------ demo
def test_demo_names_the_trained_class_and_draws_it_on_the_video(trained_demo, tmp_path):
    video, label = trained_demo.videos[0]
    out = tmp_path / 'labelled.mp4'
    stdout = run_tool('tools/demo.py', str(trained_demo.config), str(trained_demo.checkpoint),
                      str(video), '--label-map', str(trained_demo.classes), '--topk', '2',
                      '--out-filename', str(out), cwd=tmp_path)
    ranked = re.findall(r'^(\d)\. (\S+): ([0-9.]+)$', stdout, flags=re.MULTILINE)
    assert [rank for rank, _, _ in ranked] == ['1', '2'], stdout
    assert ranked[0][1] == trained_demo.class_names[label], stdout
    scores = [float(score) for _, _, score in ranked]
    assert scores[0] > 0.5 and sum(scores) == pytest.approx(1.0, abs=2e-4)  # 2 classes, 'prob'

    # The written frames are the input with exactly these lines drawn (up to H.264 noise).
    demo = load_tool('demo.py')
    source, labelled = decode(video), decode(out)
    lines = [f'{name}: {score}' for _, name, score in ranked]
    expected = demo.draw_labels(source.astype(np.uint8), lines, demo.COLORS['white']).astype(float)
    assert labelled.shape == source.shape
    text = np.abs(expected - source).max(axis=-1) > 60
    assert text.sum() > 200, 'no text drawn'
    to_expected = np.abs(labelled - expected).max(axis=-1)[text].mean()
    to_source = np.abs(labelled - source).max(axis=-1)[text].mean()
    assert to_expected < 20 and to_source > 3 * to_expected, (to_expected, to_source)


# -------------------------------------------------------------- test.py --dump -> analysis
def test_test_dump_feeds_report_accuracy_and_confusion_matrix(trained_demo, tmp_path, capsys):
    from videoswin.apis import inference_recognizer, init_recognizer, load_predictions

    preds = tmp_path / 'preds.pkl'
    stdout = run_tool('tools/test.py', str(trained_demo.config), str(trained_demo.checkpoint),
                      '--dump', str(preds), '--work-dir', str(tmp_path / 'test'), cwd=tmp_path)
    top1 = float(re.search(r'top-1 accuracy: ([0-9.]+)', stdout).group(1))
    mean_class = float(re.search(r'mean class accuracy: ([0-9.]+)', stdout).group(1))

    loaded = load_predictions(preds)
    assert loaded.scores.shape == (len(trained_demo.videos), 2)
    assert list(loaded.labels) == [label for _, label in trained_demo.videos]
    # The API classifies a video exactly as the test run did (same pipeline, same fusion).
    model = init_recognizer(trained_demo.config, trained_demo.checkpoint)
    first = inference_recognizer(model, trained_demo.videos[0][0], topk=None)
    np.testing.assert_allclose(sorted(e.score for e in first), np.sort(loaded.scores[0]),
                               rtol=0, atol=1e-5)

    report = load_tool('analysis/report_accuracy.py')
    assert report.main(['--preds', str(preds)]) == 0
    line = capsys.readouterr().out
    assert f'top1: {top1:.4f}' in line and f'mean_class_accuracy: {mean_class:.4f}' in line

    out = tmp_path / 'cm.png'
    matrix_tool = load_tool('analysis/confusion_matrix.py')
    assert matrix_tool.main([str(preds), '--out', str(out), '--classes',
                             str(trained_demo.classes)]) == 0
    assert f'top-1 {top1:.4f}' in capsys.readouterr().out
    from PIL import Image
    pixels = np.asarray(Image.open(out).convert('RGB')).astype(np.float64)
    assert pixels.std() > 20


# --------------------------------------------------------------------- extract_features.py
def test_extract_features_resumes_after_an_interruption(trained_demo, tmp_path, monkeypatch):
    import videoswin.apis.features as features_module
    from videoswin.apis import extract_features, init_recognizer, load_features

    out = tmp_path / 'train.feats'
    args = [str(trained_demo.config), str(trained_demo.checkpoint),
            '--video-list', str(trained_demo.list_file),
            '--video-root', str(trained_demo.video_root), '--out', str(out)]
    tool = load_tool('extract_features.py')

    # First run: killed while writing the 4th video (half of its record reaches the disk).
    real_append = features_module.FeatureWriter.append

    def append_then_die(writer, name, feature):
        if len(writer.done) == 3:
            with open(writer.path, 'ab') as file:
                file.write(b'\x93NUMPY\x01\x00v\x00{"descr": "<U')
            raise KeyboardInterrupt
        real_append(writer, name, feature)

    monkeypatch.setattr(features_module.FeatureWriter, 'append', append_then_die)
    with pytest.raises(KeyboardInterrupt):
        tool.main(args + ['--num-workers', '0'])
    assert len(load_features(out).names) == 3
    monkeypatch.setattr(features_module.FeatureWriter, 'append', real_append)

    # Second run: only the missing videos are computed.
    computed = []
    real_batch = features_module.features_from_batch

    def counting(model, batch, temporal=False):
        computed.append(batch['data_samples'][0])
        return real_batch(model, batch, temporal)

    monkeypatch.setattr(features_module, 'features_from_batch', counting)
    assert tool.main(args + ['--num-workers', '1']) == 0
    assert len(computed) == len(trained_demo.videos) - 3

    header, names, features = load_features(out)
    assert names == [path.name for path, _ in trained_demo.videos]
    assert features.shape == (len(trained_demo.videos), feature_dim())
    assert header['temporal'] is False
    model = init_recognizer(trained_demo.config, trained_demo.checkpoint)
    for (path, _), row in zip(trained_demo.videos, features):
        np.testing.assert_allclose(row, extract_features(model, path), rtol=0, atol=1e-5)

    # --temporal keeps T' = clip length / 2 steps whose mean is the pooled feature.
    temporal_out = tmp_path / 'train_temporal.feats'
    args[args.index(str(out))] = str(temporal_out)
    assert tool.main(args + ['--temporal', '--num-workers', '0']) == 0
    temporal = load_features(temporal_out).features
    assert temporal.shape == (len(trained_demo.videos), feature_dim(), CLIP_LEN // 2)
    np.testing.assert_allclose(temporal.mean(axis=2), features, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------- benchmark.py
def test_benchmark_reports_loader_and_model_throughput(trained_demo, capsys):
    tool = load_tool('analysis/benchmark.py')
    assert tool.main([str(trained_demo.config), '--num-iters', '2', '--warmup', '1']) == 0
    out = capsys.readouterr().out
    loader = re.search(r'data loader \(test, 0 workers\): ([0-9.]+) clips/s, ([0-9.]+) videos/s '
                       r'\((\d+) videos, (\d+) clips', out)
    assert loader, out
    assert float(loader.group(1)) > 0
    assert int(loader.group(4)) == VIEWS * int(loader.group(3)) == VIEWS * 2 * 4  # 2 batches of 4
    model = re.search(r'model forward \(inputs \(4, 6, 3, 8, 56, 56\)\): ([0-9.]+) clips/s, '
                      r'([0-9.]+) ms per batch of 24 clips', out)
    assert model, out
    assert float(model.group(1)) == pytest.approx(24 / (float(model.group(2)) / 1000), rel=0.01)


# -------------------------------------------------------------------------- analyze_logs.py
def test_training_curves_of_the_demo_run(trained_demo, tmp_path, capsys):
    from PIL import Image

    tool = load_tool('analysis/analyze_logs.py')
    out = tmp_path / 'curve.png'
    assert tool.main(['plot_curve', str(trained_demo.work_dir), '--keys', 'loss', 'acc/top1',
                      '--out', str(out)]) == 0
    pixels = np.asarray(Image.open(out).convert('RGB')).astype(np.float64)
    assert pixels.std() > 20
    blue = (np.abs(pixels - np.array([31, 119, 180])).sum(axis=-1) < 40)
    half = len(pixels) // 2
    assert blue[:half].sum() > 100, 'no loss curve drawn'
    assert blue[half:].sum() > 20, 'no accuracy point drawn'

    assert tool.main(['cal_train_time', str(trained_demo.work_dir)]) == 0
    iterations = EPOCHS * len(trained_demo.videos) // TRAIN_BATCH
    assert f'epochs: {EPOCHS}, last iteration: {iterations}' in capsys.readouterr().out
