"""The attention's execution paths compute the textbook maths: same outputs, same gradients.

Oracles: a naive per-window implementation written here from the paper's
definition (explicit token coordinates, relative offsets and shift regions), and
``videoswin.testing.with_textbook_attention`` (the official pad / roll / partition /
logits -> softmax -> @v sequence under autograd). Paths are chosen through the public
switch :func:`videoswin.models.layers.cpu_kernels.cpu_kernels`: ``'off'`` is the
default path of every device (SDPA + autograd), ``'on'`` the CPU kernels.
"""
import itertools
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from videoswin.models.backbones.swin3d import SwinTransformer3D, SwinTransformerBlock3D
from videoswin.models.layers import cpu_kernels
from videoswin.models.layers.window_attention import ShiftWindowAttention3D
from videoswin.testing import randomise_, with_textbook_attention

NARROW = dict(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))


def paths(model: torch.nn.Module, x: torch.Tensor) -> set:
    """Execution paths the model's attention modules choose for an input like ``x``."""
    return {m.execution_path(x) for m in model.modules() if isinstance(m, ShiftWindowAttention3D)}


def explicit_block(block: SwinTransformerBlock3D, x: torch.Tensor) -> torch.Tensor:
    """One Video Swin block, naively: loop over windows, explicit coordinates.

    Window clipping, zero padding after norm1, the cyclic shift, the -100 region
    mask and the relative-position bias of each token pair from its true (d, h, w)
    offset inside the (possibly clipped) window, looked up in the table of the
    nominal window.
    """
    attn = block.attn
    batch, *grid, channels = x.shape
    nominal = attn.window_size
    window = [min(w, size) for w, size in zip(nominal, grid)]
    shift = [0 if size <= w else s for size, w, s in zip(grid, nominal, attn.shift_size)]
    padded = [math.ceil(size / w) * w for size, w in zip(grid, window)]
    y = F.layer_norm(x, (channels, ), block.norm1.weight, block.norm1.bias)
    y = F.pad(y, (0, 0, 0, padded[2] - grid[2], 0, padded[1] - grid[1], 0, padded[0] - grid[0]))
    y = torch.roll(y, shifts=[-s for s in shift], dims=(1, 2, 3))

    def region(pos, size, w, s):
        return 0 if s == 0 or pos < size - w else (1 if pos < size - s else 2)

    heads = attn.num_heads
    head_dim = channels // heads
    spans = [2 * w - 1 for w in nominal]
    out = torch.zeros_like(y)
    for b in range(batch):
        for corner in itertools.product(*[range(0, p, w) for p, w in zip(padded, window)]):
            coords = torch.tensor(list(itertools.product(
                *[range(c, c + w) for c, w in zip(corner, window)])))  # n, 3 (d slowest)
            tokens = y[b, coords[:, 0], coords[:, 1], coords[:, 2]]
            q, k, v = attn.qkv(tokens).view(-1, 3, heads, head_dim).unbind(1)
            offset = coords[:, None, :] - coords[None, :, :]
            row = ((offset[..., 0] + nominal[0] - 1) * spans[1] * spans[2] +
                   (offset[..., 1] + nominal[1] - 1) * spans[2] + (offset[..., 2] + nominal[2] - 1))
            bias = attn.relative_position_bias_table[row]  # n, n, heads
            ids = torch.tensor([[region(int(c[a]), padded[a], window[a], shift[a])
                                 for a in range(3)] for c in coords])
            differ = (ids[:, None, :] != ids[None, :, :]).any(-1)
            mask = torch.where(differ, -100.0, 0.0) if any(shift) else torch.zeros(differ.shape)
            logits = torch.einsum('ihc,jhc->hij', q * attn.scale, k) + bias.permute(2, 0, 1) + mask
            mixed = torch.einsum('hij,jhc->ihc', logits.softmax(-1), v).reshape(-1, channels)
            out[b, coords[:, 0], coords[:, 1], coords[:, 2]] = attn.proj(mixed)
    out = torch.roll(out, shifts=shift, dims=(1, 2, 3))[:, :grid[0], :grid[1], :grid[2]]
    x = x + out
    return x + block.mlp(block.norm2(x))


