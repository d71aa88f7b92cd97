"""The models are the real thing: torchvision's counts and weights, the paper's tables, d2l's shapes."""
import pytest
import torch
import torchvision
from hypothesis import given, settings, strategies as st
from torch import nn

from dnet_lib import models as M
from dnet_lib.arith import count_params as num_params, stage_channels


# --------------------------------------------------------------------------- torchvision
TORCHVISION_PAIRS = ["densenet121", "densenet161", "densenet169", "densenet201",
                     "resnet18", "resnet34", "resnet50"]
# torchvision's documented counts (also asserted against the live torchvision models below).
DOCUMENTED = {"densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480,
              "densenet201": 20_013_928, "resnet18": 11_689_512, "resnet34": 21_797_672,
              "resnet50": 25_557_032}


@pytest.mark.parametrize("name", TORCHVISION_PAIRS)
def test_parameter_count_equals_torchvision(name):
    ours = getattr(M, name)()
    theirs = getattr(torchvision.models, name)(weights=None)
    assert num_params(ours) == num_params(theirs) == DOCUMENTED[name]


@pytest.mark.parametrize("name", TORCHVISION_PAIRS)
def test_torchvision_state_dict_loads_strictly(name):
    theirs = getattr(torchvision.models, name)(weights=None)
    ours = getattr(M, name)()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("name", ["densenet121", "resnet18", "resnet50"])
def test_outputs_match_torchvision_in_eval(name):
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(weights=None)
    # give BN non-trivial running stats so eval mode is a real check
    theirs.train()
    with torch.no_grad():
        theirs(torch.randn(4, 3, 64, 64))
    theirs.eval()
    ours = getattr(M, name)().eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=0)


def test_densenet264_follows_table1():
    model = M.densenet264()
    blocks = model.dense_blocks()
    assert [b.num_layers for b in blocks] == [6, 12, 64, 48]
    assert all(b.growth_rate == 32 for b in blocks)
    # same formula as torchvision's DenseNet class (which has no 264 factory)
    reference = torchvision.models.DenseNet(32, (6, 12, 64, 48), 64)
    assert num_params(model) == num_params(reference)


# --------------------------------------------------------------------------- paper
def test_resnet110_is_1_7_million():
    assert round(num_params(M.resnet_cifar(110)) / 1e6, 1) == 1.7
    assert sum(len(s) for s in M.resnet_cifar(110).stages()) * 2 + 2 == 110


# --------------------------------------------------------------------------- d2l
def test_d2l_resnet18_params():
    model = M.d2l_resnet18()
    assert num_params(model) == 11_178_378
    assert model(torch.randn(2, 1, 96, 96)).shape == (2, 10)


# --------------------------------------------------------------------------- norm5, any depth
@pytest.mark.parametrize("block_config", [(2,), (1, 2), (2, 1, 2), (1, 1, 1, 1, 1)])
def test_torchvision_densenet_class_loads_ours_for_any_block_count(block_config):
    torch.manual_seed(0)
    ours = M.DenseNet(growth_rate=4, block_config=block_config, num_init_features=8, num_classes=5)
    theirs = torchvision.models.DenseNet(4, block_config, 8, bn_size=4, num_classes=5)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(theirs.eval()(x), ours.eval()(x))


