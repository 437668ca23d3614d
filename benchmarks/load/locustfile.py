"""Locust scenario: KAM users reading pages and the API and logging interactions, as a team does in a day.

Run by benchmarks/load/run.py (which builds the demo, starts `keyplan serve` and checks the writes afterwards);
the environment tells this file who to be: KEYPLAN_LOAD_TOKEN (an API token of the KAM lead),
KEYPLAN_LOAD_ACCOUNTS (account ids, comma-separated) and KEYPLAN_LOAD_WRITES (a file where each write the server
confirmed is noted, one summary a line, for the check against the database).
"""

import os
import random
import re
import uuid

from locust import FastHttpUser, between, task

TOKEN = os.environ["KEYPLAN_LOAD_TOKEN"]
ACCOUNTS = [int(pk) for pk in os.environ["KEYPLAN_LOAD_ACCOUNTS"].split(",")]
WRITES = os.environ["KEYPLAN_LOAD_WRITES"]
PASSWORD = os.environ.get("KEYPLAN_LOAD_PASSWORD", "keyplan-demo")


# FastHttpUser (geventhttpclient, a Locust dependency) rather than HttpUser (requests): Locust shares the two cores
# with the server, and requests cost it several times the CPU per request.
class KamUser(FastHttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        page = self.client.get("/login/", name="sign-in form")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        self.client.post("/login/", {"username": "lead", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
                         headers={"Referer": f"{self.host}/login/"}, name="sign-in")
        self.api = {"Authorization": f"Bearer {TOKEN}"}

    def account(self) -> int:
        return random.choice(ACCOUNTS)

    @task(3)
    def home(self):
        self.client.get("/", name="/")

    @task(3)
    def account_page(self):
        self.client.get(f"/accounts/{self.account()}/", name="/accounts/[id]/")

    @task(2)
    def account_list(self):
        self.client.get("/accounts/", name="/accounts/")

    @task(2)
    def portfolio(self):
        self.client.get("/portfolio/", name="/portfolio/")

    @task(2)
    def pareto(self):
        self.client.get("/portfolio/analysis/pareto/", name="/portfolio/analysis/pareto/")

    @task(1)
    def abc(self):
        self.client.get("/portfolio/analysis/abc/", name="/portfolio/analysis/abc/")

    @task(2)
    def stakeholder_map(self):
        self.client.get(f"/accounts/{self.account()}/relationships/", name="/accounts/[id]/relationships/")

    @task(1)
    def who_to_win(self):
        self.client.get(f"/accounts/{self.account()}/relationships/who-to-win/", name="/accounts/[id]/relationships/who-to-win/")

    @task(3)
    def api_accounts(self):
        self.client.get("/api/v1/accounts/?limit=50", headers=self.api, name="/api/v1/accounts/")

    @task(2)
    def api_account(self):
        self.client.get(f"/api/v1/accounts/{self.account()}", headers=self.api, name="/api/v1/accounts/[id]")

    @task(2)
    def log_interaction(self):
        summary = f"load-{uuid.uuid4().hex}"
        body = {"kind": "call", "date": "2026-11-30", "summary": summary}
        with self.client.post(f"/api/v1/accounts/{self.account()}/interactions/", json=body, headers=self.api,
                              name="/api/v1/accounts/[id]/interactions/", catch_response=True) as response:
            if response.status_code == 201:
                with open(WRITES, "a") as notes:
                    notes.write(summary + "\n")
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
