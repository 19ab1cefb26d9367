// Writes REPORT.md and one chart per benchmark from the rows report.sh collected (run by
// report.sh, which installs vega and vega-lite). Every figure comes from the benchmarks'
// machine-readable output: bench.sh's summary.tsv (medians and medians of per-pair ratios) and the
// rows the Java programs write (BenchRows: phase, side, round, offered_per_s, answered_per_s,
// p50_ms, p90_ms, p99_ms, errors, saturated, and the CPU a request cost by process group:
// jvm_us, redis_us, postgres_us, machine_us).
//
//   node report.mjs TOOLS_DIR RUN_DIR OUT_DIR
//
// RUN_DIR holds meta.tsv (name and value: date, commit, command, load averages, elapsed time, the
// settings of each benchmark), passthrough/{summary,sweep}.tsv, idempotency.tsv,
// idempotency-redis.tsv (the same program on Redis alone) and sync.tsv.
// OUT_DIR gets REPORT.md and report/{passthrough,idempotency,sync}.svg.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [tools, runDir, outDir] = process.argv.slice(2);
if (!tools || !runDir || !outDir) {
  console.error('usage: node report.mjs TOOLS_DIR RUN_DIR OUT_DIR');
  process.exit(2);
}
const requireTool = createRequire(path.join(path.resolve(tools), 'node_modules', '.report'));
const vega = requireTool('vega');
const vegaLite = requireTool('vega-lite');

const meta = nameValues(path.join(runDir, 'meta.tsv'));
const PERCENTILES = ['p50', 'p90', 'p99'];

const benchmarks = [passthrough(), durable({
  key: 'idempotency',
  title: 'Idempotency: a new Idempotency-Key on every request',
  file: 'idempotency.tsv',
  ours: '/fresh',
  baseline: '/pass',
  extra: (rows, maxOf) => [measure('closed-loop maximum, replays (req/s)', '/replay', maxOf('/replay'),
    '/pass', maxOf('/pass'), '>=', 1.0)],
  maxTarget: 0.6,
  floor: withoutDurableRecord,
  stores: [['redis', 'Redis'], ['postgres', 'PostgreSQL']],
}), durable({
  key: 'sync',
  title: 'Events: `events: sync` against `events: off`',
  file: 'sync.tsv',
  ours: '/sync',
  baseline: '/off',
  extra: () => [],
  maxTarget: 0.35,
  floor: () => [],
  stores: [['postgres', 'PostgreSQL']],
})];

mkdirSync(path.join(outDir, 'report'), { recursive: true });
for (const benchmark of benchmarks) {
  writeFileSync(path.join(outDir, 'report', `${benchmark.key}.svg`), await chart(benchmark));
}
writeFileSync(path.join(outDir, 'REPORT.md'), markdown(benchmarks));
const met = benchmarks.flatMap((b) => b.measures).filter((m) => m.met).length;
const total = benchmarks.flatMap((b) => b.measures).length;
console.log(`wrote ${path.join(outDir, 'REPORT.md')} and ${benchmarks.length} charts: ${met} of ${total} targets met`);

