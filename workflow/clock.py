"""The one place that reads the wall clock; domain code takes `now` as an argument instead."""
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local(dt: datetime) -> datetime:
    return dt.astimezone(LOCAL_TZ)


def start_of(day: date) -> datetime:
    """The moment (aware UTC) the local day begins: local(moment).date() < day exactly when moment < start_of(day)."""
    return datetime.combine(day, time(), tzinfo=LOCAL_TZ).astimezone(UTC)
