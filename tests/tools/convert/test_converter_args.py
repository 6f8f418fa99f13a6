"""The four tools/convert scripts take the same arguments (SRC DST [--trusted]) and end a
refused SRC with one ``error:`` line.

Each source is a real checkpoint of the converter's kind saved the way DeiT-style training
scripts save theirs, with the run's ``argparse.Namespace`` beside the weights: a type outside
the safe loader's allow-list, so only ``--trusted`` reads it.
"""
import argparse

import pytest
import torch

from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

from helpers import load_tool
from helpers.hf_swin import randomised_hf_swin
from helpers.swin_recognizers import mmaction2_recognizer

register_all_modules()

VIT = dict(embed_dims=32, num_layers=1, num_heads=2)


def peer_weights(backbone: dict) -> dict:
    """A tiny recognizer of ``backbone`` in our ``backbone.``/``cls_head.`` layout."""
    model = MODELS.build(dict(type='VideoRecognizer', backbone=backbone,
                              cls_head=dict(type='VideoClsHead', in_channels=32, num_classes=3)))
    return model.state_dict()


def mmaction2_weights() -> dict:
    return mmaction2_recognizer().state_dict()


def hf_swin_weights() -> dict:
    return randomised_hf_swin(seed=1).state_dict()


def timesformer_weights() -> dict:
    return peer_weights(dict(type='TimeSformer', num_frames=4, img_size=32, patch_size=8,
                             attention_type='divided_space_time', **VIT))


def vivit_weights() -> dict:
    return peer_weights(dict(type='ViViT', variant='spatio_temporal', arch=VIT, num_frames=4,
                             img_size=32, tubelet_size=(2, 8, 8)))


# converter -> (source weights, the written file's entry, its patch-embedding key, the source's)
CONVERTERS = {
    'mmaction2_to_videoswin': (mmaction2_weights, 'state_dict', 'backbone.patch_embed.proj.weight',
                               'backbone.patch_embed.proj.weight'),
    'hf_to_videoswin': (hf_swin_weights, 'model', 'patch_embed.proj.weight',
                        'embeddings.patch_embeddings.projection.weight'),
    'timesformer_to_videoswin': (timesformer_weights, 'state_dict',
                                 'backbone.patch_embed.proj.weight',
                                 'backbone.patch_embed.proj.weight'),
    'vivit_to_videoswin': (vivit_weights, 'state_dict', 'backbone.patch_embed.proj.weight',
                           'backbone.patch_embed.proj.weight'),
}


def test_every_converter_takes_src_dst_and_trusted():
    for name in CONVERTERS:
        args = load_tool(f'convert/{name}').parse_args(['in.pth', 'out.pth', '--trusted'])
        assert (args.src, args.dst, args.trusted) == ('in.pth', 'out.pth', True), name
        args = load_tool(f'convert/{name}').parse_args(['in.pth', 'out.pth'])
        assert args.trusted is False, name


@pytest.mark.parametrize('name', sorted(CONVERTERS))
def test_trusted_reads_a_file_the_safe_loader_refuses(name, tmp_path):
    weights, entry, written_key, source_key = CONVERTERS[name]
    state_dict = weights()
    src, dst = tmp_path / 'with_args.pth', tmp_path / 'out.pth'
    torch.save({'state_dict': state_dict, 'args': argparse.Namespace(lr=0.1)}, src)
    tool = load_tool(f'convert/{name}')

    with pytest.raises(SystemExit) as refused:
        tool.main([str(src), str(dst)])
    message = str(refused.value)
    assert message.startswith('error: ') and str(src) in message and 'trusted=True' in message
    assert '\n' not in message and not dst.exists()

    tool.main([str(src), str(dst), '--trusted'])
    written = torch.load(dst, weights_only=True)[entry]
    assert torch.equal(written[written_key], state_dict[source_key])
