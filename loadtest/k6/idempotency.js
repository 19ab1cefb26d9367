// Idempotency load test: POSTs with Idempotency-Key through Unbroken to a route with
// `idempotency: { mode: required }`.
//
// Three scenarios, one after the other:
//   fresh    constant-arrival-rate: RATE requests/s, each with a new key; every one is forwarded
//            once and answered by the upstream (no Idempotent-Replayed header).
//   retries  constant-arrival-rate: RATE requests/s, each a retry of a key already answered (same
//            body); every one must be replayed (Idempotent-Replayed: true) with the first answer's
//            status.
//   storm    per-vu-iterations: STORM_VUS virtual users send the same key at once, again and again
//            for STORM_ROUNDS rounds (a new key per round); each answer must be the stored one
//            (replayed), the upstream's own (the one attempt forwarded) or 409 with Retry-After
//            (while the first is in flight, under `inflight: reject`).
// A key reused with another body must get 422; that is checked once per VU in the retries scenario.
// The run fails (non-zero exit) if more than 1 % of checks fail or if p99 latency of the fresh
// scenario goes over P99_MS.
//
//   k6 run -e PATH_PREFIX=/api/payments loadtest/k6/idempotency.js
//
// Environment: BASE_URL [http://127.0.0.1:8080]  PATH_PREFIX [/api/payments]  RATE [200]
//              SECONDS [60]  STORM_VUS [100]  STORM_ROUNDS [20]  P99_MS [250]
//              API_KEY [k6-load-test] (sent as X-Api-Key, the route's principal in conf/unbroken.yaml)
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const PATH_PREFIX = __ENV.PATH_PREFIX || '/api/payments';
const TARGET = BASE_URL + (PATH_PREFIX.startsWith('/') ? PATH_PREFIX : '/' + PATH_PREFIX) + '/orders';
const RATE = intEnv('RATE', 200);
const SECONDS = intEnv('SECONDS', 60);
const STORM_VUS = intEnv('STORM_VUS', 100);
const STORM_ROUNDS = intEnv('STORM_ROUNDS', 20);
const P99_MS = intEnv('P99_MS', 250);
const API_KEY = __ENV.API_KEY || 'k6-load-test';
const GRACEFUL_STOP_SECONDS = 10;
// Keys of this run: a prefix of its own, so two runs never replay each other's answers.
const RUN = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;

function intEnv(name, fallback) {
  const value = parseInt(__ENV[name], 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function vus(rate) {
  return { preAllocatedVUs: Math.min(Math.max(10, Math.ceil(rate / 10)), 200), maxVUs: Math.max(50, Math.ceil(rate / 2)) };
}

export const options = {
  scenarios: {
    fresh: {
      executor: 'constant-arrival-rate', exec: 'fresh', rate: RATE, timeUnit: '1s', duration: `${SECONDS}s`,
      ...vus(RATE), gracefulStop: `${GRACEFUL_STOP_SECONDS}s`, tags: { phase: 'fresh' },
    },
    retries: {
      executor: 'constant-arrival-rate', exec: 'retry', rate: RATE, timeUnit: '1s', duration: `${SECONDS}s`,
      startTime: `${SECONDS + GRACEFUL_STOP_SECONDS}s`, ...vus(RATE), gracefulStop: `${GRACEFUL_STOP_SECONDS}s`,
      tags: { phase: 'retries' },
    },
    storm: {
      executor: 'per-vu-iterations', exec: 'storm', vus: STORM_VUS, iterations: STORM_ROUNDS, maxDuration: '5m',
      startTime: `${2 * (SECONDS + GRACEFUL_STOP_SECONDS)}s`, tags: { phase: 'storm' },
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{phase:fresh}': [`p(99)<${P99_MS}`],
  },
};

function post(key, body) {
  return http.post(TARGET, body, {
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, 'X-Api-Key': API_KEY },
  });
}

function order(n) {
  return JSON.stringify({ amount: 100 + (n % 900), currency: 'EUR', reference: `${RUN}-${n}` });
}

export function fresh() {
  const n = exec.scenario.iterationInTest;
  const response = post(`${RUN}-fresh-${n}`, order(n));
  check(response, {
    'fresh: answered by the upstream (2xx)': (r) => r.status >= 200 && r.status < 300,
    'fresh: not a replay': (r) => !r.headers['Idempotent-Replayed'],
  });
}

// Each VU keeps one key: its first call is forwarded, every later one is a replay.
let retryKey = null;
let firstStatus = 0;

export function retry() {
  if (retryKey === null) {
    retryKey = `${RUN}-retry-${exec.vu.idInTest}`;
    firstStatus = post(retryKey, order(exec.vu.idInTest)).status;
    const reused = post(retryKey, order(exec.vu.idInTest + 1));
    check(reused, { 'retries: a key reused with another body gets 422': (r) => r.status === 422 });
    return;
  }
  const response = post(retryKey, order(exec.vu.idInTest));
  check(response, {
    'retries: replayed': (r) => r.headers['Idempotent-Replayed'] === 'true',
    'retries: with the first answer\'s status': (r) => r.status === firstStatus,
  });
}

export function storm() {
  const key = `${RUN}-storm-${exec.vu.iterationInScenario}`;
  const response = post(key, order(exec.vu.iterationInScenario));
  check(response, {
    'storm: the stored answer, the upstream\'s own, or 409 with Retry-After': (r) =>
      (r.status >= 200 && r.status < 300) || (r.status === 409 && r.headers['Retry-After'] !== undefined),
  });
}