def test_three_block_cifar_net_differs_from_torchvision_only_in_the_stem():
    ours = M.densenet_cifar(40)                        # 3x3 stem without BN, final norm5
    theirs = torchvision.models.DenseNet(12, (6, 6, 6), 24, bn_size=4, num_classes=10)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert set(theirs_sd) - set(ours_sd) == {f"features.norm0.{k}" for k in
                                             ("weight", "bias", "running_mean", "running_var",
                                              "num_batches_tracked")}
    assert set(ours_sd) <= set(theirs_sd)
    differ = [k for k in ours_sd if ours_sd[k].shape != theirs_sd[k].shape]
    assert differ == ["features.conv0.weight"]         # 3x3 vs torchvision's 7x7
    # torchvision's class with the CIFAR stem swapped in is the same network, no renaming
    tv = M.torchvision_densenet_cifar(40)
    tv.load_state_dict(ours_sd, strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(tv.eval()(x), ours.eval()(x))


# --------------------------------------------------------------------------- stems
def test_stem_spec_builds_the_layers_it_describes():
    stem_spec = M.Stem(kernel_size=3, stride=1, norm=True, pool=2, pool_stride=2, pool_padding=0)
    model = M.DenseNet(growth_rate=16, block_config=(3, 3, 3), num_init_features=32,
                       bottleneck=False, num_classes=10, in_channels=1, stem=stem_spec)
    stem = model.features[:4]
    conv, norm, relu, pool = stem
    assert (conv.kernel_size, conv.stride, conv.padding, conv.bias) == ((3, 3), (1, 1), (1, 1), None)
    assert isinstance(norm, nn.BatchNorm2d) and isinstance(relu, nn.ReLU)
    assert (pool.kernel_size, pool.stride, pool.padding) == (2, 2, 0)
    x = torch.randn(2, 1, 28, 28)
    assert stem(x).shape == (2, 32, 14, 14) and model.feature_size(28) == 3
    assert model(x).shape == (2, 10)
    assert model.config.stem is stem_spec


@pytest.mark.parametrize("build,first_block_channels", [
    (lambda: M.DualPathNet(), 32), (lambda: M.DeepConvNet("dense", 2, width=6), 6)])
def test_stem_is_the_module_before_the_first_block(build, first_block_channels):
    model = build()
    assert isinstance(model.stem, nn.Module)
    stem_params = {id(p) for p in model.stem.parameters()}
    assert stem_params and stem_params <= {id(p) for p in model.parameters()}   # the model's own
    in_channels = next(model.stem.parameters()).shape[1]
    assert model.stem(torch.randn(1, in_channels, 32, 32)).shape[1] == first_block_channels


@pytest.mark.parametrize("stem", ["cifar", "imagenet", 3])
def test_a_stem_must_be_a_spec_not_a_word(stem):
    with pytest.raises(ValueError, match="stem must be a models.Stem"):
        M.ResNet(stem=stem)
    with pytest.raises(ValueError, match="stem must be a models.Stem"):
        M.DenseNet(stem=stem)


def test_stem_presets_are_the_papers_stems():
    assert M.IMAGENET_STEM == M.Stem(7, 2, norm=True, pool=3, pool_stride=2, pool_padding=1)
    assert M.CIFAR_STEM == M.Stem(3, 1, norm=False, pool=0)
    assert M.CIFAR_STEM_BN == M.Stem(3, 1, norm=True, pool=0)
    assert isinstance(M.resnet_cifar(20).bn1, nn.BatchNorm2d)          # ResNet's CIFAR stem has BN
    assert not hasattr(M.densenet_cifar(40).features, "norm0")          # DenseNet's has not


@pytest.mark.parametrize("kwargs,name", [(dict(kernel_size=0), "kernel_size"), (dict(stride=0), "stride"),
                                         (dict(pool=2, pool_padding=2), "pool_padding")])
def test_bad_stem_spec(kwargs, name):
    with pytest.raises(ValueError, match=name):
        M.Stem(**kwargs)


# --------------------------------------------------------------------------- config
def test_config_is_the_one_description_of_the_architecture():
    assert M.DenseNet().config == M.DENSENET121 == M.DenseNetConfig()
    model = M.DenseNet(growth_rate=12, block_config=[3, 3, 3], num_classes=10, in_channels=1,
                       stem=M.CIFAR_STEM)
    assert model.config == M.DENSENET121.replace(growth_rate=12, block_config=(3, 3, 3),
                                                 num_classes=10, in_channels=1, stem=M.CIFAR_STEM)
    assert model.config.block_config == (3, 3, 3)                       # stored as a tuple
    assert M.DenseNet(M.D2L_DENSENET).config.conv_bias and num_params(M.d2l_densenet()) == 758_226
    assert [c.variant for c in (M.cifar_config(40, bottleneck=False, compression=1.0),
                                M.cifar_config(100))] == ["DenseNet", "DenseNet-BC"]
    with pytest.raises(Exception):                                       # frozen
        M.DENSENET121.growth_rate = 12
    with pytest.raises(ValueError, match="config"):
        M.DenseNet({"growth_rate": 12})


# --------------------------------------------------------------------------- memory efficiency
@pytest.mark.parametrize("bottleneck,drop_rate", [(True, 0.0), (False, 0.0), (True, 0.2)])
def test_memory_efficient_equals_plain(bottleneck, drop_rate):
    torch.manual_seed(0)
    kw = dict(growth_rate=6, block_config=(3, 3), num_init_features=8, bottleneck=bottleneck,
              drop_rate=drop_rate, stem=M.CIFAR_STEM, num_classes=5)
    plain, efficient = M.DenseNet(**kw), M.DenseNet(memory_efficient=True, **kw)
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 16, 16)
    torch.manual_seed(1)
    y_plain = plain(x)
    torch.manual_seed(1)
    y_eff = efficient(x)
    torch.testing.assert_close(y_eff, y_plain, atol=1e-5, rtol=0)
    y_plain.square().sum().backward()
    y_eff.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=0, msg=name)
    # recomputation must not count a batch twice in BN's running statistics
    for (name, a), b in zip(plain.named_buffers(), efficient.buffers()):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=0, msg=name)


