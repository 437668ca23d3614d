"""Who to win: the order of the paths to a person, reporting lines as paths, and the stale start.

The first test is the case a new KAM met (issue 12): a hospital group mapped with a neutral
executive, a supporter the team owns and an outside consultant nobody knows. It goes through the
services, as the page, the API and the CLI do; the others pin the rule on constructed people.
"""

import datetime

import pytest

from keyplan.relationships import services
from keyplan.relationships.analysis import Line, Person, find_paths, who_to_win

TODAY = datetime.date(2026, 3, 1)


def person(pid, name, **kw):
    return Person(id=pid, name=name, **kw)


def names(path) -> list[str]:
    return [p.name for p in path.people]


@pytest.fixture
def hospital(kam_account, kam, make_stakeholder):
    """A neutral executive who decides; a supporter owned by the KAM, two steps away over medium lines;
    a consultant nobody on the team knows, with a strong line straight to the executive."""
    ceo = make_stakeholder(kam_account, "Eva Executive", title="CEO", decision_power="high",
                           buying_role="decision_maker", sentiment="neutral")
    cmo = make_stakeholder(kam_account, "Maarten Medical", title="Chief medical officer", reports_to=ceo,
                           decision_power="medium", sentiment="neutral")
    nurse = make_stakeholder(kam_account, "Nora Nursing", title="Head of nursing", reports_to=cmo,
                             decision_power="medium", sentiment="supporter", owner=kam)
    consultant = make_stakeholder(kam_account, "Conrad Consult", title="Consultant",
                                  external_organisation="Zorg Advies", sentiment="neutral")
    services.add_influence_line(kam_account, by=kam, source=nurse, target=cmo, strength="medium")
    services.add_influence_line(kam_account, by=kam, source=cmo, target=ceo, strength="medium")
    services.add_influence_line(kam_account, by=kam, source=consultant, target=ceo, strength="strong")
    return {"ceo": ceo, "cmo": cmo, "nurse": nurse, "consultant": consultant}


class TestTheBestPathStartsWithSomeoneWeKnow:
    def test_the_owned_supporter_comes_before_the_unknown_consultant(self, hospital, kam_account):
        target = next(t for t in services.who_to_win(kam_account) if t.person.name == "Eva Executive")
        assert names(target.best_path) == ["Nora Nursing", "Maarten Medical", "Eva Executive"]
        assert target.path_owner == "Karl Kam"
        assert target.as_dict()["best_path_owner"] == {"id": hospital["nurse"].owner_id, "name": "Karl Kam",
                                                       "username": "kam"}
        # The consultant's path is still offered, after the one we own.
        assert ["Conrad Consult", "Eva Executive"] in [names(p) for p in target.paths]
        # Nora was added and never met: the best path says its start is stale.
        assert target.best_path.stale and target.as_dict()["path_details"][0]["stale"] is True

    def test_a_recent_meeting_clears_the_stale_flag(self, hospital, kam_account, log, today):
        log(kam_account, hospital["nurse"], days_ago=3)
        target = next(t for t in services.who_to_win(kam_account) if t.person.name == "Eva Executive")
        assert names(target.best_path)[0] == "Nora Nursing"
        assert not target.best_path.stale
        assert target.as_dict()["path_details"][0]["start_last_contact"] == today - datetime.timedelta(days=3)


class TestPathOrder:
    """Owned start first, then the start's contact strength, then fewer steps, then the weakest line."""

    def test_owned_beats_contact_beats_length_beats_line(self):
        people = [
            person(1, "Target", power="high", sentiment="critic"),
            person(2, "Middle", sentiment="neutral"),
            person(3, "Owned far weak", sentiment="supporter", contact="weak", owner_id=9, owner="K"),
            person(4, "Owned near weak", sentiment="supporter", contact="weak", owner_id=9, owner="K"),
            person(5, "Owned strong contact far", sentiment="supporter", contact="strong", owner_id=9, owner="K"),
            person(6, "Unowned strong contact", sentiment="supporter", contact="strong"),
            person(7, "Owned near weak, strong line", sentiment="supporter", contact="weak", owner_id=9, owner="K"),
        ]
        lines = [
            Line(2, 1, "positive", "strong"),
            Line(3, 2, "positive", "strong"),
            Line(4, 1, "positive", "weak"),
            Line(5, 2, "positive", "weak"),
            Line(6, 1, "positive", "strong"),
            Line(7, 1, "positive", "strong"),
        ]
        found = find_paths(people[0], {p.id: p for p in people}, lines)
        assert [names(p)[0] for p in found] == [
            "Owned strong contact far",      # owned, strong contact: its two steps and weak line do not matter
            "Owned near weak, strong line",  # owned, weak contact, one step, strong line
            "Owned near weak",               # the same with a weak line
            "Owned far weak",                # owned, weak contact, two steps
            "Unowned strong contact",        # nobody owns the start: last, however good the rest
        ]

    def test_who_to_win_keeps_the_owned_path_among_the_three_shown(self):
        people = [person(1, "Target", power="high", sentiment="neutral"),
                  person(2, "Owned", sentiment="supporter", owner_id=9, owner="K")]
        people += [person(10 + i, f"Consultant {i}", organisation="X", sentiment="neutral") for i in range(4)]
        lines = [Line(10 + i, 1, "positive", "strong") for i in range(4)] + [Line(2, 1, "positive", "weak")]
        target = who_to_win(people, lines)[0]
        assert names(target.best_path)[0] == "Owned" and len(target.paths) == 3


