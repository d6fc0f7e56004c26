"""The cluster-naming steps of the streaming dedup, called directly with in-memory state cells."""

from __future__ import annotations

from typing import Any

from apache_beam.utils.timestamp import Timestamp

from tests.transforms.dedup.helpers import story, words
from transforms.dedup import stream_clusters as c

HOUR = 3600
T = 1_700_000_000 * 10**6


class Cell:
    def __init__(self) -> None:
        self.value: Any = None

    def read(self) -> Any:
        return self.value

    def write(self, value: Any) -> None:
        self.value = value

    def clear(self) -> None:
        self.value = None


class Bag(Cell):
    def read(self) -> list:
        return list(self.value or [])

    def add(self, item: Any) -> None:
        self.value = [*self.read(), item]


class Timer:
    def __init__(self) -> None:
        self.at: Timestamp | None = None

    def set(self, at: Timestamp) -> None:
        self.at = at


def _copy(story_id: str, member: str) -> Any:
    """A decided duplicate as the decision step sends it: provisional cluster = its member."""
    s = story(story_id, words(len(story_id)))
    return s.replace(cluster_id=member, duplicate_of=member, duplicate_reason="near_duplicate")


def _run(fn: c.ResolveClusterFn, key: str, message: tuple, cells: dict) -> list:
    parent, asks, timer = cells.setdefault(key, (Cell(), Bag(), Timer()))
    return list(fn.process((key, message), parent, asks, timer))


def _split(out: list) -> tuple[list, list, list]:
    named = [o.value for o in out if not hasattr(o, "tag")]
    forward = [o.value for o in out if getattr(o, "tag", None) == c.FORWARD]
    state = [o.value for o in out if getattr(o, "tag", None) == c.STATE]
    return named, forward, state


def test_a_copy_waits_for_its_members_record_and_is_named_after_the_canonical() -> None:
    fn = c.ResolveClusterFn(HOUR, last=False, observe=True)
    cells: dict = {}
    _, ask = c.ask("w", _copy("x", "w"), T + 60, T)
    assert _split(_run(fn, "w", ask, cells)) == ([], [], [])  # w's decision is on its way
    assert cells["w"][2].at == Timestamp(micros=T + HOUR * 10**6)  # never waits forever
    _, record = c.parent_record("w", None, 0, T)
    named, forward, state = _split(_run(fn, "w", record, cells))
    assert [(s.story_id, s.cluster_id, s.duplicate_of) for s in named] == [("x", "w", "w")]
    assert forward == [] and cells["w"][1].read() == []
    assert state == [("parents", len(c.PARENT_CODER.encode(("", 0, T))), T)]


def test_a_copy_of_a_copy_goes_on_up_and_the_last_step_names_what_it_reached() -> None:
    first = c.ResolveClusterFn(HOUR, last=False)
    last = c.ResolveClusterFn(HOUR, last=True)
    cells: dict = {}
    _run(first, "x", c.parent_record("x", "w", T, T + 60)[1], cells)  # x joined w
    _, ask = c.ask("x", _copy("y", "x"), T + 120, T + 60)
    named, forward, _ = _split(_run(first, "x", ask, cells))
    assert named == []
    ((up, (kind, message)),) = forward
    assert (up, kind, message["member_at"], message["story"].story_id) == ("w", "ask", T, "y")
    # the last step does not know whether w is a canonical: it names w, and counts the cap
    final: dict = {}
    _run(last, "w", c.parent_record("w", "v", T - 60, T)[1], final)
    named, forward, _ = _split(_run(last, "w", ("ask", message), final))
    assert forward == [] and [(s.story_id, s.cluster_id) for s in named] == [("y", "v")]


def test_expiry_answers_parked_copies_and_drops_the_record_at_the_horizon() -> None:
    fn = c.ResolveClusterFn(HOUR, last=False, observe=True)
    cells: dict = {}
    _run(fn, "w", c.parent_record("w", None, 0, T)[1], cells)
    parent, asks, _ = cells["w"]
    size = len(c.PARENT_CODER.encode(parent.read()))
    horizon = Timestamp(micros=T + HOUR * 10**6)
    out = list(fn.expire(horizon, "w", parent, asks, Timer()))
    assert _split(out)[2] == [("parents", -size, T + HOUR * 10**6)] and parent.read() is None
    # a copy that joined w just before the horizon, its ask arriving after w's record expired
    _, ask = c.ask("w", _copy("late", "w"), T + 10, T)
    _run(fn, "w", ask, cells)
    (named,) = _split(list(fn.expire(horizon, "w", parent, asks, Timer())))[0]
    assert (named.story_id, named.cluster_id) == ("late", "w") and asks.read() == []


def test_a_record_decided_again_keeps_its_state_counted_once() -> None:
    fn = c.ResolveClusterFn(HOUR, last=False, observe=True)
    cells: dict = {}
    added = _split(_run(fn, "v", c.parent_record("v", None, 0, T)[1], cells))[2]
    # a new version of an agency item, decided again: now a copy of u
    again = _split(_run(fn, "v", c.parent_record("v", "u", T - 60, T + 60)[1], cells))[2]
    total = added[0][1] + again[0][1]
    assert total == len(c.PARENT_CODER.encode(("u", T - 60, T + 60)))
    # its timer fires at the old horizon: the record is younger, so it is kept
    parent, asks, timer = cells["v"]
    assert list(fn.expire(Timestamp(micros=T + HOUR * 10**6), "v", parent, asks, timer)) == []
    assert parent.read() == ("u", T - 60, T + 60)
    assert timer.at == Timestamp(micros=T + 60 + HOUR * 10**6)
