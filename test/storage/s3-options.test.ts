import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../registry/config.js';
import { parseS3Url } from '../../registry/storage/s3-options.js';

describe('s3:// storage URLs', () => {
  test('a bare bucket uses AWS defaults: virtual-host style, checksums only when required, 8 MiB parts, no redirect', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket'), {
      bucket: 'my-bucket',
      prefix: '',
      region: undefined,
      endpoint: undefined,
      forcePathStyle: false,
      checksums: 'required',
      partSize: 8 * 1024 * 1024,
      redirect: false,
    });
  });

  test('prefix, region, endpoint and the options are read; an endpoint implies path style', () => {
    const options = parseS3Url('s3://images/team/registry/?region=eu-west-1&endpoint=http://127.0.0.1:9000&checksums=supported&partSize=16MiB&redirect=true');
    assert.equal(options.prefix, 'team/registry');
    assert.equal(options.region, 'eu-west-1');
    assert.equal(options.endpoint, 'http://127.0.0.1:9000');
    assert.equal(options.forcePathStyle, true);
    assert.equal(options.checksums, 'supported');
    assert.equal(options.partSize, 16 * 1024 * 1024);
    assert.equal(options.redirect, true);
    assert.equal(parseS3Url('s3://b?endpoint=https://r2.example&forcePathStyle=false').forcePathStyle, false);
  });

  const refused: [string, RegExp][] = [
    ['s3://bucket?colour=blue', /unknown option "colour"/],
    ['s3://key:secret@bucket', /credentials do not belong in the URL/],
    ['s3://bucket?partSize=1MiB', /partSize/],
    ['s3://bucket?checksums=always', /checksums must be required or supported/],
    ['s3://bucket?redirect=yes', /redirect must be true or false/],
    ['s3://bucket?endpoint=localhost:9000', /endpoint must be an http\(s\) URL/],
    ['s3://bucket/a//b', /invalid prefix/],
    ['s3://', /expected s3:\/\/BUCKET/],
  ];
  for (const [url, message] of refused) {
    test(`${url} is refused with a message naming the problem`, () => {
      assert.throws(() => parseS3Url(url), (error: unknown) => error instanceof ConfigError && message.test(error.message));
    });
  }
});