class TestReportingLinesArePaths:
    def test_a_decision_maker_with_no_influence_line_is_reached_through_the_manager(self):
        people = [
            person(1, "Boss", power="high", sentiment="neutral", buying_role="decision_maker"),
            person(2, "Manager", reports_to=1, sentiment="supporter", owner_id=9, owner="K", contact="medium"),
        ]
        target = who_to_win(people, [])[0]
        assert target.person.name == "Boss" and target.paths
        assert names(target.best_path) == ["Manager", "Boss"]
        assert target.best_path.links == ("reporting",) and target.best_path.weakest == "reporting"
        assert target.as_dict()["no_path"] is False
        assert target.as_dict()["path_details"][0]["links"] == ["reporting"]

    def test_both_directions_and_over_two_steps(self):
        people = [
            person(1, "Analyst", power="high", sentiment="critic", reports_to=2),
            person(2, "Head", sentiment="neutral", reports_to=3),
            person(3, "Director", sentiment="supporter", owner_id=9, owner="K"),
        ]
        # Director → Head (down the line) → Analyst (down again).
        target = who_to_win(people, [])[0]
        assert names(target.best_path) == ["Director", "Head", "Analyst"]
        people = [
            person(1, "Director", power="high", sentiment="neutral"),
            person(2, "Analyst", sentiment="supporter", reports_to=1, owner_id=9, owner="K"),
        ]
        assert names(who_to_win(people, [])[0].best_path) == ["Analyst", "Director"]  # up the line

    def test_a_reporting_line_is_weaker_than_a_positive_influence_line(self):
        people = [
            person(1, "Boss", power="high", sentiment="neutral"),
            person(2, "Report", reports_to=1, sentiment="supporter", owner_id=9, owner="K"),
            person(3, "Peer", sentiment="supporter", owner_id=9, owner="K"),
        ]
        target = who_to_win(people, [Line(3, 1, "positive", "weak")])[0]
        assert [names(p)[0] for p in target.paths] == ["Peer", "Report"]
        assert [p.weakest for p in target.paths] == ["weak", "reporting"]

    def test_an_influence_line_between_the_same_two_people_counts_once(self):
        people = [
            person(1, "Boss", power="high", sentiment="neutral"),
            person(2, "Report", reports_to=1, sentiment="supporter"),
        ]
        target = who_to_win(people, [Line(2, 1, "positive", "strong")])[0]
        assert [(names(p), p.links) for p in target.paths] == [(["Report", "Boss"], ("influence",))]

    def test_a_negative_line_closes_the_reporting_path(self):
        people = [
            person(1, "Boss", power="high", sentiment="neutral"),
            person(2, "Report", reports_to=1, sentiment="supporter"),
        ]
        target = who_to_win(people, [Line(2, 1, "negative", "weak")])[0]
        assert target.paths == ()

    def test_through_the_services(self, kam_account, kam, make_stakeholder):
        boss = make_stakeholder(kam_account, "Bram Board", decision_power="high", buying_role="economic_buyer")
        make_stakeholder(kam_account, "Sara Staff", reports_to=boss, sentiment="supporter", owner=kam)
        target = next(t for t in services.who_to_win(kam_account) if t.person.name == "Bram Board")
        assert names(target.best_path) == ["Sara Staff", "Bram Board"] and target.path_owner == "Karl Kam"


class TestStaleStart:
    @pytest.mark.parametrize("last_contact, stale", [
        (None, True), (TODAY - datetime.timedelta(days=60), True), (TODAY - datetime.timedelta(days=59), False)])
    def test_the_threshold(self, last_contact, stale):
        people = [person(1, "T", power="high", sentiment="critic"),
                  person(2, "S", sentiment="supporter", last_contact=last_contact)]
        target = who_to_win(people, [Line(2, 1)], today=TODAY, stale_days=60)[0]
        assert target.best_path.stale is stale
        assert who_to_win(people, [Line(2, 1)], today=TODAY, stale_days=90)[0].best_path.stale is (last_contact is None)


class TestWhereUsersSeeIt:
    def test_the_page_shows_the_owned_path_first_and_its_stale_start(self, hospital, kam_account, kam):
        from django.urls import reverse

        from tests.conftest import client_for

        body = client_for(kam).get(reverse("relationships:who_to_win", args=[kam_account.pk])).content.decode()
        target = body[body.index(f'id="target-{hospital["ceo"].pk}"'):]
        best = target[target.index('class="path best"'):target.index("</li>")]
        assert best.index("Nora Nursing") < best.index("Maarten Medical") < best.index("Eva Executive")
        assert "owned by Karl Kam" in best and "nobody has contacted Nora Nursing yet" in best

    def test_the_page_names_a_reporting_line_step(self, kam_account, kam, make_stakeholder):
        from django.urls import reverse

        from tests.conftest import client_for

        boss = make_stakeholder(kam_account, "Bram Board", decision_power="high", buying_role="economic_buyer")
        make_stakeholder(kam_account, "Sara Staff", reports_to=boss, sentiment="supporter", owner=kam)
        body = client_for(kam).get(reverse("relationships:who_to_win", args=[kam_account.pk])).content.decode()
        target = body[body.index(f'id="target-{boss.pk}"'):]
        target = target[:target.index('<li class="target')] if '<li class="target' in target else target
        assert "No path" not in target and "(reporting line)" in target and "weakest line: reporting line" in target

    def test_the_cli_says_so(self, hospital, kam_account, capsys):
        from keyplan.cli import main

        assert main(["relationships", "who-to-win", kam_account.external_id]) == 0
        out = capsys.readouterr().out
        assert ("path: Nora Nursing → Maarten Medical → Eva Executive (owned by Karl Kam; start never contacted)"
                in out)
