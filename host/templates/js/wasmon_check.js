/**
 * The wasmon JavaScript SDK (vendored by `wasmon new`): call `defineCheck` with `setup` and
 * `collect` and export the result as `check`. Samples are batched and sent in one call per
 * run; thrown errors become the WIT check-error variants.
 */

import {
  log as hostLog,
  setMetadata,
  submitEvent,
  submitSamples,
  submitServiceCheck,
} from 'wasmon:check/emit@0.2.0';

/**
 * The configuration is wrong: the instance stops until its config changes. `field` names the
 * offending field, its section first (`instance.url`).
 */
export class ConfigError extends Error {
  constructor(message, { field } = {}) {
    super(message);
    this.field = field == null ? undefined : String(field);
  }
}

/** Worth retrying at the next interval (a server that is down, a timeout). */
export class TransientError extends Error {}

/** What one run produces; its samples go to the host in one batch when the run ends. */
export class Output {
  constructor(timestampMs) {
    /** The run's Unix time in milliseconds. */
    this.timestampMs = timestampMs;
    this.samples = [];
  }

  /** A value sent as is. */
  gauge(name, value, tags = []) {
    this.#add(name, 'gauge', value, tags);
  }

  /** A cumulative counter: the host sends its per-second change between runs. */
  rate(name, value, tags = []) {
    this.#add(name, 'rate', value, tags);
  }

  /** A number of events in this run. */
  count(name, value, tags = []) {
    this.#add(name, 'count', value, tags);
  }

  /** A cumulative counter: the host sends its increase since the previous run. */
  monotonicCount(name, value, tags = []) {
    this.#add(name, 'monotonic-count', value, tags);
  }

  /** One value of the run's histogram: the host sends `.avg .median .max .95percentile .count`. */
  histogram(name, value, tags = []) {
    this.#add(name, 'histogram', value, tags);
  }

  /** One value of a sketch: sent as such to Datadog, as the histogram's summaries elsewhere. */
  distribution(name, value, tags = []) {
    this.#add(name, 'distribution', value, tags);
  }

  /** One member of a set (a number): the host sends how many distinct members the run saw. */
  set(name, member, tags = []) {
    this.#add(name, 'set', member, tags);
  }

  /** A value measured at its own time (Unix milliseconds, within an hour of the run's). */
  gaugeAt(name, value, timestampMs, tags = []) {
    this.#add(name, 'gauge', value, tags, timestampMs);
  }

  /**
   * Something that happened: `alertType` is 'info', 'warning', 'error' or 'success',
   * `priority` 'normal' or 'low'.
   */
  event(title, text, { alertType = 'info', priority = 'normal', aggregationKey, tags = [] } = {}) {
    submitEvent({
      title,
      text,
      timestampMs: undefined,
      priority,
      alertType,
      aggregationKey,
      sourceTypeName: undefined,
      tags: [...tags],
    });
  }

  /** A named health verdict: `status` is 'ok', 'warning', 'critical' or 'unknown'. */
  serviceCheck(name, status, message = '', tags = []) {
    submitServiceCheck({ name, status, message, tags: [...tags] });
  }

  /** A fact about the monitored thing, such as its version. */
  metadata(key, value) {
    setMetadata(key, String(value));
  }

  /** Sends the samples gathered so far. */
  flush() {
    if (this.samples.length > 0) {
      submitSamples(this.samples);
      this.samples = [];
    }
  }

  #add(name, kind, value, tags, timestampMs) {
    const at =
      timestampMs == null
        ? undefined
        : typeof timestampMs === 'bigint'
          ? timestampMs
          : BigInt(Math.trunc(Number(timestampMs)));
    this.samples.push({ name, kind, value: Number(value), tags: [...tags], timestampMs: at });
  }
}

/** A line in the agent's log: `level` is 'trace', 'debug', 'info', 'warn' or 'error'. */
export function log(level, message) {
  hostLog(level, String(message));
}

/**
 * The component's `check` export. `setup(initConfig, instance)` gets both as objects and
 * returns the instance's state (throw `ConfigError` naming the field when it is wrong);
 * `collect(state, out)` gathers one run (it may be async, e.g. to `fetch`).
 */
export function defineCheck({
  name,
  version = '0.1.0',
  defaultIntervalSecs = 15,
  summary = '',
  setup = () => ({}),
  collect,
}) {
  let state;
  return {
    describe() {
      return { name, version, defaultIntervalSecs, summary };
    },
    init(initConfig, instanceConfig) {
      try {
        state = setup(parse(initConfig), parse(instanceConfig));
      } catch (e) {
        throw checkError('config', e);
      }
    },
    async run(timestampMs) {
      const out = new Output(Number(timestampMs));
      try {
        await collect(state, out);
      } catch (e) {
        // A bug in the check is reported, and tried again next interval.
        throw checkError(e instanceof ConfigError ? 'config' : 'transient', e);
      } finally {
        out.flush();
      }
    },
  };
}

function parse(json) {
  return (json && JSON.parse(json)) || {};
}

/** The error componentize-js turns into `check-error` (its `payload`). */
function checkError(tag, error) {
  const known = error instanceof ConfigError || error instanceof TransientError;
  const message = known ? error.message : `${error?.name ?? 'Error'}: ${error?.message ?? error}`;
  const wrapped = new Error(message);
  const field = error instanceof ConfigError ? error.field : undefined;
  wrapped.payload = { tag, val: tag === 'config' ? { field, message } : message };
  return wrapped;
}
