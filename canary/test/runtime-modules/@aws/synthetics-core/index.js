'use strict';
// `export { synthetics }` of @aws/synthetics-core (lib/index.d.ts): one named member, nothing else.
const { syntheticsStandIn } = require('../../../stand-ins.js');

exports.synthetics = syntheticsStandIn('syn-nodejs-stand-in');
