"""tools/quickstart.sh, shortened: data -> train.py -> test.py over 2 clips x 3 crops -> top-1.

The full-length quickstart (the learning itself, top-1 >= 0.9 in minutes) is run by hand;
see docs/getting_started.md for the figures.
"""
import os
import pickle
import re
import subprocess

import pytest

from helpers import REPO_ROOT


@pytest.mark.slow
def test_quickstart_makes_data_trains_tests_and_prints_top1(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               SYNTHETIC_ARGS='--num-train 3 --num-val 2 --no-ssv2')
    result = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools/quickstart.sh'), '--cfg-options', 'train_cfg.max_epochs=1',
         'train_cfg.val_interval=1', 'train_dataloader.batch_size=3'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    data, work = tmp_path / 'data/synthetic', tmp_path / 'work_dirs/quickstart'
    assert len((data / 'train_list.txt').read_text().splitlines()) == 6
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    summary = re.search(r'^== quickstart: top-1 accuracy ([\d.]+) on 4 held-out videos '
                        r'\(2 clips x 3 crops each\)', result.stdout, flags=re.M)
    assert summary, result.stdout[-2000:]
    with open(work / 'predictions.pkl', 'rb') as file:
        predictions = pickle.load(file)
    correct = [int(p['pred_scores']['item'].argmax()) == int(p['gt_labels']['item'])
               for p in predictions]
    assert len(predictions) == 4
    assert abs(float(summary.group(1)) - sum(correct) / len(correct)) < 1e-6
