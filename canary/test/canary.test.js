'use strict';
// The canary script's logic, and the script against the local API (run by tests/e2e/test_canary_script.py,
// which starts the stack and sets API_URL, AWS_ENDPOINT_URL, API_KEY_SECRET and FAULT_PROXY_URL).

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const canary = require('../export_canary.js');
const {
  syntheticsStandIn, stepsOf, secretsManagerStandIn, SYNTHETICS_CORE_METHODS, STEP_CONFIGURATION_KEYS,
} = require('./stand-ins.js');

const seoulDaily = { name: 'daily-orders', report: 'orders_by_day', params: { day: 'yesterday' }, timezone: 'Asia/Seoul', times: ['09:00'] };

test('a 09:00 Seoul schedule firing at 00:00 UTC asks for Seoul\'s yesterday', () => {
  const request = canary.buildRequest(seoulDaily, new Date('2026-11-30T00:00:04Z'));
  assert.equal(request.idempotencyKey, 'daily-orders-2026-11-30');
  assert.deepEqual(request.body, { report: 'orders_by_day', params: { day: '2026-11-29' }, requested_by: 'canary/daily-orders' });
});

test('a retry minutes later belongs to the same firing and sends the same key and dates', () => {
  const first = canary.buildRequest(seoulDaily, new Date('2026-11-30T00:00:04Z'));
  const retry = canary.buildRequest(seoulDaily, new Date('2026-11-30T00:07:30Z'));
  assert.deepEqual(retry, first);
});

test('a run starting a few seconds early still belongs to its own firing', () => {
  const early = canary.buildRequest(seoulDaily, new Date('2026-11-29T23:59:50Z'));
  assert.equal(early.idempotencyKey, 'daily-orders-2026-11-30');
});

test('a schedule firing twice a day gets one key per firing', () => {
  const twice = { ...seoulDaily, times: ['09:00', '15:00'] };
  assert.equal(canary.buildRequest(twice, new Date('2026-11-30T00:00:00Z')).idempotencyKey, 'daily-orders-2026-11-30T0900');
  assert.equal(canary.buildRequest(twice, new Date('2026-11-30T06:01:00Z')).idempotencyKey, 'daily-orders-2026-11-30T1500');
});

test('relative dates inside lists are resolved and other values kept', () => {
  const params = canary.resolveParams({ days: ['today', 'last_month_end', '2026-01-02'], status: 'paid', limit: 3 }, '2026-03-01');
  assert.deepEqual(params, { days: ['2026-03-01', '2026-02-28', '2026-01-02'], status: 'paid', limit: 3 });
});

test('the runtime-module stand-in has exactly the shape of @aws/synthetics-core (lib/index.d.ts)', () => {
  const runtimeModule = require('./runtime-modules/@aws/synthetics-core'); // eslint-disable-line global-require
  assert.deepEqual(Object.keys(runtimeModule), ['synthetics']);
  const members = Object.getOwnPropertyNames(Object.getPrototypeOf(runtimeModule.synthetics)).filter((name) => name !== 'constructor');
  assert.deepEqual(members.sort(), [...SYNTHETICS_CORE_METHODS].sort());
  assert.deepEqual(Object.keys(runtimeModule.synthetics), []);
});

