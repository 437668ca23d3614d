"""The map's structure, parsed as XML: nodes, colours, emphasis, dotted lines with arrows, the legend."""

import random
import re
import xml.etree.ElementTree as ET

import pytest

from keyplan.relationships import services
from keyplan.relationships.analysis import Line, Person
from keyplan.relationships.map_svg import POLARITY_COLOURS, POWER_STROKE, SENTIMENT_COLOURS, render_map

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def nodes(root):
    return {int(g.get("data-stakeholder")): g for g in root.iter(f"{SVG}g") if "node" in (g.get("class") or "").split()}


def test_the_issues_case_drawn(cfo_case, kam_account):
    root = parse(services.render_map(kam_account))
    assert root.tag == f"{SVG}svg" and root.get("viewBox").startswith("0 0 ")
    assert root.get("direction") == "ltr"  # text stays inside its box on right-to-left (Persian) pages
    drawn = nodes(root)
    cfo, ops, auditor = cfo_case["cfo"], cfo_case["ops"], cfo_case["auditor"]
    assert set(drawn) == {p.pk for p in cfo_case.values()}
    # Colour by sentiment, emphasis by decision power.
    box = drawn[cfo.pk].find("svg:rect[@class='box']", NS)
    assert (box.get("fill"), box.get("stroke")) == SENTIMENT_COLOURS["critic"]
    assert float(box.get("stroke-width")) == POWER_STROKE["high"]
    ops_box = drawn[ops.pk].find("svg:rect[@class='box']", NS)
    assert (ops_box.get("fill"), ops_box.get("stroke")) == SENTIMENT_COLOURS["supporter"]
    assert float(ops_box.get("stroke-width")) == POWER_STROKE["medium"]
    assert drawn[cfo.pk].find("svg:text[@class='name']", NS).get("font-weight") == "700"
    # Influence lines: dotted, with an arrow, red when negative.
    lines = {(int(g.get("data-source")), int(g.get("data-target"))): g
             for g in root.iter(f"{SVG}g") if "influence" in (g.get("class") or "").split()}
    positive, negative = lines[(ops.pk, cfo.pk)], lines[(auditor.pk, cfo.pk)]
    for group, polarity in ((positive, "positive"), (negative, "negative")):
        path = group.find("svg:path", NS)
        assert path.get("stroke-dasharray") and path.get("stroke") == POLARITY_COLOURS[polarity]
        assert path.get("marker-end") == f"url(#kp-arrow-{polarity})"
        assert root.find(f".//svg:marker[@id='kp-arrow-{polarity}']", NS) is not None
    assert POLARITY_COLOURS["negative"] == "#dc2626"
    assert "They play golf" in positive.find("svg:title", NS).text
    # Reporting lines are solid, separate from the influence lines.
    reporting = root.find(".//svg:g[@class='reporting-lines']", NS)
    assert reporting is not None and reporting.get("stroke-dasharray") is None and len(reporting) >= 2
    # The external auditor sits to the side, in their organisation's group.
    def x_of(g):
        return float(re.match(r"translate\(([-\d.]+),", g.get("transform")).group(1))
    assert x_of(drawn[auditor.pk]) > max(x_of(drawn[p.pk]) for p in (cfo_case["ceo"], cfo, ops))
    assert "external" in drawn[auditor.pk].get("class")
    assert any(t.text == "Van Dijk Audit" for t in root.iter(f"{SVG}text"))
    # A legend that names every code on the map.
    legend = root.find(".//svg:g[@class='legend']", NS)
    words = {t.text for t in legend.iter(f"{SVG}text")}
    assert {"Supporter", "Neutral", "Critic", "High decision power", "Key contact point", "Reports to",
            "Positive influence", "Negative influence"} <= words


def test_key_contact_marker_and_owner_in_the_tooltip(kam_account, make_stakeholder, kam):
    person = make_stakeholder(kam_account, "Kim Key", is_key_contact=True, owner=kam)
    other = make_stakeholder(kam_account, "Olli Other")
    drawn = nodes(parse(services.render_map(kam_account)))
    assert drawn[person.pk].find("svg:g[@class='key-contact']", NS) is not None
    assert drawn[other.pk].find("svg:g[@class='key-contact']", NS) is None
    assert "Owner: \u2068Karl Kam\u2069" in drawn[person.pk].find("svg:title", NS).text  # the name isolated (bidi)


