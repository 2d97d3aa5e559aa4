"""Demo scene of the dashboards (issue 16 item 5): fold the demo's stage history into the lifecycle summary
and count the customers, as the sweep would within minutes of start-up, so the admin's funnel, promotions and
pool health read the summaries from the first page."""
from models import clock
from models import dashboards


def stage(say):
    say("demo data: dashboards (lifecycle flows, customer tally)")
    now = clock.now()
    while dashboards.fold(now):
        pass
    dashboards.take_tally(now, force=True)
