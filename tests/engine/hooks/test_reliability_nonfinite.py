"""NonFiniteLossHook: a NaN/inf loss or gradient never reaches the weights; training
stops naming the iteration and the last good checkpoint, or skips the step."""
import pytest
import torch
from mmengine.hooks import Hook

from videoswin.engine.hooks.nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook

from helpers.toy_runner import WeightsBefore, assert_same_weights, make_runner


def _same_optimizer_state(a: dict, b: dict) -> bool:
    return all(torch.equal(a['state'][i][k], b['state'][i][k])
               for i in a['state'] for k in a['state'][i])


def test_nan_loss_stops_training_before_the_step_and_names_the_last_checkpoint(tmp_path):
    before = WeightsBefore()
    runner = make_runner(tmp_path, hooks=[
        dict(type='NonFiniteLossHook', action='stop'),
        dict(type='FaultInjectionHook', nan_loss_at=[8]), before])
    with pytest.raises(NonFiniteLossError) as error:
        runner.train()
    message = str(error.value)
    assert 'loss is nan at iteration 8 (epoch 2)' in message
    assert f'Last good checkpoint: {tmp_path / "epoch_1.pth"}' in message
    # the weights and the optimizer are those from before iteration 8
    assert_same_weights(before.weights[8], runner.model.state_dict())
    assert _same_optimizer_state(before.optimizer[8], runner.optim_wrapper.optimizer.state_dict())
    assert all(torch.isfinite(v).all() for v in runner.model.state_dict().values())


def test_without_the_guard_one_nan_loss_corrupts_every_weight(tmp_path):
    # the hazard the hook exists for
    runner = make_runner(tmp_path, max_epochs=2,
                         hooks=[dict(type='FaultInjectionHook', nan_loss_at=[8])])
    runner.train()
    assert all(torch.isnan(v).all() for v in runner.model.state_dict().values())


def test_skip_mode_leaves_weights_unchanged_by_bad_steps_and_trains_on(tmp_path):
    before = WeightsBefore()
    guard = NonFiniteLossHook(action='skip')
    runner = make_runner(tmp_path, max_epochs=2, hooks=[
        guard, dict(type='FaultInjectionHook', nan_loss_at=[8, 9]), before])
    runner.train()
    assert guard.skipped == 2
    for bad in (8, 9):
        assert_same_weights(before.weights[bad], before.weights[bad + 1])
        assert _same_optimizer_state(before.optimizer[bad], before.optimizer[bad + 1])
    assert not torch.equal(before.weights[10]['fc.weight'], before.weights[11]['fc.weight'])
    assert all(torch.isfinite(v).all() for v in runner.model.state_dict().values())
    assert runner.iter == 12 and runner.optim_wrapper._inner_count == 12


def test_skip_mode_gives_up_after_too_many_bad_steps_in_a_row(tmp_path):
    runner = make_runner(tmp_path, hooks=[
        dict(type='NonFiniteLossHook', action='skip', max_consecutive_skips=2),
        dict(type='FaultInjectionHook', nan_loss_at=range(3, 19))])
    in_a_row = r'iteration 5 \(epoch 1\) \(3 bad steps in a row\)'
    with pytest.raises(NonFiniteLossError, match=in_a_row):
        runner.train()


class _InfGradient(torch.autograd.Function):
    """Identity forward; an infinite gradient backward (a finite loss that overflows)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float('inf')


class InfGradientAt(Hook):
    def __init__(self, iteration):
        self.iteration, self.handle = iteration, None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.iteration:
            self.handle = runner.model.fc.register_forward_hook(
                lambda module, args, out: _InfGradient.apply(out))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


def test_finite_loss_with_infinite_gradients_is_caught_before_the_step(tmp_path):
    before = WeightsBefore()
    runner = make_runner(tmp_path, hooks=[NonFiniteLossHook(), InfGradientAt(4), before])
    with pytest.raises(NonFiniteLossError, match='gradients are not finite at iteration 4'):
        runner.train()
    assert_same_weights(before.weights[4], runner.model.state_dict())
    assert 'none yet' in str(NonFiniteLossHook._last_checkpoint(runner))
