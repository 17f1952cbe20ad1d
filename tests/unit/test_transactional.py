"""DayPublishers without a broker: one producer per open day, when transactions commit, what a
fenced day does. (On the real broker: tests/integration/test_fencing.py.)"""

from __future__ import annotations

import json
from datetime import date

import pytest

from foot_traffic.records.events import Record
from foot_traffic.kafka_options import KafkaOptions
from foot_traffic.ownership import transactional_id
from foot_traffic.publisher import Fenced
from foot_traffic.settings import Settings
from foot_traffic.transactional import IDLE_COMMIT_SECONDS, DayPublishers

DAY = date(2025, 6, 2)
NEXT = date(2025, 6, 3)


class FakeProducer:
    """What DayPublishers uses of a ConfirmedPublisher, recording every call in ``calls``."""

    def __init__(self, tid: str, calls: list, fence: dict):
        self.transactional_id = tid
        self.calls = calls
        self.fence = fence  # tid -> "send" / "commit" / "connect": raise Fenced there
        self.in_transaction = False
        self.pending: list[Record] = []
        self.committed: list[Record] = []
        self.closed = False

    def _maybe_fenced(self, where: str) -> None:
        if self.fence.get(self.transactional_id) == where:
            raise Fenced("injected", transactional_id=self.transactional_id)

    def connect(self):
        self.calls.append(("connect", self.transactional_id))
        self._maybe_fenced("connect")

    def begin(self):
        self.in_transaction = True

    def send(self, record):
        self._maybe_fenced("send")
        self.pending.append(record)

    def commit(self):
        self._maybe_fenced("commit")
        self.calls.append(("commit", self.transactional_id, len(self.pending)))
        self.committed += self.pending
        self.pending = []
        self.in_transaction = False

    def close(self):
        self.closed = True
        self.calls.append(("close", self.transactional_id))

    def partition_count(self, topic):
        return 3

    def verify(self):
        self.calls.append(("verify", self.transactional_id))


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def record(n: int, topic: str = "s") -> Record:
    return Record(topic, b"k%d" % n, b"v%d" % n, (("ft-seq", str(n).encode()),), 1_750_000_000 + n, n, "session", 0)


@pytest.fixture
def world():
    calls: list = []
    fence: dict = {}
    producers: dict[str, FakeProducer] = {}
    lookups: list = []
    clock = Clock()
    settings = Settings.from_env({"KAFKA_TOPIC": "s", "KAFKA_TOPIC_REALISTIC": "e", "KAFKA_TRANSACTION_MS": "1000"})

    def lane(tid):
        producers[tid] = FakeProducer(tid, calls, fence)
        return producers[tid]

    def lookup(options, topic, tid, mine, since_ms, stop=None, keys=()):
        lookups.append((topic, tid, mine["writer"], tuple(keys)))
        return {"run": "the newer run", "host": "h", "pid": 42, "client": "kafka-python", "since": "later"}

    pubs = DayPublishers(
        settings, KafkaOptions("127.0.0.1:1"), owner={"run": "this run", "host": "h", "pid": 1},
        lane_factory=lane, clock=clock, owner_lookup=lookup, segment_io=NoSegments(),
    )
    return pubs, producers, calls, fence, clock, lookups


def tid(day, store=None):
    return transactional_id(["s", "e"], day, store)


def test_each_day_gets_its_own_producer_with_the_days_id_and_an_owner_record(world):
    pubs, producers, calls, *_ = world
    pubs.open_day(DAY)
    pubs.open_day(NEXT)
    assert set(producers) == {tid(DAY), tid(NEXT)}
    owner = producers[tid(DAY)].committed[0]
    assert owner.topic == "s_writers" and owner.key == tid(DAY).encode()
    value = json.loads(owner.value)
    assert value["run"] == "this run" and value["day"] == "2025-06-02" and value["transactional_id"] == tid(DAY)
    # the owner record is committed at once, before the day's scan
    assert calls[:2] == [("connect", tid(DAY)), ("commit", tid(DAY), 1)]


def test_opening_a_day_commits_the_open_transactions_first(world):
    """The new day's scan waits for every transaction begun before it: ours must not be one."""
    pubs, producers, calls, *_ = world
    day = pubs.open_day(DAY)
    day.send(record(1))
    assert producers[tid(DAY)].in_transaction
    pubs.open_day(NEXT)
    assert calls.index(("commit", tid(DAY), 1)) < calls.index(("connect", tid(NEXT)))
    assert not producers[tid(DAY)].in_transaction


