// The PowerDNS Authoritative provider for wacme, in JavaScript: the same
// behaviour as the Rust plugin `plugins/pdns` (merge the challenge values into
// the name's TXT RRset, remove only its own values on cleanup, keep every
// other record), through the PowerDNS HTTP API with plain `fetch()`.
//
// Built with componentize-js against wacme's WIT (`wit/v0.2`, world
// `dns-provider`); see README.md. Errors are returned by throwing
// `{ payload: { tag, val } }`, where `tag` is a `provider-error` case.

import { log } from "wacme:dns/log@0.2.0";

const DEFAULT_TTL = 60;

function fail(tag, val) {
  const error = new Error(typeof val === "string" ? val : val.message);
  error.payload = { tag, val };
  return error;
}

function debug(message) {
  log("debug", message);
}

// `name` with one trailing dot, lower case: PowerDNS's zone ids and RRset
// names are absolute.
function absolute(name) {
  return name.replace(/\.+$/, "").toLowerCase() + ".";
}

function quote(value) {
  return '"' + value.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

function unquote(content) {
  const m = /^"(.*)"$/s.exec(content.trim());
  if (!m) return content;
  return m[1].replace(/\\(.)/g, "$1");
}

function settings(config) {
  const get = (key) => {
    const pair = config.find(([k]) => k === key);
    return pair ? pair[1] : undefined;
  };
  const require = (key) => {
    const value = get(key);
    if (value === undefined || value === "") {
      throw fail("invalid-config", `\`${key}\` is required`);
    }
    return value;
  };
  const apiUrl = require("api_url").trim();
  if (!/^https?:\/\/[^/]/i.test(apiUrl) || /[?#]/.test(apiUrl)) {
    throw fail(
      "invalid-config",
      `\`api_url\` must be an http:// or https:// URL such as http://127.0.0.1:8081, not ${JSON.stringify(apiUrl)}`,
    );
  }
  const serverId = get("server_id") || "localhost";
  let ttl;
  const ttlText = get("ttl");
  if (ttlText !== undefined) {
    ttl = Number(ttlText);
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw fail("invalid-config", `\`ttl\` must be a whole number of seconds, at least 1, not ${JSON.stringify(ttlText)}`);
    }
  }
  let base = apiUrl.replace(/\/+$/, "");
  if (base.toLowerCase().endsWith("/api/v1")) base = base.slice(0, -"/api/v1".length).replace(/\/+$/, "");
  return {
    serverUrl: `${base}/api/v1/servers/${encodeURIComponent(serverId)}`,
    serverId,
    apiKey: require("api_key"),
    ttl,
  };
}

// Maps a failed answer to a `provider-error` case.
async function apiError(response, zone, s) {
  const text = await response.text();
  let detail = text.slice(0, 200);
  try {
    detail = JSON.parse(text).error ?? detail;
  } catch {}
  const status = response.status;
  if (status === 404 || detail.includes("Could not find domain")) {
    return fail("zone-not-found", `PowerDNS server \`${s.serverId}\` has no zone \`${absolute(zone)}\` (HTTP ${status}: ${detail})`);
  }
  if (status === 401 || status === 403) {
    return fail("authentication", `PowerDNS refused the API key (HTTP ${status}: ${detail}); check api_key`);
  }
  if (status === 429) {
    const after = Number(response.headers.get("retry-after"));
    return fail("rate-limited", {
      message: `PowerDNS: HTTP 429: ${detail}`,
      retryAfterSecs: Number.isInteger(after) && after >= 0 ? after : undefined,
    });
  }
  if (status >= 500) return fail("transient", `PowerDNS server error: HTTP ${status}: ${detail}`);
  return fail("permanent", `PowerDNS: HTTP ${status}: ${detail}`);
}

async function call(s, zone, url, init = {}) {
  let response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { "x-api-key": s.apiKey, accept: "application/json", ...(init.headers || {}) },
    });
  } catch (e) {
    throw fail("transient", `PowerDNS unreachable: ${e.message ?? e}`);
  }
  if (!response.ok) throw await apiError(response, zone, s);
  return response;
}

