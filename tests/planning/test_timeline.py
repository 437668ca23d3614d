import datetime
import xml.etree.ElementTree as ET

from django.urls import reverse
from django.utils import translation

from keyplan.planning import gantt_svg, services
from tests.conftest import client_for

NS = {"s": "http://www.w3.org/2000/svg"}
TODAY = datetime.date(2027, 3, 15)


def day(month: int, d: int) -> datetime.date:
    return datetime.date(2027, month, d)


def groups():
    return [gantt_svg.Group("Win the VP <Engineering>", due=day(6, 30), bars=(
        gantt_svg.Bar(1, "Value proposition & deck", "done", day(1, 10), day(2, 1)),
        gantt_svg.Bar(2, "Ask the VP", "not_started", day(2, 20), day(3, 1), overdue=True, depends_on=(1,)),
        gantt_svg.Bar(3, "CTO meeting", "not_started", None, day(4, 2), milestone=True, depends_on=(2,)),
        gantt_svg.Bar(4, "Someday", "not_started"),
    ))]


def bars(root) -> dict[str, ET.Element]:
    return {g.get("data-action"): g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-action")}


def test_bars_by_date_dependencies_today_and_escaping():
    svg = gantt_svg.render_gantt(groups(), today=TODAY, title="Acme & Co")
    root = ET.fromstring(svg)  # well-formed: every text escaped
    assert "Win the VP &lt;Engineering&gt;" in svg and "<script" not in svg and "href" not in svg
    found = bars(root)
    first = found["1"].find("s:rect", NS)
    second = found["2"].find("s:rect", NS)
    assert float(first.get("x")) < float(second.get("x"))  # later work further right
    assert second.get("fill") == gantt_svg.OVERDUE[0] and "overdue" in found["2"].get("class")
    assert found["3"].find("s:polygon", NS) is not None  # a milestone is a diamond
    assert found["4"].find("s:rect", NS) is None  # no dates: a label only
    arrows = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "dependency"]
    assert {(a.get("data-from"), a.get("data-to")) for a in arrows} == {("1", "2"), ("2", "3")}
    today = next(g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "today")
    today_x = float(today.find("s:path", NS).get("d").split(",")[0][1:])
    assert float(first.get("x")) < today_x < float(found["3"].find("s:polygon", NS).get("points").split(",")[0])
    # Its word stands under the last row (where the month lines end), clear of any bar, inside the drawing.
    word = today.find("s:text", NS)
    months = next(g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "months")
    rows_end = max(float(p.get("d").split("V")[1]) for p in months.findall("s:path", NS))
    assert rows_end < float(word.get("y")) < float(root.get("height"))


def test_right_to_left_mirrors_time():
    ltr, rtl = (ET.fromstring(gantt_svg.render_gantt(groups(), today=TODAY, rtl=flag)) for flag in (False, True))
    assert rtl.get("direction") == "rtl"
    x = {name: float(bars(root)["1"].find("s:rect", NS).get("x")) for name, root in (("ltr", ltr), ("rtl", rtl))}
    x2 = {name: float(bars(root)["2"].find("s:rect", NS).get("x")) for name, root in (("ltr", ltr), ("rtl", rtl))}
    assert x["ltr"] < x2["ltr"] and x["rtl"] > x2["rtl"]  # in Persian, later work stands further left
    # An English label on a Persian chart keeps its own direction and lines up on the right.
    label = bars(rtl)["1"].find("s:text", NS)
    assert label.get("direction") == "ltr" and label.get("text-anchor") == "end"


def test_empty_and_huge():
    empty = gantt_svg.render_gantt([], today=TODAY)
    assert "No goals or actions yet." in empty
    many = [gantt_svg.Group(f"Goal {i}", bars=tuple(gantt_svg.Bar(i * 10 + j, f"A{j}", "done", TODAY, TODAY) for j in range(9)))
            for i in range(100)]
    svg = gantt_svg.render_gantt(many, today=TODAY)
    assert ET.fromstring(svg).get("data-rows") == str(gantt_svg.MAX_ROWS) and "400 more rows not shown." in svg


def test_timeline_page_api_and_download(plan, goal, kam, today, outsider, api_client):
    first = services.add_action(goal, by=kam, data={"title": "Prepare", "start": today, "due": today + datetime.timedelta(days=5)})
    services.add_action(goal, by=kam, data={"title": "Meet", "start": today + datetime.timedelta(days=6),
                                            "due": today + datetime.timedelta(days=6), "depends_on": [first.pk]})
    page = client_for(kam).get(reverse("planning:timeline", args=[plan.account_id, plan.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and 'class="plan-gantt"' in body and "Prepare" in body
    assert reverse("planning:action", args=[plan.account_id, plan.pk, first.pk]) in body  # bars open their editor
    download = client_for(kam).get(reverse("planning:timeline", args=[plan.account_id, plan.pk]), {"download": 1})
    assert download["Content-Type"].startswith("image/svg+xml") and b"href" not in download.content
    ET.fromstring(download.content)
    api = api_client(kam).get(f"/api/v1/accounts/{plan.account_id}/plans/{plan.pk}/timeline.svg")
    assert api.status_code == 200 and api["Content-Type"].startswith("image/svg+xml")
    assert api_client(outsider).get(f"/api/v1/accounts/{plan.account_id}/plans/{plan.pk}/timeline.svg").status_code == 404
    assert client_for(outsider).get(reverse("planning:timeline", args=[plan.account_id, plan.pk])).status_code == 404


def test_portfolio_timeline_in_persian(plan, goal, kam, lead):
    client = client_for(lead)
    client.post(reverse("set_language"), {"language": "fa", "next": "/"})
    body = client.get(reverse("planning:portfolio_timeline")).content.decode()
    assert 'direction="rtl"' in body and plan.account.name in body
    translation.activate("en")
