"""The lecture's simple RNN: same maths as torch.nn.RNN, hand-written BPTT = autograd,
loss summed over time with padding masked out."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn.cells import SimpleRNN, SimpleRNNCell, TorchRecurrent, bptt, final_hidden
from rnnlab.tasks.entity.model import summed_bce  # the many-to-many loss BPTT is checked on


def _copy_into_torch(simple: SimpleRNN, ref: torch.nn.RNN) -> None:
    """W_ax -> weight_ih, W_aa -> weight_hh, b_a -> bias_ih (bias_hh = 0)."""
    with torch.no_grad():
        for layer in range(simple.num_layers):
            for d in range(simple.dirs):
                cell = simple.cells[layer * simple.dirs + d]
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                getattr(ref, f"weight_ih{sfx}").copy_(cell.W_ax)
                getattr(ref, f"weight_hh{sfx}").copy_(cell.W_aa)
                getattr(ref, f"bias_ih{sfx}").copy_(cell.b_a)
                getattr(ref, f"bias_hh{sfx}").zero_()


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_simple_cell_matches_torch_rnn(nonlinearity: str, layers: int, bidirectional: bool):
    torch.manual_seed(0)
    simple = SimpleRNN(5, 7, layers, bidirectional, nonlinearity)
    ref = torch.nn.RNN(5, 7, layers, nonlinearity=nonlinearity, bidirectional=bidirectional,
                       batch_first=True)
    _copy_into_torch(simple, ref)
    wrapped = TorchRecurrent("rnn", 5, 7, layers, bidirectional, nonlinearity)
    wrapped.rnn = ref
    x = torch.randn(3, 6, 5)
    lengths = torch.tensor([6, 4, 1])  # ragged: padding must not leak into either direction
    out_s, h_s = simple(x, lengths)
    out_t, h_t = wrapped(x, lengths)
    assert out_s.shape == (3, 6, 7 * (2 if bidirectional else 1))
    torch.testing.assert_close(out_s, out_t, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_s, h_t, atol=1e-5, rtol=0)
    dirs = 2 if bidirectional else 1
    torch.testing.assert_close(final_hidden(h_s, layers, dirs), final_hidden(h_t, layers, dirs))


def test_slide_weight_shapes():
    cell = SimpleRNNCell(n_x=10000, n_a=100)
    assert cell.W_aa.shape == (100, 100)
    assert cell.W_ax.shape == (100, 10000)
    assert cell.b_a.shape == (100,)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_handwritten_bptt_matches_autograd(nonlinearity: str):
    torch.manual_seed(1)
    B, T, n_x, n_a = 4, 7, 3, 5
    cell = SimpleRNNCell(n_x, n_a, nonlinearity)
    W_ya = torch.randn(1, n_a, requires_grad=True)
    b_y = torch.randn(1, requires_grad=True)
    x = torch.randn(B, T, n_x)
    y = (torch.rand(B, T) > 0.5).float()
    lengths = torch.tensor([7, 5, 3, 1])
    mask = torch.arange(T)[None, :] < lengths[:, None]

    loss, grads = bptt(cell, W_ya, b_y, x, y, mask)

    # autograd through the layer used in training
    layer = SimpleRNN(n_x, n_a, nonlinearity=nonlinearity)
    layer.cells[0].load_state_dict(cell.state_dict())
    a, _ = layer(x, lengths)
    logits = (a @ W_ya.T + b_y).squeeze(-1)
    auto_loss = summed_bce(logits, y, mask)
    auto_loss.backward()
    torch.testing.assert_close(loss, auto_loss.detach(), atol=1e-5, rtol=1e-5)
    trained = layer.cells[0]
    for name, expected in [("W_aa", trained.W_aa.grad), ("W_ax", trained.W_ax.grad),
                           ("b_a", trained.b_a.grad), ("W_ya", W_ya.grad), ("b_y", b_y.grad)]:
        torch.testing.assert_close(grads[name], expected, atol=1e-5, rtol=1e-4, msg=name)


def test_loss_is_summed_over_positions_and_ignores_padding():
    logits = torch.tensor([[2.0, -1.0, 0.5, 9.0], [0.3, 7.0, -7.0, 3.0]])
    labels = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1]])
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    per = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(),
                                                                reduction="none")
    expected = (per[0, :3].sum() + per[1, :1].sum()) / 2  # Σ_t L<t> per sentence, batch mean
    torch.testing.assert_close(summed_bce(logits, labels, mask), expected)
    # whatever sits in the padding changes nothing
    noisy = logits.clone()
    noisy[~mask] = torch.randn(int((~mask).sum())) * 100
    torch.testing.assert_close(summed_bce(noisy, labels, mask), expected)


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
def test_padding_does_not_change_outputs(cell: str):
    from rnnlab.nn.cells import recurrent

    torch.manual_seed(2)
    layer = recurrent(cell, 4, 6, bidirectional=True).eval()
    x = torch.randn(1, 5, 4)
    alone, _ = layer(x, torch.tensor([5]))
    padded = torch.cat([x, torch.randn(1, 3, 4)], dim=1)
    out, _ = layer(padded, torch.tensor([5]))
    torch.testing.assert_close(out[:, :5], alone, atol=1e-6, rtol=0)
    assert torch.all(out[:, 5:] == 0)