function passthrough() {
  const summary = nameValues(path.join(runDir, 'passthrough', 'summary.tsv'));
  const rows = readRows(path.join(runDir, 'passthrough', 'sweep.tsv'));
  const number = (name) => Number(summary[name]);
  const floor = (side) => rows.find((r) => r.phase === 'floor' && r.side === side);
  const max = (side) => rows.find((r) => r.phase === 'max' && r.side === side);
  const measures = [
    measure('requests/s (wrk, closed loop)', 'unbroken', number('unbroken_rps'), 'nginx', number('nginx_rps'),
      '>=', 1.0, number('unbroken/nginx_rps')),
    measure('CPU per request (µs)', 'unbroken', number('unbroken_cpu_us'), 'nginx', number('nginx_cpu_us'),
      '<=', 1.1, number('unbroken/nginx_cpu_us')),
    measure('p99 at the closed-loop maximum (ms)', 'unbroken', number('unbroken_p99_ms'), 'nginx',
      number('nginx_p99_ms'), '<=', 1.2, number('unbroken/nginx_p99_ms')),
  ];
  return {
    key: 'passthrough',
    title: 'Passthrough: Unbroken against an nginx reverse proxy',
    ours: 'unbroken',
    baseline: 'nginx',
    settings: meta.passthrough_settings,
    measures,
    ratioNote: 'The ratios are medians of the per-pair ratios; each pair runs both sides back to back.',
    floor: [
      `no hop at all (wrk straight to the upstream): ${fixed(number('direct_rps'), 0)} req/s, p50 `
        + `${fixed(number('direct_p50_ms'), 3)} ms, p99 ${fixed(number('direct_p99_ms'), 3)} ms; `
        + `nginx keeps ${fixed(number('nginx/direct_rps'), 2)} of that throughput, Unbroken `
        + `${fixed(number('unbroken/direct_rps'), 2)}`,
      ...(summary['unbroken/nginx_kernel_us'] === undefined ? [] : [
        `the kernel's part of the CPU per request (system time: the sockets' work, which no proxy avoids): `
          + `Unbroken ${fixed(number('unbroken_kernel_us'), 1)} µs, nginx ${fixed(number('nginx_kernel_us'), 1)} µs `
          + `(${fixed(number('unbroken/nginx_kernel_us'), 2)}×); the rest, user space, `
          + `${fixed(number('unbroken_cpu_us') - number('unbroken_kernel_us'), 1)} against `
          + `${fixed(number('nginx_cpu_us') - number('nginx_kernel_us'), 1)} µs`]),
      `one connection, closed loop (nothing queues): ${floorText(floor('nginx'), 'nginx')}; `
        + `${floorText(floor('unbroken'), 'Unbroken')}`,
      ...['vertx', 'netty'].filter((f) => summary[`${f}/nginx_cpu_us`] !== undefined).map((f) =>
        `${f === 'vertx' ? 'a bare Vert.x 5 proxy (server, pooled client, headers copied)'
          : 'a bare Netty pipeline (HTTP codec both sides, a connection per client)'}, in the same pairs `
        + `(loadtest/ProxyFloor.java): ${fixed(number(`${f}_rps`), 0)} req/s, `
        + `${fixed(number(`${f}_cpu_us`), 1)} µs CPU per request`
        + `${summary[`${f}_kernel_us`] === undefined ? '' : ` (${fixed(number(`${f}_kernel_us`), 1)} in the kernel)`}`
        + `; against nginx ${fixed(number(`${f}/nginx_rps`), 2)}× `
        + `req/s, ${fixed(number(`${f}/nginx_cpu_us`), 2)}× CPU, ${fixed(number(`${f}/nginx_p99_ms`), 2)}× p99`),
      `the sweep's generator (PassthroughSweep, Java) carried at most ${fixed(max('nginx')?.rate, 0)} req/s `
        + `through nginx and ${fixed(max('unbroken')?.rate, 0)} through Unbroken (closed loop); `
        + 'its loads are shares of the nginx figure',
    ],
    stops: passthroughStops(number, measures),
    sweep: rows.filter((r) => r.phase === 'sweep'),
  };
}

/** What the floors measured in the same pairs leave of the targets not met. */
function passthroughStops(number, [throughput, cpu, p99]) {
  if (!Number.isFinite(number('netty_kernel_us')) || !Number.isFinite(number('unbroken_kernel_us'))) {
    return [];
  }
  const allowed = 1.1 * number('nginx_cpu_us');
  const kernel = Math.min(number('unbroken_kernel_us'), number('netty_kernel_us'));
  const userSpace = (side) => number(`${side}_cpu_us`) - number(`${side}_kernel_us`);
  return [
    ...(cpu.met ? [] : [`CPU per request: 1.1× nginx's is ${fixed(allowed, 1)} µs; the kernel's part of a JVM proxy `
      + `(Unbroken ${fixed(number('unbroken_kernel_us'), 1)}, bare Netty ${fixed(number('netty_kernel_us'), 1)} µs) `
      + `leaves at most ${fixed(allowed - kernel, 1)} µs for user space, where the bare Netty pipeline alone spends `
      + `${fixed(userSpace('netty'), 1)} µs and Unbroken ${fixed(userSpace('unbroken'), 1)}`]),
    ...(throughput.met && p99.met ? [] : [`requests/s and p99 against nginx: the bare Vert.x proxy `
      + `${fixed(number('vertx/nginx_rps'), 2)}× and ${fixed(number('vertx/nginx_p99_ms'), 2)}×, the bare Netty pipeline `
      + `${fixed(number('netty/nginx_rps'), 2)}× and ${fixed(number('netty/nginx_p99_ms'), 2)}×`
      + (number('vertx/nginx_rps') < 1 ? '; the Vert.x HTTP layer Unbroken is built on stays below nginx\'s requests/s'
        + ' by itself' : '')]),
  ];
}

