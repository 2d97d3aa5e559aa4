"""Two indexes for the manager's workbench (issue 12: no page slower): the team's customers by release date
(`customer(team_id, release_at)`: the team's next releases without walking the whole company's) and the ledger
by former owner and kind (`pool_event(from_owner, kind, at)`: the team's recent releases from the index alone)."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("customer", ("team_id", "release_at"), False),
        migrator.add_index("pool_event", ("from_owner", "kind", "at"), False),
    )
