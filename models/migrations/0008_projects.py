"""Projects: approval criteria, projects with their answers, teams, milestones and dependencies, costs;
documents and their versions (files on disk, rows here); the default approval criteria."""
import datetime as dt

from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, ForeignKeyField, IntegerField,
                    Model, SmallIntegerField, TextField)


def up(migrator, db):
    def existing_table(name):
        return type(name.title().replace("_", ""), (Model,), {"Meta": type("Meta", (), {"database": db, "table_name": name})})

    User, Customer, Opportunity = (existing_table(name) for name in ("user", "customer", "opportunity"))

    class ApprovalCriterion(Model):
        text_zh = CharField(max_length=200)
        text_en = CharField(max_length=200)
        active = BooleanField(default=True)
        position = SmallIntegerField(default=0)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "approval_criterion"

    class Project(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        opportunity = ForeignKeyField(Opportunity, null=True, on_delete="SET NULL", index=False)
        name = CharField(max_length=100)
        description = TextField(default="")
        budget = DecimalField(max_digits=15, decimal_places=2, null=True, auto_round=True)
        expected_start = DateField(null=True)
        expected_end = DateField(null=True)
        status = CharField(max_length=10, default="pending")
        requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        requested_at = DateTimeField()
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        decided_at = DateTimeField(null=True)
        decision_reason = CharField(max_length=300, default="")
        contract_amount = DecimalField(max_digits=15, decimal_places=2, null=True, auto_round=True)
        contract_signed_on = DateField(null=True)
        contract_start = DateField(null=True)
        contract_end = DateField(null=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "project"
            indexes = ((("customer", "id"), False), (("status", "id"), False), (("requested_by", "id"), False))

    class ProjectAnswer(Model):
        project = ForeignKeyField(Project, on_delete="CASCADE")
        criterion = ForeignKeyField(ApprovalCriterion, null=True, on_delete="SET NULL", index=False)
        text_zh = CharField(max_length=200)
        text_en = CharField(max_length=200)
        answer = BooleanField()
        note = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "project_answer"

    class ProjectMember(Model):
        project = ForeignKeyField(Project, on_delete="CASCADE", index=False)
        user = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        role = CharField(max_length=20)
        added_at = DateTimeField()

        class Meta:
            database = db
            table_name = "project_member"
            indexes = ((("project", "user"), True), (("user", "project"), False))

    class Milestone(Model):
        project = ForeignKeyField(Project, on_delete="CASCADE", index=False)
        name = CharField(max_length=100)
        owner = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        start_on = DateField(null=True)
        due_on = DateField()
        status = CharField(max_length=12, default="planned")
        remind_days = SmallIntegerField(default=3)
        done_at = DateTimeField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "milestone"
            indexes = ((("project", "due_on"), False), (("owner", "status", "due_on"), False),
                       (("status", "due_on"), False))

    class MilestoneDependency(Model):
        milestone = ForeignKeyField(Milestone, on_delete="CASCADE", index=False)
        depends_on = ForeignKeyField(Milestone, on_delete="CASCADE", backref="+")

        class Meta:
            database = db
            table_name = "milestone_dependency"
            indexes = ((("milestone", "depends_on"), True),)

    class ProjectCost(Model):
        project = ForeignKeyField(Project, on_delete="CASCADE", index=False)
        category = CharField(max_length=12)
        kind = CharField(max_length=8)
        amount = DecimalField(max_digits=15, decimal_places=2, auto_round=True)
        spent_on = DateField(null=True)
        note = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "project_cost"
            indexes = ((("project", "kind", "category"), False),)

    class Document(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        project = ForeignKeyField(Project, null=True, on_delete="CASCADE", index=False)
        opportunity = ForeignKeyField(Opportunity, null=True, on_delete="CASCADE", index=False)
        title = CharField(max_length=120)
        kind = CharField(max_length=12)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()
        updated_at = DateTimeField()
        latest_version = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "document"
            indexes = ((("customer", "id"), False), (("project", "id"), False), (("opportunity", "id"), False))

    class DocumentVersion(Model):
        document = ForeignKeyField(Document, on_delete="CASCADE", index=False)
        number = IntegerField()
        filename = CharField(max_length=160)
        stored_name = CharField(max_length=64, unique=True)
        size = IntegerField()
        file_type = CharField(max_length=8)
        sha256 = CharField(max_length=64)
        note = CharField(max_length=200, default="")
        uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        uploaded_at = DateTimeField()

        class Meta:
            database = db
            table_name = "document_version"
            indexes = ((("document", "number"), True),)

    db.create_tables([ApprovalCriterion, Project, ProjectAnswer, ProjectMember, Milestone, MilestoneDependency,
                      ProjectCost, Document, DocumentVersion])

    # The article's criteria (立项标准), so a fresh install can take proposals at once; admins edit them.
    shipped = dt.datetime(2026, 1, 1)  # as shipped: older than any history, so no row is dated in the future
    for i, (zh, en) in enumerate((("客户预算已知", "The customer's budget is known"),
                                  ("已识别决策者", "The decision maker is identified"),
                                  ("客户有明确的时间表", "The customer has a timeline"),
                                  ("需求与我们的方案匹配", "The need fits our offering"))):
        ApprovalCriterion.create(text_zh=zh, text_en=en, active=True, position=(i + 1) * 10,
                                 created_at=shipped, updated_at=shipped)
