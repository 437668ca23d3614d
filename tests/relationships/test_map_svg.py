"""The map's structure, parsed as XML: nodes, colours, emphasis, dotted lines with arrows, the legend."""

import random
import re
import xml.etree.ElementTree as ET

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
    assert "Owner: Karl Kam" in drawn[person.pk].find("svg:title", NS).text


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
