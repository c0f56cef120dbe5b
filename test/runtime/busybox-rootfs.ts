// A root filesystem for containers in tests: Debian's static busybox with the applets the tests
// call, plus users and groups, as a plain directory under the test's temporary directory.
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { BUSYBOX_PATH } from '../e2e/images.js';
import { tempDir } from '../support/temp-dir.js';

const APPLETS = ['sh', 'awk', 'cat', 'cut', 'echo', 'env', 'grep', 'hostname', 'id', 'ls', 'mkdir', 'pwd', 'sleep', 'sort', 'touch', 'tr', 'true'];

/** The users of the root filesystem. */
export const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1000:app:/home/app:/bin/sh', ''].join('\n');
/** Its groups: app is also a member of staff and of audio. */
export const GROUP = ['root:x:0:', 'staff:x:50:app', 'audio:x:63:other,app', 'app:x:1000:', ''].join('\n');

/** A fresh busybox root filesystem (bin, etc with passwd and group, the usual empty directories), removed after `t`. */
export async function busyboxRootfs(t: TestContext): Promise<string> {
  const rootfs = join(await tempDir(t, 'wharf-rootfs-'), 'rootfs');
  for (const dir of ['bin', 'etc', 'dev', 'proc', 'sys', 'root', 'tmp']) await mkdir(join(rootfs, dir), { recursive: true });
  await copyFile(BUSYBOX_PATH, join(rootfs, 'bin', 'busybox'));
  for (const applet of APPLETS) await symlink('busybox', join(rootfs, 'bin', applet));
  await writeFile(join(rootfs, 'etc', 'passwd'), PASSWD);
  await writeFile(join(rootfs, 'etc', 'group'), GROUP);
  return rootfs;
}
