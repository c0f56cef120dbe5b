import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../registry/config.js';
import { parseS3Url } from '../../registry/storage/s3-options.js';

describe('s3:// storage URLs', () => {
  test('a bare bucket uses AWS defaults: virtual-host style, checksums only when required, 8 MiB parts, no redirect, distribution\'s multipart copy', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket'), {
      bucket: 'my-bucket',
      prefix: '',
      region: undefined,
      endpoint: undefined,
      forcePathStyle: false,
      checksums: 'required',
      partSize: 8 * 1024 * 1024,
      redirect: false,
      multipartCopyThresholdSize: 32 * 1024 * 1024,
      multipartCopyChunkSize: 32 * 1024 * 1024,
      multipartCopyMaxConcurrency: 100,
    });
  });

  test('the multipart copy options take bytes or NMiB, and a threshold of 0 copies every object in parts', () => {
    const options = parseS3Url('s3://b?multipartCopyThresholdSize=0&multipartCopyChunkSize=5242880&multipartCopyMaxConcurrency=4');
    assert.equal(options.multipartCopyThresholdSize, 0);
    assert.equal(options.multipartCopyChunkSize, 5 * 1024 * 1024);
    assert.equal(options.multipartCopyMaxConcurrency, 4);
    const largest = parseS3Url('s3://b?multipartCopyThresholdSize=5120MiB&multipartCopyChunkSize=5120MiB&multipartCopyMaxConcurrency=10000');
    assert.equal(largest.multipartCopyThresholdSize, 5 * 1024 ** 3);
    assert.equal(largest.multipartCopyChunkSize, 5 * 1024 ** 3);
    assert.equal(largest.multipartCopyMaxConcurrency, 10_000);
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
    ['s3://bucket?partSize=1MiB', /partSize must be bytes or NMiB from 5MiB to 5GiB, not "1MiB"/],
    ['s3://bucket?multipartCopyChunkSize=4MiB', /multipartCopyChunkSize must be bytes or NMiB from 5MiB to 5GiB, not "4MiB"/],
    ['s3://bucket?multipartCopyChunkSize=5121MiB', /multipartCopyChunkSize must be bytes or NMiB from 5MiB to 5GiB/],
    ['s3://bucket?multipartCopyChunkSize=32MB', /multipartCopyChunkSize must be bytes or NMiB/],
    ['s3://bucket?multipartCopyThresholdSize=5121MiB', /multipartCopyThresholdSize must be bytes or NMiB from 0 to 5GiB, not "5121MiB"/],
    ['s3://bucket?multipartCopyThresholdSize=-1', /multipartCopyThresholdSize must be bytes or NMiB from 0 to 5GiB/],
    ['s3://bucket?multipartCopyMaxConcurrency=0', /multipartCopyMaxConcurrency must be a whole number from 1 to 10000, not "0"/],
    ['s3://bucket?multipartCopyMaxConcurrency=10001', /multipartCopyMaxConcurrency must be a whole number from 1 to 10000/],
    ['s3://bucket?multipartCopyMaxConcurrency=2.5', /multipartCopyMaxConcurrency must be a whole number/],
    ['s3://bucket?multipartcopychunksize=32MiB', /unknown option "multipartcopychunksize"/],
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
