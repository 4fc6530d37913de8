'use strict';
// CloudWatch Synthetics canary (browserless Node.js runtime, RUNTIME_VERSION in tools/canaries.py):
// fires one schedule's export.
//
// Configuration (canary environment variables, written by `schedules render`):
//   API_URL         the export API's base URL, e.g. https://abc.execute-api.ap-northeast-2.amazonaws.com/api
//   API_KEY_SECRET  name or ARN of the Secrets Manager secret holding the API key
//                   (the key itself, or JSON {"api_key": "..."}); environment variables are not
//                   encrypted, so the key never is one
//   SCHEDULE        JSON {name, report, params, timezone, times: ["09:00", ...]}
//
// Relative dates in params are resolved on the *scheduled* local date in the schedule's zone
// (a 09:00 Seoul run fires at 00:00 UTC and must ask for Seoul's yesterday). The idempotency key
// <schedule>-<scheduled date> makes a Synthetics retry replay the first answer instead of
// starting a second export. tools/schedules.py builds the same request; a test compares them.

const EARLY_START_MINUTES = 2; // a run may start a little before its minute
const MAX_BODY_BYTES = 64 * 1024;

function localParts(instant, timeZone) {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  });
  const parts = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, part.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

function addDays(isoDate, days) {
  const [year, month, day] = isoDate.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

function monthStart(isoDate) {
  return `${isoDate.slice(0, 7)}-01`;
}

// The grammar of chalicelib/templating/parameters.py resolve_relative_date; null when not a relative date.
function resolveRelativeDate(value, today) {
  const word = String(value).trim().toLowerCase();
  const lastMonthEnd = addDays(monthStart(today), -1);
  const named = {
    today,
    yesterday: addDays(today, -1),
    tomorrow: addDays(today, 1),
    month_start: monthStart(today),
    last_month_start: monthStart(lastMonthEnd),
    last_month_end: lastMonthEnd,
    year_start: `${today.slice(0, 4)}-01-01`,
  };
  if (Object.prototype.hasOwnProperty.call(named, word)) return named[word];
  const offset = /^today\s*([+-])\s*(\d{1,4})\s*([dw])$/.exec(word);
  if (!offset) return null;
  const days = Number(offset[2]) * (offset[3] === 'w' ? 7 : 1);
  return addDays(today, offset[1] === '+' ? days : -days);
}

function resolveParams(params, today) {
  const resolve = (value) => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value === 'string') return resolveRelativeDate(value, today) ?? value;
    return value;
  };
  return Object.fromEntries(Object.entries(params || {}).map(([name, value]) => [name, resolve(value)]));
}

// The firing this run belongs to: the latest of the schedule's local times at or before now.
function scheduledRun(schedule, now) {
  const local = localParts(new Date(now.getTime() + EARLY_START_MINUTES * 60000), schedule.timezone);
  const toMinutes = (time) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
  const earlier = schedule.times.filter((time) => toMinutes(time) <= local.minutes);
  if (earlier.length > 0) return { date: local.date, time: earlier[earlier.length - 1] };
  return { date: addDays(local.date, -1), time: schedule.times[schedule.times.length - 1] };
}

function buildRequest(schedule, now) {
  const run = scheduledRun(schedule, now);
  let idempotencyKey = `${schedule.name}-${run.date}`;
  if (schedule.times.length > 1) idempotencyKey += `T${run.time.replace(':', '')}`;
  return {
    scheduledDate: run.date,
    scheduledTime: run.time,
    idempotencyKey,
    body: { report: schedule.report, params: resolveParams(schedule.params, run.date), requested_by: `canary/${schedule.name}` },
  };
}

async function readApiKey(secretId, sdk) {
  let answer;
  try {
    const client = new sdk.SecretsManagerClient({});
    answer = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId }));
  } catch (error) {
    throw new Error(`could not read the API key from secret ${secretId}: ${error.name || 'Error'}`);
  }
  const text = answer && answer.SecretString;
  let key = text;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object') key = parsed.api_key;
  } catch {
    // not JSON: the secret is the key itself
  }
  if (typeof key !== 'string' || key === '') throw new Error(`secret ${secretId} holds no API key (a string, or JSON with "api_key")`);
  return key;
}

function requestOptions(apiUrl, request, apiKey) {
  const base = new URL(apiUrl);
  const body = JSON.stringify(request.body);
  return {
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port || (base.protocol === 'https:' ? 443 : 80),
    path: `${base.pathname.replace(/\/$/, '')}/exports`,
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Idempotency-Key': request.idempotencyKey,
      'x-api-key': apiKey,
    },
    body,
  };
}

function readBody(response) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    response.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

// Any non-2xx answer fails the step, so the run fails and the CloudWatch alarm sees it.
function checkAnswer(statusCode, text) {
  let answer = null;
  try {
    answer = JSON.parse(text);
  } catch {
    // an answer that is not JSON (a gateway error page) is reported by its status alone
  }
  if (statusCode < 200 || statusCode > 299) {
    const error = answer && answer.error ? `${answer.error.code}: ${answer.error.message}` : text.slice(0, 200);
    throw new Error(`POST /exports answered ${statusCode} (${error})`);
  }
  return answer || {};
}

// The browserless runtime's module exports a *named* member (aws/cloudwatch-synthetics-sdk-nodejs,
// packages/synthetics-core/lib/index.d.ts: `export { synthetics }`), not the functions themselves.
function loadSynthetics() {
  const { synthetics } = require('@aws/synthetics-core'); // eslint-disable-line global-require
  if (!synthetics || typeof synthetics.executeHttpStep !== 'function') {
    throw new Error('@aws/synthetics-core has no synthetics.executeHttpStep: is the canary on a browserless syn-nodejs runtime?');
  }
  return synthetics;
}

async function runCanary({ synthetics, sdk, env = process.env, now = new Date(), log = console.log } = {}) {
  if (!env.API_URL || !env.API_KEY_SECRET || !env.SCHEDULE) throw new Error('API_URL, API_KEY_SECRET and SCHEDULE must be set');
  const schedule = JSON.parse(env.SCHEDULE);
  const request = buildRequest(schedule, now);
  const apiKey = await readApiKey(env.API_KEY_SECRET, sdk || require('@aws-sdk/client-secrets-manager')); // eslint-disable-line global-require
  const options = requestOptions(env.API_URL, request, apiKey);
  let result = null;
  // Only the step options the runtime documents (StepConfiguration in index.d.ts). Nothing asks it to
  // record request headers or bodies: its header redaction (restrictedHeaders) is not documented for
  // this runtime and may be ignored, and the request carries the API key.
  const stepConfig = { stepSuccessMetric: true, stepDurationMetric: true, stepsReport: true };
  const synth = synthetics || loadSynthetics();
  await synth.executeHttpStep(`export ${schedule.report}`, options, async (response) => {
    result = checkAnswer(response.statusCode, await readBody(response));
  }, stepConfig);
  log(`export ${result.export_id} ${result.status}${result.idempotent_replay ? ' (replayed)' : ''} for ${request.idempotencyKey}`);
  return { ...request, answer: result };
}

exports.handler = async () => runCanary();
exports.runCanary = runCanary;
exports.buildRequest = buildRequest;
exports.scheduledRun = scheduledRun;
exports.resolveRelativeDate = resolveRelativeDate;
exports.resolveParams = resolveParams;
exports.checkAnswer = checkAnswer;