def test_self_contained_no_external_references(cfo_case, kam_account):
    text = services.render_map(kam_account, link=None)
    root = parse(text)
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.endswith("href") or name in ("src",):
                raise AssertionError(f"{element.tag} links to {value}")
            assert "http" not in value or name == "xmlns", (element.tag, name, value)
            if "url(" in value:
                assert re.fullmatch(r"url\(#[\w-]+\)", value), value
    assert root.find(".//svg:style", NS) is None and root.find(".//svg:script", NS) is None
    assert root.find(".//svg:image", NS) is None and root.find(".//svg:foreignObject", NS) is None


def test_names_are_escaped(kam_account, make_stakeholder):
    make_stakeholder(kam_account, "<script>alert(1)</script> & Co", title='"quoted"')
    text = services.render_map(kam_account)
    assert "<script>" not in text
    assert any("<script>" in (t.text or "") for t in parse(text).iter(f"{SVG}text"))


def test_an_empty_map_says_so(kam_account):
    root = parse(services.render_map(kam_account))
    assert nodes(root) == {} and any(t.text == "No stakeholders yet." for t in root.iter(f"{SVG}text"))


def test_200_stakeholders_stay_readable():
    rng = random.Random(11)
    people = [Person(1, "Chief Executive", power="high", key_contact=True)]
    managers = [1]
    for i in range(2, 201):
        manager = rng.choice(managers)
        people.append(Person(i, f"Person {i}", title="Manager" if i < 30 else "Specialist", department=rng.choice("ABCDEF"),
                             reports_to=None if i % 50 == 0 else manager, organisation="Quartz Advisory" if i % 41 == 0 else "",
                             power=rng.choice(["high", "medium", "low"]), sentiment=rng.choice(["supporter", "neutral", "critic"])))
        if i < 30:
            managers.append(i)
    lines = [Line(rng.randint(1, 200), rng.randint(1, 200), rng.choice(["positive", "negative"]), "medium") for _ in range(60)]
    lines = [line for line in lines if line.source != line.target]
    root = parse(render_map(people, lines, title="Big account"))
    drawn = nodes(root)
    assert len(drawn) == 200
    # Every name is drawn as text no smaller than 12 units, and the whole map keeps a page-like shape.
    for g in drawn.values():
        assert float(g.find("svg:text[@class='name']", NS).get("font-size")) >= 12
    width, height = float(root.get("width")), float(root.get("height"))
    assert 0.8 < width / height < 2.6 and width < 5000
    # Fitted onto one A4 landscape page (277 × 190 mm printable), names still print at 2.5 pt or more.
    scale = min(277 / width, 190 / height)  # mm per unit
    assert 12 * scale / 0.3528 >= 2.5


def test_api_serves_the_same_svg(cfo_case, kam_account, kam, api_client):
    response = api_client(kam).get(f"/api/v1/accounts/{kam_account.pk}/map.svg")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    root = parse(response.content)
    assert len(nodes(root)) == 4 and not any(el.tag == f"{SVG}a" for el in root.iter())


# ---------------------------------------------------------------- the legend, wrapped texts, routes, departments


def _legend_items(root) -> dict[str, ET.Element]:
    legend = root.find(".//svg:g[@class='legend']", NS)
    return {g.find("svg:text", NS).text: g for g in legend.iter(f"{SVG}g") if g.get("class") == "legend-item"}


def test_the_legend_explains_every_mark(cfo_case, kam_account):
    root = parse(services.render_map(kam_account))
    items = _legend_items(root)
    headings = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "legend-heading"]
    assert headings == ["Sentiment (fill, border and stripe):", "Decision power (dots and border):"]
    # The dots: three, two and one filled, as on the boxes; the border as heavy as on the boxes.
    for label, filled, power in (("High decision power", 3, "high"), ("Medium decision power", 2, "medium"),
                                 ("Low decision power", 1, "low")):
        dots = items[label].findall("svg:circle", NS)
        assert len(dots) == 3 and sum(d.get("fill") != "none" for d in dots) == filled
        assert float(items[label].find("svg:rect", NS).get("stroke-width")) == POWER_STROKE[power]
    # The stripe: each sentiment's swatch has one, in the colour the boxes use.
    for label, sentiment in (("Supporter", "supporter"), ("Neutral", "neutral"), ("Critic", "critic")):
        stripe = items[label].findall("svg:rect", NS)[1]
        assert stripe.get("fill") == SENTIMENT_COLOURS[sentiment][1] and float(stripe.get("width")) < 6
    # Each kind of line is drawn in the legend as on the map.
    for polarity in ("positive", "negative"):
        swatch = items[f"{polarity.capitalize()} influence"].find("svg:path", NS)
        drawn = next(g for g in root.iter(f"{SVG}g") if (g.get("class") or "") == f"influence {polarity}").find("svg:path", NS)
        assert swatch.get("stroke-dasharray") == drawn.get("stroke-dasharray")
        assert swatch.get("stroke") == drawn.get("stroke")


