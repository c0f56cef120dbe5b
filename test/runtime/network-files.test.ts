import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerHosts, containerResolvConf } from '../../builder/runtime/network-files.js';

const PUBLIC = 'nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n';

test('/etc/hosts names localhost and the sandbox, as BuildKit writes it', () => {
  assert.equal(containerHosts(), '127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n');
});

test('network host keeps the host\'s resolv.conf as it is', () => {
  const host = 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n';
  assert.equal(containerResolvConf(host, 'host'), host);
});

test('an own network namespace drops the host\'s loopback nameservers', () => {
  assert.equal(containerResolvConf('nameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch lan\n', 'none'), 'nameserver 10.0.0.2\nsearch lan\n');
  assert.equal(containerResolvConf('nameserver 10.255.255.53\n', 'none'), 'nameserver 10.255.255.53\n');
});

test('public nameservers stand in when no other is left', () => {
  assert.equal(containerResolvConf('nameserver 127.0.0.53\noptions edns0', 'none'), `options edns0\n${PUBLIC}`);
  assert.equal(containerResolvConf('', 'none'), PUBLIC);
});
