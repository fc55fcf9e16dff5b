"""A test-only provider in Python: `present` prints a line, then raises.

The host's tests check that the exception's message (with the secret
`token` redacted) reaches the operator when the plugin traps.
Built with componentize-py against wit/v0.2 (wacme:dns@0.2.0), world
`dns-provider`.
"""

from wit_world.exports import Provider as ProviderBase
from wit_world.imports import types


class Provider(ProviderBase):
    def metadata(self) -> types.PluginMetadata:
        return types.PluginMetadata(
            name="python-raise",
            version="0.1.0",
            description="Test-only: raises an uncaught exception in present",
            homepage="https://github.com/wacme/wacme",
            config=[
                types.ConfigField("token", "A secret the exception quotes", False, True, None, [])
            ],
            allowed_hosts=[],
            default_ttl=60,
            min_ttl=1,
            dns_servers=[],
            hints=types.ProviderHints(0, True, None, False),
        )

    def present(self, config, set) -> None:
        token = dict(config).get("token", "")
        print(f"looking up {set.fqdn}")
        raise ValueError(f"zone {set.zone} refused token {token}")

    def cleanup(self, config, set) -> None:
        return None

    def present_many(self, config, sets) -> None:
        for s in sets:
            self.present(config, s)

    def cleanup_many(self, config, sets) -> None:
        return None
