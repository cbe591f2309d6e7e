"""Sign-in limits (issue 13, Medium-8): per address (429 + Retry-After), a growing per-account delay that never
locks the account's own people out, the trusted-proxy setting, and the way in from the console."""

from __future__ import annotations

import base64
import logging

import pytest
from sqlmodel import Session
from web_helpers import PASSWORD, csrf_from

from checkpoint import cli
from checkpoint.config import Settings
from web.limits import LoginLimiter
from web.users import create_user

OUTSIDER, ADMIN_DESK = "198.51.100.7", "10.0.0.5"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build(app_factory, tmp_path, **web):
    settings = Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "test-secret-key", **web}})
    app = app_factory(settings)
    with Session(app.extensions["checkpoint"].engine) as session:
        for name, role in (("guard", "guard"), ("manager", "manager"), ("admin", "admin")):
            create_user(session, name, PASSWORD, role)
    clock = Clock()
    app.extensions["checkpoint"].limiter.clock = clock
    return app, clock


def sign_in(client, username, password, address="127.0.0.1", headers=None):
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ, headers=headers).get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=environ, headers=headers)


def basic(client, username, password, address="127.0.0.1"):
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return client.get("/api/entries", headers={"Authorization": f"Basic {credentials}"},
                      environ_base={"REMOTE_ADDR": address})


@pytest.mark.slow
def test_one_address_trying_many_user_names_gets_429_with_retry_after(app_factory, tmp_path):
    app, clock = build(app_factory, tmp_path)
    client = app.test_client()
    codes = [sign_in(client, f"user{n:03d}", "wrong-password", OUTSIDER).status_code for n in range(20)]
    assert codes == [401] * 20
    refused = sign_in(client, "user999", "wrong-password", OUTSIDER)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 900
    assert "Coba lagi dalam" in refused.get_data(as_text=True)  # the gate's default language
    english = sign_in(client, "user998", "x", OUTSIDER, headers={"Accept-Language": "en"})
    assert english.status_code == 429 and "Try again in" in english.get_data(as_text=True)
    # the same budget covers basic auth on the API, answered as JSON with Retry-After
    api = basic(client, "manager", PASSWORD, OUTSIDER)
    assert api.status_code == 429 and "Retry-After" in api.headers and "error" in api.get_json()
    # another address is not affected, and the address may try again once its failures leave the window
    assert sign_in(app.test_client(), "manager", PASSWORD, ADMIN_DESK).status_code == 302
    clock.now += int(refused.headers["Retry-After"])
    assert sign_in(client, "user997", "wrong-password", OUTSIDER).status_code == 401


@pytest.mark.slow
def test_a_success_does_not_reset_the_address_count(app_factory, tmp_path):
    app, _ = build(app_factory, tmp_path, login_address_failures=3)
    client = app.test_client()
    for name in ("a1", "a2"):
        sign_in(client, name, "wrong-password", OUTSIDER)
    assert sign_in(client, "guard", PASSWORD, OUTSIDER).status_code == 302
    sign_in(client, "a3", "wrong-password", OUTSIDER)
    assert sign_in(client, "a4", "wrong-password", OUTSIDER).status_code == 429


@pytest.mark.slow
def test_an_outsider_cannot_lock_an_administrator_out(app_factory, tmp_path):
    app, clock = build(app_factory, tmp_path)
    # the administrator has signed in from this browser before: it holds a device cookie for the account
    desk = app.test_client()
    assert sign_in(desk, "admin", PASSWORD, ADMIN_DESK).status_code == 302
    assert desk.get_cookie("checkpoint_device", path="/login") is not None
    desk.post("/logout", data={"csrf_token": csrf_from(desk.get("/").get_data(as_text=True))},
              environ_base={"REMOTE_ADDR": ADMIN_DESK})

    outsider = app.test_client()

    def attack() -> None:
        """12 failures from three addresses (each far under its own limit), each after the previous wait."""
        for n in range(12):
            if n:
                clock.now += 200  # longer than any wait so far (at most 128 s), inside the 900 s window
            assert sign_in(outsider, "admin", f"guess-{n}", f"198.51.100.{n % 3 + 1}").status_code == 401

    attack()
    retry = sign_in(outsider, "admin", "guess", "198.51.100.9")
    assert retry.status_code == 429  # a wait, never a lock: 1 s doubled for failures 6..12
    assert retry.headers["Retry-After"] == "128"

    # the known browser signs in at once despite the delay
    assert sign_in(desk, "admin", PASSWORD, ADMIN_DESK).status_code == 302
    # a new browser waits the grown delay, then the right password is taken
    attack()
    laptop = app.test_client()
    early = sign_in(laptop, "admin", PASSWORD, "10.0.0.6")
    assert early.status_code == 429 and early.headers["Retry-After"] == "128"
    clock.now += 128
    assert sign_in(laptop, "admin", PASSWORD, "10.0.0.6").status_code == 302


