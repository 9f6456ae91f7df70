"""Accounts (B2B): the ABC rule, the matrix, the power map, the account plan and its review."""

from datetime import timedelta
from itertools import product
from typing import Any

import pytest
from django.utils import timezone

from regua.accounts import services
from regua.accounts.classification import AbcClass, abc_class, abc_class_expression
from regua.accounts.models import AccountPlan, Initiative, InitiativeStatus
from regua.accounts.selectors import (
    CompanyFilters,
    abc_matrix,
    companies_filter,
    company_power_map,
)
from regua.agenda.models import Task, TaskSource, TaskStatus
from regua.customers.models import Company, ContactRole, Level, PowerRole
from regua.users.models import User

LEVEL_VALUES = ["high", "medium", "low", ""]


def make_company(name: str, p: str = "", pp: str = "", r: str = "", **fields: Any) -> Company:
    return Company.objects.create(
        name=name, profitability=p, purchase_potential=pp, relationship_degree=r, **fields
    )


# The ABC rule -----------------------------------------------------------------------------


def test_the_rule_adds_the_points_of_the_three_levels() -> None:
    assert abc_class("high", "high", "high") == AbcClass.A
    assert abc_class("high", "medium", "high") == AbcClass.A  # 8 points
    assert abc_class("high", "high", "low") == AbcClass.B  # 7: the relationship to develop
    assert abc_class("medium", "medium", "medium") == AbcClass.B  # 6
    assert abc_class("high", "low", "low") == AbcClass.C  # 5
    assert abc_class("low", "low", "low") == AbcClass.C
    assert abc_class("high", "high", "") == AbcClass.UNCLASSIFIED


def test_the_classes_split_the_27_combinations_4_13_10() -> None:
    classes = [abc_class(*levels) for levels in product(Level.values, repeat=3)]
    assert [classes.count(k) for k in (AbcClass.A, AbcClass.B, AbcClass.C)] == [4, 13, 10]


@pytest.mark.django_db
def test_python_and_sql_agree_on_every_combination_set_or_not() -> None:
    # given every combination of the three levels, each level possibly not set (64)
    combos = list(product(LEVEL_VALUES, repeat=3))
    Company.objects.bulk_create(
        Company(name=f"E{n}", profitability=p, purchase_potential=pp, relationship_degree=r)
        for n, (p, pp, r) in enumerate(combos)
    )
    # when the database computes the class
    rows = Company.objects.annotate(abc=abc_class_expression()).values_list(
        "profitability", "purchase_potential", "relationship_degree", "abc"
    )
    # then it is the Python rule's, combination by combination
    assert len(rows) == 64
    for p, pp, r, sql_class in rows:
        assert sql_class == abc_class(p, pp, r).value, (p, pp, r)


# The ABC matrix ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_matrix_counts_cells_degrees_and_classes_in_one_query(
    django_assert_num_queries: Any, alice: User
) -> None:
    # given
    make_company("Hotel Aurora", "high", "high", "high")
    make_company("Spa Ipê", "high", "high", "low")
    make_company("Salão Sol", "high", "high", "low")
    make_company("Farmácia Lua", "low", "medium", "medium")
    make_company("Clínica Nova", "medium", "", "high")
    # when
    with django_assert_num_queries(1):
        matrix = abc_matrix(Company.objects.all(), CompanyFilters())
    # then
    cells = {(c.profitability, c.purchase_potential): c for _, row in matrix.rows for c in row}
    assert cells[("high", "high")].total == 3
    assert cells[("high", "high")].by_degree["low"] == (2, AbcClass.B)
    assert cells[("high", "high")].by_degree["high"] == (1, AbcClass.A)
    assert cells[("high", "high")].by_degree["medium"] == (0, AbcClass.A)
    assert cells[("low", "medium")].total == 1
    assert matrix.classes == {
        AbcClass.A: 1,
        AbcClass.B: 2,
        AbcClass.C: 1,
        AbcClass.UNCLASSIFIED: 1,
    }
    assert matrix.total == 5
    # the totals are what the list filtered by class (the rule in SQL) lists
    for klass, count in matrix.classes.items():
        assert (
            companies_filter(Company.objects.all(), CompanyFilters(abc=klass.value)).count()
            == count
        )


