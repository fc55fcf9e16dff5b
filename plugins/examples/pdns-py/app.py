"""The PowerDNS Authoritative provider for wacme, in Python with `requests`.

The same behaviour as the Rust plugin `plugins/pdns` and the JavaScript
example `plugins/examples/pdns-js`: merge the challenge values into the
name's TXT RRset, remove only its own values on cleanup, keep every other
record. HTTP is plain `requests`; its transport is the `requests-wasi-http`
adapter, which sends over the standard `wasi:http/outgoing-handler` — wacme
checks every request against the plugin's grants exactly as it checks its
own `http` import.

Built with componentize-py against `../wit/world.wit` (wacme's `dns-provider`
world plus `wasi:http/outgoing-handler`): see README.md and build.sh.
Errors are returned with `raise Err(types.ProviderError_…(…))`.
"""

import json
from urllib.parse import quote as urlquote

import requests
from componentize_py_types import Err
from wacme_requests import session
from wit_world.exports import Provider as ProviderBase
from wit_world.imports import wacme_dns_types as types
from wit_world.imports.log import Level, log

DEFAULT_TTL = 60

# Every request of this plugin goes over wasi:http (../python/wacme_requests.py).
SESSION = session()


def fail(error):
    return Err(error)


def absolute(name):
    """`name` with one trailing dot, lower case: PowerDNS's zone ids and RRset
    names are absolute."""
    return name.rstrip(".").lower() + "."


def txt_quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def txt_unquote(content):
    content = content.strip()
    if len(content) >= 2 and content[0] == '"' and content[-1] == '"':
        out, i, inner = [], 0, content[1:-1]
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out)
    return content


class Settings:
    def __init__(self, config):
        values = dict(config)

        def required(key):
            value = values.get(key, "")
            if not value:
                raise fail(types.ProviderError_InvalidConfig(f"`{key}` is required"))
            return value

        api_url = required("api_url").strip().rstrip("/")
        if not api_url.lower().startswith(("http://", "https://")) or "?" in api_url or "#" in api_url:
            raise fail(
                types.ProviderError_InvalidConfig(
                    f"`api_url` must be an http:// or https:// URL such as http://127.0.0.1:8081, not {api_url!r}"
                )
            )
        if api_url.lower().endswith("/api/v1"):
            api_url = api_url[: -len("/api/v1")].rstrip("/")
        self.server_id = values.get("server_id") or "localhost"
        self.server_url = f"{api_url}/api/v1/servers/{urlquote(self.server_id, safe='')}"
        self.api_key = required("api_key")
        self.ttl = None
        if values.get("ttl"):
            try:
                self.ttl = int(values["ttl"])
            except ValueError:
                self.ttl = 0
            if self.ttl < 1:
                raise fail(types.ProviderError_InvalidConfig("`ttl` must be a whole number of seconds, at least 1"))

    def zone_url(self, zone):
        return f"{self.server_url}/zones/{urlquote(absolute(zone), safe='')}"

    def call(self, method, url, zone, body=None):
        """One API request with `requests`; a failed answer becomes a
        `provider-error` case."""
        try:
            response = SESSION.request(
                method,
                url,
                headers={"x-api-key": self.api_key, "accept": "application/json"},
                json=body,
                allow_redirects=False,
            )
        except requests.RequestException as e:
            raise fail(types.ProviderError_Transient(f"PowerDNS unreachable: {e}"))
        if response.ok:
            return response
        raise fail(api_error(response, zone, self.server_id))


def api_error(response, zone, server_id):
    """Maps a failed answer to a `provider-error` case."""
    text = response.text
    try:
        detail = json.loads(text).get("error", text[:200])
    except ValueError:
        detail = text[:200]
    status = response.status_code
    if status == 404 or "Could not find domain" in detail:
        return types.ProviderError_ZoneNotFound(
            f"PowerDNS server `{server_id}` has no zone `{absolute(zone)}` (HTTP {status}: {detail})"
        )
    if status in (401, 403):
        return types.ProviderError_Authentication(
            f"PowerDNS refused the API key (HTTP {status}: {detail}); check api_key"
        )
    if status == 429:
        after = response.headers.get("retry-after", "").strip()
        return types.ProviderError_RateLimited(
            types.RateLimit(f"PowerDNS: HTTP 429: {detail}", int(after) if after.isdigit() else None)
        )
    if status >= 500:
        return types.ProviderError_Transient(f"PowerDNS server error: HTTP {status}: {detail}")
    return types.ProviderError_Permanent(f"PowerDNS: HTTP {status}: {detail}")