def _grads(model, x):
    model.zero_grad()
    out = model(x)
    out.square().sum().backward()
    return out, {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("mode", ["eval", "conv_bias", "bf16"])
def test_memory_efficient_equals_plain_in_eval_with_bias_and_under_autocast(mode):
    torch.manual_seed(0)
    kw = dict(growth_rate=4, block_config=(3, 2), num_init_features=6, stem=M.CIFAR_STEM, num_classes=3,
              conv_bias=mode == "conv_bias")
    plain, efficient = M.DenseNet(**kw), M.DenseNet(memory_efficient=True, **kw)
    with torch.no_grad():                     # non-trivial running stats and biases
        plain(torch.randn(8, 3, 8, 8))
        for p in plain.parameters():
            p.add_(0.1 * torch.randn_like(p))
    efficient.load_state_dict(plain.state_dict())
    if mode == "eval":
        plain.eval(), efficient.eval()          # running stats, but gradients still wanted
    x = torch.randn(4, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
        y_plain, g_plain = _grads(plain, x)
        y_eff, g_eff = _grads(efficient, x)
    tol = dict(atol=2e-2, rtol=2e-2) if mode == "bf16" else dict(atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(y_eff, y_plain, **tol)
    for name, grad in g_plain.items():
        assert g_eff[name] is not None and g_eff[name].dtype == grad.dtype, name
        torch.testing.assert_close(g_eff[name], grad, **tol, msg=name)


def test_memory_efficient_is_plain_without_grad():
    model = M.densenet_cifar(40, 12, bottleneck=False, memory_efficient=True).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_torchvision_memory_efficient_weights_load():
    theirs = torchvision.models.densenet121(weights=None, memory_efficient=True)
    ours = M.densenet121(memory_efficient=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,argument", [
    (dict(growth_rate=0), "growth_rate"),
    (dict(growth_rate=-3), "growth_rate"),
    (dict(compression=0.0), "compression"),
    (dict(compression=1.5), "compression"),
    (dict(compression=float("nan")), "compression"),
    (dict(block_config=()), "block_config"),
    (dict(block_config=(6, 0, 3)), "block_config"),
    (dict(block_config=(6, -1)), "block_config"),
    (dict(drop_rate=1.0), "drop_rate"),
    (dict(in_channels=0), "in_channels"),
    (dict(num_classes=0), "num_classes"),
    (dict(stem="tiny"), "stem"),
    (dict(bn_size=0), "bn_size"),
])
def test_bad_densenet_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        M.DenseNet(**kwargs)


@pytest.mark.parametrize("depth,bottleneck", [(41, False), (3, False), (102, True), (42, True), (4, True)])
def test_cifar_depth_must_fit_formula(depth, bottleneck):
    with pytest.raises(ValueError, match="depth"):
        M.densenet_cifar(depth, 12, bottleneck)


@pytest.mark.parametrize("depth", [19, 21, 0, 2])
def test_resnet_cifar_depth_must_fit_formula(depth):
    with pytest.raises(ValueError, match="depth"):
        M.resnet_cifar(depth)


def test_wrong_input_channels_and_too_small_input():
    model = M.d2l_densenet().eval()
    with pytest.raises(ValueError, match="in_channels=1"):
        model(torch.randn(1, 3, 96, 96))
    with pytest.raises(ValueError, match=f">= {model.min_input_size}"):
        model(torch.randn(1, 1, model.min_input_size - 1, model.min_input_size - 1))
    with torch.no_grad():   # the smallest size works
        model(torch.randn(1, 1, model.min_input_size, model.min_input_size))
    with pytest.raises(ValueError, match="4-D"):
        model(torch.randn(1, 96, 96))
    resnet = M.resnet18().eval()
    with pytest.raises(ValueError, match="height and width"):
        resnet(torch.randn(1, 3, resnet.min_input_size - 1, resnet.min_input_size - 1))
    with torch.no_grad():
        resnet(torch.randn(1, 3, resnet.min_input_size, resnet.min_input_size))


def test_dense_block_rejects_wrong_channels():
    with pytest.raises(ValueError, match="in_channels=3"):
        M.DenseBlock(2, 3, 10)(torch.randn(1, 4, 8, 8))


@settings(max_examples=40, deadline=None)
@given(growth_rate=st.integers(-4, 8), layers=st.lists(st.integers(-1, 3), min_size=0, max_size=3),
       compression=st.floats(-0.5, 1.5, allow_nan=False), init=st.integers(-2, 8),
       bottleneck=st.booleans())
def test_constructor_accepts_exactly_the_valid_arguments(growth_rate, layers, compression, init, bottleneck):
    valid = growth_rate >= 1 and layers and all(n >= 1 for n in layers) and 0 < compression <= 1 and init >= 1
    if not valid:
        with pytest.raises(ValueError):
            M.DenseNet(growth_rate=growth_rate, block_config=layers, num_init_features=init,
                       bottleneck=bottleneck, compression=compression, stem=M.CIFAR_STEM,
                       num_classes=3)
        return
    try:
        model = M.DenseNet(growth_rate=growth_rate, block_config=layers, num_init_features=init,
                           bottleneck=bottleneck, compression=compression, stem=M.CIFAR_STEM,
                           num_classes=3)
    except ValueError as err:   # only a compression that leaves zero channels may be refused
        assert "compression" in str(err)
        return
    # valid models run and produce exactly the channels the arithmetic says
    y = model.features(torch.randn(1, 3, 2 ** len(layers), 2 ** len(layers)))
    assert y.shape[1] == model.num_features
    assert model.stage_channels == stage_channels(model.config)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 80), stem=st.sampled_from([M.IMAGENET_STEM, M.CIFAR_STEM, M.CIFAR_STEM_BN]))