def _detail_texts(node) -> list[str]:
    return [t.text for t in node.findall("svg:text", NS) if t.get("class") == "detail"]


@pytest.mark.parametrize("language", ["en", "nl", "de", "it", "zh-hans", "fa"])
def test_long_role_texts_wrap_instead_of_being_cut(kam_account, make_stakeholder, language):
    from django.utils import translation

    from keyplan.relationships.map_svg import text_width
    from keyplan.relationships.models import BuyingRole

    long_department = {"zh-hans": "采购与供应链管理部", "fa": "تدارکات و زنجیره تأمین"}.get(language, "Procurement and supply chain")
    for value in BuyingRole.values:
        make_stakeholder(kam_account, f"Person {value}", title="Head", buying_role=value, department=long_department)
    with translation.override(language):
        root = parse(services.render_map(kam_account))
        labels = dict(BuyingRole.choices)
        drawn = nodes(root)
        box_width = float(next(iter(drawn.values())).find("svg:rect[@class='box']", NS).get("width"))
        for person in kam_account.stakeholders.all():
            lines = _detail_texts(drawn[person.pk])
            assert lines and not any("…" in line for line in lines), lines
            # Whole words: joined again, the lines give the role and the department.
            joined = " ".join(lines) if language != "zh-hans" else "".join(lines)
            assert joined.replace(" ", "") == f"{labels[person.buying_role]} · {long_department}".replace(" ", "")
            assert all(text_width(line, 10) <= box_width - 22 for line in lines)
            # Measured as regular text: drawn as regular text whatever the page's style sheet says.
            assert {t.get("font-weight") for t in drawn[person.pk].findall("svg:text", NS) if t.get("class") == "detail"} == {"400"}


