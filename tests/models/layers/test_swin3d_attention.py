"""The fast attention paths compute the plain maths: same outputs, same gradients.

Oracles: a naive per-window implementation written here from the paper's
definition (explicit token coordinates, relative offsets and shift regions), and
the module's own ``plain`` path (textbook logits -> softmax -> @v under autograd).
"""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from videoswin.models.backbones.swin3d import SwinTransformer3D, SwinTransformerBlock3D
from videoswin.models.layers.window_attention import WindowAttention3D
from videoswin.testing import randomise_

NARROW = dict(embed_dim=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))


def set_plain(model: torch.nn.Module, plain: bool) -> None:
    for module in model.modules():
        if isinstance(module, WindowAttention3D):
            module.plain = plain


def explicit_block(block: SwinTransformerBlock3D, x: torch.Tensor) -> torch.Tensor:
    """One Video Swin block, naively: loop over windows, explicit coordinates.

    Window clipping, zero padding after norm1, the cyclic shift, the -100 region
    mask and the relative-position bias of each token pair from its true (d, h, w)
    offset inside the (possibly clipped) window, looked up in the table of the
    nominal window.
    """
    attn = block.attn
    batch, *grid, channels = x.shape
    nominal = block.window_size
    window = [min(w, size) for w, size in zip(nominal, grid)]
    shift = [0 if size <= w else s for size, w, s in zip(grid, nominal, block.shift_size)]
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


