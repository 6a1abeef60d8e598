/** {{name}}: the numbers in an HTTP endpoint's JSON, as gauges. */

import { ConfigError, TransientError, defineCheck } from './wasmon_check.js';
import { numericLeaves } from './json_metrics.js';

export const check = defineCheck({
  name: '{{name}}',
  version: '0.1.0',
  defaultIntervalSecs: 15,
  summary: "numbers from an HTTP endpoint's JSON",

  setup(initConfig, instance) {
    const { url, headers = {}, include = null, tags = [] } = instance;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      throw new ConfigError('expected an http:// or https:// URL', { field: 'instance.url' });
    }
    if (typeof headers !== 'object' || Array.isArray(headers)) {
      throw new ConfigError('expected a map of header names to values', {
        field: 'instance.headers',
      });
    }
    if (include !== null && !Array.isArray(include)) {
      throw new ConfigError('expected a list of paths such as `a.b`', { field: 'instance.include' });
    }
    return { url, headers, include, tags: [...tags, `url:${url}`] };
  },

  async collect({ url, headers, include, tags }, out) {
    const started = Date.now();
    let response;
    try {
      response = await fetch(url, { headers });
    } catch (e) {
      out.serviceCheck('{{name}}.can_connect', 'critical', `${url}: ${e.message}`, tags);
      throw new TransientError(`${url}: ${e.message}`);
    }
    if (!response.ok) {
      out.serviceCheck('{{name}}.can_connect', 'critical', `${url}: HTTP ${response.status}`, tags);
      throw new TransientError(`${url}: HTTP ${response.status}`);
    }
    let document;
    try {
      document = await response.json();
    } catch (e) {
      throw new TransientError(`${url}: the response is not JSON: ${e.message}`);
    }
    out.serviceCheck('{{name}}.can_connect', 'ok', '', tags);
    // A distribution: percentiles across every host's requests where the backend takes
    // sketches (Datadog), this host's summaries elsewhere.
    out.distribution('{{name}}.response_time', (Date.now() - started) / 1000, tags);
    for (const [path, value] of numericLeaves(document, include)) {
      out.gauge(`{{name}}.${path}`, value, tags);
    }
  },
});
