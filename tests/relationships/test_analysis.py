"""The pure analyses, on constructed cases; and the issue's CFO case through the services."""

import datetime
import random

import pytest

from keyplan.relationships import analysis, services
from keyplan.relationships.analysis import Line, NextStep, Person, who_to_win

TODAY = datetime.date(2026, 3, 1)


def person(pid, name, **kw):
    return Person(id=pid, name=name, **kw)


class TestWhoToWin:
    def test_the_issues_cfo_case(self, cfo_case, kam_account):
        ranking = services.who_to_win(kam_account)
        first = ranking[0]
        assert first.person.name == "Frank Finance" and first.rank == 1
        codes = [r.code for r in first.reasons]
        assert "high_power" in codes and "critic" in codes and "weak_contact" in codes and "no_owner" in codes
        # The path names the supportive head of operations, who is owned by the KAM.
        best = first.best_path
        assert [p.name for p in best.people] == ["Olga Operations", "Frank Finance"]
        assert first.path_owner == "Karl Kam"
        # The auditor's negative line is a risk, not a path.
        assert [(r.source.name, r.strength, r.note) for r in first.risks] == [("Arne Audit", "medium", "Questions our pricing")]
        assert all("Arne Audit" not in [p.name for p in path.people] for path in first.paths)
        assert "Arne Audit" in [r for r in first.reasons if r.code == "negative_influence"][0].text
        as_dict = first.as_dict()
        assert as_dict["stakeholder"] == {"id": cfo_case["cfo"].pk, "name": "Frank Finance"}
        assert as_dict["paths"][0] == [
            {"id": cfo_case["ops"].pk, "name": "Olga Operations"}, {"id": cfo_case["cfo"].pk, "name": "Frank Finance"}]
        assert as_dict["best_path_owner"]["name"] == "Karl Kam"
        # The supporter with strong contact has nothing to win.
        assert "Olga Operations" not in [t.person.name for t in ranking]

    def test_high_power_blocker_is_urgent_and_first(self):
        people = [
            person(1, "Critic high", power="high", sentiment="critic", contact="none"),
            person(2, "Blocker", power="high", sentiment="supporter", contact="strong", buying_role="blocker"),
            person(3, "Low critic", power="low", sentiment="critic", contact="none"),
        ]
        ranking = who_to_win(people, [])
        assert [t.person.name for t in ranking] == ["Blocker", "Critic high", "Low critic"]
        assert ranking[0].urgent and ranking[0].reasons[0].code == "urgent_blocker"
        assert not ranking[1].urgent

    def test_high_power_comes_before_a_higher_score_of_lower_power(self):
        people = [
            person(1, "Medium critic no contact", power="medium", sentiment="critic", contact="none", buying_role="decision_maker"),
            person(2, "High neutral", power="high", sentiment="neutral", contact="medium"),
            person(3, "High supporter weak contact", power="high", sentiment="supporter", contact="weak"),
        ]
        assert [t.person.name for t in who_to_win(people, [])] == [
            "High neutral", "High supporter weak contact", "Medium critic no contact"]

    def test_supporters_in_good_contact_are_left_out(self):
        people = [person(1, "Friend", power="high", sentiment="supporter", contact="medium")]
        assert who_to_win(people, []) == []

    def test_no_path_says_so(self):
        target = who_to_win([person(1, "Alone", power="high", sentiment="critic")], [])[0]
        assert target.paths == () and target.best_path is None and target.path_owner == ""
        assert target.as_dict()["no_path"] is True

    def test_two_step_paths_and_the_best_path(self):
        people = [
            person(1, "Target", power="high", sentiment="critic", contact="none"),
            person(2, "Middle", sentiment="neutral"),
            person(3, "Friend far", sentiment="supporter", contact="strong", owner_id=10, owner="Olaf Owner"),
            person(4, "Friend near", sentiment="supporter", contact="none"),
            person(5, "Consultant", organisation="Quartz", sentiment="neutral", contact="medium", owner_id=11, owner="Sue"),
            person(6, "Critic middle", sentiment="critic"),
            person(7, "Friend behind critic", sentiment="supporter", contact="strong"),
            person(8, "Neutral insider", sentiment="neutral"),
        ]
        lines = [
            Line(2, 1, "positive", "strong"),
            Line(3, 2, "positive", "strong"),
            Line(4, 1, "positive", "weak"),
            Line(5, 1, "positive", "medium"),
            Line(6, 1, "positive", "strong"),
            Line(7, 6, "positive", "strong"),  # a critic in the middle carries nothing
            Line(8, 1, "positive", "strong"),  # a neutral insider cannot start a path
        ]
        target = who_to_win(people, lines)[0]
        described = [([p.name for p in path.people], path.weakest) for path in target.paths]
        # Consultant: medium line (2) + medium contact (2) + owner (1) = 5
        # Friend far over Middle: strong (3) + strong contact (3) + owner (1) + supporter (.5) - 1 step = 6.5
        # Friend near: weak (1) + no contact (0) + supporter (.5) = 1.5
        assert described == [
            (["Friend far", "Middle", "Target"], "strong"),
            (["Consultant", "Target"], "medium"),
            (["Friend near", "Target"], "weak"),
        ]
        assert target.path_owner == "Olaf Owner"

    def test_negative_lines_are_not_paths(self):
        people = [person(1, "T", power="high", sentiment="critic"), person(2, "F", sentiment="supporter")]
        target = who_to_win(people, [Line(2, 1, "negative", "strong")])[0]
        assert target.paths == () and [r.source.name for r in target.risks] == ["F"]

    def test_decision_makers_without_owner_and_buying_centers_without_contact(self):
        people = [
            person(1, "DM owned", buying_role="decision_maker", owner_id=1, owner="K", department="Finance", contact="weak"),
            person(2, "DM loose", buying_role="economic_buyer", department="Finance"),
            person(3, "Engineer", department="R&D"),
            person(4, "Engineer 2", department="R&D "),
            person(5, "Buyer", department="Procurement", contact="medium"),
            person(6, "Consultant", organisation="Quartz", department="Advisory"),
        ]
        assert [p.name for p in analysis.decision_makers_without_owner(people)] == ["DM loose"]
        centers = analysis.buying_centers_without_contact(people)
        assert [(c.department, [p.name for p in c.people]) for c in centers] == [("R&D", ["Engineer", "Engineer 2"])]


