import datetime

from keyplan.relationships import ical


def test_escaping_folding_and_all_day_events():
    now = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
    start = datetime.datetime(2026, 3, 5, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    text = ical.calendar([
        ical.Event("a@x", start, start + datetime.timedelta(hours=1), "Pricing; CFO, CEO", description="Line 1\nLine 2 \\ done",
                   location="Köln"),
        ical.Event("b@x", datetime.date(2026, 3, 6), datetime.date(2026, 3, 7), "Plant visit " + "ü" * 80),
    ], name="Acme", now=now)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Pricing\\; CFO\\, CEO" in unfolded
    assert "DESCRIPTION:Line 1\\nLine 2 \\\\ done" in unfolded
    assert "DTSTART:20260305T083000Z" in unfolded and "DTEND:20260305T093000Z" in unfolded
    assert "DTSTART;VALUE=DATE:20260306" in unfolded and "DTEND;VALUE=DATE:20260307" in unfolded
    assert "SUMMARY:Plant visit " + "ü" * 80 in unfolded  # folding never splits a character
    assert unfolded.count("BEGIN:VEVENT") == 2 and "DTSTAMP:20260301T120000Z" in unfolded
