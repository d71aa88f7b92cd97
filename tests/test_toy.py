"""The 2-D toy problem (dnet_lib.toy): data, models, parameter formulas, training, smoothness."""
import pytest
import torch

from dnet_lib.arith import count_params, mlp_params
from dnet_lib.models import DenseMLP, PlainMLP, ResidualMLP
from dnet_lib.toy import (boundary_length, decision_grid, dense_parameters, make_spirals, train_toy,
                          width_for_parameters)
from dnet_lib.train import evaluate


def plain_parameters(in_features, hidden, num_layers, out_features):
    return mlp_params([in_features] + [hidden] * num_layers + [out_features], "plain", bias=True)


@pytest.fixture(autouse=True)
def one_thread():
    # tiny full-batch MLPs: a second intra-op thread only adds contention on a busy 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_spirals_shapes_balance_and_seed():
    x, y = make_spirals(301, noise=0.1, seed=4)
    assert x.shape == (301, 2) and x.dtype == torch.float32
    assert y.shape == (301,) and y.dtype == torch.int64
    assert set(y.tolist()) == {0, 1} and abs(int(y.sum()) - 150.5) <= 0.5
    x2, y2 = make_spirals(301, noise=0.1, seed=4)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, make_spirals(301, noise=0.1, seed=5)[0])
    assert x.abs().max() < 1.6


@pytest.mark.parametrize("in_f,width,layers,out_f", [(2, 7, 1, 2), (2, 28, 6, 2), (331, 16, 3, 1)])
def test_parameter_formulas(in_f, width, layers, out_f):
    assert count_params(PlainMLP(in_f, width, layers, out_f)) == plain_parameters(in_f, width, layers, out_f)
    assert count_params(ResidualMLP(in_f, width, layers, out_f)) == plain_parameters(in_f, width, layers, out_f)
    assert count_params(DenseMLP(in_f, width, layers, out_f)) == dense_parameters(in_f, width, layers, out_f)


def test_dense_mlp_shapes_and_concatenation():
    model = DenseMLP(5, growth=3, num_layers=4, out_features=2)
    assert [layer.in_features for layer in model.layers] == [5, 8, 11, 14]
    assert model.head.in_features == 5 + 4 * 3
    assert model(torch.randn(7, 5)).shape == (7, 2)
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(7, 4))


def test_width_for_parameters_is_closest():
    target = dense_parameters(2, 16, 6, 2)
    h = width_for_parameters(target, 2, 6, 2)
    gap = abs(plain_parameters(2, h, 6, 2) - target)
    assert gap <= abs(plain_parameters(2, h + 1, 6, 2) - target)
    assert gap <= abs(plain_parameters(2, h - 1, 6, 2) - target)


@pytest.mark.parametrize("kind", ["plain", "residual", "dense"])
def test_trains_to_high_accuracy_quickly(kind):
    x, y = make_spirals(400, noise=0.2, seed=0)
    x_test, y_test = make_spirals(600, noise=0.2, seed=1)
    torch.manual_seed(0)
    model = {"plain": lambda: PlainMLP(2, 28, 6, 2), "residual": lambda: ResidualMLP(2, 28, 6, 2),
             "dense": lambda: DenseMLP(2, 16, 6, 2)}[kind]()
    assert evaluate(model, [(x_test, y_test)]) < 0.8      # untrained: near chance
    losses = train_toy(model, x, y, steps=300, lr=0.01)
    assert losses[-1] < losses[0]
    assert evaluate(model, [(x_test, y_test)]) > 0.95


def test_training_is_deterministic():
    x, y = make_spirals(200, 0.2, seed=0)
    results = []
    for _ in range(2):
        torch.manual_seed(7)
        model = DenseMLP(2, 8, 3, 2)
        results.append(train_toy(model, x, y, steps=30))
    assert results[0] == results[1]


def test_boundary_length_of_known_field():
    # prob = 0.5 exactly on the line x = 0.25 over [-1.5, 1.5]^2: length 3
    class Line(torch.nn.Module):
        def forward(self, p):
            return torch.stack([torch.zeros(len(p)), 10 * (p[:, 0] - 0.25)], 1)
    xs, ys, prob = decision_grid(Line())
    assert prob.shape == (200, 200)
    assert boundary_length(xs, ys, prob) == pytest.approx(3.0, rel=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="growth"):
        DenseMLP(2, 0, 3, 2)
    with pytest.raises(ValueError, match="noise"):
        make_spirals(10, noise=-1)
    with pytest.raises(ValueError, match="hidden"):
        ResidualMLP(2, 0, 2, 2)
