// A test-only provider in JavaScript, built by a default componentize-js
// build (its `fetch` support on, so the component imports wasi:http):
// `present` POSTs the record set to `{target}/records` with plain fetch(),
// `cleanup` DELETEs it, the secret `token` in `authorization`.
//
// The host's tests check that such a component loads and that its fetch()
// goes out under the sandbox's rules. Built against wit/v0.2
// (wacme:dns@0.2.0), world `dns-provider`.

function settings(config) {
  return Object.fromEntries(config);
}

async function send(method, config, set) {
  const { target, token } = settings(config);
  let response;
  try {
    response = await fetch(`${target}/records`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ fqdn: set.fqdn, values: set.values }),
    });
  } catch (e) {
    throw { tag: 'transient', val: `fetch ${method}: ${e}` };
  }
  const text = await response.text();
  if (!response.ok || !text.includes(set.fqdn)) {
    throw { tag: 'permanent', val: `${method}: HTTP ${response.status}: ${text}` };
  }
}

export const provider = {
  metadata() {
    return {
      name: 'js-fetch',
      version: '0.1.0',
      description: 'Test-only: a JavaScript provider using fetch(); never use it for real',
      homepage: 'https://github.com/wacme/wacme',
      config: [
        {
          name: 'target',
          description: "The API's URL",
          required: true,
          secret: false,
          default: undefined,
          envAliases: [],
        },
        {
          name: 'token',
          description: "The API's secret token",
          required: false,
          secret: true,
          default: undefined,
          envAliases: [],
        },
      ],
      allowedHosts: ['{target}'],
      defaultTtl: 60,
      minTtl: 1,
      dnsServers: [],
      hints: {
        zoneWriteConcurrency: 0,
        canDelete: true,
        maxValuesPerName: undefined,
        batch: false,
      },
    };
  },
  async present(config, set) {
    await send('POST', config, set);
  },
  async cleanup(config, set) {
    await send('DELETE', config, set);
  },
  async presentMany(config, sets) {
    for (const set of sets) await send('POST', config, set);
  },
  async cleanupMany(config, sets) {
    for (const set of sets) await send('DELETE', config, set);
  },
};
