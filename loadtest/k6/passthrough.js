// Passthrough load test: plain GETs through Unbroken to one route's upstream.
//
// Two scenarios, one after the other:
//   steady  constant-arrival-rate (open model): RATE requests/s for STEADY_SECONDS, whatever
//           the response times; latency under a known offered load.
//   ramp    ramping-vus (closed model): 0 -> RAMP_VUS virtual users, a hold, then back to 0;
//           how latency and errors move as concurrency grows.
// Every response must be 200 and carry an X-Request-Id header (the gateway assigns one to every
// request). The run fails (non-zero exit) if more than 1 % of requests fail or if p99 latency
// goes over P99_MS.
//
//   k6 run loadtest/k6/passthrough.js
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e PATH_PREFIX=/demo -e RATE=500 loadtest/k6/passthrough.js
//
// Environment: BASE_URL [http://127.0.0.1:8080]  PATH_PREFIX [/demo]  RATE [200]
//              STEADY_SECONDS [60]  RAMP_VUS [100]  RAMP_SECONDS [30]  HOLD_SECONDS [60]
//              P99_MS [250]
import http from 'k6/http';
import { check } from 'k6';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const PATH_PREFIX = __ENV.PATH_PREFIX || '/demo';
const TARGET = BASE_URL + (PATH_PREFIX.startsWith('/') ? PATH_PREFIX : '/' + PATH_PREFIX);

const RATE = intEnv('RATE', 200);
const STEADY_SECONDS = intEnv('STEADY_SECONDS', 60);
const RAMP_VUS = intEnv('RAMP_VUS', 100);
const RAMP_SECONDS = intEnv('RAMP_SECONDS', 30);
const HOLD_SECONDS = intEnv('HOLD_SECONDS', 60);
const P99_MS = intEnv('P99_MS', 250);
const GRACEFUL_STOP_SECONDS = 10;

function intEnv(name, fallback) {
  const value = parseInt(__ENV[name], 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export const options = {
  // Only status and headers are checked: skip buffering bodies to keep k6's own cost low.
  discardResponseBodies: true,
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: `${STEADY_SECONDS}s`,
      preAllocatedVUs: Math.min(Math.max(10, Math.ceil(RATE / 10)), 200),
      maxVUs: Math.max(50, Math.ceil(RATE / 2)),
      gracefulStop: `${GRACEFUL_STOP_SECONDS}s`,
      tags: { phase: 'steady' },
    },
    ramp: {
      executor: 'ramping-vus',
      // Starts once the steady scenario (and its graceful stop) is over.
      startTime: `${STEADY_SECONDS + GRACEFUL_STOP_SECONDS}s`,
      startVUs: 0,
      stages: [
        { duration: `${RAMP_SECONDS}s`, target: RAMP_VUS },
        { duration: `${HOLD_SECONDS}s`, target: RAMP_VUS },
        { duration: `${Math.max(5, Math.ceil(RAMP_SECONDS / 2))}s`, target: 0 },
      ],
      gracefulRampDown: '10s',
      gracefulStop: `${GRACEFUL_STOP_SECONDS}s`,
      tags: { phase: 'ramp' },
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(99)<${P99_MS}`],
    'http_req_duration{scenario:steady}': [`p(99)<${P99_MS}`],
    'http_req_duration{scenario:ramp}': [`p(99)<${P99_MS}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const res = http.get(TARGET, { tags: { name: 'passthrough' }, timeout: '10s' });
  check(res, {
    'status is 200': (r) => r.status === 200,
    // k6 gives response header names in canonical form: X-Request-Id.
    'has X-Request-Id': (r) => typeof r.headers['X-Request-Id'] === 'string' && r.headers['X-Request-Id'] !== '',
  });
}