def test_a_live_stream_commits_whenever_it_waits(world):
    pubs, producers, calls, *_ = world
    day = pubs.open_day(DAY)
    day.send(record(1))
    day.send(record(2))
    pubs.idle(IDLE_COMMIT_SECONDS / 2)  # too short to be worth it
    assert producers[tid(DAY)].in_transaction
    pubs.idle(0.2)
    assert not producers[tid(DAY)].in_transaction
    assert calls[-1] == ("commit", tid(DAY), 2)
    pubs.idle(0.2)  # nothing open: nothing to commit
    assert calls[-1] == ("commit", tid(DAY), 2)


def test_at_full_speed_a_transaction_closes_after_transaction_ms(world):
    pubs, producers, calls, _, clock, _ = world
    day = pubs.open_day(DAY)
    for n in range(10):
        day.send(record(n))
        clock.t += 0.3  # 0.3 s between records, never idle
    # 1 s limit: the records sent at 0, 0.3, 0.6, 0.9 s, then the one at 1.2 s commits the first
    commits = [c for c in calls if c[0] == "commit"][1:]  # after the owner record
    assert commits and all(n <= 5 for _, _, n in commits)
    assert sum(n for _, _, n in commits) + len(producers[tid(DAY)].pending) == 10


def test_a_transaction_holds_at_most_max_records(world):
    pubs, producers, calls, *_ = world
    pubs.max_records = 100
    day = pubs.open_day(DAY)
    for n in range(250):
        day.send(record(n))
    assert [c[2] for c in calls if c[0] == "commit"][1:] == [100, 100]
    assert len(producers[tid(DAY)].pending) == 50


def test_the_age_limit_covers_every_open_day_not_only_the_one_sending(world):
    pubs, producers, calls, _, clock, _ = world
    late_exits = pubs.open_day(DAY)
    late_exits.send(record(1))
    morning = pubs.open_day(NEXT)  # commits DAY
    late_exits.send(record(2))  # one more late exit of DAY, then only NEXT sends
    for n in range(5):
        clock.t += 0.4
        morning.send(record(10 + n))
    assert not producers[tid(DAY)].in_transaction, "DAY's open transaction must not wait for DAY's next record"


def test_finishing_a_day_commits_and_closes_only_its_producer(world):
    pubs, producers, calls, *_ = world
    a, b = pubs.open_day(DAY), pubs.open_day(NEXT)
    a.send(record(1))
    b.send(record(2))
    a.finish()
    assert producers[tid(DAY)].closed and not producers[tid(DAY)].pending
    assert not producers[tid(NEXT)].closed and producers[tid(NEXT)].in_transaction
    pubs.flush()
    assert not producers[tid(NEXT)].in_transaction
    pubs.close()
    assert producers[tid(NEXT)].closed


@pytest.mark.parametrize("where", ["send", "commit"])
def test_a_fenced_day_is_closed_at_once_and_names_the_newer_run(world, where):
    pubs, producers, calls, fence, _, lookups = world
    day = pubs.open_day(DAY)
    other = pubs.open_day(NEXT)
    other.send(record(9))
    fence[tid(DAY)] = where
    with pytest.raises(Fenced) as err:
        day.send(record(1))
        pubs.flush()
    exc = err.value
    assert exc.day == DAY and exc.transactional_id == tid(DAY)
    assert exc.by["run"] == "the newer run" and "the newer run" in str(exc) and "fenced by a newer run" in str(exc)
    assert producers[tid(DAY)].closed
    assert lookups == [("s_writers", tid(DAY), json.loads(producers[tid(DAY)].committed[0].value)["writer"], ())]
    # the other day is still ours: what it sent can be committed
    pubs.flush()
    assert ("commit", tid(NEXT), 1) in calls


def test_fenced_while_taking_the_day(world):
    pubs, producers, calls, fence, *_ = world
    fence[tid(DAY)] = "connect"
    with pytest.raises(Fenced, match="fenced by a newer run"):
        pubs.open_day(DAY)
    assert producers[tid(DAY)].closed


def test_store_days_are_separate_writers(world):
    pubs, producers, *_ = world
    pubs.open_day(DAY, "s1")
    pubs.open_day(DAY, "s2")
    assert {tid(DAY, "s1"), tid(DAY, "s2")} == set(producers)


