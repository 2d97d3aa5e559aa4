def test_login_required_everywhere(client):
    for url in ("/", "/customers", "/customers/new", "/admin/users"):
        r = client.get(url)
        assert r.status_code == 302 and "/login" in r.location


def test_admin_logs_in_and_sees_workbench(client, make_user):
    admin = make_user("admin")
    r = client.login(admin)
    assert r.status_code == 303
    page = client.get("/")
    assert page.status_code == 200 and "Workbench" in page.get_data(as_text=True)
