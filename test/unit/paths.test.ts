import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JpipdError } from '../../src/errors.js';
import { checkTargetSyntax, isInside, resolveTarget, safeName } from '../../src/io/paths.js';

let base: string;
let root: string;
let outside: string;

before(async () => {
  base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'jpipd-paths-')));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'sub', 'deeper'), { recursive: true });
  await mkdir(path.join(root, 'dir'));
  await mkdir(outside);
  await writeFile(path.join(root, 'a.jp2'), 'A');
  await writeFile(path.join(root, 'sub', 'deeper', 'b.jp2'), 'B');
  await writeFile(path.join(root, '.hidden.jp2'), 'H');
  await writeFile(path.join(root, 'a+b %41.jp2'), 'P');
  await writeFile(path.join(outside, 'secret.jp2'), 'S');
  await writeFile(path.join(base, 'rootx.jp2'), 'X');
  await symlink('/etc/passwd', path.join(root, 'passwd.jp2'));
  await symlink(path.join(outside, 'secret.jp2'), path.join(root, 'secret.jp2'));
  await symlink(outside, path.join(root, 'outdir'));
  await symlink('sub/deeper/b.jp2', path.join(root, 'alias.jp2'));
  await symlink(path.join(root, 'sub'), path.join(root, 'subalias'));
  await symlink('missing.jp2', path.join(root, 'dangling.jp2'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Asserts the target is rejected with the one uniform error, echoing no path. */
async function rejected(target: string): Promise<void> {
  await assert.rejects(async () => resolveTarget(root, target), (e: unknown) => {
    assert.ok(e instanceof JpipdError);
    assert.equal(e.code, 'ERR_TARGET_NOT_FOUND');
    assert.equal(e.message, 'no such image');
    return true;
  }, `target ${JSON.stringify(target)} must be rejected`);
}

describe('resolveTarget', () => {
  it('resolves a file at the root, with or without a leading slash', async () => {
    assert.deepEqual(await resolveTarget(root, 'a.jp2'), { abs: path.join(root, 'a.jp2'), rel: 'a.jp2' });
    assert.deepEqual(await resolveTarget(root, '/a.jp2'), { abs: path.join(root, 'a.jp2'), rel: 'a.jp2' });
  });

  it('resolves a nested file', async () => {
    assert.deepEqual(await resolveTarget(root, '/sub/deeper/b.jp2'), {
      abs: path.join(root, 'sub', 'deeper', 'b.jp2'),
      rel: 'sub/deeper/b.jp2',
    });
  });

  it('decodes nothing further: %41 and + are literal file-name characters', async () => {
    assert.equal((await resolveTarget(root, 'a+b %41.jp2')).rel, 'a+b %41.jp2');
    await rejected('a+b A.jp2');
    await rejected('%2e%2e/a.jp2');
  });

  it('follows symlinks that stay inside the root, reporting the real file', async () => {
    const real = { abs: path.join(root, 'sub', 'deeper', 'b.jp2'), rel: 'sub/deeper/b.jp2' };
    assert.deepEqual(await resolveTarget(root, 'alias.jp2'), real);
    assert.deepEqual(await resolveTarget(root, 'subalias/deeper/b.jp2'), real);
  });

  it('rejects symlinks that lead out of the root', async () => {
    await rejected('passwd.jp2');
    await rejected('secret.jp2');
    await rejected('outdir/secret.jp2');
  });

  it('rejects dot segments (a decoded %2e%2e arrives as ..)', async () => {
    for (const t of ['..', '../outside/secret.jp2', '/../outside/secret.jp2', 'sub/../a.jp2', './a.jp2', 'sub/./deeper/b.jp2', 'sub/..'])
      await rejected(t);
    assert.ok(existsSync(path.join(root, '..', 'outside', 'secret.jp2')), 'the escape target really exists');
  });

  it('rejects absolute paths and drive letters', async () => {
    for (const t of ['//etc/passwd', `/${path.join(outside, 'secret.jp2')}`, 'C:/x.jp2', 'c:x.jp2', '/C:/x.jp2'])
      await rejected(t);
    await rejected('/etc/passwd');
  });

  it('rejects hidden files, backslashes, NUL, control characters, empty segments', async () => {
    for (const t of ['.hidden.jp2', 'sub/.x/b.jp2', 'sub\\deeper\\b.jp2', 'a.jp2\0', 'a\n.jp2', 'sub//deeper/b.jp2', 'sub/deeper/', ''])
      await rejected(t);
    await rejected('/');
  });

  it('rejects directories, missing files, dangling links and over-long targets', async () => {
    for (const t of ['dir', 'sub', 'sub/deeper', 'missing.jp2', 'sub/missing.jp2', 'a.jp2/x', 'dangling.jp2'])
      await rejected(t);
    await rejected(`${'d/'.repeat(511)}a.jp2`);
  });

  it('does not accept a sibling whose name merely starts with the root path', async () => {
    await rejected('../rootx.jp2');
    assert.equal(isInside(root, path.join(base, 'rootx.jp2')), false);
  });
});

describe('checkTargetSyntax', () => {
  it('strips exactly one leading slash and keeps the rest', () => {
    assert.equal(checkTargetSyntax('/sub/b.jp2'), 'sub/b.jp2');
    assert.equal(checkTargetSyntax('x..y.jp2'), 'x..y.jp2');
    assert.throws(() => checkTargetSyntax('//x.jp2'), JpipdError);
    assert.equal(checkTargetSyntax('a'.repeat(1024)), 'a'.repeat(1024));
    assert.throws(() => checkTargetSyntax('a'.repeat(1025)), JpipdError);
  });
});

describe('isInside', () => {
  it('is true for the root and beneath it only', () => {
    assert.equal(isInside('/srv/img', '/srv/img'), true);
    assert.equal(isInside('/srv/img', '/srv/img/a/b.jp2'), true);
    assert.equal(isInside('/srv/img', '/srv/img/..foo'), true);
    assert.equal(isInside('/srv/img', '/srv/imgx/a.jp2'), false);
    assert.equal(isInside('/srv/img', '/srv'), false);
    assert.equal(isInside('/srv/img', '/etc/passwd'), false);
  });
});

describe('safeName', () => {
  it('keeps printable relative names, strips leading slashes, masks control and non-ASCII characters', () => {
    assert.equal(safeName('sub/b.jp2'), 'sub/b.jp2');
    assert.equal(safeName('//etc/passwd'), 'etc/passwd');
    assert.equal(safeName('a\nb\u00e9.jp2'), 'a?b?.jp2');
    assert.equal(safeName('C:/x.jp2'), 'x.jp2');
    assert.equal(safeName('\\\\host\\share'), 'host\\share');
    assert.equal(safeName('x'.repeat(300)).length, 201);
  });
});
