"""How a run ended, decided once for every front door (``foot-traffic produce``, the Airflow
operators): what it means, the text that says so, and the CLI's exit code.

A front door only says it its own way: the CLI logs the text and exits with the code, an
operator raises the Airflow exception of the ending (a retry for ``STOPPED`` and
``FAILED``, which resume; none for the others, which a retry cannot change).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from foot_traffic.delivery.errors import BrokerUnavailable, Fenced, PlanMismatch, PublishError, RecordRefused
from foot_traffic.delivery.ledger import describe_owner

EXIT_OK = 0
EXIT_DELIVERY = 1
EXIT_SETTINGS = 2
EXIT_FENCED = 3
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


class Ending(Enum):
    DONE = "done"
    STOPPED = "stopped"  # asked to stop (a signal, on_kill): a restart sends exactly the rest
    FENCED = "fenced"  # a newer run took a day over: it continues the day
    REFUSED = "refused"  # the broker refused a record, or the day has another plan: refused again
    FAILED = "failed"  # Kafka unreachable, or records not acknowledged: a restart resumes
    INVALID = "invalid"  # bad settings, catalogue or profile: nothing was sent


EXIT_CODES = {Ending.DONE: EXIT_OK, Ending.FAILED: EXIT_DELIVERY, Ending.REFUSED: EXIT_DELIVERY,
              Ending.INVALID: EXIT_SETTINGS, Ending.FENCED: EXIT_FENCED}


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``summaries`` None when it ended by an error before it could report."""

    ending: Ending
    text: str = ""
    summaries: list | None = None

    @property
    def retried(self) -> bool:
        """Whether another attempt can change it (Airflow's retry)."""
        return self.ending in (Ending.STOPPED, Ending.FAILED)

    def exit_code(self, stopped: int = EXIT_SIGINT) -> int:
        """The CLI's code; ``stopped``: the code of the signal that stopped it."""
        return stopped if self.ending is Ending.STOPPED else EXIT_CODES[self.ending]


def invalid(problems: Iterable[str], what: str = "invalid settings") -> Outcome:
    """Input refused before anything is sent, one line per problem."""
    return Outcome(Ending.INVALID, f"{what}, nothing was sent:\n" + "\n".join(f"  - {p}" for p in problems))


def play(runner, days: Iterable[date], *, stopped_by: str | Callable[[], str], what: str = "the run",
         **run: Any) -> Outcome:
    """Play ``days`` with ``runner`` (``Runner.run``'s keywords in ``run``) and say how it
    ended; ``stopped_by`` names what stops it (``on_kill``; a callable: asked at the end,
    which signal it was), ``what`` what it plays."""
    try:
        summaries = runner.run(days, **run)
    except InterruptedError:  # stopped while a client was connecting (at the start, or healing an outage)
        stopped_by = stopped_by() if callable(stopped_by) else stopped_by
        if runner.records_sent:
            return Outcome(Ending.STOPPED, f"stopped by {stopped_by} while connecting to Kafka: "
                           f"{runner.records_sent:,} records sent before; what was committed stays, a restart "
                           "sends exactly the rest")
        return Outcome(Ending.STOPPED, f"stopped by {stopped_by} before anything was sent")
    except Fenced as exc:  # normally reported in the summaries
        return Outcome(Ending.FENCED, str(exc))
    except PlanMismatch as exc:
        return Outcome(Ending.REFUSED, f"cannot produce: {exc}")
    except RecordRefused as exc:  # permanent: a retry would be refused again
        return Outcome(Ending.REFUSED, f"delivery failed: {exc}")
    except PublishError as exc:
        return Outcome(Ending.FAILED, f"{'Kafka unavailable' if isinstance(exc, BrokerUnavailable) else 'delivery failed'}: {exc}")
    if runner.fenced is not None:
        return Outcome(Ending.FENCED, f"fenced by a newer run: {describe_owner(runner.fenced.by)} now writes "
                       f"{runner.fenced.day}; this run stopped after {runner.records_sent:,} records, nothing was "
                       "sent twice (its unfinished transaction was aborted, what it committed stays)", summaries)
    if runner.stop.is_set() or any(s.stopped or not s.finished for s in summaries):
        by = stopped_by() if callable(stopped_by) else stopped_by
        return Outcome(Ending.STOPPED, _stopped_text(runner, summaries, by, what), summaries)
    return Outcome(Ending.DONE, "", summaries)