@pytest.mark.parametrize('grid,shifted', [
    ((3, 4, 5), True),     # every axis clipped in space and time, shift switched off
    ((9, 4, 10), True),    # padded + shifted in D and W, H clipped in space
    ((2, 14, 14), True),   # temporal clip only, shifted in H and W
    ((5, 6, 9), False),    # W-MSA block, clipped in D and H, padded in W
])
def test_block_matches_explicit_per_window_maths_including_spatially_clipped_windows(
        grid, shifted):
    shift = (4, 3, 3) if shifted else (0, 0, 0)
    block = randomise_(SwinTransformerBlock3D(32, 2, (8, 7, 7), shift))
    x = torch.randn(2, *grid, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = explicit_block(block, x)
        block.eval()
        cached = block(x)
    block.train()
    trainable = block(x.requires_grad_())  # custom autograd path
    assert (cached - expected).abs().max() < 1e-5
    assert (trainable.detach() - expected).abs().max() < 1e-5


@pytest.mark.parametrize('chunk_bytes', [64 << 10, None])
def test_chunked_inference_equals_the_whole_tensor_and_plain_paths(monkeypatch, chunk_bytes):
    """Eval on CPU runs chunk by chunk; any chunk size gives the whole-tensor result."""
    from videoswin.models.layers import window_attention
    if chunk_bytes is not None:  # 64 KB: one window per attention chunk, many MLP chunks
        monkeypatch.setattr(window_attention, 'CHUNK_BYTES', chunk_bytes)
    model = narrow_model().eval()
    clip = torch.randn(*ODD_CLIP, generator=torch.Generator().manual_seed(2))
    calls = []
    chunked_forward = SwinTransformerBlock3D.forward_chunked
    monkeypatch.setattr(SwinTransformerBlock3D, 'forward_chunked',
                        lambda self, x: calls.append(1) or chunked_forward(self, x))
    with torch.no_grad():
        chunked = model(clip)
        assert len(calls) == sum(NARROW['depths'])
        with monkeypatch.context() as patch:
            patch.setattr(SwinTransformerBlock3D, '_chunked_inference', lambda self, x: False)
            whole = model(clip)
        set_plain(model, True)
        plain = model(clip)
        set_plain(model, False)
    assert len(calls) == sum(NARROW['depths'])  # the other two did not chunk
    assert (chunked - whole).abs().max() < 1e-5
    assert (chunked - plain).abs().max() < 1e-5
    # frozen weights and an input without grad: nothing needs a gradient, chunked too
    for param in model.parameters():
        param.requires_grad_(False)
    assert torch.equal(model(clip), chunked)
    assert len(calls) == 2 * sum(NARROW['depths'])


def test_official_slice_lookup_differs_only_when_a_window_is_clipped_in_space():
    """The documented deviation: at 112 px the last stage's window is clipped to 4x4."""
    from videoswin.models.layers.window_ops import (clipped_relative_position_index,
                                                    relative_position_index)
    full = relative_position_index((8, 7, 7))
    temporal_only = clipped_relative_position_index((8, 7, 7), (4, 7, 7))
    assert torch.equal(temporal_only, full[:4 * 49, :4 * 49])
    spatial = clipped_relative_position_index((8, 7, 7), (4, 4, 4))
    assert not torch.equal(spatial, full[:64, :64])


def narrow_model(**kwargs) -> SwinTransformer3D:
    return randomise_(SwinTransformer3D(**{'drop_path_rate': 0., **NARROW, **kwargs}))


# 18 frames x 100 x 90: temporal padding and shift, spatial padding, several
# shift-mask groups, windows clipped in space at stages 2-3, batch 2.
ODD_CLIP = (2, 3, 18, 100, 90)


def gradients(model: SwinTransformer3D, clip: torch.Tensor, upstream: torch.Tensor):
    model.zero_grad(set_to_none=True)
    clip = clip.clone().requires_grad_()
    out = model(clip)
    out.backward(upstream)
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    grads['input'] = clip.grad
    return out.detach(), grads


@pytest.mark.slow
def test_custom_backward_matches_autograd_of_the_plain_path():
    model = narrow_model().train()
    gen = torch.Generator().manual_seed(2)
    clip = torch.randn(ODD_CLIP, generator=gen)
    upstream = torch.randn(2, 256, 9, 4, 3, generator=gen)
    out_fast, fast = gradients(model, clip, upstream)
    set_plain(model, True)
    out_plain, plain = gradients(model, clip, upstream)
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
            set_plain(model, True)
            plain = model(clip)
            set_plain(model, False)
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
    attention = [m for m in model.modules() if isinstance(m, WindowAttention3D)]
    assert all(m._mask_cache is not None for m in attention)
    model.train()  # training does not keep eval-only masks alive
    assert all(m._mask_cache is None for m in attention)


@pytest.mark.parametrize('drop_path_rate', [0.0, 0.3])
def test_use_checkpoint_gives_identical_outputs_and_gradients(drop_path_rate):
    plain = narrow_model(drop_path_rate=drop_path_rate).train()
    checkpointed = SwinTransformer3D(**NARROW, drop_path_rate=drop_path_rate,
                                     use_checkpoint=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    gen = torch.Generator().manual_seed(4)
    clip = torch.randn(2, 3, 10, 64, 64, generator=gen)
    upstream = torch.randn(2, 256, 5, 2, 2, generator=gen)
    torch.manual_seed(0)
    out_a, grads_a = gradients(plain, clip, upstream)
    torch.manual_seed(0)
    out_b, grads_b = gradients(checkpointed, clip, upstream)
    assert torch.allclose(out_a, out_b, rtol=0, atol=1e-6)
    for name in grads_a:
        assert torch.allclose(grads_a[name], grads_b[name], rtol=1e-5, atol=1e-7), name


def test_bf16_autocast_stays_close_to_fp32():
    """bf16 keeps ~3 significant digits; over 8 blocks: documented bound 3 % of the range."""
    model = narrow_model().eval()
    clip = torch.randn(1, 3, 16, 96, 96, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        reference = model(clip)
        with torch.autocast('cpu', dtype=torch.bfloat16):
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


@pytest.mark.parametrize('bias', [True, False])
def test_onednn_linear_matches_torch_linear_values_and_gradients(bias):
    from videoswin.models.layers.linear import Linear, linear_gelu
    gen = torch.Generator().manual_seed(6)
    layer = Linear(48, 80, bias=bias)
    x = torch.randn(2, 7, 5, 48, generator=gen, requires_grad=True)
    upstream = torch.randn(2, 7, 5, 80, generator=gen)
    ours = layer(x)
    ours.backward(upstream)
    got = [x.grad.clone(), layer.weight.grad.clone()] + ([layer.bias.grad.clone()] if bias else [])
    x.grad = None
    layer.zero_grad()
    expected = F.linear(x, layer.weight, layer.bias)
    expected.backward(upstream)
    want = [x.grad, layer.weight.grad] + ([layer.bias.grad] if bias else [])
    assert torch.allclose(ours, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        fused = linear_gelu(x, layer.weight, layer.bias)
    assert torch.allclose(fused, F.gelu(expected), rtol=1e-5, atol=1e-5)
