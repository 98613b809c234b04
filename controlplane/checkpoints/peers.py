"""Choosing peer nodes for ``peer://`` replicas: each node's RAM copy goes to another failure domain.

Pure policy (no I/O). A node's *failure domain* is what one event takes out at once; a spot
reclaim hits a capacity type in a zone, a zone outage a whole zone. The peer of a node is the
node among the candidates that shares the fewest of these with it, in order of importance:
zone, pool, capacity type, rack. Ties go to the node already serving as peer for the fewest
nodes (spreading the replica memory), then by name (deterministic). A node with no candidate
other than itself gets no peer (the ``peer://`` tier is then unavailable for its ranks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PeerCandidate:
    name: str
    pool: str
    zone: str | None = None
    capacity_type: str = "on-demand"
    rack: str | None = None
    alive: bool = True


def _shared(a: PeerCandidate, b: PeerCandidate) -> tuple[int, int, int, int]:
    return (int(a.zone is not None and a.zone == b.zone), int(a.pool == b.pool),
            int(a.capacity_type == b.capacity_type), int(a.rack is not None and a.rack == b.rack))


def choose_peers(nodes: Iterable[str], candidates: Sequence[PeerCandidate],
                 existing: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{node: peer}`` for each of ``nodes`` (the attempt's nodes); see the module docstring.

    ``existing`` keeps earlier choices whose peer is still a live candidate (a replica already
    in a peer's RAM stays useful across attempts).
    """
    by_name = {candidate.name: candidate for candidate in candidates}
    live = [candidate for candidate in candidates if candidate.alive]
    load: dict[str, int] = {}
    chosen: dict[str, str] = {}
    for node in sorted(set(nodes)):
        kept = (existing or {}).get(node)
        if kept and kept != node and kept in by_name and by_name[kept].alive:
            chosen[node] = kept
            load[kept] = load.get(kept, 0) + 1
    for node in sorted(set(nodes)):
        if node in chosen:
            continue
        me = by_name.get(node, PeerCandidate(node, pool=""))
        others = [candidate for candidate in live if candidate.name != node]
        if not others:
            continue
        best = min(others, key=lambda other: (_shared(me, other), load.get(other.name, 0), other.name))
        chosen[node] = best.name
        load[best.name] = load.get(best.name, 0) + 1
    return chosen
