"""Analysis tools on real mmengine outputs: prediction dumps, score fusion, confusion
matrices, training curves and iteration times.

The prediction files are written by mmengine's ``DumpResults`` (the metric behind
``tools/test.py --dump``) from ``ActionDataSample``s filled the way the recognizer fills
them; the scalar logs by a real mmengine ``Runner``. mmaction2's metric functions are the
oracle for the accuracies.
"""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmaction.evaluation.functional import confusion_matrix as mma_confusion_matrix
from mmaction.evaluation.functional import mean_class_accuracy as mma_mean_class_accuracy
from mmaction.evaluation.functional import top_k_accuracy as mma_top_k_accuracy
from mmaction.structures import ActionDataSample
from mmengine.evaluator import DumpResults, Evaluator
from mmengine.structures import LabelData

from videoswin.apis.predictions import fuse_predictions, load_predictions

from helpers import load_tool



def dump_predictions(path: Path, scores: np.ndarray, labels: np.ndarray) -> Path:
    """Write ``scores``/``labels`` through DumpResults, as ``tools/test.py --dump`` does."""
    samples = []
    for index, (score, label) in enumerate(zip(scores, labels)):
        sample = ActionDataSample().set_gt_labels(int(label))
        sample.set_metainfo(dict(filename=f'video_{index}.mp4'))
        score = torch.as_tensor(score, dtype=torch.float32)
        sample.pred_scores = LabelData(item=score)
        sample.pred_labels = LabelData(item=score.argmax(dim=-1, keepdim=True))
        samples.append(sample)
    evaluator = Evaluator([DumpResults(out_file_path=str(path))])
    evaluator.process(data_samples=samples)
    evaluator.evaluate(len(samples))
    return path


def random_run(rng: np.random.Generator, num_videos: int, num_classes: int):
    labels = rng.integers(0, num_classes, num_videos)
    logits = rng.normal(size=(num_videos, num_classes))
    logits[np.arange(num_videos), labels] += 1.5  # better than chance, not perfect
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs.astype(np.float32), labels


def image_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG file'
    return np.asarray(Image.open(path).convert('RGB')).astype(np.float64)


def count_colour(pixels: np.ndarray, rgb, tolerance: float = 40) -> int:
    return int((np.abs(pixels - np.array(rgb)).sum(axis=-1) < tolerance).sum())


MATPLOTLIB_BLUE = (31, 119, 180)  # colour of the first line ("C0")


# ---------------------------------------------------------------------------- predictions
def test_load_predictions_reads_what_dump_results_writes(tmp_path, rng):
    scores, labels = random_run(rng, 12, 7)
    loaded = load_predictions(dump_predictions(tmp_path / 'p.pkl', scores, labels))
    np.testing.assert_allclose(loaded.scores, scores, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.filenames == [f'video_{i}.mp4' for i in range(12)]


def test_load_predictions_refuses_pickles_that_run_code(tmp_path):
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps([dict(pred_scores=print)]))
    with pytest.raises(ValueError, match=r'evil\.pkl.*refusing to load builtins\.print'):
        load_predictions(evil)


def test_load_predictions_names_the_file_of_a_foreign_pickle(tmp_path):
    other = tmp_path / 'other.pkl'
    other.write_bytes(pickle.dumps([dict(score=1.0)]))
    with pytest.raises(ValueError, match=r"other\.pkl: sample 0 has neither 'pred_scores'"):
        load_predictions(other)


# -------------------------------------------------------------------------- report_accuracy
def test_report_accuracy_fuses_scores_and_matches_mmaction_metrics(tmp_path, rng, capsys):
    scores_a, labels = random_run(rng, 40, 9)
    scores_b, _ = random_run(rng, 40, 9)
    scores_b[np.arange(40), labels] += 0.2
    file_a = dump_predictions(tmp_path / 'a.pkl', scores_a, labels)
    file_b = dump_predictions(tmp_path / 'b.pkl', scores_b, labels)

    tool = load_tool('analysis/report_accuracy.py')
    assert tool.main(['--preds', str(file_a), str(file_b), '--coefficients', '1', '0.5']) == 0
    fused_line = capsys.readouterr().out.strip().splitlines()[-1]

    fused = scores_a.astype(np.float64) + 0.5 * scores_b
    top1, top5 = mma_top_k_accuracy(list(fused), list(labels), (1, 5))
    mean_class = mma_mean_class_accuracy(list(fused), list(labels))
    assert fused_line.startswith('fused (40 videos, 9 classes)')
    assert f'top1: {top1:.4f}' in fused_line
    assert f'top5: {top5:.4f}' in fused_line
    assert f'mean_class_accuracy: {mean_class:.4f}' in fused_line