def test_partitions_come_from_an_open_days_producer(world):
    pubs, *_ = world
    with pytest.raises(Exception, match="no day is open"):
        pubs.partition_for("s", b"k")
    pubs.open_day(DAY)
    assert 0 <= pubs.partition_for("s", b"k") < 3


class NoSegments:
    """No broker to read offsets from: no segments recorded (``checkpoint`` has its own tests)."""

    def previous_owner(self, tid):
        return None, {}

    def high(self):
        return {}

    def latest_owner(self, tid):
        return None

    def latest_owners(self, tids):
        return {}


def test_check_owner_raises_fenced_when_a_newer_run_took_the_day(world):


    pubs, *_ = world
    pubs.open_day(DAY)
    mine = dict(pubs._mine[(None, DAY)])
    pubs.segment_io.latest_owner = lambda tid: mine
    pubs.check_owner(DAY)  # still ours
    pubs.segment_io.latest_owner = lambda tid: {**mine, "writer": "another", "run": "the newer run"}
    with pytest.raises(Fenced, match="the newer run") as err:
        pubs.check_owner(DAY)
    assert err.value.day == DAY and err.value.by["run"] == "the newer run"
    pubs.check_owner(date(2030, 1, 1))  # a day we never wrote: nothing to check


# -- a chain's store-days through one producer (open_stores_day) -----------------------------
class WritersLog(NoSegments):
    """The writers topic as the fakes commit to it, read like ``KafkaSegmentIO.owner_history``."""

    def __init__(self):
        self.records: list[tuple[str, dict]] = []
        self.inject = None  # called before each read (a newer run's records landing meanwhile)

    def owner_history(self, tids, writer):
        if self.inject:
            self.inject()
        out = {}
        for key, value in self.records:
            if key not in tids:
                continue
            before, latest, seen = out.get(key, (None, None, False))
            if value["writer"] == writer and not seen:
                before, seen = latest, True
            out[key] = (before, value, seen)
        return {k: (b if seen else v, v) for k, (b, v, seen) in out.items()}

    def latest_owners(self, tids):
        return {key: value for key, value in self.records if key in tids}


@pytest.fixture
def chain_world(world):
    pubs, producers, calls, fence, clock, lookups = world
    log = WritersLog()
    pubs.segment_io = log
    real_commit = FakeProducer.commit

    def commit(self):
        owners = [r for r in self.pending if r.topic == "s_writers"]
        real_commit(self)
        log.records += [(r.key.decode(), json.loads(r.value)) for r in owners]

    FakeProducer.commit = commit
    yield pubs, producers, calls, fence, log
    FakeProducer.commit = real_commit


def test_a_chains_stores_share_one_producer_named_by_the_store_set_with_an_owner_record_each(chain_world):
    from foot_traffic.ownership import shard_id

    pubs, producers, calls, _, log = chain_world
    writers = pubs.open_stores_day(DAY, ["s2", "s1", "s3"])
    shard = shard_id(["s", "e"], DAY, ["s1", "s2", "s3"])
    assert set(producers) == {shard}, "one producer, whose id is the set's (order does not matter)"
    assert shard == shard_id(["s", "e"], DAY, ["s3", "s1", "s2"]) != shard_id(["s", "e"], DAY, ["s1", "s2"])
    assert shard not in {tid(DAY, s) for s in ("s1", "s2", "s3")}
    owners = dict(log.records)
    for store in ("s1", "s2", "s3"):
        value = owners[tid(DAY, store)]
        assert value["store"] == store and value["writes_with"] == shard and value["run"] == "this run"
    assert owners[shard]["stores"] == 3
    # the stores' records go through the one producer; a finished store-day closes nothing
    writers["s1"].send(record(1))
    writers["s2"].send(record(2))
    writers["s1"].finish()
    writers["s2"].finish()
    assert not producers[shard].closed and producers[shard].in_transaction
    writers["s3"].finish()  # the last one: commit, check, close
    assert producers[shard].closed and [r.key for r in producers[shard].committed[-2:]] == [b"k1", b"k2"]