@pytest.mark.django_db
def test_the_matrix_page_links_each_cell_to_its_companies(client_for: Any, alice: User) -> None:
    make_company("Hotel Aurora", "high", "high", "high", owner=alice)
    make_company("Spa Ipê", "high", "medium", "low")
    client = client_for(alice)
    page = client.get("/accounts/").content.decode()
    assert 'data-testid="cell-high-high"' in page
    link = "/accounts/companies/?profitability=high&amp;potential=high&amp;"
    assert link in page
    listed = client.get("/accounts/companies/?profitability=high&potential=high").content.decode()
    assert "Hotel Aurora" in listed and "Spa Ipê" not in listed
    assert "/accounts/companies/?abc=B&amp;" in page  # the class totals link too
    by_class = client.get("/accounts/companies/?abc=B").content.decode()
    assert "Spa Ipê" in by_class and "Hotel Aurora" not in by_class  # 3 + 2 + 1 = 6: B


@pytest.mark.django_db
def test_the_company_list_filters_by_class_degree_and_owner(
    client_for: Any, alice: User, bob: User
) -> None:
    make_company("Hotel Aurora", "high", "high", "high", owner=alice)
    make_company("Spa Ipê", "high", "medium", "low", owner=bob)  # 6 points: B
    make_company("Drogaria Sol", "low", "low", "low", owner=alice)
    make_company("Clínica Nova", "medium")
    client = client_for(alice)

    def names(query: str) -> set[str]:
        page = client.get(f"/accounts/companies/?{query}").content.decode()
        all_names = {"Hotel Aurora", "Spa Ipê", "Drogaria Sol", "Clínica Nova"}
        return {name for name in all_names if name in page}

    assert names("abc=A") == {"Hotel Aurora"}
    assert names("abc=B") == {"Spa Ipê"}
    assert names("abc=C") == {"Drogaria Sol"}
    assert names("abc=none") == {"Clínica Nova"}
    assert names("relationship=low") == {"Spa Ipê", "Drogaria Sol"}
    assert names(f"owner={alice.pk}") == {"Hotel Aurora", "Drogaria Sol"}
    assert names(f"owner={bob.pk}&abc=A") == set()


@pytest.mark.django_db
def test_an_agent_with_a_private_portfolio_counts_and_opens_only_their_companies(
    settings: Any, client_for: Any, alice: User, bob: User, make_contact: Any
) -> None:
    # given private portfolios; alice owns one company and a contact in another
    settings.PORTFOLIO_VISIBILITY = "own"
    mine = make_company("Hotel Aurora", "high", "high", "high", owner=alice)
    shared = make_company("Spa Ipê", "high", "high", "high", owner=bob)
    for _n in range(2):  # two of her contacts there: the company still counts once
        contact = make_contact(owner=alice)
        ContactRole.objects.create(contact=contact, company=shared, role="user")
    theirs = make_company("Salão Sol", "high", "high", "high", owner=bob)
    # when
    matrix = abc_matrix(_visible(alice), CompanyFilters())
    # then
    assert matrix.classes[AbcClass.A] == 2
    client = client_for(alice)
    page = client.get("/accounts/").content.decode()
    assert 'data-testid="class-A"' in page
    listed = client.get("/accounts/companies/?abc=A").content.decode()
    assert "Hotel Aurora" in listed and "Spa Ipê" in listed and "Salão Sol" not in listed
    assert client.get(f"/accounts/companies/{theirs.pk}/plan/").status_code == 404
    assert client.get(f"/accounts/companies/{theirs.pk}/roles/").status_code == 404
    assert client.get(f"/accounts/companies/{theirs.pk}/classification/").status_code == 404
    assert client.get(f"/accounts/companies/{mine.pk}/plan/").status_code == 200
    assert "Hotel Aurora" not in client_for(bob).get("/accounts/companies/").content.decode()


def _visible(user: User) -> Any:
    from regua.customers.selectors import companies_visible_to

    return companies_visible_to(user)


# Classification ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_agent_classifies_a_company_but_only_a_manager_reassigns_it(
    client_for: Any, alice: User, bob: User, manager: User
) -> None:
    company = make_company("Hotel Aurora", owner=alice)
    form = {"profitability": "high", "purchase_potential": "high", "relationship_degree": "medium"}
    response = client_for(alice).post(
        f"/accounts/companies/{company.pk}/classification/", {**form, "owner": bob.pk}
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.profitability, company.relationship_degree) == ("high", "medium")
    assert company.owner == alice  # the owner field is not an agent's
    client_for(manager).post(
        f"/accounts/companies/{company.pk}/classification/", {**form, "owner": bob.pk}
    )
    company.refresh_from_db()
    assert company.owner == bob
    page = client_for(alice).get(f"/companies/{company.pk}/").content.decode()
    assert "abc-a" in page


