"""Index plumbing for 3D shifted-window attention: pure functions, no parameters.

Video Swin attends inside non-overlapping (wd, wh, ww) windows of a (D, H, W) token
grid; every other block first rolls the grid by half a window. Instead of the
official pad -> roll -> partition -> attention -> reverse -> unroll -> crop chain of
copies, the backbone gathers tokens straight into window order with one
``index_select`` and puts them back with the inverse permutation. This module
builds those indices (and the shift masks, and the relative-position lookup) once
per feature-map geometry. Layout conventions are the official ones:

* tokens inside a window are enumerated (d, h, w), d slowest;
* the cyclic shift moves the grid by ``-shift`` before partitioning;
* the shift mask puts -100 on the logits between tokens of different regions.

Only the order of the windows differs: windows that see the same shift-mask
pattern are stored next to each other (for all samples of the batch), so attention
can run on each group with one small mask instead of one mask per window.
"""
from functools import lru_cache
from typing import NamedTuple, Optional, Sequence, Tuple

import torch

Triple = Tuple[int, int, int]

#: The additive logit penalty the official code puts between tokens that came from
#: different regions of the rolled grid (kept instead of -inf for identical outputs).
SHIFT_MASK_VALUE = -100.0


def clip_window(grid: Sequence[int], window: Sequence[int],
                shift: Sequence[int]) -> Tuple[Triple, Triple]:
    """Official window-size rule: a window never exceeds the feature map.

    Where the map is no larger than the window along an axis, the window shrinks
    to the map and the shift along that axis is switched off (equality included).

    Args:
        grid: feature-map size (D, H, W) in tokens.
        window: nominal window size (wd, wh, ww).
        shift: nominal shift (sd, sh, sw), 0 for non-shifted blocks.

    Returns:
        The window and the shift actually used at this map size.
    """
    used_window, used_shift = list(window), list(shift)
    for axis, size in enumerate(grid):
        if size <= window[axis]:
            used_window[axis] = size
            used_shift[axis] = 0
    return tuple(used_window), tuple(used_shift)


