"""The administrator's pages as people read them: the settings one table per section with what each key
does, the users page with labelled controls and refusals in the page's language."""

from __future__ import annotations

import re

from sqlmodel import Session, select
from web_helpers import csrf_from

from checkpoint.models import User


def test_settings_page_is_a_table_per_section_with_each_key_explained(client, auth):
    auth.login("admin")
    html = client.get("/admin/settings", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "<code>[rules.fever]</code>" in html and "<code>[scanner.options]</code>" in html
    row = re.search(r"<tr><td><code>threshold_c</code></td><td><code>37.3</code></td><td[^>]*>([^<]+)</td>", html)
    assert row and "Readings at or above this are high" in row.group(1)
    assert "Keterangan" in html and "Kunci" in html and "Nilai" in html  # the headings in the page's language
    assert '<td lang="en" class="en">' in html  # the schema's descriptions say which language they are in
    assert "<summary>Sebagai TOML" in html and "[rules.fever]\nmode = &#34;deny&#34;" in html
    assert "What it does" in client.get("/admin/settings", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_users_page_labels_its_controls_and_refuses_in_the_page_language(client, auth, engine):
    auth.login("admin")
    html = client.get("/admin/users", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert ">Ubah peran</button>" in html and ">✓</button>" not in html
    assert "<label>Kata sandi baru <input type=\"password\"" in html
    with Session(engine) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
    token = csrf_from(html)
    refused = client.post(f"/admin/users/{admin.id}", data={"action": "role", "role": "guard", "csrf_token": token},
                          headers={"Accept-Language": "id"})
    assert refused.status_code == 400
    assert "Anda tidak dapat mengubah peran Anda sendiri." in refused.get_data(as_text=True)
    refused = client.post(f"/admin/users/{admin.id}", data={"action": "disable", "csrf_token": token},
                          headers={"Accept-Language": "en"})
    assert refused.status_code == 400 and "You cannot disable your own account." in refused.get_data(as_text=True)