function zoneUrl(s, zone) {
  return `${s.serverUrl}/zones/${encodeURIComponent(absolute(zone))}`;
}

// The TXT RRset of `fqdn`, or undefined.
async function readTxt(s, set) {
  const url = `${zoneUrl(s, set.zone)}?rrsets=true&rrset_name=${encodeURIComponent(absolute(set.fqdn))}&rrset_type=TXT`;
  const zone = await (await call(s, set.zone, url)).json();
  return (zone.rrsets || []).find((r) => r.type === "TXT" && absolute(r.name) === absolute(set.fqdn));
}

async function patch(s, set, rrset) {
  await call(s, set.zone, zoneUrl(s, set.zone), {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ rrsets: [{ name: absolute(set.fqdn), type: "TXT", ...rrset }] }),
  });
}

export const provider = {
  metadata() {
    return {
      name: "pdns-js",
      version: "0.1.0",
      description: "PowerDNS Authoritative Server through its HTTP API (JavaScript example)",
      homepage: "https://doc.powerdns.com/authoritative/http-api/",
      config: [
        { name: "api_url", description: "Base URL of the PowerDNS web server, e.g. http://127.0.0.1:8081", required: true, secret: false, default: undefined, envAliases: [] },
        { name: "api_key", description: "API key (the server's `api-key` setting)", required: true, secret: true, default: undefined, envAliases: ["PDNS_API_KEY"] },
        { name: "server_id", description: "Server id in the API path", required: false, secret: false, default: "localhost", envAliases: [] },
        { name: "ttl", description: "TTL in seconds of the challenge RRset; overrides the TTL wacme passes", required: false, secret: false, default: undefined, envAliases: [] },
      ],
      allowedHosts: ["{api_url}"],
      defaultTtl: DEFAULT_TTL,
      minTtl: 1,
      dnsServers: [],
      // sqlite answers concurrent writes to one zone with "database is locked".
      hints: { zoneWriteConcurrency: 1, canDelete: true, maxValuesPerName: undefined, batch: false },
    };
  },

  async present(config, set) {
    const s = settings(config);
    const ttl = Math.max(s.ttl ?? set.ttl, 1);
    const current = await readTxt(s, set);
    const records = current ? current.records.map((r) => ({ ...r })) : [];
    let changed = !current || current.ttl !== ttl;
    for (const value of set.values) {
      const found = records.filter((r) => unquote(r.content) === value);
      for (const r of found) {
        if (r.disabled) {
          r.disabled = false;
          changed = true;
        }
      }
      if (found.length === 0) {
        records.push({ content: quote(value), disabled: false });
        changed = true;
      }
    }
    if (!changed) {
      debug(`${absolute(set.fqdn)}: TXT values already present`);
      return;
    }
    debug(`${absolute(set.fqdn)}: REPLACE TXT with ${records.length} value(s), TTL ${ttl}`);
    await patch(s, set, { ttl, changetype: "REPLACE", records });
  },

  async cleanup(config, set) {
    const s = settings(config);
    const current = await readTxt(s, set);
    if (!current) return;
    const remaining = current.records.filter((r) => !set.values.includes(unquote(r.content)));
    if (remaining.length === current.records.length) {
      debug(`${absolute(set.fqdn)}: TXT values already gone`);
      return;
    }
    if (remaining.length === 0) {
      await patch(s, set, { changetype: "DELETE" });
    } else {
      await patch(s, set, { ttl: current.ttl ?? DEFAULT_TTL, changetype: "REPLACE", records: remaining });
    }
  },

  // `hints.batch` is false: wacme never calls these; they do the sets one by one.
  async presentMany(config, sets) {
    for (const set of sets) await provider.present(config, set);
  },

  async cleanupMany(config, sets) {
    for (const set of sets) await provider.cleanup(config, set);
  },
};