def test_min_input_size_is_exact(size, stem):
    model = M.DenseNet(growth_rate=2, block_config=(1, 1, 1), num_init_features=4, stem=stem,
                       num_classes=2, bottleneck=False).eval()
    x = torch.randn(1, 3, size, size)
    if size < model.min_input_size:
        with pytest.raises(ValueError, match="height and width"):
            model(x)
    else:
        with torch.no_grad():
            assert model(x).shape == (1, 2)


def test_memory_efficient_equals_plain_under_torch_compile():
    # aot_eager traces forward and backward as torch.compile does, without a C++ toolchain
    torch.manual_seed(0)
    kw = dict(growth_rate=4, block_config=(2, 2), num_init_features=6, stem=M.CIFAR_STEM, num_classes=3)
    plain, efficient = M.DenseNet(**kw), M.DenseNet(memory_efficient=True, **kw)
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 8, 8)
    plain(x).square().sum().backward()
    torch.compile(efficient, backend="aot_eager")(x).square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-5, msg=name)
    for (name, a), b in zip(plain.named_buffers(), efficient.buffers()):
        torch.testing.assert_close(b, a, msg=name)


# --------------------------------------------------------------------------- training mode
@pytest.mark.parametrize("memory_efficient", [False, True])
def test_training_step_equals_torchvision(memory_efficient):
    # float64 so that no BN output sits within rounding of a ReLU's kink in one model only
    torch.manual_seed(0)
    theirs = torchvision.models.DenseNet().double().train()            # DenseNet-121, plain
    ours = M.DenseNet(memory_efficient=memory_efficient).double().train()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)        # 1x1 maps after the last block
    inputs = {name: x.clone().requires_grad_() for name in ("ours", "theirs")}
    out = {"ours": ours(inputs["ours"]), "theirs": theirs(inputs["theirs"])}
    weight = torch.randn_like(out["theirs"])
    for name in out:
        (out[name] * weight).sum().backward()
    torch.testing.assert_close(out["ours"], out["theirs"], rtol=1e-10, atol=1e-10)
    grad = inputs["theirs"].grad
    torch.testing.assert_close(inputs["ours"].grad, grad, rtol=0, atol=1e-10 * grad.abs().max())
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = theirs_params[name].grad
        torch.testing.assert_close(p.grad, expected, rtol=0, atol=1e-10 * expected.abs().max(),
                                   msg=name)
    theirs_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():      # running mean/var and num_batches_tracked == 1
        torch.testing.assert_close(b, theirs_buffers[name], rtol=1e-12, atol=1e-12, msg=name)
    assert int(ours.features.norm5.num_batches_tracked) == 1
