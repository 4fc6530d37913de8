'use strict';
// Tiny stand-ins for what the Synthetics runtime provides: the Synthetics module (executeHttpStep
// with restricted-header redaction in its step report) and the AWS SDK v3 Secrets Manager client,
// which here talks to the local stack's Secrets Manager endpoint (moto) over its JSON protocol.

const http = require('node:http');
const https = require('node:https');

function syntheticsStandIn() {
  const steps = [];
  const config = {};
  return {
    steps,
    config,
    getConfiguration() {
      return { setConfig(values) { Object.assign(config, values); } };
    },
    getCanaryUserAgentString() {
      return 'CloudWatchSynthetics/stand-in';
    },
    async executeHttpStep(name, options, callback, stepConfig = {}) {
      const restricted = new Set([...(stepConfig.restrictedHeaders || []), ...(config.restrictedHeaders || [])].map((h) => h.toLowerCase()));
      const headers = Object.fromEntries(Object.entries(options.headers || {}).map(
        ([header, value]) => [header, restricted.has(header.toLowerCase()) ? '[REDACTED]' : String(value)],
      ));
      const step = { name, request: { method: options.method, path: options.path, headers, body: options.body }, status: 'running' };
      steps.push(step);
      const { body, ...requestOptions } = options;
      try {
        await new Promise((resolve, reject) => {
          const transport = options.protocol === 'https:' ? https : http;
          const request = transport.request(requestOptions, (response) => {
            step.statusCode = response.statusCode;
            Promise.resolve(callback(response)).then(resolve, reject);
          });
          request.on('error', reject);
          if (body) request.write(body);
          request.end();
        });
        step.status = 'passed';
      } catch (error) {
        step.status = 'failed';
        step.error = error.message;
        throw error;
      }
    },
  };
}

function secretsManagerStandIn(endpoint, region = 'ap-northeast-2') {
  class GetSecretValueCommand {
    constructor(input) { this.input = input; }
  }
  class SecretsManagerClient {
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

module.exports = { syntheticsStandIn, secretsManagerStandIn };