@pytest.mark.slow
def test_five_failures_from_the_shared_proxy_address_no_longer_keep_the_admin_out(app_factory, tmp_path):
    """The issue's case: behind the proxy everyone is 127.0.0.1; an outsider's 5 wrong passwords for the admin
    used to refuse even the right one for 300 s."""
    app, clock = build(app_factory, tmp_path)
    desk = app.test_client()
    assert sign_in(desk, "admin", PASSWORD).status_code == 302  # an earlier sign-in from this browser
    outsider = app.test_client()
    for _ in range(5):
        assert sign_in(outsider, "admin", "wrong-password").status_code == 401
    assert sign_in(desk, "admin", PASSWORD).status_code == 302  # the known browser: at once
    for _ in range(5):
        assert sign_in(outsider, "admin", "wrong-password").status_code == 401
    laptop = app.test_client()
    early = sign_in(laptop, "admin", PASSWORD)
    assert early.status_code == 429 and early.headers["Retry-After"] == "1"  # a new browser: after 1 s
    clock.now += 1
    assert sign_in(laptop, "admin", PASSWORD).status_code == 302


@pytest.mark.slow
def test_the_delay_grows_and_is_capped(app_factory, tmp_path):
    app, clock = build(app_factory, tmp_path, login_free_failures=2, login_delay_s=2, login_max_delay_s=10,
                       login_address_failures=1000)
    client, seen = app.test_client(), []
    for _ in range(7):
        response = sign_in(client, "manager", "wrong-password")
        if response.status_code == 429:
            seen.append(int(response.headers["Retry-After"]))
            clock.now += seen[-1]
            response = sign_in(client, "manager", "wrong-password")
        assert response.status_code == 401
    assert seen == [2, 4, 8, 10, 10]
    assert sign_in(client, "manager", PASSWORD).status_code == 429
    clock.now += 10
    assert sign_in(client, "manager", PASSWORD).status_code == 302


@pytest.mark.slow
def test_names_without_an_account_answer_the_same(app_factory, tmp_path):
    app, _ = build(app_factory, tmp_path, login_address_failures=1000)
    client = app.test_client()
    for name in ("manager", "nobody"):
        codes = [sign_in(client, name, "wrong-password").status_code for _ in range(6)]
        assert codes == [401] * 5 + [429], name


@pytest.mark.slow
def test_a_forged_device_cookie_gives_no_exemption(app_factory, tmp_path):
    app, _ = build(app_factory, tmp_path, login_address_failures=1000)
    attacker = app.test_client()
    attacker.set_cookie("checkpoint_device", '[["manager","abc"]]', path="/login")
    codes = [sign_in(attacker, "manager", "wrong-password").status_code for _ in range(6)]
    assert codes[-1] == 429


@pytest.mark.slow
def test_a_known_browser_loses_its_exemption_after_its_own_failures(app_factory, tmp_path):
    app, _ = build(app_factory, tmp_path, login_address_failures=1000)
    browser = app.test_client()
    assert sign_in(browser, "manager", PASSWORD).status_code == 302
    codes = [sign_in(browser, "manager", "wrong-password").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


@pytest.mark.slow
def test_unlock_from_the_console_clears_the_delay(app_factory, tmp_path, capsys):
    app, _ = build(app_factory, tmp_path, login_address_failures=1000)
    client = app.test_client()
    for _ in range(8):
        sign_in(client, "admin", "wrong-password", OUTSIDER)
    assert sign_in(client, "admin", PASSWORD, ADMIN_DESK).status_code == 429
    config = tmp_path / "checkpoint.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    assert cli.main(["user", "unlock", "admin", "-c", str(config)]) == 0  # another process: only the database
    assert sign_in(client, "admin", PASSWORD, ADMIN_DESK).status_code == 302


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [0, 1])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(app_factory, tmp_path, caplog, trusted):
    app, _ = build(app_factory, tmp_path, login_address_failures=3, trusted_proxies=trusted)
    client = app.test_client()
    proxy = "127.0.0.1"
    for _ in range(3):  # one client behind the proxy fails three times
        assert sign_in(client, f"n{_}", "x", proxy, {"X-Forwarded-For": "203.0.113.1"}).status_code == 401
    other = sign_in(client, "guard", PASSWORD, proxy, {"X-Forwarded-For": "203.0.113.2"})
    # a spoofed X-Forwarded-For in front of the proxy's own entry changes nothing
    spoofed = sign_in(client, "guard", PASSWORD, proxy, {"X-Forwarded-For": "192.0.2.99, 203.0.113.1"})
    if trusted:
        assert other.status_code == 302  # another client behind the same proxy is not refused
        assert spoofed.status_code == 429  # the proxy's entry (the last one) is the address
    else:
        assert other.status_code == 429 and spoofed.status_code == 429  # the header is ignored: all share the proxy
    with caplog.at_level(logging.INFO, logger="web.auth"):
        sign_in(client, "n9", "x", proxy, {"X-Forwarded-For": "203.0.113.5"})
    assert any(("203.0.113.5" in r.getMessage()) == bool(trusted) for r in caplog.records if "n9" in r.getMessage())


def test_trusted_proxies_is_off_by_default():
    assert Settings().web.trusted_proxies == 0
    limiter = LoginLimiter.from_settings(Settings().web)
    assert (limiter.free_failures, limiter.address_failures, limiter.max_delay_s) == (5, 20, 300.0)
