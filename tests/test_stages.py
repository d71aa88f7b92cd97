"""dnet_lib.stages: networks walked through stage by stage (chapter 5)."""
import pytest
import torch

from dnet_lib import arith, models, stages


@pytest.mark.parametrize("unit, stage", [
    ("features.denseblock2.denselayer3", "denseblock2"), ("features.transition1", "transition1"),
    ("layer3.1", "layer3"), ("stem", "stem"), ("head", "head"),
])
def test_stage_of(unit, stage):
    assert stages.stage_of(unit) == stage


def test_d2l_densenet_walkthrough_matches_d2l_numbers():
    model = models.d2l_densenet()
    table = stages.stage_table(model, 96)
    assert list(table.index) == ["stem", "denseblock1", "transition1", "denseblock2",
                                 "transition2", "denseblock3", "transition3", "denseblock4", "head"]
    assert table["channels out"].tolist() == [64, 192, 96, 224, 112, 240, 120, 248, 10]
    assert table["resolution out"].tolist() == [24, 24, 12, 12, 6, 6, 3, 3, 1]
    assert table.loc["denseblock1", "units"] == 4
    assert table["parameters"].sum() == arith.count_params(model) == 758_226
    assert table["FLOPs"].sum() == arith.count_flops(model, (1, 1, 96, 96))


def test_resnet_stages_are_grouped_by_layer():
    model = models.resnet_cifar(20)
    table = stages.stage_table(model, 32)
    assert list(table.index) == ["stem", "layer1", "layer2", "layer3", "head"]
    assert table["units"].tolist() == [1, 3, 3, 3, 1]
    assert table["channels out"].tolist() == [16, 16, 32, 64, 10]
    assert table["parameters"].sum() == arith.count_params(model)


def test_stage_table_rejects_bad_size():
    with pytest.raises(ValueError, match="size"):
        stages.stage_table(models.resnet_cifar(20), 0)


@pytest.mark.parametrize("make", [
    lambda: models.densenet_cifar(40, 12, bottleneck=False, compression=1.0),
    lambda: models.densenet_cifar(52, 6, bottleneck=True, compression=0.5),
    lambda: models.resnet_cifar(20),
])
def test_unit_costs_add_up_to_the_whole_model(make):
    net = make()
    costs = stages.trace_units(net, size=16)[1:]     # the stem to the head
    assert sum(c.params for c in costs) == arith.count_params(net)
    assert sum(c.flops for c in costs) == arith.count_flops(net, (1, 3, 16, 16))
    assert costs[0].kind == "stem" and costs[-1].kind == "head"
    if isinstance(net, models.DenseNet):
        layers = [c for c in costs if c.kind == "dense"]
        assert len(layers) == sum(net.block_config)
        real = [layer for block in net.dense_blocks() for layer in block.values()]
        assert [c.params for c in layers] == [
            arith.dense_layer_params(layer.in_channels, net.config.growth_rate,
                                  bottleneck=net.config.bottleneck)
            for layer in real]
        assert sum(c.kind == "transition" for c in costs) == len(net.block_config) - 1


def test_trace_of_a_meta_model_equals_the_real_one():
    real = models.densenet_cifar(40, 12, bottleneck=False, compression=0.5)
    with torch.device("meta"):
        meta = models.densenet_cifar(40, 12, bottleneck=False, compression=0.5)
    assert stages.trace_units(meta, 32) == stages.trace_units(real, 32)