def _route_points(d: str) -> list[tuple[float, float]]:
    numbers = [tuple(map(float, pair.split(","))) for pair in re.findall(r"-?[\d.]+,-?[\d.]+", d)]
    if "Q" in d:
        (x0, y0), (cx, cy), (x2, y2) = numbers
        return [((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t * t * x2, (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t * t * y2)
                for t in (i / 200 for i in range(201))]
    points = []
    for (ax, ay), (bx, by) in zip(numbers, numbers[1:]):
        points += [(ax + (bx - ax) * i / 50, ay + (by - ay) * i / 50) for i in range(51)]
    return points


def _boxes_and_headings(root):
    """Every person's box and every organisation heading, in the chart's coordinates."""
    boxes = {}
    for pid, g in nodes(root).items():
        x, y = map(float, re.match(r"translate\(([-\d.]+),([-\d.]+)\)", g.get("transform")).groups())
        box = g.find("svg:rect[@class='box']", NS)
        boxes[pid] = (x, y, x + float(box.get("width")), y + float(box.get("height")))
    headings = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "organisation":
            rect, text = g.find("svg:rect", NS), g.find("svg:text", NS)
            x, y = float(rect.get("x")), float(rect.get("y"))
            headings.append((x, y, x + float(rect.get("width")), float(text.get("y")) + 4))
    return boxes, headings


def _inside(point, rect) -> bool:
    return rect[0] < point[0] < rect[2] and rect[1] < point[1] < rect[3]


def test_influence_lines_go_around_boxes_and_headings():
    people = [
        Person(1, "Boss", power="high"),
        Person(2, "Ann", reports_to=1), Person(3, "Ben", reports_to=1), Person(4, "Cas", reports_to=1),
        Person(5, "Dea", reports_to=1),
        Person(6, "Alf Alpha", organisation="Alpha Advisory"), Person(7, "Bea Beta", organisation="Beta Consult"),
    ]
    lines = [Line(2, 5, "positive", "strong"), Line(5, 2, "negative", "weak"), Line(7, 6, "positive", "medium"),
             Line(6, 4, "positive", "weak"), Line(7, 1, "negative", "strong")]
    root = parse(render_map(people, lines))
    boxes, headings = _boxes_and_headings(root)
    routes = {(int(g.get("data-source")), int(g.get("data-target"))): g.find("svg:path", NS).get("d")
              for g in root.iter(f"{SVG}g") if "influence" in (g.get("class") or "").split()}
    assert len(routes) == len(lines)
    for (source, target), d in routes.items():
        points = _route_points(d)
        for pid, rect in boxes.items():
            # Not through anyone's box: the line would run under it, as if it ended there.
            assert not any(_inside(p, rect) for p in points), (source, target, pid)
        for rect in headings:
            assert not any(_inside(p, rect) for p in points), (source, target, "heading")


def test_a_negative_line_between_neighbours_is_drawn_visibly():
    people = [Person(1, "Boss"), *(Person(i, f"Report {i}", reports_to=1) for i in range(2, 6))]
    root = parse(render_map(people, [Line(2, 3, "negative", "weak")]))
    boxes, _ = _boxes_and_headings(root)
    assert boxes[3][1] - boxes[2][3] < 20  # stacked neighbours, a small gap between them
    path = next(g for g in root.iter(f"{SVG}g") if "influence" in (g.get("class") or "").split()).find("svg:path", NS)
    points = _route_points(path.get("d"))
    length = sum(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 for a, b in zip(points, points[1:]))
    assert length >= 28  # longer than its own arrow head
    assert not any(_inside(p, boxes[2]) or _inside(p, boxes[3]) for p in points)
    assert path.get("stroke-dasharray") == "6 3" and float(path.get("stroke-width")) >= 1.5


class TestDepartmentFilter:
    @pytest.fixture
    def departments(self, kam_account, make_stakeholder, kam):
        ceo = make_stakeholder(kam_account, "Clara Ceo", department="Board")
        cfo = make_stakeholder(kam_account, "Frank Finance", department="Finance", reports_to=ceo)
        clerk = make_stakeholder(kam_account, "Fiona Figures", department="Finance", reports_to=cfo)
        make_stakeholder(kam_account, "Oscar Ops", department="Operations", reports_to=ceo)
        make_stakeholder(kam_account, "Carl Consult", external_organisation="Quartz")
        services.add_influence_line(kam_account, by=kam, source=clerk, target=cfo)
        return {"cfo": cfo, "clerk": clerk}

    def test_the_map_of_one_department(self, kam_account, departments):
        assert services.map_departments(kam_account) == ["Board", "Finance", "Operations"]
        root = parse(services.render_map(kam_account, department="finance"))
        assert set(nodes(root)) == {departments["cfo"].pk, departments["clerk"].pk}
        subtitle = next(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "map-subtitle")
        assert "Department: finance (2 of 5 people)" in subtitle
        assert len([g for g in root.iter(f"{SVG}g") if "influence" in (g.get("class") or "").split()]) == 1
        # Frank heads the part of the chart; his own manager is elsewhere.
        assert len(root.find(".//svg:g[@class='reporting-lines']", NS)) >= 1

    def test_page_api_and_cli(self, kam_account, kam, departments, api_client, capsys, tmp_path):
        from django.urls import reverse

        from keyplan.cli import main
        from tests.conftest import client_for

        page = client_for(kam).get(reverse("relationships:map", args=[kam_account.pk]), {"department": "Finance"})
        body = page.content.decode()
        assert '<option value="Finance" selected>' in body and "Oscar Ops" not in body.split('id="map"')[1].split("</section>")[0]
        assert "?department=Finance" in body  # the SVG download is the same map
        unknown = client_for(kam).get(reverse("relationships:map", args=[kam_account.pk]), {"department": "Nope"})
        assert unknown.status_code == 200 and "Oscar Ops" in unknown.content.decode()
        client = api_client(kam)
        svg = client.get(f"/api/v1/accounts/{kam_account.pk}/map.svg", {"department": "Finance"})
        assert svg.status_code == 200 and len(nodes(parse(svg.content))) == 2
        bad = client.get(f"/api/v1/accounts/{kam_account.pk}/map.svg", {"department": "Nope"})
        assert bad.status_code == 422 and "department" in str(bad.json())
        target = tmp_path / "finance.svg"
        assert main(["relationships", "map", kam_account.external_id, "--department", "Finance", "-o", str(target)]) == 0
        assert len(nodes(ET.parse(target).getroot())) == 2
        assert main(["relationships", "map", kam_account.external_id, "--department", "Nope"]) == 2
        assert "departments on the map: Board, Finance, Operations" in capsys.readouterr().err
