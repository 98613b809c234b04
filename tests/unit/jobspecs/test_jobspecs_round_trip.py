"""dump_yaml / dump_json write the canonical form, which loads back to an equal resource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobspecs import (
    Resource,
    dump_json,
    dump_yaml,
    load_text,
    parse_document,
    spec_hash,
    to_document,
)
from tests.unit.jobspecs.jobspecs_docs import API_VERSION, pool, training

names = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
label_maps = st.dictionaries(
    st.from_regex(r"(suanli\.dev/)?[a-z][a-z0-9_.-]{0,10}[a-z0-9]", fullmatch=True),
    st.from_regex(r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?)?", fullmatch=True),
    max_size=3,
)
type_lists = st.one_of(
    st.just("any"),
    st.lists(
        st.sampled_from(["H100", "H200", "B200", "A100-80GB", "MI300X", "Ascend-910B"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
)
parameter_values = st.one_of(
    st.floats(min_value=1e3, max_value=1e13, allow_nan=False),
    st.integers(min_value=1000, max_value=10**13),
    st.sampled_from(["70B", "1.5T", "125M", "7e9", "405b"]),
)
intervals = st.one_of(st.just("auto"), positive, st.sampled_from(["30s", "15m", "2h", "1h30m", "500ms"]))
tier_lists = st.lists(
    st.sampled_from(
        [
            "memory://",
            "peer://",
            "file:///tmp/ckpt",
            "s3://suanli-ckpt/run",
            "gs://bucket/p",
            "az://container/p",
            "abfs://c@acct.dfs.core.windows.net/p",
        ]
    ),
    min_size=1,
    max_size=4,
    unique=True,
)
deadlines = (
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2035, 1, 1))
    .map(lambda value: value.replace(microsecond=0))
    .flatmap(
        lambda value: st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]).map(
            lambda tz: value.replace(tzinfo=tz)
        )
    )
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


@st.composite
def training_jobs(draw: st.DrawFn) -> dict[str, Any]:
    tensor = draw(st.sampled_from([1, 2, 4, 8]))
    pipeline = draw(st.sampled_from([1, 2, 4]))
    context = draw(st.sampled_from([1, 2]))
    data = draw(st.integers(1, 8))
    micro = draw(st.sampled_from([1, 2]))
    heads = tensor * draw(st.integers(1, 8))
    expert = draw(st.sampled_from([d for d in (1, 2, 4) if (data * context) % d == 0]))
    moe = None
    if expert > 1 or draw(st.booleans()):
        experts = expert * draw(st.integers(1, 16))
        moe = drop_none(
            {
                "experts": experts,
                "topK": draw(st.integers(1, experts)),
                "sharedExperts": draw(st.integers(0, 2)),
                "activeParameters": draw(optional(st.just(500.0))),
                "expertHiddenSize": draw(optional(st.integers(1, 4096))),
            }
        )
    model = drop_none(
        {
            "name": draw(optional(names)),
            "parameters": draw(parameter_values),
            "layers": pipeline + draw(st.integers(0, 80)),
            "hiddenSize": draw(st.integers(1, 16384)),
            "attentionHeads": heads,
            "kvHeads": draw(optional(st.just(tensor))),
            "vocabSize": draw(optional(st.integers(1, 200_000))),
            "sequenceLength": context * draw(st.integers(1, 4096)),
            "globalBatchSize": data * micro * draw(st.integers(1, 64)),
            "microBatchSize": micro,
            "precision": draw(st.sampled_from(["bf16", "fp8", "fp16", "fp32"])),
            "moe": moe,
        }
    )
    entrypoint = draw(
        st.one_of(
            st.just({"function": "pkg.train:main"}),
            st.just({"command": ["python", "train.py"], "workingDir": "/w", "env": {"A": "1"}}),
        )
    )
    spec = drop_none(
        {
            "entrypoint": entrypoint,
            "model": model,
            "resources": {
                "accelerators": drop_none(
                    {
                        "count": tensor * pipeline * context * data,
                        "types": draw(type_lists),
                        "minMemoryGiB": draw(optional(positive)),
                    }
                ),
                "cpusPerDevice": draw(optional(positive)),
            },
            "parallelism": {
                "tensor": tensor,
                "pipeline": pipeline,
                "context": context,
                "data": data,
                "expert": expert,
            },
            "scheduling": drop_none(
                {
                    "queue": draw(optional(names)),
                    "priorityClass": draw(optional(st.sampled_from(["critical", "low", "best-effort"]))),
                    "preemptible": draw(optional(st.booleans())),
                    "deadline": draw(optional(deadlines)),
                    "budgetDollars": draw(optional(positive)),
                }
            ),
            "spot": drop_none(
                {"allowed": draw(st.booleans()), "maxPreemptionsPerHour": draw(optional(positive))}
            ),
            "checkpoint": {
                "interval": draw(intervals),
                "tiers": draw(tier_lists),
                "keepLast": draw(st.integers(1, 9)),
            },
            "totalSteps": draw(st.integers(1, 10**7)),
            "maxRestarts": draw(optional(st.integers(0, 100))),
        }
    )
    metadata = drop_none({"name": draw(names), "team": draw(optional(names)), "labels": draw(label_maps)})
    status = draw(optional(st.just({"phase": "Running", "attempt": 2})))
    return drop_none(
        {
            "apiVersion": API_VERSION,
            "kind": "TrainingJob",
            "metadata": metadata,
            "spec": spec,
            "status": status,
        }
    )


@st.composite
def pools(draw: st.DrawFn) -> dict[str, Any]:
    provider = draw(st.sampled_from(["aws", "gcp", "azure", "on-prem", "local", "coreweave"]))
    low = draw(st.integers(0, 8))
    nodes = draw(st.one_of(st.integers(0, 8), st.just({"min": low, "max": low + draw(st.integers(0, 8))})))
    price = draw(st.sampled_from([{"perDeviceHour": 1.1}, {"perNodeHour": 98.32}, None]))
    if provider == "on-prem" and price is None:
        price = {"perDeviceHour": 0.9}
    changes = drop_none(
        {
            "provider": provider,
            "nodes": nodes,
            "price": price,
            "zone": draw(optional(names)),
            "topology": drop_none(
                {"intraNodeGBps": draw(optional(positive)), "nodesPerRack": draw(st.integers(1, 8))}
            ),
            "labels": draw(label_maps),
        }
    )
    return pool(**changes)


def assert_round_trips(resource: Resource) -> None:
    assert load_text(dump_yaml(resource)) == [resource]
    assert load_text(dump_json(resource), "resource.json") == [resource]
    (again,) = load_text(dump_yaml(resource))
    assert spec_hash(again) == spec_hash(resource)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(training_jobs())
def test_training_jobs_round_trip_through_yaml_and_json(document: dict[str, Any]) -> None:
    assert_round_trips(parse_document(document))


@settings(max_examples=40, deadline=None)
@given(pools())
def test_pools_round_trip_through_yaml_and_json(document: dict[str, Any]) -> None:
    assert_round_trips(parse_document(document))


def test_several_resources_dump_as_one_multi_document_stream() -> None:
    resources = [parse_document(training()), parse_document(pool())]
    text = dump_yaml(resources)
    assert text.count("---") == 2
    assert load_text(text) == resources
    assert load_text(dump_json(resources), "all.json") == resources


def test_the_dump_leaves_out_nulls_and_defaults_but_keeps_identity() -> None:
    document = to_document(parse_document(training()))
    assert list(document) == ["apiVersion", "kind", "metadata", "spec"]
    assert document["metadata"] == {"name": "llama", "team": "research"}
    assert "scheduling" not in document["spec"]
    assert "maxRestarts" not in document["spec"]
    assert document["spec"]["model"]["parameters"] == 70_000_000_000


def test_strings_that_look_like_numbers_stay_strings() -> None:
    job = parse_document(training() | {"metadata": {"name": "x", "labels": {"v": "1e5", "w": "10"}}})
    assert load_text(dump_yaml(job)) == [job]


def test_spec_hash_ignores_labels_status_and_spelling_but_not_the_spec() -> None:
    base = parse_document(training())
    relabelled = parse_document(
        training()
        | {
            "metadata": {"name": "llama", "team": "research", "labels": {"a": "b"}},
            "status": {"phase": "Done"},
        }
    )
    respelled = parse_document(
        training(model={"parameters": 7.0e10}, maxRestarts=10, checkpoint={"interval": "auto"})
    )
    changed = parse_document(training(totalSteps=1001))
    renamed = parse_document(training() | {"metadata": {"name": "llama2", "team": "research"}})
    assert spec_hash(base) == spec_hash(relabelled) == spec_hash(respelled)
    assert spec_hash(base) != spec_hash(changed)
    assert spec_hash(base) != spec_hash(renamed)
    assert len(spec_hash(base)) == 64