@pytest.mark.parametrize('mode', ['off', 'on'])
@pytest.mark.parametrize('grid,shifted', [
    ((3, 4, 5), True),     # every axis clipped in space and time, shift switched off
    ((9, 4, 10), True),    # padded + shifted in D and W, H clipped in space
    ((2, 14, 14), True),   # temporal clip only, shifted in H and W
    ((5, 6, 9), False),    # W-MSA block, clipped in D and H, padded in W
])
def test_block_matches_explicit_per_window_maths_including_spatially_clipped_windows(
        grid, shifted, mode):
    shift = (4, 3, 3) if shifted else (0, 0, 0)
    block = randomise_(SwinTransformerBlock3D(32, 2, (8, 7, 7), shift))
    x = torch.randn(2, *grid, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = explicit_block(block, x)
    with cpu_kernels.cpu_kernels(mode):
        with torch.no_grad():
            block.eval()
            inference = block(x)
        block.train()
        trainable = block(x.requires_grad_())
        assert paths(block, x) == ({'cpu_backward'} if mode == 'on' else {'sdpa'})
    assert (inference - expected).abs().max() < 1e-5
    assert (trainable.detach() - expected).abs().max() < 1e-5


def narrow_model(**kwargs) -> SwinTransformer3D:
    return randomise_(SwinTransformer3D(**{'drop_path_rate': 0., **NARROW, **kwargs}))


# 18 frames x 100 x 90: temporal padding and shift, spatial padding, several
# shift-mask groups, windows clipped in space at stages 2-3, batch 2.
ODD_CLIP = (2, 3, 18, 100, 90)


@pytest.mark.parametrize('chunk_bytes', [64 << 10, cpu_kernels.CHUNK_BYTES])
def test_chunked_inference_equals_the_whole_tensor_and_textbook_paths(monkeypatch, chunk_bytes):
    """CPU inference with the kernels on runs chunk by chunk; any chunk size gives the
    whole-tensor (default path) result."""
    monkeypatch.setattr(cpu_kernels, 'CHUNK_BYTES', chunk_bytes)  # 64 KB: 1 window a chunk
    model = narrow_model().eval()
    clip = torch.randn(*ODD_CLIP, generator=torch.Generator().manual_seed(2))
    probe = torch.zeros(1, 4, 4, 4, 32)
    with torch.no_grad():
        with cpu_kernels.cpu_kernels('on'):
            assert paths(model, probe) == {'cpu_chunked'}
            chunked = model(clip)
        with cpu_kernels.cpu_kernels('off'):
            assert paths(model, probe) == {'sdpa'}
            whole = model(clip)
        textbook = with_textbook_attention(model)(clip)
    assert (chunked - whole).abs().max() < 1e-5
    assert (chunked - textbook).abs().max() < 1e-5
    # frozen weights and an input without grad: nothing needs a gradient, chunked too
    for param in model.parameters():
        param.requires_grad_(False)
    with cpu_kernels.cpu_kernels('on'):
        assert paths(model, probe) == {'cpu_chunked'}
        assert torch.equal(model(clip), chunked)


def test_official_slice_lookup_differs_only_when_a_window_is_clipped_in_space():
    """The documented deviation: at 112 px the last stage's window is clipped to 4x4."""
    from videoswin.models.layers.window_ops import (clipped_relative_position_index,
                                                    relative_position_index)
    full = relative_position_index((8, 7, 7))
    temporal_only = clipped_relative_position_index((8, 7, 7), (4, 7, 7))
    assert torch.equal(temporal_only, full[:4 * 49, :4 * 49])
    spatial = clipped_relative_position_index((8, 7, 7), (4, 4, 4))
    assert not torch.equal(spatial, full[:64, :64])


def gradients(model: SwinTransformer3D, clip: torch.Tensor, upstream: torch.Tensor):
    model.zero_grad(set_to_none=True)
    clip = clip.clone().requires_grad_()
    out = model(clip)
    out.backward(upstream)
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    grads['input'] = clip.grad
    return out.detach(), grads


@pytest.mark.slow
@pytest.mark.parametrize('mode,path', [('off', 'sdpa'), ('on', 'cpu_backward')])
def test_training_paths_match_autograd_of_the_textbook_formula(mode, path):
    """The default path (SDPA + autograd, every device's) and the hand-written CPU
    backward both give the textbook outputs and gradients: <= 1e-5 abs, 2e-5 relative."""
    model = narrow_model().train()
    gen = torch.Generator().manual_seed(2)
    clip = torch.randn(ODD_CLIP, generator=gen)
    upstream = torch.randn(2, 256, 9, 4, 3, generator=gen)
    with cpu_kernels.cpu_kernels(mode):
        assert paths(model, clip.clone().requires_grad_()) == {path}
        out_fast, fast = gradients(model, clip, upstream)
    out_plain, plain = gradients(with_textbook_attention(model), clip, upstream)
    assert (out_fast - out_plain).abs().max() < 1e-5
    assert fast.keys() == plain.keys()
    for name in plain:
        scale = plain[name].abs().max().clamp_min(1e-12)
        assert (fast[name] - plain[name]).abs().max() / scale < 2e-5, name
    assert any('relative_position_bias_table' in name and plain[name].abs().max() > 0
               for name in plain)


def test_eval_cache_follows_optimizer_steps_and_state_dict_loads():
    model = narrow_model()
    clip = torch.randn(1, 3, 8, 64, 64, generator=torch.Generator().manual_seed(3))

    def eval_outputs():
        model.eval()
        with torch.no_grad():
            cached = model(clip)
            plain = with_textbook_attention(model)(clip)
        return cached, plain

    before, _ = eval_outputs()
    for optimizer in (torch.optim.SGD(model.parameters(), lr=1.0),
                      torch.optim.AdamW(model.parameters(), lr=0.1, foreach=True)):
        model.train()
        model(clip).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        cached, plain = eval_outputs()
        assert (cached - before).abs().max() > 1e-3  # the step changed the model...
        assert (cached - plain).abs().max() < 1e-5  # ...and the cache followed
        before = cached
    model.load_state_dict(narrow_model().state_dict())
    cached, plain = eval_outputs()
    assert (cached - plain).abs().max() < 1e-5
    # masks are keyed by window and shift only: another batch size and map size reuse them
    clip = torch.randn(2, 3, 12, 100, 72, generator=torch.Generator().manual_seed(7))
    cached, plain = eval_outputs()
    assert (cached - plain).abs().max() < 1e-5
    attention = [m for m in model.modules() if isinstance(m, ShiftWindowAttention3D)]
    assert all(m._eval_masks is not None for m in attention)
    model.train()  # training does not keep eval-only masks alive
    assert all(m._eval_masks is None for m in attention)


@pytest.mark.parametrize('mode', ['off', 'on'])
@pytest.mark.parametrize('drop_path_rate', [0.0, 0.3])
def test_use_checkpoint_gives_identical_outputs_and_gradients(drop_path_rate, mode):
    plain = narrow_model(drop_path_rate=drop_path_rate).train()
    checkpointed = SwinTransformer3D(**NARROW, drop_path_rate=drop_path_rate,
                                     use_checkpoint=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    gen = torch.Generator().manual_seed(4)
    clip = torch.randn(2, 3, 10, 64, 64, generator=gen)
    upstream = torch.randn(2, 256, 5, 2, 2, generator=gen)
    with cpu_kernels.cpu_kernels(mode):
        torch.manual_seed(0)
        out_a, grads_a = gradients(plain, clip, upstream)
        torch.manual_seed(0)
        out_b, grads_b = gradients(checkpointed, clip, upstream)
    assert torch.allclose(out_a, out_b, rtol=0, atol=1e-6)
    for name in grads_a:
        assert torch.allclose(grads_a[name], grads_b[name], rtol=1e-5, atol=1e-7), name


def test_bf16_autocast_stays_close_to_fp32():
    """bf16 keeps ~3 significant digits; over 8 blocks: documented bound 3 % of the range.
    Autocast always takes the default path, whatever the CPU switch says."""
    model = narrow_model().eval()
    clip = torch.randn(1, 3, 16, 96, 96, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        reference = with_textbook_attention(model)(clip)
        with torch.autocast('cpu', dtype=torch.bfloat16), cpu_kernels.cpu_kernels('on'):
            assert paths(model, clip) == {'sdpa'}
            low = model(clip)
    scale = reference.abs().max()
    assert low.dtype == torch.bfloat16
    assert (low.float() - reference).abs().max() < 0.03 * scale
    assert (low.float() - reference).abs().mean() < 0.005 * scale
    model.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = model(clip).float().square().mean()
    loss.backward()
    table = model.layers[0].blocks[1].attn.relative_position_bias_table
    assert table.grad is not None and torch.isfinite(table.grad).all()
    assert table.grad.abs().max() > 0


def test_attention_dropout_takes_the_default_path_and_is_exact_without_dropout():
    model = narrow_model(attn_drop_rate=0.5).train()
    clip = torch.randn(1, 3, 8, 64, 64, generator=torch.Generator().manual_seed(8))
    with cpu_kernels.cpu_kernels('on'):
        assert paths(model, clip) == {'sdpa'}  # the hand backward has no dropout
        dropped = model(clip)
        with torch.no_grad():
            assert torch.allclose(model.eval()(clip),
                                  with_textbook_attention(model)(clip), atol=1e-5)
    assert (dropped.detach() - model(clip)).abs().max() > 1e-3  # dropout did act


@pytest.mark.slow
def test_auto_mode_enables_the_kernels_measured_for_the_isa_in_use():
    probe = ('import torch; from videoswin.models.layers import cpu_kernels as c; '
             'print(torch.backends.cpu.get_cpu_capability(), sorted(c.enabled_kernels()))')
    for isa in ('avx2', 'default'):
        env = {**os.environ, 'ATEN_CPU_CAPABILITY': isa, 'VIDEOSWIN_CPU_KERNELS': 'auto'}
        done = subprocess.run([sys.executable, '-c', probe], env=env, capture_output=True,
                              text=True, check=True)
        name, kernels = done.stdout.split(' ', 1)
        assert kernels.strip() == str(sorted(cpu_kernels.FASTER_ON.get(name, ())))
        if isa == 'avx2':
            assert name == 'AVX2'
    with cpu_kernels.cpu_kernels('off'):
        assert cpu_kernels.enabled_kernels() == frozenset()
    with cpu_kernels.cpu_kernels('linear,backward'):
        assert cpu_kernels.enabled_kernels() == {'linear', 'backward'}
    with pytest.raises(ValueError, match='expected one of'):
        cpu_kernels.set_cpu_kernels('fast')


@pytest.mark.parametrize('bias', [True, False])
def test_onednn_linear_matches_torch_linear_values_and_gradients(bias):
    from videoswin.models.layers.onednn_linear import Linear, linear_gelu
    gen = torch.Generator().manual_seed(6)
    layer = Linear(48, 80, bias=bias)
    x = torch.randn(2, 7, 5, 48, generator=gen, requires_grad=True)
    upstream = torch.randn(2, 7, 5, 80, generator=gen)
    with cpu_kernels.cpu_kernels('on'):
        ours = layer(x)
        ours.backward(upstream)
        got = [x.grad.clone(), layer.weight.grad.clone()] + (
            [layer.bias.grad.clone()] if bias else [])
        x.grad = None
        layer.zero_grad()
        with torch.no_grad():
            fused = linear_gelu(x, layer.weight, layer.bias)
    expected = F.linear(x, layer.weight, layer.bias)
    expected.backward(upstream)
    want = [x.grad, layer.weight.grad] + ([layer.bias.grad] if bias else [])
    assert torch.allclose(ours, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    assert torch.allclose(fused, F.gelu(expected), rtol=1e-5, atol=1e-5)