# The power map ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_power_map_groups_contacts_by_role_with_every_role_listed(make_contact: Any) -> None:
    company = make_company("Hotel Aurora")
    paula = make_contact(first_name="Paula")
    caio = make_contact(first_name="Caio")
    ContactRole.objects.create(contact=paula, company=company, role="influencer")
    ContactRole.objects.create(contact=caio, company=company, role="influencer", job_title="TI")
    groups = company_power_map(company)
    assert [g.role for g in groups] == list(PowerRole.values)
    influencers = next(g for g in groups if g.role == "influencer")
    assert [m.contact.first_name for m in influencers.members] == ["Caio", "Paula"]
    assert all(not g.members for g in groups if g.role != "influencer")


@pytest.mark.django_db
def test_a_user_adds_changes_and_removes_a_contacts_role(
    client_for: Any, alice: User, make_contact: Any
) -> None:
    # given
    company = make_company("Hotel Aurora")
    paula = make_contact(first_name="Paula", last_name="Rocha", email="paula@aurora.com.br")
    client = client_for(alice)
    # when she finds and adds the contact
    found = client.get(f"/accounts/companies/{company.pk}/roles/?q=paula@aurora").content.decode()
    assert "Paula Rocha" in found
    client.post(
        f"/accounts/companies/{company.pk}/roles/",
        {"contact": paula.pk, "role": "influencer", "job_title": "Gerente de compras"},
    )
    # then
    role = ContactRole.objects.get(company=company, contact=paula)
    assert (role.role, role.job_title) == ("influencer", "Gerente de compras")
    # when she promotes her
    client.post(f"/accounts/roles/{role.pk}/", {"role": "decision_maker", "job_title": "Diretora"})
    role.refresh_from_db()
    assert (role.role, role.job_title) == ("decision_maker", "Diretora")
    page = client.get(f"/companies/{company.pk}/").content.decode()
    assert "Diretora" in page and 'data-testid="power-map"' in page
    # when she removes her
    client.post(f"/accounts/roles/{role.pk}/delete/")
    assert not ContactRole.objects.filter(company=company).exists()
    assert paula.__class__.objects.filter(pk=paula.pk).exists()


@pytest.mark.django_db
def test_a_role_cannot_be_given_with_an_unknown_role(
    client_for: Any, alice: User, make_contact: Any
) -> None:
    company = make_company("Hotel Aurora")
    contact = make_contact()
    client = client_for(alice)
    client.post(f"/accounts/companies/{company.pk}/roles/", {"contact": contact.pk, "role": "boss"})
    assert not ContactRole.objects.exists()
    # a contact id that is not a number is a 404, not an error
    garbled = client.post(
        f"/accounts/companies/{company.pk}/roles/", {"contact": "abc", "role": "user"}
    )
    assert garbled.status_code == 404


# The account plan -------------------------------------------------------------------------


def open_review_tasks(plan: AccountPlan) -> list[Task]:
    return list(
        Task.objects.filter(
            company=plan.company, source=TaskSource.ACCOUNT_PLAN, status=TaskStatus.OPEN
        )
    )


@pytest.mark.django_db
def test_a_review_date_becomes_one_open_task_for_the_plan_owner(
    client_for: Any, alice: User, bob: User
) -> None:
    # given
    company = make_company("Hotel Aurora", "high", "high", "high", owner=alice)
    client = client_for(bob)
    review_on = timezone.localdate() + timedelta(days=20)
    # when a teammate starts the plan with a review date
    response = client.post(
        f"/accounts/companies/{company.pk}/plan/",
        {"objective": "Dobrar o volume em 2027", "owner": alice.pk, "review_on": review_on},
    )
    assert response.status_code == 302
    # then the owner has exactly one open review task on that day
    plan = AccountPlan.objects.get(company=company)
    [task] = open_review_tasks(plan)
    assert task == plan.review_task
    assert (task.owner, task.due_on, task.company) == (alice, review_on, company)
    assert task.title.endswith(": Hotel Aurora")  # in the language of the request
    # when the plan is saved again unchanged, nothing new is booked
    client.post(
        f"/accounts/companies/{company.pk}/plan/",
        {"objective": "Dobrar o volume", "owner": alice.pk, "review_on": review_on},
    )
    assert open_review_tasks(plan) == [task]


