"""tools/convert/{mmaction2,hf}_to_videoswin.py and tools/publish_model.py on tiny real files."""
import hashlib
import os.path as osp
import re

import torch

from videoswin.checkpoint import load_model_checkpoint
from videoswin.models.backbones.swin3d_weights import load_pretrained, read_checkpoint

from helpers import load_tool
from helpers.hf_swin import randomised_hf_swin, video_backbone
from helpers.swin_recognizers import mmaction2_recognizer, our_recognizer
from helpers.tiny_runner import tiny_runner


def test_mmaction2_to_videoswin_renames_norm3_and_loads_strictly(tmp_path):
    reference = mmaction2_recognizer()
    src, dst = str(tmp_path / 'mma.pth'), str(tmp_path / 'converted.pth')
    torch.save({'meta': {'epoch': 3}, 'state_dict': reference.state_dict(),
                'optimizer': {'state': {}, 'param_groups': []}}, src)

    load_tool('convert/mmaction2_to_videoswin.py').main([src, dst])

    written = torch.load(dst, weights_only=True)
    assert set(written) == {'meta', 'state_dict'} and written['meta']['epoch'] == 3
    assert not any('norm3' in key for key in written['state_dict'])
    assert torch.equal(written['state_dict']['backbone.norm.weight'],
                       reference.backbone.norm3.weight)
    summary = load_model_checkpoint(our_recognizer(), dst)
    assert summary.missing == summary.ignored == [] and 'official' in summary.kind


def test_hf_to_videoswin_writes_a_microsoft_layout_file_that_inflates_identically(tmp_path):
    hf = randomised_hf_swin(seed=3)
    hf.save_pretrained(tmp_path / 'hf')
    dst = str(tmp_path / 'swin_2d.pth')

    load_tool('convert/hf_to_videoswin.py').main([str(tmp_path / 'hf'), dst])

    written = torch.load(dst, weights_only=True)
    assert written['meta']['window_size'] == 7 and written['meta']['depths'] == [2, 2, 2, 2]
    assert 'layers.0.blocks.0.attn.qkv.weight' in written['model']
    assert read_checkpoint(dst)[1].layout == 'microsoft'
    from_converted, from_hf = video_backbone(), video_backbone()
    load_pretrained(from_converted, dst, pretrained2d=True)
    load_pretrained(from_hf, str(tmp_path / 'hf'), pretrained2d=True)
    for key, value in from_hf.state_dict().items():
        assert torch.equal(from_converted.state_dict()[key], value), key


def test_publish_model_keeps_weights_and_names_the_file_by_its_sha256(tmp_path):
    work_dir = str(tmp_path / 'run')
    tiny_runner(work_dir, max_epochs=1).train()
    src = osp.join(work_dir, 'epoch_1.pth')

    load_tool('publish_model.py').main([src, str(tmp_path / 'tiny.pth')])

    published = [p for p in tmp_path.iterdir() if p.name.startswith('tiny')]
    assert len(published) == 1  # and no temporary file left behind
    digest = hashlib.sha256(published[0].read_bytes()).hexdigest()
    assert re.fullmatch(r'tiny-[0-9a-f]{8}\.pth', published[0].name)
    assert published[0].name == f'tiny-{digest[:8]}.pth'
    slim = torch.load(published[0], weights_only=True)  # no mmengine types left in it
    full = torch.load(src, weights_only=False)
    assert set(slim) == {'meta', 'state_dict'}
    assert {'optimizer', 'message_hub', 'param_schedulers'} <= set(full)
    for key, value in full['state_dict'].items():
        assert torch.equal(slim['state_dict'][key], value)
