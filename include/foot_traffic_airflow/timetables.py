"""A cron schedule that says its time zone: the chain DAG's "At 00:00" is at UTC+14.

Airflow 3.3 describes a ``CronTriggerTimetable`` by its cron expression alone ("At
00:00"), in the DAG list and on the DAG's page, whatever its time zone. This subclass
adds the zone and its UTC offset to that description and nothing else: the same
expression, the same runs. Airflow serializes a timetable class only when a plugin
registers it: ``plugins/foot_traffic_timetables.py`` does.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.timetables.trigger import CronTriggerTimetable


def zone_text(name: str) -> str:
    """``Pacific/Kiritimati (UTC+14)``; a zone with daylight saving time names both offsets."""
    from foot_traffic.plan.localday import zone

    tz = zone(name)
    year = datetime.datetime.now(datetime.UTC).year
    offsets = sorted({datetime.datetime(year, month, 15, 12, tzinfo=tz).utcoffset() for month in (1, 7)})

    def text(offset: datetime.timedelta | None) -> str:
        minutes = int((offset or datetime.timedelta()).total_seconds() // 60)
        sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
        return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")

    return f"{name} ({'/'.join(text(o) for o in offsets)})"


class ZonedCronTriggerTimetable(CronTriggerTimetable):
    """``CronTriggerTimetable`` whose description names its time zone: "At 00:00, Pacific/Kiritimati (UTC+14)"."""

    def __init__(self, cron: str, *, timezone: Any, **kwargs: Any) -> None:
        super().__init__(cron, timezone=timezone, **kwargs)
        name = getattr(self._timezone, "name", str(self._timezone))
        if self.description:
            self.description = f"{self.description}, {zone_text(name)}"

    # As the Task SDK's CronTriggerTimetable names them (what a DAG file's author reads back).
    @property
    def expression(self) -> str:
        return self._expression

    @property
    def timezone(self) -> Any:
        return self._timezone
