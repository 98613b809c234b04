"""Rank numbering: Megatron-Core's tp-cp-ep-dp-pp order, and the groups it implies."""

from __future__ import annotations

from controlplane.perfmodel import Layout
from controlplane.placement.ranks import coordinates, group_arrays, groups_as_tuples


def test_tensor_rank_is_fastest_and_pipeline_stage_slowest() -> None:
    layout = Layout(tp=2, cp=2, dp=2, pp=2)
    coords = coordinates(layout)
    assert [(c.tp, c.cp, c.dp, c.pp) for c in coords[:8]] == [
        (0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (1, 1, 0, 0),
        (0, 0, 1, 0), (1, 0, 1, 0), (0, 1, 1, 0), (1, 1, 1, 0)]
    assert all(c.pp == 1 for c in coords[8:])
    for c in coords:
        assert c.rank == c.tp + 2 * (c.cp + 2 * (c.dp + 2 * c.pp))


def test_each_group_kind_varies_exactly_its_own_coordinate() -> None:
    layout = Layout(tp=2, cp=2, dp=4, pp=2, ep=4)
    coords = coordinates(layout)
    fields = {"tp": "tp", "cp": "cp", "dp": "dp", "pp": "pp"}
    groups = groups_as_tuples(layout)
    for kind, varying in fields.items():
        for group in groups[kind]:
            members = [coords[rank] for rank in group]
            assert [getattr(m, varying) for m in members] == list(range(len(group)))
            for other in {"tp", "cp", "dp", "pp"} - {varying}:
                assert len({getattr(m, other) for m in members}) == 1


def test_pipeline_groups_list_stages_in_order() -> None:
    groups = group_arrays(Layout(tp=2, dp=2, pp=4))["pp"]
    assert groups.shape == (4, 4)
    assert groups[0].tolist() == [0, 4, 8, 12]


def test_expert_groups_are_consecutive_data_context_ranks_of_one_stage() -> None:
    layout = Layout(tp=2, cp=1, dp=4, pp=1, ep=2)
    groups = groups_as_tuples(layout)
    assert groups["ep"] == ((0, 2), (4, 6), (1, 3), (5, 7))
    assert groups["edp"] == ((0, 4), (2, 6), (1, 5), (3, 7))
    coords = coordinates(layout)
    for group in groups["ep"]:
        assert [coords[rank].ep for rank in group] == [0, 1]


def test_every_rank_is_in_exactly_one_group_of_each_kind() -> None:
    layout = Layout(tp=4, cp=2, dp=4, pp=2, ep=4)
    for kind, groups in group_arrays(layout).items():
        assert sorted(groups.ravel().tolist()) == list(range(layout.devices)), kind


def test_dense_layouts_have_no_expert_groups_and_no_data_context_group_without_cp() -> None:
    assert set(group_arrays(Layout(tp=8, dp=2, pp=2))) == {"tp", "cp", "dp", "pp"}
    assert "dp_cp" in group_arrays(Layout(tp=2, cp=2, dp=2))