def read_values(s, set):
    """The name's TXT RRset as (ttl, records), records as dicts with
    `content` and `disabled`; (None, []) when there is none."""
    url = f"{s.zone_url(set.zone)}?rrsets=true&rrset_name={urlquote(absolute(set.fqdn), safe='')}&rrset_type=TXT"
    zone = s.call("GET", url, set.zone).json()
    for rrset in zone.get("rrsets", []):
        if rrset.get("type") == "TXT" and absolute(rrset.get("name", "")) == absolute(set.fqdn):
            return rrset.get("ttl"), list(rrset.get("records", []))
    return None, []


def write_values(s, set, ttl, records):
    """Replaces the name's TXT RRset with `records` (deletes it when empty)."""
    if records:
        change = {"name": absolute(set.fqdn), "type": "TXT", "ttl": ttl, "changetype": "REPLACE", "records": records}
    else:
        change = {"name": absolute(set.fqdn), "type": "TXT", "changetype": "DELETE"}
    log(Level.DEBUG, f"{absolute(set.fqdn)}: {change['changetype']} TXT with {len(records)} value(s)")
    s.call("PATCH", s.zone_url(set.zone), set.zone, {"rrsets": [change]})


class Provider(ProviderBase):
    def metadata(self) -> types.PluginMetadata:
        return types.PluginMetadata(
            name="pdns-py",
            version="0.1.0",
            description="PowerDNS Authoritative Server through its HTTP API (Python example, `requests`)",
            homepage="https://doc.powerdns.com/authoritative/http-api/",
            config=[
                types.ConfigField(
                    "api_url", "Base URL of the PowerDNS web server, e.g. http://127.0.0.1:8081", True, False, None, []
                ),
                types.ConfigField("api_key", "API key (the server's `api-key` setting)", True, True, None, ["PDNS_API_KEY"]),
                types.ConfigField("server_id", "Server id in the API path", False, False, "localhost", []),
                types.ConfigField(
                    "ttl", "TTL in seconds of the challenge RRset; overrides the TTL wacme passes", False, False, None, []
                ),
            ],
            allowed_hosts=["{api_url}"],
            default_ttl=DEFAULT_TTL,
            min_ttl=1,
            dns_servers=[],
            # sqlite answers concurrent writes to one zone with "database is
            # locked": one write per zone at a time; no batch calls.
            hints=types.ProviderHints(1, True, None, False),
        )

    def present(self, config, set) -> None:
        s = Settings(config)
        ttl = max(s.ttl or set.ttl, 1)
        current_ttl, records = read_values(s, set)
        changed = current_ttl != ttl
        for value in set.values:
            found = [r for r in records if txt_unquote(r["content"]) == value]
            for r in found:
                if r.get("disabled"):
                    r["disabled"] = False
                    changed = True
            if not found:
                records.append({"content": txt_quote(value), "disabled": False})
                changed = True
        if changed:
            write_values(s, set, ttl, records)
        else:
            log(Level.DEBUG, f"{absolute(set.fqdn)}: TXT values already present")

    def cleanup(self, config, set) -> None:
        s = Settings(config)
        current_ttl, records = read_values(s, set)
        remaining = [r for r in records if txt_unquote(r["content"]) not in set.values]
        if len(remaining) != len(records):
            write_values(s, set, current_ttl or DEFAULT_TTL, remaining)
        else:
            log(Level.DEBUG, f"{absolute(set.fqdn)}: TXT values already gone")

    # `batch` is off in the hints: wacme never calls these; they do the sets
    # one by one.
    def present_many(self, config, sets) -> None:
        for s in sets:
            self.present(config, s)

    def cleanup_many(self, config, sets) -> None:
        for s in sets:
            self.cleanup(config, s)