def padded_grid(grid: Sequence[int], window: Sequence[int]) -> Triple:
    """(D, H, W) rounded up to multiples of the window, as the official zero padding does."""
    return tuple(-(-size // w) * w for size, w in zip(grid, window))


def relative_position_index(window: Sequence[int]) -> torch.Tensor:
    """Official (N, N) int64 lookup of each token pair into the bias table, N = wd*wh*ww.

    The table has (2wd-1)(2wh-1)(2ww-1) rows; a pair's row is its (d, h, w)
    offset, shifted to be non-negative and flattened d-slowest.
    """
    return clipped_relative_position_index(window, window)


def clipped_relative_position_index(window: Sequence[int],
                                    clipped: Sequence[int]) -> torch.Tensor:
    """Bias-table rows for the token pairs of a window clipped to ``clipped``.

    The table is laid out for the nominal ``window``; a clipped window's tokens
    have smaller coordinate ranges, but their relative offsets index the same
    table. This is the correct lookup. The official code instead slices the first
    n rows and columns of the full window's index, which coincides with this one
    only when nothing but the temporal (slowest) axis is clipped.

    Returns:
        (n, n) int64 tensor, n = prod(clipped).
    """
    axes = [torch.arange(size) for size in clipped]
    coords = torch.stack(torch.meshgrid(*axes, indexing='ij')).flatten(1)  # 3, n
    offsets = coords[:, :, None] - coords[:, None, :]  # 3, n, n
    spans = [2 * w - 1 for w in window]
    return ((offsets[0] + window[0] - 1) * spans[1] * spans[2] +
            (offsets[1] + window[1] - 1) * spans[2] + (offsets[2] + window[2] - 1))


def _region_ids(size: int, window: int, shift: int) -> torch.Tensor:
    """Region of each position along one axis of the rolled grid (0, 1 or 2).

    After rolling by -shift, the last window along the axis holds tokens from two
    far-apart parts of the map: positions [size-window, size-shift) and
    [size-shift, size) are those two regions; everything before is region 0.
    """
    ids = torch.zeros(size, dtype=torch.long)
    if shift > 0:
        ids[size - window:size - shift] = 1
        ids[size - shift:] = 2
    return ids


def _window_slots(padded: Triple, window: Triple) -> torch.Tensor:
    """(nW, N): flat padded-grid position of each token of each window, official order."""
    dp, hp, wp = padded
    wd, wh, ww = window
    flat = torch.arange(dp * hp * wp).view(dp // wd, wd, hp // wh, wh, wp // ww, ww)
    return flat.permute(0, 2, 4, 1, 3, 5).reshape(-1, wd * wh * ww)


def _rolled_source(padded: Triple, shift: Triple) -> torch.Tensor:
    """For each position of the grid rolled by -shift, the flat position it came from."""
    axes = [(torch.arange(size) + s) % size for size, s in zip(padded, shift)]
    d, h, w = torch.meshgrid(*axes, indexing='ij')
    return ((d * padded[1] + h) * padded[2] + w).reshape(-1)


class WindowLayout(NamedTuple):
    """Where every token goes for one (grid, window, shift, batch) geometry.

    The window axis of the attention input is ordered [group][sample][window]:
    ``group_bounds[g]:group_bounds[g+1]`` are the windows (of all samples) that
    share shift-mask pattern ``g``.

    Attributes:
        gather: (B*nW*N,) rows of the flattened (B*D*H*W [+1], C) token matrix
            in window order; padded slots point at an extra last row of zeros.
        scatter: (B*D*H*W,) slot of each real token: the inverse of ``gather``.
        window: the clipped window (wd, wh, ww); N = wd*wh*ww.
        shift: the shift actually used.
        batch: samples B.
        num_windows: nW, windows per sample.
        needs_padding: whether ``gather`` reads the zero row.
        group_bounds: G+1 window offsets of the pattern groups.
        group_masks: (G, N, N) additive shift masks (0 / -100), or None when
            nothing is shifted (then G = 1).
        bias_index: (N*N,) row of the nominal window's bias table for every token
            pair of the clipped window (see :func:`clipped_relative_position_index`).
    """
    gather: torch.Tensor
    scatter: torch.Tensor
    window: Triple
    shift: Triple
    batch: int
    num_windows: int
    needs_padding: bool
    group_bounds: Tuple[int, ...]
    group_masks: Optional[torch.Tensor]
    bias_index: torch.Tensor

    @property
    def tokens_per_window(self) -> int:
        return self.window[0] * self.window[1] * self.window[2]


@lru_cache(maxsize=128)
def window_layout(grid: Triple, window_size: Triple, shift_size: Triple, batch: int,
                  device: torch.device = torch.device('cpu')) -> WindowLayout:
    """Build (and cache) everything index-like for one block geometry.

    Args:
        grid: (D, H, W) of the feature map.
        window_size: nominal window; clipped to the map here (:func:`clip_window`).
        shift_size: nominal shift; switched off here where the window is clipped.
        batch: samples B; indices address the flattened (B*D*H*W) token rows.
        device: where the index tensors and masks live.
    """
    if torch.device(device).type != 'cpu':
        layout = window_layout(grid, window_size, shift_size, batch)
        return layout._replace(**{name: getattr(layout, name).to(device) for name in (
            'gather', 'scatter', 'bias_index') + (('group_masks', ) if layout.group_masks
                                                  is not None else ())})
    window, shift = clip_window(grid, window_size, shift_size)
    padded = padded_grid(grid, window)
    tokens = grid[0] * grid[1] * grid[2]
    pd, ph, pw = torch.meshgrid(*[torch.arange(size) for size in padded], indexing='ij')
    real = (pd < grid[0]) & (ph < grid[1]) & (pw < grid[2])
    row_of_padded = torch.where(real, (pd * grid[1] + ph) * grid[2] + pw, -1).reshape(-1)
    slots = _window_slots(padded, window)  # nW, N (positions in the rolled grid)
    rows = row_of_padded[_rolled_source(padded, shift)[slots]]  # nW, N; -1 = padding
    num_windows, n = rows.shape

    if any(s > 0 for s in shift):
        ids = [_region_ids(size, w, s) for size, w, s in zip(padded, window, shift)]
        d, h, w = torch.meshgrid(*ids, indexing='ij')
        region = ((d * 3 + h) * 3 + w).reshape(-1)[slots]  # nW, N
        patterns, group_of_window = torch.unique(region, dim=0, return_inverse=True)
        group_masks = (patterns[:, :, None] != patterns[:, None, :]).float() * SHIFT_MASK_VALUE
        window_order = torch.argsort(group_of_window, stable=True)
        counts = torch.bincount(group_of_window, minlength=len(patterns)) * batch
    else:
        group_masks = None
        window_order = torch.arange(num_windows)
        counts = torch.tensor([num_windows * batch])
    group_bounds = tuple([0] + torch.cumsum(counts, 0).tolist())

    # [group][sample][window]: within each group, all samples' windows in turn
    gathers = []
    start = 0
    sample_offsets = torch.arange(batch)[:, None, None] * tokens
    for count in (counts // batch).tolist():
        group_rows = rows[window_order[start:start + count]]  # count, N
        start += count
        gathers.append(torch.where(group_rows >= 0, group_rows + sample_offsets,
                                   batch * tokens).reshape(-1))
    gather = torch.cat(gathers)
    real_slots = gather < batch * tokens
    scatter = torch.empty(batch * tokens, dtype=torch.long)
    scatter[gather[real_slots]] = torch.arange(gather.numel())[real_slots]
    bias_index = clipped_relative_position_index(window_size, window).reshape(-1)
    return WindowLayout(gather, scatter, window, shift, batch, num_windows,
                        bool((~real_slots).any()), group_bounds, group_masks, bias_index)


class _GatherRows(torch.autograd.Function):
    """``rows.index_select(0, index)`` for a permutation, whose backward is the inverse gather.

    The default backward of ``index_select`` is an ``index_add`` (a scatter with
    accumulation); for a permutation a plain gather by the inverse is exact and
    cheaper. ``pad`` appends one zero row to the input first (padding slots).
    """

    @staticmethod
    def forward(ctx, rows: torch.Tensor, index: torch.Tensor, inverse: torch.Tensor,
                pad: bool, pad_backward: bool) -> torch.Tensor:
        ctx.save_for_backward(inverse)
        ctx.pad_backward = pad_backward
        if pad:
            rows = torch.cat([rows, rows.new_zeros(1, rows.shape[1])])
        return rows.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        inverse, = ctx.saved_tensors
        grad = grad.contiguous()
        if ctx.pad_backward:
            grad = torch.cat([grad, grad.new_zeros(1, grad.shape[1])])
        return grad.index_select(0, inverse), None, None, None, None


def partition_windows(x: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
    """(B, D, H, W, C) channels-last map -> (B*nW, N, C): padded, rolled, partitioned."""
    channels = x.shape[-1]
    rows = _GatherRows.apply(x.reshape(-1, channels), layout.gather, layout.scatter,
                             layout.needs_padding, False)
    return rows.view(-1, layout.tokens_per_window, channels)


def reverse_windows(windows: torch.Tensor, layout: WindowLayout,
                    shape: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`partition_windows`: (B*nW, N, C) -> (B, D, H, W, C), unpadded."""
    rows = _GatherRows.apply(windows.reshape(-1, windows.shape[-1]), layout.scatter,
                             layout.gather, False, layout.needs_padding)
    return rows.view(*shape)
