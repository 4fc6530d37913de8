'use strict';
// Stand-ins for what the browserless Synthetics runtime provides, shaped exactly like the real
// modules (neither is on npm):
// - `@aws/synthetics-core` exports one named member, `synthetics`, an instance of SyntheticsCore.
//   Its members are those of aws/cloudwatch-synthetics-sdk-nodejs,
//   packages/synthetics-core/lib/index.d.ts (SYNTHETICS_CORE_METHODS below), and no others: in
//   particular no getConfiguration. Its StepConfiguration documents only stepSuccessMetric,
//   stepDurationMetric, continueOnStepFailure, continueOnHttpStepFailure and stepsReport, so the
//   stand-in treats header redaction as absent: a step that asks for request headers or bodies gets
//   them in its report verbatim, the worst case a real runtime may do.
// - `@aws-sdk/client-secrets-manager` (SDK v3): `new SecretsManagerClient({}).send(new
//   GetSecretValueCommand({SecretId}))`, here against the local stack's Secrets Manager (moto),
//   over its JSON protocol, at AWS_ENDPOINT_URL as SDK v3 reads it.
// The steps a stand-in ran are kept outside the object (stepsOf), so its shape stays the real one.

const http = require('node:http');
const https = require('node:https');

const SYNTHETICS_CORE_METHODS = [
  'addExecutionError', 'getCanaryName', 'getCanaryArn', 'getCanaryUserAgentString', 'getRuntimeVersion',
  'getLogLevel', 'setLogLevel', 'executeStep', 'executeHttpStep',
];
const STEP_CONFIGURATION_KEYS = ['stepSuccessMetric', 'stepDurationMetric', 'continueOnStepFailure', 'continueOnHttpStepFailure', 'stepsReport'];

const reports = new WeakMap();

function sendRequest(options, callback) {
  const { body, ...requestOptions } = options;
  return new Promise((resolve, reject) => {
    const transport = options.protocol === 'https:' ? https : http;
    const request = transport.request(requestOptions, (response) => {
      Promise.resolve(callback ? callback(response) : response.resume()).then(() => resolve(response.statusCode), reject);
    });
    request.on('error', reject);
    if (body) request.write(body);
    request.end();
  });
}

class SyntheticsCore {
  constructor(runtimeVersion) {
    reports.set(this, { steps: [], errors: [], runtimeVersion, logLevel: 1 });
  }

  addExecutionError(errorMessage, ex) { reports.get(this).errors.push({ errorMessage, ex }); }

  getCanaryName() { return process.env.CANARY_NAME || 'stand-in'; }

  getCanaryArn() { return `arn:aws:synthetics:ap-northeast-2:123456789012:canary:${this.getCanaryName()}`; }

  getCanaryUserAgentString() { return 'CloudWatchSynthetics/stand-in'; }

  getRuntimeVersion() { return reports.get(this).runtimeVersion; }

  getLogLevel() { return reports.get(this).logLevel; }

  setLogLevel(logLevel) { reports.get(this).logLevel = logLevel; }

  async executeStep(stepName, functionToExecute, stepConfig = {}) {
    const step = { name: stepName, stepConfig, status: 'running' };
    reports.get(this).steps.push(step);
    try {
      await functionToExecute();
      step.status = 'passed';
    } catch (error) {
      step.status = 'failed';
      step.error = error.message;
      throw error;
    }
  }

  async executeHttpStep(stepName, requestOptions, callback, stepConfig = {}) {
    const options = typeof requestOptions === 'string' ? new URL(requestOptions) : requestOptions;
    const request = { method: options.method, path: options.path };
    // Recorded verbatim when asked: no redaction is documented for this runtime.
    if (stepConfig.includeRequestHeaders) request.headers = { ...options.headers };
    if (stepConfig.includeRequestBody) request.body = options.body;
    const step = { name: stepName, stepConfig, request, status: 'running' };
    reports.get(this).steps.push(step);
    try {
      step.statusCode = await sendRequest(options, callback);
      step.status = 'passed';
    } catch (error) {
      step.status = 'failed';
      step.error = error.message;
      throw error;
    }
  }
}

function syntheticsStandIn(runtimeVersion = 'syn-nodejs-stand-in') {
  return new SyntheticsCore(runtimeVersion);
}

function stepsOf(synthetics) {
  return reports.get(synthetics).steps;
}

function secretsManagerStandIn(endpoint = process.env.AWS_ENDPOINT_URL, region = process.env.AWS_REGION || 'ap-northeast-2') {
  class GetSecretValueCommand {
    constructor(input) { this.input = input; }
  }
  class SecretsManagerClient {
    constructor(configuration = {}) { this.configuration = configuration; }

    async send(command) {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': 'secretsmanager.GetSecretValue',
          // moto routes by the credential scope; it checks no signature
          Authorization: `AWS4-HMAC-SHA256 Credential=local-fake-key/20260101/${region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=0`,
        },
        body: JSON.stringify(command.input),
      });
      const answer = await response.json();
      if (!response.ok) {
        const error = new Error(answer.message || answer.Message || 'request failed');
        error.name = String(answer.__type || 'ServiceException').split('#').pop();
        throw error;
      }
      return answer;
    }
  }
  return { SecretsManagerClient, GetSecretValueCommand };
}

module.exports = { syntheticsStandIn, stepsOf, secretsManagerStandIn, SYNTHETICS_CORE_METHODS, STEP_CONFIGURATION_KEYS };