def test_fusion_with_softmax_and_mean_class_accuracy_equal_mmaction(tmp_path, rng):
    # A class that is predicted but never true: mmaction2 counts it with recall 0.
    logits = rng.normal(size=(30, 6))
    labels = rng.integers(0, 5, 30)
    runs = [load_predictions(dump_predictions(tmp_path / f'{i}.pkl', logits * (i + 1), labels))
            for i in range(2)]
    fused = fuse_predictions(runs, [0.3, 0.7], apply_softmax=True)
    soft = [np.exp(logits * k) / np.exp(logits * k).sum(1, keepdims=True) for k in (1, 2)]
    np.testing.assert_allclose(fused.scores, 0.3 * soft[0] + 0.7 * soft[1], atol=1e-6)

    from videoswin.evaluation import mean_class_accuracy, top_k_accuracy
    expected_mean = mma_mean_class_accuracy(list(fused.scores), list(labels))
    assert mean_class_accuracy(fused.scores, fused.labels) == pytest.approx(expected_mean,
                                                                            abs=1e-12)
    for k in (1, 3, 5):
        expected = mma_top_k_accuracy(list(fused.scores), list(labels), (k, ))[0]
        assert top_k_accuracy(fused.scores, fused.labels, k) == pytest.approx(expected, abs=1e-12)


def test_fusion_refuses_runs_on_different_videos(tmp_path, rng):
    scores, labels = random_run(rng, 10, 4)
    first = load_predictions(dump_predictions(tmp_path / 'a.pkl', scores, labels))
    second = load_predictions(dump_predictions(tmp_path / 'b.pkl', scores[:9], labels[:9]))
    with pytest.raises(ValueError, match='prediction 1 does not cover the same videos'):
        fuse_predictions([first, second], [1, 1])


# ------------------------------------------------------------------------- confusion_matrix
def test_confusion_matrix_png_shows_the_true_matrix(tmp_path, rng, capsys):
    scores, labels = random_run(rng, 50, 5)
    preds = dump_predictions(tmp_path / 'p.pkl', scores, labels)
    classes = tmp_path / 'classes.txt'
    classes.write_text('\n'.join(['left', 'right', 'up', 'down', 'still']) + '\n')
    out = tmp_path / 'plots' / 'cm.png'

    tool = load_tool('analysis/confusion_matrix.py')
    assert tool.main([str(preds), '--out', str(out), '--classes', str(classes)]) == 0

    pixels = image_pixels(out)
    assert pixels.std() > 20, 'the confusion-matrix image is blank'
    counts = mma_confusion_matrix(scores.argmax(1).astype(np.int64), labels.astype(np.int64))
    from videoswin.evaluation import confusion_matrix
    np.testing.assert_array_equal(confusion_matrix(scores.argmax(1), labels, 5), counts)
    accuracy = np.trace(counts) / counts.sum()
    assert f'top-1 {accuracy:.4f}' in capsys.readouterr().out


def test_confusion_matrix_rejects_a_class_file_of_the_wrong_length(tmp_path, rng, capsys):
    scores, labels = random_run(rng, 8, 4)
    preds = dump_predictions(tmp_path / 'p.pkl', scores, labels)
    classes = tmp_path / 'classes.txt'
    classes.write_text('a\nb\nc\n')
    tool = load_tool('analysis/confusion_matrix.py')
    out = tmp_path / 'cm.png'
    assert tool.main([str(preds), '--out', str(out), '--classes', str(classes)]) == 1
    assert ('classes.txt: 3 class names, but the predictions have 4 classes'
            in capsys.readouterr().err)
    assert not out.exists()