def _stopped_text(runner, summaries: list, by: str, what: str) -> str:
    if runner.stopped_in_outage:
        return (f"stopped by {by} during an outage: {delivered(summaries, runner.records_sent, acknowledged=False)}; "
                f"{what} is incomplete: what was committed stays, a restart sends exactly the rest")
    if not runner.records_sent:
        return f"stopped by {by} before anything was sent"
    incomplete = f"{what} is incomplete, " if any(not s.finished and not s.closed for s in summaries) else ""
    return (f"stopped cleanly by {by}: {delivered(summaries, runner.records_sent)}; {incomplete}a restart with the "
            "same settings sends the rest")


def delivered(summaries: Sequence[Any], records_sent: int, *, acknowledged: bool = True, most: int = 5) -> str:
    """What a stopped run delivered: its records, the days complete, the unfinished ones
    and what each holds (``summaries``: the runner's ``DaySummary`` objects).
    ``acknowledged`` False: stopped during an outage, the last records' fate unknown."""
    if not records_sent and not any(s.already_present for s in summaries):
        return "nothing was sent"
    done = [s for s in summaries if s.finished]
    open_ = [s for s in summaries if not s.finished and not s.closed]

    def label(s: Any) -> str:
        return f"{s.store_id} {s.day}" if s.store_id else str(s.day)

    parts = [f"{records_sent:,} records sent" + (", every one acknowledged" if acknowledged else "")]
    if done:
        parts.append(f"{len(done):,} {'day' if len(done) == 1 else 'days'} complete")
    if open_:
        shown = ", ".join(
            f"{label(s)} ({s.sent:,} sent" + (f", {s.already_present:,} there before)" if s.already_present else ")")
            for s in open_[:most]
        )
        more = f" and {len(open_) - most:,} more" if len(open_) > most else ""
        parts.append(f"unfinished: {shown}{more}")
    return "; ".join(parts)


def chain_result(day: date, summaries: Sequence[Any], topics: Sequence[str]) -> dict[str, Any]:
    """A chain shard's result (the operator's XCom): totals and, per store, what it planned and sent."""
    return {
        "day": day.isoformat(),
        "stores": len(summaries),
        "closed_stores": [s.store_id for s in summaries if s.closed],
        "total_visits": sum(s.total_visits for s in summaries),
        "records_sent": sum(s.sent for s in summaries),
        "records_already_present": sum(s.already_present for s in summaries),
        "topics": list(topics),
        "per_store": {
            s.store_id: {"visits": s.total_visits, "sent": s.sent, "already_present": s.already_present,
                         "plan_id": s.plan_id, "closed": s.closed, "seed": s.seed,
                         "sent_per_topic": dict(s.sent_per_topic), "finished": s.finished, "stopped": s.stopped}
            for s in summaries
        },
    }


def invalid_input(exc: ValueError, profile_setting: str = "FOOT_TRAFFIC_PROFILE") -> Outcome:
    """A ``SettingsError``, ``CatalogueError`` or ``ProfileError`` as refused input, every
    problem a line; ``profile_setting``: how the front door names the profile's setting."""
    from foot_traffic.model.profile import ProfileError
    from foot_traffic.plan.stores import CatalogueError

    if isinstance(exc, CatalogueError):
        return invalid(exc.problems, f"invalid store catalogue {exc.source}")
    if isinstance(exc, ProfileError):
        return invalid([f"{profile_setting}: {exc}"])
    return invalid(getattr(exc, "problems", None) or [str(exc)])