class TestStale:
    def test_threshold_and_order(self):
        people = [
            person(1, "Key recent", key_contact=True, power="low", last_contact=TODAY - datetime.timedelta(days=59)),
            person(2, "Key boundary", key_contact=True, power="low", last_contact=TODAY - datetime.timedelta(days=60)),
            person(3, "DM long ago", buying_role="decision_maker", power="low", last_contact=TODAY - datetime.timedelta(days=300)),
            person(4, "DM never", buying_role="decision_maker", power="low"),
            person(5, "User never", power="low"),
        ]
        stale = analysis.stale_relationships(people, today=TODAY)
        assert [(s.person.name, s.days_since) for s in stale] == [("DM never", None), ("DM long ago", 300), ("Key boundary", 60)]
        assert [s.person.name for s in analysis.stale_relationships(people, today=TODAY, days=30)] == [
            "DM never", "DM long ago", "Key boundary", "Key recent"]
        with pytest.raises(ValueError):
            analysis.stale_relationships(people, today=TODAY, days=0)

    def test_high_and_medium_power_are_watched_whatever_their_role(self):
        ninety = TODAY - datetime.timedelta(days=90)
        people = [
            person(1, "Medium supporter", power="medium", sentiment="supporter", last_contact=ninety),
            person(2, "High user", power="high", buying_role="user", last_contact=ninety),
            person(3, "Low user", power="low", buying_role="user", last_contact=ninety),
            person(4, "Low economic buyer", power="low", buying_role="economic_buyer", last_contact=ninety),
            person(5, "Low key contact", power="low", key_contact=True, last_contact=ninety),
        ]
        stale = analysis.stale_relationships(people, today=TODAY)
        assert [s.person.name for s in stale] == [
            "High user", "Low economic buyer", "Low key contact", "Medium supporter"]

    def test_the_rule_is_a_setting(self):
        ninety = TODAY - datetime.timedelta(days=90)
        people = [
            person(1, "Medium supporter", power="medium", last_contact=ninety),
            person(2, "Low gatekeeper", power="low", buying_role="gatekeeper", last_contact=ninety),
            person(3, "Low key contact", power="low", key_contact=True, last_contact=ninety),
        ]
        rule = analysis.StaleRule(days=100, powers=("high",), roles=("gatekeeper",), key_contacts=False)
        assert analysis.stale_relationships(people, today=TODAY, rule=rule) == []
        rule = analysis.StaleRule(days=90, powers=("high",), roles=("gatekeeper",), key_contacts=False)
        assert [s.person.name for s in analysis.stale_relationships(people, today=TODAY, rule=rule)] == ["Low gatekeeper"]


