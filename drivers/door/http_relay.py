"""``http``: a relay with an HTTP API, one request per change (standard library only).

The URL is a template: ``{channel}``, ``{on}`` (``true``/``false``),
``{state}`` (``1``/``0``) and ``{open_s}`` are filled in. A Shelly (Gen2 and
later) takes ``http://HOST/rpc/Switch.Set?id={channel}&on={on}``; adding
``&toggle_after={open_s}`` makes the Shelly switch back by itself, so a pulse
ends even if the agent dies in it. A Tasmota takes
``http://HOST/cm?cmnd=Power{channel}%20{state}``. Any 2xx answer is taken;
another status, a refused connection or no answer within ``timeout_s`` is a
fault. A login (``username``/``password``) is sent as HTTP basic or digest
authentication, as the device asks (Shelly uses digest).
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Optional

from drivers.door.base import Relay, RelayFault

FIELDS = ("channel", "on", "state", "open_s")


def render(template: str, channel: int, on: bool, open_s: float) -> str:
    return template.format_map({"channel": channel, "on": "true" if on else "false", "state": 1 if on else 0,
                                "open_s": f"{open_s:g}"})


def check_template(template: str) -> None:
    """ValueError naming a placeholder the template may not use."""
    try:
        render(template, 0, True, 1.0)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"door.relay.url: unknown placeholder {exc} (use {', '.join('{%s}' % f for f in FIELDS)})") \
            from None


class HttpRelay(Relay):
    key = "http"

    def __init__(self, url: str, method: str = "GET", channel: int = 0, username: str = "", password: str = "",
                 timeout_s: float = 2.0, open_s: float = 3.0, **kwargs) -> None:
        super().__init__(kwargs.pop("on_stop", None))
        check_template(url)
        self.template, self.method, self.channel = url, method, channel
        self.timeout_s, self.open_s = timeout_s, open_s
        handlers = []
        if username:
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, render(url, channel, False, open_s), username, password)
            handlers += [urllib.request.HTTPBasicAuthHandler(passwords),
                         urllib.request.HTTPDigestAuthHandler(passwords)]
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def where(self) -> str:
        from checkpoint.redact import mask_url

        return mask_url(render(self.template, self.channel, False, self.open_s).split("?", 1)[0])

    def connect(self) -> None:
        pass  # a request per change: nothing to hold open

    def set(self, on: bool) -> None:
        url = render(self.template, self.channel, on, self.open_s)
        request = urllib.request.Request(url, method=self.method, data=b"" if self.method == "POST" else None)
        status: Optional[int] = None
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status = response.status
                response.read(65536)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (socket.timeout, TimeoutError) as exc:
            raise RelayFault("timeouts", f"{self.where}: no answer within {self.timeout_s:g} s") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise RelayFault("timeouts", f"{self.where}: no answer within {self.timeout_s:g} s") from exc
            raise RelayFault("unreachable", f"{self.where}: {reason}") from exc
        if not 200 <= status < 300:
            raise RelayFault("http_errors", f"{self.where} answered HTTP {status}")
