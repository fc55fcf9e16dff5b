"""dns-lexicon's providers as a wacme plugin: the existing Python code of
~90 DNS providers, unchanged, inside wacme's sandbox.

[dns-lexicon](https://github.com/dns-lexicon/dns-lexicon) 3.25 talks to its
providers with `requests`; here every `requests.Session` it makes sends over
the standard `wasi:http/outgoing-handler` (`../python/wacme_requests.py`),
which wacme holds to the plugin's grants like its own `http` import.

What a provider takes is one entry of `PROVIDERS`: which lexicon provider
runs, the config fields wacme asks for and the lexicon option each one
feeds, and the hosts the provider's API lives on (lexicon declares none; the
sandbox needs them). `PROVIDER` picks the entry this component is built for
(`powerdns`: the one the test bed can check).

Built with componentize-py against `../wit/world.wit`; see README.md.
"""

import sys
from types import ModuleType

# lexicon.config imports PyYAML for configuration files, which a plugin never
# reads, and PyYAML publishes no pure-Python wheel: a stand-in that refuses.
_yaml = ModuleType("yaml")


def _no_yaml(*args, **kwargs):
    raise RuntimeError("YAML configuration files are not available in a wacme plugin")


_yaml.safe_load = _yaml.load = _yaml.dump = _no_yaml
sys.modules.setdefault("yaml", _yaml)

import importlib  # noqa: E402

import requests  # noqa: E402
from componentize_py_types import Err  # noqa: E402
from lexicon.config import ConfigResolver  # noqa: E402
from lexicon.exceptions import AuthenticationError  # noqa: E402
from wacme_requests import use_for_every_session  # noqa: E402
from wit_world.exports import Provider as ProviderBase  # noqa: E402
from wit_world.imports import wacme_dns_types as types  # noqa: E402
from wit_world.imports.log import Level, log  # noqa: E402

# Every session lexicon's providers make sends over wasi:http.
use_for_every_session()

# One entry per wrapped provider. `options`: wacme config field -> (lexicon
# option, description, required, secret, environment aliases).
# `allowed_hosts`: what the provider's API needs (`{field}` = a config
# value's origin, as in every wacme plugin).
PROVIDERS = {
    "powerdns": {
        "description": "PowerDNS Authoritative Server through its HTTP API (dns-lexicon's powerdns provider)",
        "homepage": "https://dns-lexicon.github.io/dns-lexicon/",
        "options": {
            "api_url": ("pdns_server", "Base URL of the PowerDNS web server, e.g. http://127.0.0.1:8081", True, False, []),
            "api_key": ("auth_token", "API key (the server's `api-key` setting)", True, True, ["LEXICON_POWERDNS_AUTH_TOKEN"]),
            "server_id": ("pdns_server_id", "Server id in the API path (default localhost)", False, False, []),
        },
        "allowed_hosts": ["{api_url}"],
    },
}
PROVIDER = "powerdns"

_ENTRY = PROVIDERS[PROVIDER]
# Imported at build time: componentize-py snapshots the interpreter after
# the top-level imports, and a plugin has no filesystem to import from later.
_MODULE = importlib.import_module(f"lexicon._private.providers.{PROVIDER}")


def provider_error(e):
    """A lexicon or `requests` exception as a `provider-error` case."""
    if isinstance(e, AuthenticationError):
        return types.ProviderError_Authentication(f"{PROVIDER}: {e}")
    if isinstance(e, requests.HTTPError) and e.response is not None:
        status = e.response.status_code
        message = f"{PROVIDER}: HTTP {status}: {e.response.text[:200]}"
        if status in (401, 403):
            return types.ProviderError_Authentication(message)
        if status == 404:
            return types.ProviderError_ZoneNotFound(message)
        if status == 429:
            after = e.response.headers.get("retry-after", "").strip()
            return types.ProviderError_RateLimited(types.RateLimit(message, int(after) if after.isdigit() else None))
        if status >= 500:
            return types.ProviderError_Transient(message)
        return types.ProviderError_Permanent(message)
    if isinstance(e, requests.RequestException):
        return types.ProviderError_Transient(f"{PROVIDER} unreachable: {e}")
    return types.ProviderError_Permanent(f"{PROVIDER}: {type(e).__name__}: {e}")


def lexicon_provider(config, set):
    """The lexicon provider for `set.zone`, authenticated."""
    values = dict(config)
    options = {lexicon: values[field] for field, (lexicon, *_rest) in _ENTRY["options"].items() if values.get(field)}
    resolver = ConfigResolver().with_dict(
        {"provider_name": PROVIDER, "domain": set.zone.rstrip("."), "ttl": set.ttl, PROVIDER: options}
    )
    try:
        provider = _MODULE.Provider(resolver)
        provider.authenticate()
    except Exception as e:
        raise Err(provider_error(e))
    return provider


def for_each_value(config, set, verb, change):
    """`change(provider, name, value)` for each of the set's values, through
    the lexicon provider for its zone; the first failure is the call's."""
    provider = lexicon_provider(config, set)
    name = set.fqdn.rstrip(".")
    for value in set.values:
        log(Level.DEBUG, f"lexicon {PROVIDER}: {verb} TXT {name}")
        try:
            change(provider, name, value)
        except Exception as e:
            raise Err(provider_error(e))


class Provider(ProviderBase):
    def metadata(self) -> types.PluginMetadata:
        return types.PluginMetadata(
            name=f"lexicon-{PROVIDER}",
            version="0.1.0",
            description=_ENTRY["description"],
            homepage=_ENTRY["homepage"],
            config=[
                types.ConfigField(field, description, required, secret, None, aliases)
                for field, (_lexicon, description, required, secret, aliases) in _ENTRY["options"].items()
            ],
            allowed_hosts=_ENTRY["allowed_hosts"],
            default_ttl=60,
            min_ttl=1,
            dns_servers=[],
            # Lexicon reads the zone, then writes: one write per zone at a time.
            hints=types.ProviderHints(1, True, None, False),
        )

    def present(self, config, set) -> None:
        for_each_value(config, set, "create", lambda p, name, value: p.create_record("TXT", name, value))

    def cleanup(self, config, set) -> None:
        for_each_value(config, set, "delete", lambda p, name, value: p.delete_record(None, "TXT", name, value))

    # `batch` is off in the hints: wacme never calls these.
    def present_many(self, config, sets) -> None:
        for s in sets:
            self.present(config, s)

    def cleanup_many(self, config, sets) -> None:
        for s in sets:
            self.cleanup(config, s)