class TestDuplicateNextSteps:
    def test_same_step_by_two_people_is_flagged(self):
        steps = [
            NextStep(1, "Send the revised offer to the CFO", recorded_by=10, due=TODAY),
            NextStep(2, "send revised offer to the CFO!", recorded_by=11, due=TODAY + datetime.timedelta(days=3)),
            NextStep(3, "Send the revised offer to the CFO", recorded_by=10, due=TODAY),  # same person: not flagged
            NextStep(4, "Book the plant visit", recorded_by=11),
            NextStep(5, "Send the revised offer to the CFO", recorded_by=12, done=True),  # done
            NextStep(6, "Send the revised offer to the CFO", recorded_by=12, due=TODAY + datetime.timedelta(days=60)),
        ]
        assert analysis.possible_duplicates(steps) == {1: [2], 2: [1, 3], 3: [2]}

    def test_similarity(self):
        assert analysis.similar_text("Call Anna about the renewal", "call anna about renewal")
        assert not analysis.similar_text("Call Anna about the renewal", "Visit the Rotterdam plant")
        assert not analysis.similar_text("", "")


class TestContactStrength:
    def test_rule(self):
        assert analysis.contact_strength(held=0, recent_points=0, manual="strong") == "strong"
        assert analysis.contact_strength(held=1, recent_points=0, manual="strong") == "weak"
        assert analysis.contact_strength(held=2, recent_points=3, manual="none") == "medium"
        assert analysis.contact_strength(held=3, recent_points=6, manual="none") == "strong"

    def test_sql_and_python_agree(self, kam_account, kam, make_stakeholder, today):
        """The same rule lives in SQL (for filters) and in Python: random histories must give the same answer."""
        rng = random.Random(5)
        people = [make_stakeholder(kam_account, f"P{i}", contact_strength=rng.choice(["none", "weak", "medium", "strong"]))
                  for i in range(12)]
        history: dict[int, list] = {p.pk: [] for p in people}
        for _ in range(40):
            kind = rng.choice(list(analysis.CONTACT_POINTS))
            date = today - datetime.timedelta(days=rng.randint(-30, 400))
            chosen = rng.sample(people, rng.randint(1, 3))
            services.log_interaction(kam_account, by=kam, kind=kind, date=date, summary="x", stakeholders=chosen)
            for p in chosen:
                history[p.pk].append((kind, date))
        computed = {p.id: p.contact for p in services.people(kam_account, today=today)}
        for p in people:
            held, points = analysis.contact_points(history[p.pk], today=today)
            assert computed[p.pk] == analysis.contact_strength(held=held, recent_points=points, manual=p.contact_strength), p.name


class TestLayout:
    def test_managers_above_reports_and_externals_to_the_side(self):
        people = [
            person(1, "CEO"),
            person(2, "CFO", reports_to=1),
            person(3, "COO", reports_to=1),
            person(4, "Controller", reports_to=2),
            person(5, "Auditor", organisation="Audit BV"),
        ]
        layout = analysis.map_layout(people)
        (ceo_x, ceo_y), (cfo_x, cfo_y), (ctl_x, ctl_y) = layout.boxes[1], layout.boxes[2], layout.boxes[4]
        assert ceo_y < cfo_y < ctl_y
        assert layout.boxes[3][1] == cfo_y
        internal_right = max(x for pid, (x, _) in layout.boxes.items() if pid != 5) + layout.node_w
        assert layout.boxes[5][0] > internal_right
        assert [p.title for p in layout.panels if p.kind == "organisation"] == ["Audit BV"]

    def test_boxes_never_overlap_and_fit_the_drawing(self):
        rng = random.Random(3)
        people = [person(1, "Top")]
        for i in range(2, 201):
            people.append(person(i, f"P{i}", reports_to=rng.randint(1, max(1, i // 3)) if rng.random() < 0.95 else None,
                                 organisation="Quartz" if i % 37 == 0 else ""))
        layout = analysis.map_layout(people)
        boxes = sorted(layout.boxes.items(), key=lambda item: item[1])
        assert len(boxes) == 200
        w, h = layout.node_w, layout.node_h
        for pid, (x, y) in boxes:
            assert 0 <= x and x + w <= layout.width + 0.01 and 0 <= y and y + h <= layout.height + 0.01
        for i, (a, (ax, ay)) in enumerate(boxes):
            for b, (bx, by) in boxes[i + 1:]:
                if bx >= ax + w:
                    break
                assert not (abs(ax - bx) < w and abs(ay - by) < h), (a, b)
        # 200 people stay on a page-like shape (never a strip) and are drawn compact.
        assert layout.node.compact and 0.7 < layout.width / layout.height < 3

    def test_cycles_in_the_data_do_not_hang_the_layout(self):
        people = [person(1, "A", reports_to=2), person(2, "B", reports_to=1), person(3, "C", reports_to=3)]
        assert set(analysis.map_layout(people).boxes) == {1, 2, 3}