def test_a_store_day_written_before_by_another_producer_has_that_producer_fenced_before_the_scan(chain_world):
    pubs, producers, calls, _, log = chain_world
    old = "foot-traffic/old-shard/2025-06-02"
    log.records += [
        (tid(DAY, "s1"), {"writer": "w-old", "writes_with": old, "run": "older run"}),
        (tid(DAY, "s2"), {"writer": "w-v1", "transactional_id": tid(DAY, "s2"), "run": "a run of one producer per store-day"}),
    ]
    pubs.open_stores_day(DAY, ["s1", "s2"])
    fenced = [c[1] for c in calls if c[0] == "connect"][1:]
    assert sorted(fenced) == sorted([old, tid(DAY, "s2")]), "each earlier producer initialised (fenced) by its id"
    assert producers[old].closed and producers[tid(DAY, "s2")].closed


def test_a_store_day_taken_by_a_newer_run_while_ours_was_taking_it_stops_ours(chain_world):
    pubs, producers, calls, _, log = chain_world

    def newer_lands():
        log.records.append((tid(DAY, "s2"), {"writer": "w-newer", "writes_with": "x", "run": "the newer run"}))

    log.inject = newer_lands
    with pytest.raises(Fenced) as err:
        pubs.open_stores_day(DAY, ["s1", "s2"])
    assert set(err.value.stores) == {"s1", "s2"} and err.value.day == DAY
    assert all(p.closed for p in producers.values())


def test_a_fenced_shard_names_every_store_and_those_finished_but_not_committed(chain_world, world):
    from foot_traffic.ownership import shard_id

    pubs, producers, calls, fence, log = chain_world
    lookups = world[5]
    writers = pubs.open_stores_day(DAY, ["s1", "s2", "s3"])
    writers["s1"].send(record(1))
    pubs.flush()
    writers["s1"].finish()  # committed before: not in ``uncommitted``
    writers["s2"].send(record(2))
    writers["s2"].finish()  # its last record is in the open transaction
    fence[shard_id(["s", "e"], DAY, ["s1", "s2", "s3"])] = "send"
    with pytest.raises(Fenced) as err:
        writers["s3"].send(record(3))
    assert set(err.value.stores) == {"s1", "s2", "s3"} and err.value.uncommitted == ("s2",)
    # the run that took it is looked for among the store-days' owner records too
    assert lookups[-1][3] == tuple(tid(DAY, s) for s in ("s1", "s2", "s3"))
    with pytest.raises(Fenced):
        writers["s3"].finish()


def test_a_shards_store_days_record_their_segments_when_taken_and_when_finished(chain_world):
    """Taken: every earlier producer is fenced, so each store-day's owner record lists its
    earlier segments closed at the high watermarks, and the shard's own from there (a
    store-day with no history gets none). Finished: where the scan found each one's earlier
    records, and the shard's own up to the high watermarks then."""
    pubs, producers, calls, _, log = chain_world
    highs = iter([{"s:0": 50, "s:1": 8}, {"s:0": 90, "s:1": 8}])
    log.high = lambda: next(highs)
    log.records.append((tid(DAY, "s1"), {"writer": "w-before", "segments": {"s:0": [[10, 20], [30, None]]}}))
    writers = pubs.open_stores_day(DAY, ["s1", "s2"])
    latest = {}
    for key, value in log.records:
        latest[key] = value
    assert latest[tid(DAY, "s1")]["segments"] == {"s:0": [[10, 20], [30, 50], [50, None]], "s:1": [[8, None]]}
    assert "segments" not in latest[tid(DAY, "s2")], "never taken before: its history is unknown"
    found = type("Holdings", (), {"span": {("s", 0): (12, 44)}})()
    writers["s1"].scanned(found)
    writers["s2"].scanned(None)
    writers["s1"].send(record(1))
    writers["s1"].finish()
    writers["s2"].finish()
    for key, value in log.records:
        latest[key] = value
    assert latest[tid(DAY, "s1")]["segments"] == {"s:0": [[12, 45], [50, 90]]}
    assert latest[tid(DAY, "s2")]["segments"] == {"s:0": [[50, 90]]} and latest[tid(DAY, "s2")]["finished"]
    assert all(latest[tid(DAY, s)]["writes_with"] == writers["s1"].shared.transactional_id for s in ("s1", "s2"))


def test_a_day_is_taken_before_when_any_of_its_owner_records_exists(chain_world):
    pubs, producers, calls, _, log = chain_world
    assert not pubs.taken_before(DAY, ["s1", "s2"]) and not pubs.taken_before(DAY)
    pubs.open_stores_day(DAY, ["s2"])
    assert pubs.taken_before(DAY, ["s1", "s2"]) and not pubs.taken_before(DAY, ["s1"])
    assert not pubs.taken_before(NEXT, ["s2"]), "another day"
