// Saga load test: POSTs that start sagas through Unbroken, then follow each saga to its end.
//
// One scenario, constant-arrival-rate: RATE sagas/s for SECONDS, each started with a fresh
// Idempotency-Key. A saga that ends within its configured timeout is answered 200 (completed) or
// 409 (compensated, problem+json); one that outlives it is answered 202 with a Location on the
// client listener, which is polled (every POLL_MS, at most FOLLOW_SECONDS) until it answers
// otherwise. Every tenth start is sent twice under its key: the retry must name the same saga
// (X-Saga-Id) and never start a second one. With FAIL_SHARE > 0, that share of starts asks the
// demo saga to decline the card, so compensations are part of the load.
// The run fails (non-zero exit) if more than 1 % of checks fail or p99 of the starts goes over P99_MS.
//
//   k6 run loadtest/k6/saga.js                                         # the embedded default's demo saga
//   k6 run -e SAGA_PATH=/api/checkout -e RATE=50 loadtest/k6/saga.js   # conf/unbroken.yaml's saga
//
// Environment: BASE_URL [http://127.0.0.1:8080]  SAGA_PATH [/demo/checkout]  RATE [20]  SECONDS [60]
//              FAIL_SHARE [0.1]  POLL_MS [250]  FOLLOW_SECONDS [60]  P99_MS [2000]
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const SAGA_PATH = __ENV.SAGA_PATH || '/demo/checkout';
const RATE = intEnv('RATE', 20);
const SECONDS = intEnv('SECONDS', 60);
const FAIL_SHARE = Math.min(1, Math.max(0, parseFloat(__ENV.FAIL_SHARE || '0.1')));
const POLL_MS = intEnv('POLL_MS', 250);
const FOLLOW_SECONDS = intEnv('FOLLOW_SECONDS', 60);
const P99_MS = intEnv('P99_MS', 2000);
// Keys of this run: a prefix of its own, so two runs never find each other's sagas.
const RUN = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;

const ended = new Counter('sagas_ended');
const unfinished = new Counter('sagas_unfinished');

function intEnv(name, fallback) {
  const value = parseInt(__ENV[name], 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export const options = {
  scenarios: {
    sagas: {
      executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: `${SECONDS}s`,
      preAllocatedVUs: Math.max(10, RATE * 2), maxVUs: Math.max(50, RATE * 10), gracefulStop: `${FOLLOW_SECONDS}s`,
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{step:start}': [`p(99)<${P99_MS}`],
  },
};

function start(key, body) {
  return http.post(BASE_URL + SAGA_PATH, body, {
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
    tags: { step: 'start' },
  });
}

/** Polls a 202's Location until the saga answers otherwise; the last answer, or null past FOLLOW_SECONDS. */
function follow(location) {
  const until = Date.now() + FOLLOW_SECONDS * 1000;
  while (Date.now() < until) {
    sleep(POLL_MS / 1000);
    const polled = http.get(BASE_URL + location, { tags: { step: 'follow' } });
    if (polled.status !== 202) {
      return polled;
    }
  }
  return null;
}

function isEnd(response) {
  return response !== null && (response.status === 200 || response.status === 409);
}

export default function () {
  const n = exec.scenario.iterationInTest;
  const key = `${RUN}-${n}`;
  const body = JSON.stringify({ amount: 1 + (n % 500), declineCard: Math.random() < FAIL_SHARE });
  const response = start(key, body);
  check(response, {
    'start: 200, 409 or 202': (r) => r.status === 200 || r.status === 409 || r.status === 202,
    'start: names its saga': (r) => r.headers['X-Saga-Id'] !== undefined,
  });
  const sagaId = response.headers['X-Saga-Id'];
  if (n % 10 === 0) {
    const retried = start(key, body);
    check(retried, { 'retry: the same saga, not a second one': (r) => r.headers['X-Saga-Id'] === sagaId });
  }
  const end = response.status === 202 ? follow(response.headers['Location']) : response;
  if (isEnd(end)) {
    ended.add(1);
  } else {
    unfinished.add(1);
  }
  check(end, { 'saga: completed or compensated': (r) => isEnd(r) });
}