@pytest.mark.django_db
def test_moving_the_review_date_or_owner_moves_the_task(alice: User, bob: User) -> None:
    company = make_company("Hotel Aurora")
    day = timezone.localdate() + timedelta(days=10)
    plan = services.account_plan_save(company=company, objective="", owner=alice, review_on=day)
    task_id = plan.review_task_id
    services.account_plan_save(
        company=company, objective="", owner=bob, review_on=day + timedelta(days=7)
    )
    [task] = open_review_tasks(plan)
    assert (task.pk, task.owner, task.due_on) == (task_id, bob, day + timedelta(days=7))
    # clearing the date cancels the task
    services.account_plan_save(company=company, objective="", owner=bob, review_on=None)
    assert open_review_tasks(plan) == []
    assert Task.objects.get(pk=task_id).status == TaskStatus.CANCELLED
    # a new date books a new task
    services.account_plan_save(company=company, objective="", owner=bob, review_on=day)
    assert len(open_review_tasks(plan)) == 1


@pytest.mark.django_db
def test_completing_the_review_asks_for_the_next_date_and_books_it(
    client_for: Any, alice: User
) -> None:
    # given
    company = make_company("Hotel Aurora", owner=alice)
    today = timezone.localdate()
    plan = services.account_plan_save(company=company, objective="", owner=alice, review_on=today)
    first = plan.review_task
    client = client_for(alice)
    url = f"/accounts/companies/{company.pk}/plan/review/"
    # when the review is marked done without a next date, it is asked for
    response = client.post(url, {})
    assert response.status_code == 422
    assert first is not None and Task.objects.get(pk=first.pk).status == TaskStatus.OPEN
    # when with one
    next_review = today + timedelta(days=90)
    client.post(url, {"next_review_on": next_review.isoformat()})
    # then
    plan.refresh_from_db()
    assert plan.reviewed_at is not None and plan.review_on == next_review
    assert Task.objects.get(pk=first.pk).status == TaskStatus.DONE
    [task] = open_review_tasks(plan)
    assert task.due_on == next_review and plan.review_task == task


@pytest.mark.django_db
def test_a_review_task_closed_in_the_agenda_makes_the_plan_ask_for_the_next_date(
    client_for: Any, alice: User
) -> None:
    company = make_company("Hotel Aurora", owner=alice)
    plan = services.account_plan_save(
        company=company, objective="", owner=alice, review_on=timezone.localdate()
    )
    Task.objects.filter(pk=plan.review_task_id).update(status=TaskStatus.DONE)
    page = client_for(alice).get(f"/accounts/companies/{company.pk}/plan/").content.decode()
    assert 'data-testid="review-closed"' in page
    services.account_plan_review_complete(
        plan=plan, next_review_on=timezone.localdate() + timedelta(days=30)
    )
    assert len(open_review_tasks(plan)) == 1


@pytest.mark.django_db
def test_initiatives_are_added_edited_moved_through_statuses_and_deleted(
    client_for: Any, alice: User, bob: User
) -> None:
    # given a plan
    company = make_company("Hotel Aurora", owner=alice)
    services.account_plan_save(company=company, objective="", owner=alice, review_on=None)
    client = client_for(bob)
    today = timezone.localdate()
    # when an initiative is added
    response = client.post(
        f"/accounts/companies/{company.pk}/plan/initiatives/new/",
        {
            "title": "Apresentar a linha profissional à diretora",
            "owner": alice.pk,
            "starts_on": today.isoformat(),
            "due_on": (today + timedelta(days=14)).isoformat(),
            "status": "planned",
        },
    )
    assert response.status_code == 302
    initiative = Initiative.objects.get()
    assert initiative.owner == alice and initiative.plan.company == company
    # it shows on the timeline
    page = client.get(f"/accounts/companies/{company.pk}/plan/").content.decode()
    assert "Apresentar a linha profissional" in page
    # an initiative cannot end before it starts
    bad = client.post(
        f"/accounts/initiatives/{initiative.pk}/",
        {"title": "X", "starts_on": today.isoformat(), "due_on": "2020-01-01", "status": "planned"},
    )
    assert bad.status_code == 200
    # edited
    client.post(
        f"/accounts/initiatives/{initiative.pk}/",
        {"title": "Treinamento da equipe", "due_on": today.isoformat(), "status": "in_progress"},
    )
    initiative.refresh_from_db()
    assert (initiative.title, initiative.status) == ("Treinamento da equipe", "in_progress")
    # done, then reopened
    client.post(f"/accounts/initiatives/{initiative.pk}/status/", {"status": "done"})
    initiative.refresh_from_db()
    assert initiative.status == InitiativeStatus.DONE and initiative.completed_at is not None
    client.post(f"/accounts/initiatives/{initiative.pk}/status/", {"status": "planned"})
    initiative.refresh_from_db()
    assert initiative.completed_at is None
    # done through the edit form too: it gets its completion time
    client.post(
        f"/accounts/initiatives/{initiative.pk}/",
        {"title": "Treinamento da equipe", "due_on": today.isoformat(), "status": "done"},
    )
    initiative.refresh_from_db()
    assert initiative.status == InitiativeStatus.DONE and initiative.completed_at is not None
    # deleted
    client.post(f"/accounts/initiatives/{initiative.pk}/delete/")
    assert not Initiative.objects.exists()


