"""``torch.compile`` (mmengine's ``compile=True``) is an option: the compiled backbone
trains with the same outputs and gradients as eager mode."""
import pytest
import torch

import videoswin  # noqa: F401  (registers the backbone)
from videoswin.registry import MODELS


@pytest.mark.slow
def test_compiled_backbone_matches_eager_outputs_and_gradients():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='SwinTransformer3D', embed_dim=16, depths=(2, 2, 1, 1),
                              num_heads=(1, 1, 1, 1), window_size=(2, 7, 7),
                              drop_path_rate=0.0))
    model.init_weights()
    model.train()
    clip = torch.randn(1, 3, 4, 56, 56)

    eager = model(clip)
    eager.square().sum().backward()
    eager_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()

    compiled = torch.compile(model)(clip)
    compiled.square().sum().backward()

    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-4)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, eager_grads[name], rtol=1e-3, atol=1e-4, msg=name)


def test_backbone_compiles_to_one_graph_per_shape():
    """No graph breaks (the window layouts are constants to dynamo): a break inside the
    stage loop made dynamo skip the backbone's frame and compile block by block, until
    its recompile limit sent the rest back to eager."""
    model = MODELS.build(dict(type='SwinTransformer3D', embed_dim=16, depths=(2, 2, 1, 1),
                              num_heads=(1, 1, 1, 1), window_size=(2, 7, 7)))
    model.train()
    explained = torch._dynamo.explain(model)(torch.randn(1, 3, 4, 56, 56))
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


@pytest.mark.slow
def test_two_backbones_with_other_windows_compile_to_their_own_graphs():
    """The layouts are constants to dynamo, so its guards must cover what they depend on:
    a second backbone with another window (same input shape) must not reuse the first
    one's graph and its index tensors."""
    torch.manual_seed(0)
    clip = torch.randn(1, 3, 4, 56, 56)
    for window in ((2, 7, 4), (2, 4, 7)):  # the same bias-table and index shapes
        model = MODELS.build(dict(type='SwinTransformer3D', embed_dim=16, depths=(2, 1, 1, 1),
                                  num_heads=(1, 1, 1, 1), window_size=window))
        model.init_weights()
        model.eval()
        with torch.no_grad():
            eager = model(clip)
            model.compile()
            torch.testing.assert_close(model(clip), eager, rtol=0, atol=1e-4, msg=str(window))