/** A benchmark with a durable path (ours) beside the same route without it (the baseline). */
function durable({ key, title, file, ours, baseline, extra, maxTarget, floor, stores }) {
  const rows = readRows(path.join(runDir, file));
  const maxOf = (side) => rows.find((r) => r.phase === 'max' && r.side === side)?.rate;
  const floorOf = (side) => rows.find((r) => r.phase === 'floor' && r.side === side);
  // At half of the durable path's own maximum when the program ran there (it does when that
  // maximum is below the baseline's), else at half of the baseline's, the lower load.
  const phase = rows.some((r) => r.phase === `open@${ours}`) ? `open@${ours}` : `open@${baseline}`;
  const open = rows.filter((r) => r.phase === phase);
  const added = median(open.filter((r) => r.side === ours).flatMap((mine) => {
    const base = open.find((r) => r.side === baseline && r.round === mine.round);
    return base ? [mine.p99 - base.p99] : [];
  }));
  const floorAdded = floorOf(ours)?.p99 - floorOf(baseline)?.p99;
  const offered = open[0]?.offered;
  const saturated = open.filter((r) => r.saturated && (r.side === ours || r.side === baseline)).length;
  const maximum = measure('closed-loop maximum (req/s)', ours, maxOf(ours), baseline, maxOf(baseline), '>=', maxTarget);
  const tail = measure(`p99 added at ${fixed(offered, 0)} req/s (half of ${phase.slice(5)}'s maximum), against the`
    + ' floor (ms)', `${ours} − ${baseline}`, added, 'floor', floorAdded, '<=', 2.0,
    floorAdded > 0 ? added / floorAdded : NaN, saturated > 0 ? `${saturated} run(s) saturated` : '');
  return {
    key,
    title,
    ours,
    baseline,
    settings: meta[`${key}_settings`],
    measures: [
      maximum,
      ...extra(rows, maxOf),
      tail,
    ],
    ratioNote: `The added p99 is the median over ${open.filter((r) => r.side === ours).length} round(s) of `
      + `${ours}'s p99 minus ${baseline}'s in the same round (open loop, latency from when each request was due);`
      + ` the floor is the same difference on one connection. The sweep's loads are shares of ${ours}'s maximum.`,
    floor: [
      `one connection, closed loop (nothing queues: what the path costs a request by itself): `
        + `${floorText(floorOf(baseline), baseline)}; ${floorText(floorOf(ours), ours)}; `
        + `so ${ours} adds ${fixed(floorAdded, 3)} ms at p99 with nothing else running`,
      ...floor(),
    ],
    stops: [...(maximum.met ? [] : cpuBudget(rows, ours, baseline, maxTarget, stores)),
      ...(tail.met ? [] : lightestLoad(rows.filter((r) => r.phase === 'sweep'), ours, baseline, floorAdded))],
    sweep: rows.filter((r) => r.phase === 'sweep'),
  };
}

/**
 * What reaching the maximum's target would take of the cores, at the CPU a request cost each process
 * group in each route's closed-loop run (BenchRows' CPU columns): the durable route's cost at the
 * target rate against what the machine gave at the baseline's maximum, the stores' share of it, and
 * what that leaves this JVM a request. A cost per request is its value at that route's own rate.
 */
function cpuBudget(rows, ours, baseline, target, stores) {
  const max = (side) => rows.find((r) => r.phase === 'max' && r.side === side);
  const mine = max(ours);
  const base = max(baseline);
  if (!mine || !base || !Number.isFinite(mine.machine) || !Number.isFinite(base.machine)) {
    return [];
  }
  const percentOfCore = (rate, micros) => rate * micros / 1e4;
  const storesOf = (row) => stores.reduce((sum, [field]) => sum + row[field], 0);
  const rest = (row) => row.machine - row.jvm - storesOf(row);
  const capacity = percentOfCore(base.rate, base.machine);
  const busy = percentOfCore(mine.rate, mine.machine);
  const goal = target * base.rate;
  const needed = percentOfCore(goal, mine.machine);
  const storesNeed = percentOfCore(goal, storesOf(mine));
  const jvmLeft = (capacity - storesNeed) * 1e4 / goal - rest(mine);
  const costs = (row, label) => `${label} ${fixed(row.rate, 0)} req/s, machine ${fixed(row.machine, 1)} µs a request`
    + ` (this JVM: node, generator and upstream ${fixed(row.jvm, 1)}`
    + stores.map(([field, name]) => `, ${name} ${fixed(row[field], 1)}`).join('')
    + `, the rest ${fixed(rest(row), 1)}), the machine ${fixed(percentOfCore(row.rate, row.machine), 0)} % busy`;
  const lines = [
    `CPU at each route's closed-loop maximum, measured in those runs: ${costs(base, baseline)}; ${costs(mine, ours)}`,
    `at the target, ${fixed(target, 2)}× ${baseline} = ${fixed(goal, 0)} req/s, ${ours} at these costs would need `
      + `${fixed(needed, 0)} % of a core, ${fixed(needed / capacity, 2)}× the ${fixed(capacity, 0)} % the machine gave at `
      + `${baseline}'s maximum; there ${stores.map(([, name]) => name).join(' and ')} alone would take `
      + `${fixed(storesNeed, 0)} %, leaving this JVM ${fixed(jvmLeft, 1)} µs a request, where ${ours} took `
      + `${fixed(mine.jvm, 1)} µs and ${baseline} ${fixed(base.jvm, 1)} at its own maximum (a JVM's cost a request`
      + ' falls as its rate rises, so at the target rate it would be no lower)',
  ];
  if (busy < 0.9 * capacity) {
    lines.push(`at ${ours}'s maximum the machine was ${fixed(busy, 0)} % busy (${fixed(capacity, 0)} % at `
      + `${baseline}'s): what held ${ours} there was its wait for the stores, not the cores`
      + (needed > capacity ? ', and at the target its CPU would not fit either' : ''));
  }
  return lines;
}

