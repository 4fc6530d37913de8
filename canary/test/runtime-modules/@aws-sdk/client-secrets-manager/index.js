'use strict';
// The two members of @aws-sdk/client-secrets-manager the canary uses; AWS_ENDPOINT_URL as SDK v3 reads it.
const { secretsManagerStandIn } = require('../../../stand-ins.js');

const { SecretsManagerClient, GetSecretValueCommand } = secretsManagerStandIn();

exports.SecretsManagerClient = SecretsManagerClient;
exports.GetSecretValueCommand = GetSecretValueCommand;