@pytest.mark.django_db
def test_the_plans_page_lists_reviews_due_and_overdue_initiatives(
    client_for: Any, alice: User, bob: User, settings: Any
) -> None:
    # given
    today = timezone.localdate()
    aurora = make_company("Hotel Aurora", "high", "high", "high", owner=alice)
    sol = make_company("Salão Sol", owner=bob)
    far = make_company("Spa Distante", owner=alice)
    plan = services.account_plan_save(
        company=aurora, objective="", owner=alice, review_on=today + timedelta(days=3)
    )
    services.account_plan_save(
        company=far, objective="", owner=alice, review_on=today + timedelta(days=300)
    )
    services.initiative_save(
        plan=plan,
        title="Proposta atrasada",
        owner=alice,
        starts_on=None,
        due_on=today - timedelta(days=2),
    )
    services.initiative_save(
        plan=plan,
        title="Visita feita",
        owner=alice,
        starts_on=None,
        due_on=today - timedelta(days=5),
        status=InitiativeStatus.DONE,
    )
    bobs = services.account_plan_save(
        company=sol, objective="", owner=bob, review_on=today - timedelta(days=1)
    )
    services.initiative_save(
        plan=bobs,
        title="Reunião do Bob",
        owner=bob,
        starts_on=None,
        due_on=today - timedelta(days=1),
    )
    # when
    page = client_for(alice).get("/accounts/plans/").content.decode()
    reviews = page.split('data-testid="reviews-due"')[1].split("</section>")[0]
    overdue = page.split('data-testid="overdue"')[1].split("</section>")[0]
    # then
    assert "Hotel Aurora" in reviews and "Salão Sol" in reviews and "Spa Distante" not in reviews
    assert "Proposta atrasada" in overdue and "Reunião do Bob" in overdue
    assert "Visita feita" not in overdue
    # an agent with a private portfolio sees only hers
    settings.PORTFOLIO_VISIBILITY = "own"
    page = client_for(alice).get("/accounts/plans/").content.decode()
    assert "Reunião do Bob" not in page and "Salão Sol" not in page
    assert "Proposta atrasada" in page


@pytest.mark.django_db
def test_the_demo_classifies_companies_and_writes_plans(alice: User, bob: User) -> None:
    from regua.accounts.demo import accounts_demo

    Company.objects.bulk_create(
        Company(id=n, name=f"Empresa {n}", owner=[alice, bob][n % 2]) for n in range(1, 41)
    )
    now = timezone.now()
    accounts_demo(now)
    classes = dict(
        Company.objects.values("id").annotate(abc=abc_class_expression()).values_list("id", "abc")
    )
    assert set(classes.values()) >= {"A", "B", "C"}
    assert AccountPlan.objects.exists() and Initiative.objects.exists()
    for plan in AccountPlan.objects.exclude(review_on=None):
        assert plan.review_task is not None and plan.review_task.due_on == plan.review_on
        assert plan.review_task.owner_id == plan.owner_id


@pytest.mark.django_db
def test_the_power_map_include_shows_the_dossiers_contact_in_bold(make_contact: Any) -> None:
    from django.template.loader import render_to_string

    company = make_company("Hotel Aurora")
    paula, caio = make_contact(first_name="Paula"), make_contact(first_name="Caio")
    ContactRole.objects.create(contact=paula, company=company, role="decision_maker")
    ContactRole.objects.create(contact=caio, company=company, role="user")
    html = render_to_string(
        "accounts/_power_map.html",
        {"power_map": company_power_map(company), "current_contact": paula},
    )
    assert html.count('class="current"') == 1
    assert "Paula" in html.split('class="current"')[1].split("</li>")[0]
    assert "<form" not in html  # read-only unless the page says editable