/** What the durable path adds at p99 at the sweep's lightest load, against the floor: whether only queueing near the maximum lifts it. */
function lightestLoad(sweep, ours, baseline, floorAdded) {
  const lightest = Math.min(...sweep.map((r) => r.offered));
  const at = (side) => sweep.find((r) => r.offered === lightest && r.side === side);
  if (!at(ours) || !at(baseline) || !(floorAdded > 0)) {
    return [];
  }
  const added = at(ours).p99 - at(baseline).p99;
  return [`at the sweep's lightest load, ${fixed(lightest, 0)} req/s, ${ours} already adds ${fixed(added, 3)} ms at `
    + `p99 (${fixed(at(ours).p99, 3)} against ${fixed(at(baseline).p99, 3)}), ${fixed(added / floorAdded, 2)}× the floor:`
    + ' what lifts it is not queueing near the maximum'];
}

/** The idempotency routes again on Redis alone: how much of /fresh's cost is the PostgreSQL row per answer. */
function withoutDurableRecord() {
  const rows = readRows(path.join(runDir, 'idempotency-redis.tsv'));
  const maxOf = (side) => rows.find((r) => r.phase === 'max' && r.side === side)?.rate;
  return [`the same routes on Redis alone, no answer written to PostgreSQL (${meta.idempotency_redis_settings},`
    + ` run right after): /fresh ${fixed(maxOf('/fresh'), 0)} req/s against /pass ${fixed(maxOf('/pass'), 0)},`
    + ` ${fixed(maxOf('/fresh') / maxOf('/pass'), 2)}× (closed loop); the rest of the gap above is the durable record`
    + ' on the same cores'];
}

function measure(name, oursLabel, ours, baselineLabel, baseline, direction, target, ratio = ours / baseline,
  note = '') {
  const met = Number.isFinite(ratio) && !note && (direction === '>=' ? ratio >= target : ratio <= target);
  return { name, oursLabel, ours, baselineLabel, baseline, ratio, direction, target, met, note };
}

function keptUp(row) {
  return row.saturated ? 'saturated' : row.rate < 0.98 * row.offered ? 'behind' : '';
}

function floorText(row, label) {
  return row ? `${label} p50 ${fixed(row.p50, 3)} ms, p99 ${fixed(row.p99, 3)} ms` : `${label}: not measured`;
}