test('a non-2xx answer fails with the API\'s error code and message', () => {
  assert.throws(() => canary.checkAnswer(404, '{"error": {"code": "unknown_report", "message": "report \'x\' does not exist"}}'),
    /POST \/exports answered 404 \(unknown_report: report 'x' does not exist\)/);
  assert.throws(() => canary.checkAnswer(502, '<html>Bad gateway</html>'), /answered 502 \(<html>Bad gateway/);
  assert.deepEqual(canary.checkAnswer(202, '{"export_id": "x"}'), { export_id: 'x' });
});

// against the local API ------------------------------------------------------------------------
const local = { skip: !process.env.API_URL && 'needs the local stack (run through pytest)' };

function uniqueSchedule(overrides = {}) {
  // a random min_amount gives each test its own export identity, so no cached answer interferes
  const minimum = `0.${crypto.randomInt(10000, 99999)}`;
  return {
    name: `t-${crypto.randomBytes(4).toString('hex')}`,
    report: 'orders_range',
    params: { date_from: 'today-30d', date_to: 'today', min_amount: minimum },
    timezone: 'Asia/Seoul',
    times: ['09:00'],
    ...overrides,
  };
}

async function fire(schedule, { now = new Date(), secret = process.env.API_KEY_SECRET } = {}) {
  const synthetics = syntheticsStandIn();
  const lines = [];
  const env = { API_URL: process.env.API_URL, API_KEY_SECRET: secret, SCHEDULE: JSON.stringify(schedule) };
  const run = canary.runCanary({ synthetics, sdk: secretsManagerStandIn(process.env.AWS_ENDPOINT_URL), env, now, log: (line) => lines.push(line) });
  return { run, synthetics, lines };
}

async function getJson(path) {
  const response = await fetch(`${process.env.API_URL}${path}`);
  return { status: response.status, body: await response.json() };
}

async function waitForExport(exportId) {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const { body } = await getJson(`/exports/${exportId}`);
    if (body.status === 'succeeded' || body.status === 'failed') return body;
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
  throw new Error(`export ${exportId} did not finish`);
}

async function setS3Faults(settings) {
  const response = await fetch(`${process.env.FAULT_PROXY_URL}/__faults__`, { method: 'POST', body: JSON.stringify(settings) });
  assert.equal(response.status, 200);
}

test('success: the canary posts the export, passes, and the export runs with Seoul dates', local, async () => {
  const schedule = uniqueSchedule();
  const { run, synthetics, lines } = await fire(schedule);
  const result = await run;
  assert.equal(stepsOf(synthetics).length, 1);
  assert.equal(stepsOf(synthetics)[0].status, 'passed');
  assert.equal(stepsOf(synthetics)[0].statusCode, 202);
  const status = await waitForExport(result.answer.export_id);
  assert.equal(status.status, 'succeeded');
  assert.equal(status.requested_by, `canary/${schedule.name}`);
  assert.equal(status.params.date_to, result.scheduledDate);
  assert.match(lines.join('\n'), new RegExp(`export ${result.answer.export_id} queued`));
});

test('the API key is sent, but no request header or body is asked for, so it never reaches the report or the log', local, async () => {
  const { run, synthetics, lines } = await fire(uniqueSchedule());
  await run;
  const [step] = stepsOf(synthetics);
  assert.equal(step.statusCode, 202); // the API accepted the key
  assert.deepEqual(Object.keys(step.stepConfig).filter((key) => !STEP_CONFIGURATION_KEYS.includes(key)), []);
  const everything = JSON.stringify(stepsOf(synthetics)) + lines.join('\n');
  assert.ok(!everything.includes(process.env.CANARY_TEST_API_KEY), 'the API key leaked into the report or the log');
});

test('the handler, as the runtime calls it, finds synthetics in @aws/synthetics-core and starts the export', local, async () => {
  // NODE_PATH holds runtime-modules/ (set by tests/e2e/test_canary_script.py): the script's own
  // require calls load the stand-ins, as they load the real modules in the runtime.
  const { synthetics } = require('@aws/synthetics-core'); // eslint-disable-line global-require
  const schedule = uniqueSchedule();
  const saved = { ...process.env };
  Object.assign(process.env, { SCHEDULE: JSON.stringify(schedule) });
  let result;
  try {
    result = await canary.handler();
  } finally {
    process.env.SCHEDULE = saved.SCHEDULE;
    if (saved.SCHEDULE === undefined) delete process.env.SCHEDULE;
  }
  const step = stepsOf(synthetics).at(-1);
  assert.equal(step.status, 'passed');
  assert.equal(step.statusCode, 202);
  const status = await waitForExport(result.answer.export_id);
  assert.equal(status.status, 'succeeded');
  assert.equal(status.requested_by, `canary/${schedule.name}`);
});

test('4xx: an unknown report fails the canary run with the API\'s answer', local, async () => {
  const { run, synthetics } = await fire(uniqueSchedule({ report: 'no_such_report', params: {} }));
  await assert.rejects(run, /POST \/exports answered 404 \(unknown_report: /);
  assert.equal(stepsOf(synthetics)[0].status, 'failed');
});

test('4xx: a parameter the report does not declare fails the run', local, async () => {
  const { run } = await fire(uniqueSchedule({ params: { nonsense: 'today' } }));
  await assert.rejects(run, /answered 400 \(invalid_parameter: unknown parameter 'nonsense'/);
});

test('5xx: a storage outage fails the run; the retry succeeds with the same key', local, async () => {
  const schedule = uniqueSchedule();
  const now = new Date('2026-11-30T00:00:05Z');
  await setS3Faults({ fail_prefix: 'state/', status: 503 });
  try {
    const { run } = await fire(schedule, { now });
    await assert.rejects(run, /POST \/exports answered 5\d\d \(storage_error: /);
  } finally {
    await setS3Faults({ fail_prefix: null });
  }
  const { run: retry } = await fire(schedule, { now: new Date(now.getTime() + 60000) });
  const result = await retry;
  assert.equal(result.answer.status, 'queued');
  assert.equal(result.answer.idempotent_replay, undefined);
});

test('a missing API-key secret fails the run before any request is made', local, async () => {
  const { run, synthetics } = await fire(uniqueSchedule(), { secret: 'excel-export/local/no-such-secret' });
  await assert.rejects(run, /could not read the API key from secret excel-export\/local\/no-such-secret: ResourceNotFoundException/);
  assert.equal(stepsOf(synthetics).length, 0);
});

test('a Synthetics retry replays the first answer: one export, not two', local, async () => {
  const schedule = uniqueSchedule();
  const now = new Date('2026-11-30T00:00:05Z');
  const first = await (await fire(schedule, { now })).run;
  const retry = await (await fire(schedule, { now: new Date(now.getTime() + 3 * 60000) })).run;
  assert.equal(retry.idempotencyKey, first.idempotencyKey);
  assert.equal(retry.answer.export_id, first.answer.export_id);
  assert.equal(retry.answer.idempotent_replay, true);
  await waitForExport(first.answer.export_id);
  const { body } = await getJson('/exports?report=orders_range&limit=100');
  const mine = body.exports.filter((entry) => entry.requested_by === `canary/${schedule.name}`);
  assert.equal(mine.length, 1);
});