# ----------------------------------------------------------------------------- analyze_logs
@pytest.fixture(scope='module')
def mmengine_work_dir(tmp_path_factory) -> Path:
    """A real mmengine training run (tiny linear model, 3 epochs, validated each epoch)."""
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Linear(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, x, y, mode='tensor'):
            logits = self.fc(x)
            if mode == 'loss':
                return dict(loss=torch.nn.functional.cross_entropy(logits, y))
            return [dict(hit=int(p == t)) for p, t in zip(logits.argmax(1), y)]

    class Accuracy(BaseMetric):

        def process(self, data_batch, data_samples):
            self.results.extend(sample['hit'] for sample in data_samples)

        def compute_metrics(self, results):
            return {'acc/top1': sum(results) / len(results)}

    generator = torch.Generator().manual_seed(0)
    data = [dict(x=torch.randn(2, generator=generator) + (2 * (i % 2) - 1), y=torch.tensor(i % 2))
            for i in range(32)]
    loader = dict(dataset=data, batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    work_dir = tmp_path_factory.mktemp('mmengine_run')
    runner = Runner(model=Linear(), work_dir=str(work_dir), train_dataloader=loader,
                    val_dataloader=loader, val_evaluator=dict(type=Accuracy), val_cfg=dict(),
                    train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    default_hooks=dict(logger=dict(type='LoggerHook', interval=2),
                                       checkpoint=dict(type='CheckpointHook', interval=100)),
                    experiment_name='analyze_logs_test', default_scope=None)
    runner.train()
    return work_dir


def read_rows(work_dir: Path):
    [scalars] = work_dir.glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in scalars.read_text().splitlines()], scalars


def test_plot_curve_draws_loss_and_accuracy_panels(mmengine_work_dir, tmp_path, capsys):
    rows, scalars = read_rows(mmengine_work_dir)
    out = tmp_path / 'curve.png'
    tool = load_tool('analysis/analyze_logs.py')
    assert tool.main(['plot_curve', str(scalars), '--keys', 'loss', 'acc/top1',
                      '--out', str(out)]) == 0
    pixels = image_pixels(out)
    assert pixels.std() > 20, 'the curve image is blank'
    # Both panels hold a line in matplotlib's first colour, in the upper and lower half.
    half = len(pixels) // 2
    assert count_colour(pixels[:half], MATPLOTLIB_BLUE) > 100
    assert count_colour(pixels[half:], MATPLOTLIB_BLUE) > 100

    x, y, x_name = tool.curve(rows, 'acc/top1')
    assert x_name == 'epoch' and list(x) == [1, 2, 3]
    np.testing.assert_allclose(y, [r['acc/top1'] for r in rows if 'acc/top1' in r])
    x, y, x_name = tool.curve(rows, 'loss')
    assert x_name == 'iteration' and list(x) == [r['iter'] for r in rows if 'loss' in r]


def test_plot_curve_accepts_a_work_dir_and_names_a_missing_key(mmengine_work_dir, tmp_path,
                                                              capsys):
    tool = load_tool('analysis/analyze_logs.py')
    out = tmp_path / 'lr.png'
    assert tool.main(['plot_curve', str(mmengine_work_dir), '--keys', 'lr', '--out', str(out)]) == 0
    assert image_pixels(out).std() > 20
    assert tool.main(['plot_curve', str(mmengine_work_dir), '--keys', 'acc/top9',
                      '--out', str(tmp_path / 'x.png')]) == 1
    assert 'no "acc/top9" in the log; available keys' in capsys.readouterr().err


def test_cal_train_time_averages_the_logged_iteration_times(mmengine_work_dir, capsys):
    rows, scalars = read_rows(mmengine_work_dir)
    train = [r for r in rows if 'iter' in r]
    per_epoch = {e: [r['time'] for r in train if r['epoch'] == e][1:] for e in (1, 2, 3)}
    expected = np.mean(sum(per_epoch.values(), []))
    slowest = max(per_epoch, key=lambda e: np.mean(per_epoch[e]))

    tool = load_tool('analysis/analyze_logs.py')
    assert tool.main(['cal_train_time', str(scalars)]) == 0
    out = capsys.readouterr().out
    assert f'average iteration time: {expected:.4f} s/iter' in out
    assert f'slowest epoch {slowest}: {np.mean(per_epoch[slowest]):.4f} s/iter' in out
    assert f'last iteration: {train[-1]["iter"]}' in out


def test_scalar_log_errors_name_file_and_line(tmp_path, capsys):
    broken = tmp_path / 'scalars.json'
    broken.write_text('{"loss": 1.0, "iter": 1, "epoch": 1, "step": 1}\n{"loss": \n')
    tool = load_tool('analysis/analyze_logs.py')
    assert tool.main(['cal_train_time', str(broken)]) == 1
    assert f'{broken}, line 2: not JSON' in capsys.readouterr().err