function markdown(all) {
  const lines = [
    '# Performance report',
    '',
    `Generated by \`${meta.command}\` on ${meta.date} at commit \`${meta.commit}\`, in ${meta.elapsed}.`,
    `Machine: nproc ${meta.nproc}; load averages (1, 5, 15 min) ${meta.load_start} at the start,`
      + ` ${meta.load_end} at the end.`,
    '',
    'Both sides of every comparison ran in this one invocation, alternating, on the same two cores as the load'
      + ' generator and the stores: the ratios are what to compare, not the absolute figures.',
    'Each benchmark\'s program prints more (every run, the collector\'s pauses, the event store\'s commits);'
      + ' see loadtest/README.md.',
    '',
    '| benchmark | measure | ratio | target | met |',
    '|---|---|---:|---|---|',
    ...all.flatMap((b) => b.measures.map((m) => `| ${b.key} | ${m.name} | ${fixed(m.ratio, 2)} | ${m.direction}`
      + ` ${fixed(m.target, 2)} | ${m.met ? 'yes' : 'no'} |`)),
  ];
  all.forEach((b, i) => {
    lines.push('', `## ${i + 1}. ${b.title}`, '', `Load: ${b.settings}.`, '',
      '| measure | ours | | baseline | | ratio | target | met |',
      '|---|---|---:|---|---:|---:|---|---|',
      ...b.measures.map((m) => `| ${m.name} | ${m.oursLabel} | ${fixed(m.ours, digits(m.ours))} | ${m.baselineLabel}`
        + ` | ${fixed(m.baseline, digits(m.baseline))} | ${fixed(m.ratio, 2)} | ${m.direction} ${fixed(m.target, 2)}`
        + ` | ${m.met ? 'yes' : 'no'}${m.note ? ` (${m.note})` : ''} |`),
      '', b.ratioNote, '', 'Floor:', '', ...b.floor.map((f) => `- ${f}`), '',
      ...(b.stops.length ? ['What stops the targets not met, from the same runs:', '',
        ...b.stops.map((s) => `- ${s}`), ''] : []),
      `![${b.key}: latency against offered load](report/${b.key}.svg)`, '',
      'Open-loop sweep (each run once, the sides alternating which goes first):', '',
      '| offered req/s | side | answered req/s | p50 ms | p90 ms | p99 ms | errors | |',
      '|---:|---|---:|---:|---:|---:|---:|---|',
      ...b.sweep.map((r) => `| ${fixed(r.offered, 0)} | ${r.side} | ${fixed(r.rate, 0)} | ${fixed(r.p50, 3)}`
        + ` | ${fixed(r.p90, 3)} | ${fixed(r.p99, 3)} | ${r.errors} | ${keptUp(r)} |`));
  });
  lines.push('', 'A saturated run could not keep up: it stopped sending once a second\'s worth of requests was'
    + ' unanswered, and its latencies are time spent queueing. A run marked behind answered less than 98 % of'
    + ' what it offered: its latencies grow with its length.', '');
  return lines.join('\n');
}

/** p50, p90 and p99 against offered load, a colour per side, a dash per percentile; saturated runs as crosses. */
async function chart(benchmark) {
  const values = benchmark.sweep.flatMap((r) => PERCENTILES.filter((p) => r[p] > 0).map((p) => ({
    offered: r.offered, side: r.side, percentile: p, ms: r[p], run: r.saturated ? 'saturated' : 'kept up',
  })));
  const x = { field: 'offered', type: 'quantitative', title: 'offered load (requests/s)' };
  const y = { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' };
  const color = { field: 'side', type: 'nominal', title: 'side',
    scale: { domain: [benchmark.baseline, benchmark.ours] } };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: benchmark.title.replace(/`/g, ''), subtitle: `open loop; ${meta.date}, commit ${meta.commit}` },
    width: 560,
    height: 320,
    background: 'white',
    data: { values },
    layer: [
      { mark: { type: 'line' }, encoding: { x, y, color,
        strokeDash: { field: 'percentile', type: 'nominal', title: 'percentile', sort: PERCENTILES } } },
      { mark: { type: 'point', filled: true, size: 36 }, encoding: { x, y, color,
        shape: { field: 'run', type: 'nominal', title: 'run',
          scale: { domain: ['kept up', 'saturated'], range: ['circle', 'cross'] } } } },
    ],
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function readRows(file) {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const names = header.split('\t');
  return lines.map((line) => {
    const cell = Object.fromEntries(line.split('\t').map((v, i) => [names[i], v]));
    return {
      phase: cell.phase, side: cell.side, round: Number(cell.round), offered: Number(cell.offered_per_s),
      rate: Number(cell.answered_per_s), p50: Number(cell.p50_ms), p90: Number(cell.p90_ms),
      p99: Number(cell.p99_ms), errors: Number(cell.errors), saturated: cell.saturated === '1',
      jvm: Number(cell.jvm_us), redis: Number(cell.redis_us), postgres: Number(cell.postgres_us),
      machine: Number(cell.machine_us),
    };
  });
}

function nameValues(file) {
  return Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((line) => {
    const at = line.indexOf('\t');
    return [line.slice(0, at), line.slice(at + 1)];
  }));
}

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  return n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function digits(value) {
  return Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 3;
}

function fixed(value, places) {
  return Number.isFinite(value) ? value.toFixed(places) : 'n/a';
}
